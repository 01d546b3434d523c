"""Sub-commands of this room: ``train <what>``.

``train`` is a group: each trainable thing adds its own sub-command here (``train vitals`` now; an
ECG-image ``train vlm`` beside it later), so they share ``cardioagent train --help``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Literal

from cardioagent.tools.cli_help import DefaultsHelpFormatter


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the estimators that have weights (QLoRA vitals, ...)")
    tsub = p.add_subparsers(dest="train_command", metavar="WHAT", required=True)
    _register_vitals(tsub)
    _register_vlm(tsub)


def _lora_layers(text: str) -> int | None:
    if text == "all":
        return None
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of top layers, or 'all'") from None
    if n < 1:
        raise argparse.ArgumentTypeError("at least one layer")
    return n


def _register_vitals(tsub: argparse._SubParsersAction) -> None:
    v = tsub.add_parser(
        "vitals",
        help="QLoRA-fine-tune an LLM estimator of heart rate or vascular age from PPG or ECG windows",
        description=(
            "Fine-tunes LoRA adapters on a 4-bit NF4 causal LM (default: the embedded SmolLM2-135M) to read "
            "one window of PPG or ECG as text and give a number. DIR holds labelled recordings in one of the "
            "layouts of docs/vitals.md (SPC 2015, CPSC 2019, WFDB with .atr, CinC 2021 labels.csv, or a "
            "generic targets.csv). Writes OUT/adapter, OUT/report.{json,md}, OUT/agreement.png and "
            "checkpoints; --resume continues an interrupted run. On GPUs: accelerate launch -m "
            "cardioagent.ui.cli train vitals ... A trained adapter is used with `cardioagent ask --adapter "
            "OUT/adapter` or CARDIOAGENT_VITALS_ADAPTER=OUT/adapter, leaving the shipped one in place."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    v.add_argument("--task", choices=["hr", "vascular_age"], default="hr", help="what the estimator gives")
    v.add_argument("--modality", choices=["ppg", "ecg"], default="ppg", help="the signal it reads")
    v.add_argument(
        "--data",
        required=True,
        metavar="DIR",
        action="append",
        help="folder of labelled recordings (repeat to train on several)",
    )
    v.add_argument(
        "--base",
        default="embedded",
        metavar="MODEL",
        help="'embedded' (SmolLM2-135M-Instruct), a local HF folder, or a hub id already in the HF cache",
    )
    v.add_argument(
        "--demographics", action="store_true", help="add age/sex/height/weight (where known) to the prompt"
    )
    v.add_argument(
        "--setting",
        choices=["context", "signal"],
        default="context",
        help="context: robust features in the prompt; signal: resampled samples (seed-study setting)",
    )
    v.add_argument(
        "--head",
        choices=["regression", "text"],
        default="regression",
        help="regression head on the last hidden state (default, measured better) or constrained text",
    )
    v.add_argument("--steps", type=int, default=200, help="optimizer steps")
    v.add_argument("--batch-size", type=int, default=8, help="windows per step")
    v.add_argument(
        "--lr", type=float, default=1e-3, help="peak learning rate (cosine schedule after warm-up)"
    )
    v.add_argument("--lora-r", type=int, default=8, help="LoRA rank (alpha = 2 r)")
    v.add_argument(
        "--lora-layers",
        type=_lora_layers,
        default=4,
        metavar="N|all",
        help="LoRA on the top N decoder layers ('all' for a GPU)",
    )
    v.add_argument(
        "--recordings",
        type=int,
        default=None,
        metavar="N",
        help="use a seeded sample of N labelled recordings (default: all), for a quick bounded run",
    )
    v.add_argument(
        "--max-windows",
        type=int,
        default=None,
        metavar="N",
        help="train on a seeded sample of at most N windows (default: all); held-out windows are kept",
    )
    v.add_argument("--no-4bit", action="store_true", help="load the base unquantised (LoRA instead of QLoRA)")
    v.add_argument(
        "--augment", type=int, default=0, metavar="N", help="augmented copies of each training recording"
    )
    v.add_argument(
        "--eval-fraction", type=float, default=0.25, help="share of recordings held out for the report"
    )
    v.add_argument(
        "--seed", type=int, default=0, help="seed of the split, the samples and the initialisation"
    )
    v.add_argument(
        "--checkpoint-every", type=int, default=50, help="steps between checkpoints (for --resume)"
    )
    v.add_argument(
        "--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)"
    )
    v.add_argument(
        "--out", default=None, metavar="OUT", help="output folder (default: ./vitals-TASK-MODALITY)"
    )
    v.add_argument(
        "--resume", action="store_true", help="continue from OUT/checkpoint with the same settings"
    )
    v.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="keep the frozen layers' states of each prompt here (written every minute while "
        "encoding), so a rerun or a killed run's rerun skips computing them",
    )
    v.set_defaults(func=_train_vitals)


def _train_vitals(args: argparse.Namespace) -> int:
    from cardioagent.models.vitals.model import VitalsModelConfig
    from cardioagent.models.vitals.run import run_training
    from cardioagent.models.vitals.train import TrainConfig
    from cardioagent.tools.errors import InputError

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.steps < 1:
        raise InputError("--steps", f"{args.steps} steps", "at least one training step")
    for option, value in (("--recordings", args.recordings), ("--max-windows", args.max_windows)):
        if value is not None and value < 1:
            raise InputError(option, f"{value}", "a positive number")
    if not 0 <= args.eval_fraction < 1:
        raise InputError("--eval-fraction", f"{args.eval_fraction}", "a share in [0, 1)")
    cfg = TrainConfig(
        task=args.task,
        modality=args.modality,
        setting=args.setting,
        demographics=args.demographics,
        model=VitalsModelConfig(
            base=args.base,
            quantize_4bit=not args.no_4bit,
            lora_r=args.lora_r,
            lora_alpha=2 * args.lora_r,
            lora_layers=args.lora_layers,
            head=args.head,
        ),
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        augment_copies=args.augment,
        eval_fraction=args.eval_fraction,
        checkpoint_every=args.checkpoint_every,
    )
    out = args.out or f"vitals-{args.task}-{args.modality}"
    command = (
        "cardioagent " + " ".join(sys.argv[1:])
        if sys.argv and "cardioagent" in os.path.basename(sys.argv[0])
        else ""
    )
    run_training(
        cfg,
        args.data,
        out,
        resume=args.resume,
        command=command,
        cache_dir=args.cache_dir,
        max_recordings=args.recordings,
        max_windows=args.max_windows,
    )
    return 0


def _register_vlm(tsub: argparse._SubParsersAction) -> None:
    v = tsub.add_parser(
        "vlm",
        help="train the ECG-image VLM (stage 1: vision tower + label head; stage 2: QLoRA)",
        description=(
            "Trains the ECG-image vision-language model of docs/vlm.md. Stage 1 trains the embedded model's "
            "vision tower and label head on images (synthetic ECGs with labelled findings, optional real "
            "labelled records, generated non-ECG images); stage 2 QLoRA-fine-tunes the 4-bit language model "
            "(LoRA on attention/MLP projections, lm_head and embed_tokens excluded) and the projector on "
            "question/answer pairs. --base with a Llama-3.2-Vision folder trains that model instead (stage 2 "
            "only; needs a GPU). Writes OUT/vlm.json, the weights, OUT/report.{json,md}; --resume continues "
            "from OUT/checkpoints."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    v.add_argument(
        "--base",
        default=None,
        metavar="MODEL",
        help="default: the embedded SmolLM2-135M; a local HF folder (an Mllama config means Llama-3.2-Vision)",
    )
    v.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="a data set written by build_dataset (images.jsonl, qa.jsonl); default: build one in OUT/data",
    )
    v.add_argument(
        "--synthetic", type=int, default=6000, metavar="N", help="synthetic images when building the data set"
    )
    v.add_argument(
        "--real-records",
        default=None,
        metavar="DIR",
        help="labelled CinC-2021 style records to add when building the data set (labels.csv + WFDB)",
    )
    v.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="RECORD",
        help="record (group) never to train on, for cross-validation (repeatable)",
    )
    v.add_argument(
        "--also-data",
        action="append",
        default=[],
        metavar="DIR",
        help="another data set for stage 1 (e.g. real records built with --real-records), repeatable",
    )
    v.add_argument(
        "--init-vision",
        default=None,
        metavar="WEIGHTS",
        help="start stage 1 from this trained weights folder's tower (fine-tuning, e.g. on real records)",
    )
    v.add_argument("--out", default="vlm-ecg-image", metavar="OUT", help="output folder")
    v.add_argument("--stage", choices=["1", "2", "all"], default="all", help="which stage(s) to train")
    v.add_argument("--epochs", type=float, default=8.0, help="stage 1 epochs over the images")
    v.add_argument("--steps", type=int, default=300, help="stage 2 QLoRA steps")
    v.add_argument("--batch-size", type=int, default=16, help="stage 1 batch (stage 2 uses --qa-batch-size)")
    v.add_argument("--qa-batch-size", type=int, default=4, help="stage 2 batch of question/answer pairs")
    v.add_argument("--negatives", type=int, default=800, help="generated non-ECG images for the page logit")
    v.add_argument(
        "--tower",
        choices=["trace", "pixels"],
        default="trace",
        help="trace: digitize the page's rows and learn from the traces (default); pixels: a 2-D CNN on the image",
    )
    v.add_argument(
        "--image-size", type=int, nargs=2, default=(256, 448), metavar=("H", "W"), help="pixel tower input"
    )
    v.add_argument("--lr", type=float, default=1e-3, help="stage 1 learning rate")
    v.add_argument(
        "--no-reading-prompt",
        action="store_true",
        help="do not prompt the language model with the label head's reading (on by default)",
    )
    v.add_argument("--seed", type=int, default=0, help="seed of the data set, sampling and initialisation")
    v.add_argument(
        "--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)"
    )
    v.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoints (otherwise they are started afresh)",
    )
    v.set_defaults(func=_train_vlm)


def _train_vlm(args: argparse.Namespace) -> int:
    import json
    import shutil
    from pathlib import Path

    from cardioagent.models.vlm.model import VlmSpec
    from cardioagent.models.vlm.train import Stage1Config, Stage2Config, TrainConfig, train_vlm
    from cardioagent.tools.errors import InputError

    out = Path(args.out)
    family: Literal["embedded", "mllama"] = "embedded"
    if args.base:
        cfg_file = Path(args.base) / "config.json"
        if not cfg_file.is_file():
            raise InputError(args.base, "is not a folder with a config.json", "a local HF model folder")
        family = "mllama" if json.loads(cfg_file.read_text()).get("model_type") == "mllama" else "embedded"
    data = args.data
    if data is None:
        data = str(out / "data")
        if not (Path(data) / "images.jsonl").is_file():
            from cardioagent.models.vlm.dataset import build_dataset

            print(
                f"building the data set in {data} ({args.synthetic} synthetic images"
                + (f" + records of {args.real_records}" if args.real_records else "")
                + ")",
                flush=True,
            )
            build_dataset(
                data,
                args.synthetic,
                seed=args.seed,
                real_records_dir=args.real_records,
                workers=max(1, min(4, (os.cpu_count() or 1))),
                progress=True,
            )
    elif not (Path(data) / "images.jsonl").is_file():
        raise InputError(
            data, "has no images.jsonl", "a folder written by build_dataset (images.jsonl, qa.jsonl, images/)"
        )
    if not args.resume and (out / "checkpoints").exists():
        shutil.rmtree(out / "checkpoints")
    cfg = TrainConfig(
        data_dir=str(data),
        out_dir=str(out),
        spec=VlmSpec(
            family=family,
            base=args.base,
            image_size=tuple(args.image_size),
            tower=args.tower,
            prompt_reading=not args.no_reading_prompt and family == "embedded",
        ),
        stage1=Stage1Config(
            epochs=args.epochs, batch_size=args.batch_size, negatives=args.negatives, lr=args.lr
        ),
        stage2=Stage2Config(steps=args.steps, batch_size=args.qa_batch_size),
        seed=args.seed,
        threads=args.threads,
        exclude_groups=args.exclude,
        extra_data_dirs=args.also_data,
        init_vision=args.init_vision,
    )
    stages = ("1", "2") if args.stage == "all" else (args.stage,)
    report = train_vlm(cfg, stages)
    print(f"wrote {out}/report.md; total {report.get('seconds_total_this_run')} s")
    return 0
