"""QLoRA-fine-tuned LLM estimators of vitals (heart rate; vascular age) from PPG and ECG windows.

    data.py        labelled data sets -> windows -> prompts (``Example``s), augmentation
    preprocess.py  baseline correction, denoising, standardisation, segmentation, augmentation
    features.py    robust per-window features (spectral peaks of PPG and accelerometer, intervals,
                   quality) and the recording-level rate tracker
    prompts.py     serialisation of a window into text: signal-only, context, +demographics
    model.py       4-bit NF4 base (bitsandbytes) + LoRA (peft) + regression head or constrained text
    train.py       the training loop (cached frozen layers, checkpoints, resume, seeds, accelerate)
    run.py         one end-to-end run with its JSON/Markdown report (``cardioagent train vitals``)
    estimator.py   a trained adapter applied to a ``Recording`` (uncertainty, quality refusal)
    tool.py        the ``vitals_estimate`` agent tool
    synthetic.py   synthetic labelled signals (tests; the vascular-age aging model)

Shipped adapters live in ``cardioagent/models/adapters/<task>_<modality>/`` with their training reports.
See docs/vitals.md for the design, the measurements and what the estimators are validated against.
"""
