"""The ECG-image vision-language model (issue 6): synthetic labelled ECGs, photo/scan augmentation,
ECGInstruct-style question/answer data, and a LLaVA-style model (small CNN vision tower trained here,
projector, SmolLM2-135M in 4-bit NF4 with LoRA) that shares one code path with Llama-3.2-Vision.

Importing this package imports no torch; ``cardioagent.models.vlm.model`` does. See docs/vlm.md.
"""
