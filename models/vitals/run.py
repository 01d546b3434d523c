"""One training run end to end, as ``cardioagent train vitals`` runs it.

read the labelled folder -> windows, features, prompts (and augmented copies) -> split by recording ->
4-bit base + LoRA -> train with checkpoints -> estimates on the held-out recordings -> the adapter
(``OUT/adapter``) and a report (``OUT/report.json``, ``OUT/report.md``, ``OUT/agreement.png``).

The report's figures come from recordings the adapter never saw. A second call with ``resume=True`` and
the same settings continues from the last checkpoint.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from cardioagent.models.vitals import data
from cardioagent.models.vitals.metrics import agreement, per_group_mae, plot_agreement, rounded
from cardioagent.models.vitals.train import TrainConfig, Trainer, split_by_recording

UNITS = {"hr": "bpm", "vascular_age": "years"}
VALUE_RANGES = {"hr": (25.0, 250.0), "vascular_age": (18.0, 100.0)}


def run_training(
    cfg: TrainConfig,
    data_dir: str | Path | list,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    command: str = "",
    cache_dir: str | Path | None = None,
    max_recordings: int | None = None,
    max_windows: int | None = None,
) -> dict:
    """``max_recordings`` / ``max_windows`` bound a run (a quick try, a laptop): a seeded sample of the
    labelled recordings before the split, and of the training windows after it (held-out windows are all
    kept, so the report stays on whole recordings)."""
    import torch

    from cardioagent.models.vitals.model import VitalsLM

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    folders = [data_dir] if isinstance(data_dir, (str, Path)) else list(data_dir)
    recs = [r for folder in folders for r in data.read_dataset(folder, cfg.task, cfg.modality)]
    say = print if progress else (lambda *a, **k: None)
    rng = np.random.default_rng(cfg.seed)
    if max_recordings and len(recs) > max_recordings:
        keep = sorted(rng.choice(len(recs), max_recordings, replace=False))
        say(f"--recordings {max_recordings}: a seeded sample of {max_recordings} of {len(recs)} recordings")
        recs = [recs[i] for i in keep]
    say(
        f"{len(recs)} labelled {cfg.modality.upper()} recordings in {', '.join(map(str, folders))}; "
        "building windows and prompts"
    )
    examples = data.prepare_examples(
        recs, cfg.task, cfg.setting, cfg.demographics, cfg.augment_copies, cfg.seed
    )
    train_idx, eval_idx = split_by_recording(examples, cfg.eval_fraction, cfg.seed)
    if max_windows and len(train_idx) > max_windows:
        say(
            f"--max-windows {max_windows}: a seeded sample of {max_windows} of {len(train_idx)} training windows"
        )
        train_idx = sorted(int(i) for i in rng.choice(train_idx, max_windows, replace=False))
    if cfg.model.value_range == (25.0, 250.0) and cfg.task in VALUE_RANGES:
        cfg = cfg.model_copy(
            update={"model": cfg.model.model_copy(update={"value_range": VALUE_RANGES[cfg.task]})}
        )
    torch.manual_seed(cfg.seed)
    lm = VitalsLM(cfg.model)
    trainer = Trainer(lm, cfg, examples)
    say(
        f"{len(train_idx)} training windows, {len(eval_idx)} held-out windows from "
        f"{len({examples[i].recording for i in eval_idx})} recordings"
    )
    store = Path(cache_dir).expanduser() if cache_dir else None
    log = trainer.fit(
        train_idx, checkpoint_dir=out / "checkpoint", resume=resume, progress=progress, store=store
    )
    adapter = out / "adapter"
    info = {
        "task": cfg.task,
        "modality": cfg.modality,
        "setting": cfg.setting,
        "demographics": cfg.demographics,
        "train_config": json.loads(cfg.model_dump_json()),
    }
    lm.save(adapter, extra=info)
    report = make_report(
        cfg, examples, eval_idx, trainer.predict(eval_idx, store=store) if eval_idx else np.zeros(0), out
    )
    report.update(
        {
            "command": command,
            "data": [str(f) for f in folders],
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "training": {
                **log,
                "train_windows": len(train_idx),
                "max_windows": max_windows,
                "max_recordings": max_recordings,
                "train_recordings": sorted({examples[i].recording for i in train_idx}),
                "seconds": round(time.perf_counter() - t0, 1),
            },
            "adapter": str(adapter),
            "adapter_bytes": sum(f.stat().st_size for f in adapter.iterdir()),
        }
    )
    (out / "report.json").write_text(json.dumps(rounded(report), indent=1))
    (out / "report.md").write_text(markdown_report(report))
    say(f"wrote {adapter} and {out / 'report.md'}")
    say(
        f"use it without touching the source tree: cardioagent ask ... --adapter {adapter} "
        f"(or CARDIOAGENT_VITALS_ADAPTER={adapter})"
    )
    return report


def make_report(cfg: TrainConfig, examples, eval_idx, pred, out: Path) -> dict:
    unit = UNITS[cfg.task]
    ref = np.array([examples[i].target for i in eval_idx], dtype=float)
    classical = np.array(
        [np.nan if examples[i].classical is None else examples[i].classical for i in eval_idx]
    )
    names = [examples[i].recording for i in eval_idx]
    rows = [
        {
            "recording": examples[i].recording,
            "start_s": examples[i].start_s,
            "reference": float(r),
            "estimate": float(p),
            "classical": None if not np.isfinite(c) else float(c),
            "quality_ok": examples[i].quality_ok,
        }
        for i, r, p, c in zip(eval_idx, ref, pred, classical, strict=False)
    ]
    report = {
        "task": cfg.task,
        "modality": cfg.modality,
        "setting": cfg.setting,
        "demographics": cfg.demographics,
        "unit": unit,
        "model": cfg.model.model_dump(),
        "steps": cfg.steps,
        "seed": cfg.seed,
        "held_out_recordings": sorted(set(names)),
        "metrics": agreement(pred, ref).model_dump(),
        "per_recording": per_group_mae(names, pred, ref),
        "windows": rows,
    }
    if cfg.task == "hr" and np.isfinite(classical).any():
        report["classical_metrics"] = agreement(classical, ref).model_dump()
    if len(eval_idx):
        plot_agreement(
            pred,
            ref,
            out / "agreement.png",
            f"{cfg.task} from {cfg.modality.upper()} ({cfg.setting}), held-out recordings",
            unit,
        )
        report["figure"] = "agreement.png"
    return report


def _fmt(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def markdown_report(r: dict) -> str:
    m, u = r["metrics"], r["unit"]
    lines = [
        f"# {r['task']} from {r['modality'].upper()} — QLoRA estimator training report",
        "",
        (
            f"- setting: {r['setting']}{' + demographics' if r['demographics'] else ''}; base: {r['model']['base']} "
            f"(4-bit NF4: {r['model']['quantize_4bit']}), LoRA r={r['model']['lora_r']} on the top "
            f"{r['model']['lora_layers'] or 'all'} layers, head: {r['model']['head']}"
        ),
        (
            f"- steps: {r['steps']}, seed: {r['seed']}, training windows: {r['training']['train_windows']}, "
            f"time: {r['training']['seconds']} s"
        ),
        f"- held-out recordings: {', '.join(r['held_out_recordings']) or 'none'}",
        f"- command: `{r['command']}`" if r.get("command") else "",
        "",
        "## Agreement on held-out recordings",
        "",
        "| estimator | n | MAE | RMSE | bias | 95% limits of agreement |",
        "|---|---|---|---|---|---|",
        (
            f"| QLoRA | {m['n']} | {_fmt(m['mae'])} | {_fmt(m['rmse'])} | {_fmt(m['bias'])} | "
            f"{_fmt(m['loa_low'])} to {_fmt(m['loa_high'])} {u} |"
        ),
    ]
    c = r.get("classical_metrics")
    if c:
        lines.append(
            f"| classical feature | {c['n']} | {_fmt(c['mae'])} | {_fmt(c['rmse'])} | {_fmt(c['bias'])} | "
            f"{_fmt(c['loa_low'])} to {_fmt(c['loa_high'])} {u} |"
        )
    lines += ["", "## Per recording", "", "| recording | windows | MAE |", "|---|---|---|"]
    lines += [f"| {k} | {v['n']} | {_fmt(v['mae'])} |" for k, v in r["per_recording"].items()]
    if r.get("figure"):
        lines += ["", f"![scatter and Bland-Altman]({r['figure']})"]
    return "\n".join(x for x in lines if x is not None) + "\n"
