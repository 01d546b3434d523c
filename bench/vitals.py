"""QLoRA vitals estimators against references, side by side with neurokit2's default pipelines and the
classical estimates, on the same windows.

    .venv/bin/python bench/vitals.py [--parts ppg,ecg] [--steps 100] [--ppg-data DIR] [--ecg-data DIR]
    .venv/bin/python bench/vitals.py --parts decision,ablation     # the subset experiments

Parts:
- ``ppg``: wrist-PPG heart rate on IEEE SPC 2015, every 8-s window (2-s step), leave-one-recording-out
  (12 folds: a fresh LoRA and head per fold, trained on the other 11 recordings).
- ``ecg``: ECG heart rate on CPSC 2019 (25 10-s records), 5 folds split by record; training windows are
  the other folds' records (with 4 augmented copies each) plus 10-s windows of MIT-BIH record 100.
- ``decision``: regression head against constrained text decoding, same folds and steps, on a subset
  (two held-out SPC recordings, every fourth training window) because text decoding runs the whole model.
- ``ablation``: on the same subset, the context prompt without the tracked rate (the model must choose
  the rate from one window's features) and the signal-only prompt (the seed study's setting).
- ``demographics``: vascular age (stand-in: chronological age) from 12-lead ECG (CinC 2021, 25 records,
  5 folds by record), context prompt with and without the sex from the header: the only shared data set
  with demographics (SPC 2015 and CPSC 2019 have none).
- ``vascular``: vascular age from PPG on synthetic signals with a known aging model (synthetic.py).

The frozen lower-layer states of each prompt set are cached on disk (``--cache-dir``) so a rerun skips
them. Writes bench/results/vitals.json (ppg, ecg) and bench/results/vitals_experiments.json (the rest).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"


def _threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def cached_trainer(lm, cfg, examples, cache_dir: Path, label: str, indices=None):
    """A Trainer whose lower-layer states of ``indices`` (default: all) are computed now, or read from
    ``cache_dir`` when the same prompts were encoded before (by this script or ``train vitals``)."""
    from cardioagent.models.vitals.train import Trainer

    tr = Trainer(lm, cfg, examples)
    idx = list(range(len(examples))) if indices is None else list(indices)
    t0 = time.perf_counter()
    tr.cache(idx, progress=True, store=cache_dir)
    print(
        f"  {label}: {len(idx)} prompts encoded or read from the cache in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    return tr


def neurokit_ppg_rate(x: np.ndarray, fs: float) -> float:
    """neurokit2's default PPG pipeline on one channel: ``ppg_process``, mean of PPG_Rate."""
    import neurokit2 as nk

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sig, _ = nk.ppg_process(x, sampling_rate=fs)
        return float(sig["PPG_Rate"].mean())
    except Exception:  # noqa: BLE001 - a failing baseline window is scored as missing
        return float("nan")


def neurokit_ecg_rate(x: np.ndarray, fs: float) -> float:
    import neurokit2 as nk

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sig, _ = nk.ecg_process(x, sampling_rate=fs)
        return float(sig["ECG_Rate"].mean())
    except Exception:  # noqa: BLE001
        return float("nan")


def classical_tool_ppg(recs) -> dict[tuple[str, float], float]:
    """The shipped classical estimator (``analysis.heart_rate``: TROIKA-like spectral tracking)."""
    from cardioagent.tools.analysis import heart_rate
    from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

    out = {}
    for lr in recs:
        sig = np.column_stack([lr.signal, lr.accel])
        chans = [Channel(name=f"ppg{i + 1}", kind=ChannelKind.PPG) for i in range(lr.signal.shape[1])]
        chans += [Channel(name=f"acc_{a}", kind=ChannelKind.ACCEL) for a in "xyz"]
        rec = Recording(
            id=lr.name,
            name=lr.name,
            source_files=[],
            format="csv",
            modality=Modality.PPG,
            sampling_rate_hz=lr.fs,
            channels=chans,
            signal=sig,
        )
        for w in heart_rate(rec, window_s=8.0, step_s=2.0).windows:
            out[(lr.name, round(w.start_s, 1))] = np.nan if w.bpm.value is None else w.bpm.value
    return out


def summarise(rows: list[dict], keys: list[str]) -> dict:
    from cardioagent.models.vitals.metrics import agreement, per_group_mae

    ref = np.array([r["reference"] for r in rows], dtype=float)
    out = {}
    for k in keys:
        est = np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=float)
        a = agreement(est, ref).model_dump()
        a["per_recording"] = per_group_mae([r["recording"] for r in rows], est, ref)
        a["missing"] = int(np.sum(~np.isfinite(est)))
        out[k] = a
    return out


def _fold_fit(tr, train_idx, test_idx, steps):
    tr.reset()
    t0 = time.perf_counter()
    tr.fit(train_idx, steps=steps)
    fit_s = time.perf_counter() - t0
    return tr.predict(test_idx), fit_s


# ------------------------------------------------------------------------------------------------- ppg


def run_ppg(args, lm_factory) -> dict:
    from cardioagent.models.vitals import data
    from cardioagent.models.vitals.model import VitalsModelConfig
    from cardioagent.models.vitals.train import TrainConfig

    recs = data.read_dataset(args.ppg_data, "hr", "ppg")
    t0 = time.perf_counter()
    examples = data.prepare_examples(recs, "hr", "context", False)
    feat_s = time.perf_counter() - t0
    cfg = TrainConfig(
        task="hr",
        modality="ppg",
        model=VitalsModelConfig(head="regression", lora_layers=args.lora_layers, value_range=(30.0, 230.0)),
        steps=args.steps,
        lr=args.lr,
        seed=args.seed,
    )
    lm = lm_factory(cfg.model)
    tr = cached_trainer(lm, cfg, examples, args.cache_dir, "ppg-context")
    classical = classical_tool_ppg(recs)
    names = sorted({e.recording for e in examples})
    rows, fit_times = [], []
    for k, held in enumerate(names):
        train_idx = [i for i, e in enumerate(examples) if e.recording != held]
        test_idx = [i for i, e in enumerate(examples) if e.recording == held]
        pred, fit_s = _fold_fit(tr, train_idx, test_idx, args.steps)
        fit_times.append(fit_s)
        lr_ = next(r for r in recs if r.name == held)
        batch, starts = data.segment(lr_.signal, lr_.fs, 8.0, 2.0)
        by_start = {round(float(s), 1): j for j, s in enumerate(starts)}
        for i, p in zip(test_idx, pred, strict=False):
            e = examples[i]
            j = by_start[round(e.start_s, 1)]
            rows.append(
                {
                    "recording": held,
                    "start_s": e.start_s,
                    "reference": e.target,
                    "qlora": float(p),
                    "tracked_feature": e.anchor,
                    "classical_tool": classical.get((held, round(e.start_s, 1))),
                    "neurokit_default": neurokit_ppg_rate(batch[j][:, 0], lr_.fs),
                    "quality_ok": e.quality_ok,
                }
            )
        m = np.mean([abs(r["qlora"] - r["reference"]) for r in rows if r["recording"] == held])
        print(
            f"  fold {k + 1:2d}/{len(names)} {held}: QLoRA MAE {m:5.2f} bpm  (fit {fit_s:.0f} s)", flush=True
        )
    summary = summarise(rows, ["qlora", "tracked_feature", "classical_tool", "neurokit_default"])
    ok = [r for r in rows if r["quality_ok"]]
    return {
        "data": str(args.ppg_data),
        "protocol": "leave-one-recording-out over 12 recordings, every labelled 8-s window",
        "setting": "context (spectral peaks of PPG and accelerometer, pulse intervals, quality, tracked rate)",
        "model": cfg.model.model_dump(),
        "steps_per_fold": args.steps,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "seconds": {"features": round(feat_s, 1), "fit_per_fold_mean": round(float(np.mean(fit_times)), 1)},
        "summary": summary,
        "quality_flag": {
            "windows_flagged": len(rows) - len(ok),
            "mae_qlora_unflagged": float(np.mean([abs(r["qlora"] - r["reference"]) for r in ok])),
        },
        "windows": rows,
    }


# ------------------------------------------------------------------------------------------------- ecg


def run_ecg(args, lm_factory) -> dict:
    from cardioagent.models.vitals import data
    from cardioagent.models.vitals.model import VitalsModelConfig
    from cardioagent.models.vitals.train import TrainConfig

    cpsc = data.read_dataset(args.ecg_data, "hr", "ecg")
    extra = data.read_dataset(args.mitbih_data, "hr", "ecg") if args.mitbih_data.is_dir() else []
    ex_cpsc = data.prepare_examples(cpsc, "hr", "context", False, augment_copies=4, seed=args.seed)
    ex_extra = data.prepare_examples(extra, "hr", "context", False)
    examples = ex_cpsc + ex_extra
    cfg = TrainConfig(
        task="hr",
        modality="ecg",
        model=VitalsModelConfig(head="regression", lora_layers=args.lora_layers, value_range=(25.0, 250.0)),
        steps=args.steps,
        lr=args.lr,
        seed=args.seed,
    )
    lm = lm_factory(cfg.model)
    tr = cached_trainer(lm, cfg, examples, args.cache_dir, "ecg-context")
    names = sorted(r.name for r in cpsc)
    folds = [names[k::5] for k in range(5)]
    by_name = {r.name: r for r in cpsc}
    rows = []
    for k, held in enumerate(folds):
        held_set = set(held)
        train_idx = [i for i, e in enumerate(examples) if e.recording not in held_set]
        test_idx = [i for i, e in enumerate(examples) if e.recording in held_set and not e.augmented]
        pred, fit_s = _fold_fit(tr, train_idx, test_idx, args.steps)
        for i, p in zip(test_idx, pred, strict=False):
            e = examples[i]
            lr_ = by_name[e.recording]
            rows.append(
                {
                    "recording": e.recording,
                    "reference": e.target,
                    "qlora": float(p),
                    "rpeak_feature": e.anchor,
                    "neurokit_default": neurokit_ecg_rate(lr_.signal[:, 0], lr_.fs),
                    "quality_ok": e.quality_ok,
                }
            )
        m = np.mean([abs(r["qlora"] - r["reference"]) for r in rows[-len(test_idx) :]])
        print(
            f"  fold {k + 1}/5 ({len(held)} records): QLoRA MAE {m:5.2f} bpm  (fit {fit_s:.0f} s)", flush=True
        )
    return {
        "data": str(args.ecg_data),
        "protocol": "5 folds split by record (25 records, one 10-s window each); "
        "training: other folds' records x5 (4 label-preserving augmented copies) + MIT-BIH 100 10-s windows",
        "extra_training_windows": len(ex_extra),
        "model": cfg.model.model_dump(),
        "steps_per_fold": args.steps,
        "summary": summarise(rows, ["qlora", "rpeak_feature", "neurokit_default"]),
        "records": rows,
    }


# ---------------------------------------------------------------------------------- subset experiments


SUBSET_HELD = ("DATA_10_TYPE02", "DATA_02_TYPE02")
SUBSET_STRIDE = 4


def _subset(examples, held, stride):
    train = [i for i, e in enumerate(examples) if e.recording != held and (i % stride == 0)]
    test = [i for i, e in enumerate(examples) if e.recording == held]
    return train, test


def run_subset(args, lm_factory, variants: list[str]) -> dict:
    """Each variant on the same two held-out recordings with every fourth training window."""
    from cardioagent.models.vitals import data
    from cardioagent.models.vitals.model import VitalsModelConfig
    from cardioagent.models.vitals.train import TrainConfig

    recs = data.read_dataset(args.ppg_data, "hr", "ppg")
    out = {}
    for variant in variants:
        head = "text" if variant == "text_head" else "regression"
        setting = "signal" if variant == "signal_only" else "context"
        tracking = variant != "context_without_tracker"
        examples = data.prepare_examples(recs, "hr", setting, False, tracking=tracking)
        cfg = TrainConfig(
            task="hr",
            modality="ppg",
            setting=setting,
            model=VitalsModelConfig(head=head, lora_layers=args.lora_layers, value_range=(30.0, 230.0)),
            steps=args.steps,
            lr=args.lr,
            seed=args.seed,
        )
        lm = lm_factory(cfg.model)
        splits = {held: _subset(examples, held, SUBSET_STRIDE) for held in SUBSET_HELD}
        if head == "text":  # constrained decoding runs all 30 layers per answer token: every third window
            splits = {h: (tr_idx, te_idx[::3]) for h, (tr_idx, te_idx) in splits.items()}
        needed = sorted({i for tr_idx, te_idx in splits.values() for i in tr_idx + te_idx})
        tr = cached_trainer(lm, cfg, examples, args.cache_dir, f"subset-{variant}", needed)
        per = {}
        for held, (train_idx, test_idx) in splits.items():
            t0 = time.perf_counter()
            pred, fit_s = _fold_fit(tr, train_idx, test_idx, args.steps)
            pred_s = time.perf_counter() - t0 - fit_s
            y = np.array([examples[i].target for i in test_idx])
            anchors = [examples[i].anchor for i in test_idx]
            per[held] = {
                "n": len(test_idx),
                "mae": float(np.mean(np.abs(pred - y))),
                "mae_anchor": None if anchors[0] is None else float(np.mean(np.abs(np.array(anchors) - y))),
                "fit_s": round(fit_s, 1),
                "predict_s_per_window": round(pred_s / len(test_idx), 3),
                "prompt_tokens_mean": float(
                    np.mean([len(lm.tokenizer(examples[i].prompt).input_ids) for i in test_idx])
                ),
            }
            print(
                f"  {variant:24s} {held}: MAE {per[held]['mae']:6.2f} (anchor {per[held]['mae_anchor']}) "
                f"fit {fit_s:.0f} s, predict {pred_s:.0f} s",
                flush=True,
            )
        out[variant] = per
    return out


def run_demographics(args, lm_factory) -> dict:
    """Vascular age (= chronological age) from 12-lead ECG with and without sex in the prompt; the only
    shared data set with demographics. Leave-one-record-out is too costly: 5 folds by record."""
    from cardioagent.models.vitals import data
    from cardioagent.models.vitals.model import VitalsModelConfig
    from cardioagent.models.vitals.train import TrainConfig

    recs = data.read_dataset(args.cinc_data, "vascular_age", "ecg")
    out = {}
    for with_demo in (False, True):
        # no augmentation: the prompt states amplitudes in mV, which a standardised copy would not keep
        examples = data.prepare_examples(recs, "vascular_age", "context", with_demo)
        cfg = TrainConfig(
            task="vascular_age",
            modality="ecg",
            demographics=with_demo,
            model=VitalsModelConfig(
                head="regression", lora_layers=args.lora_layers, value_range=(18.0, 100.0)
            ),
            steps=args.age_steps,
            lr=args.lr,
            seed=args.seed,
        )
        lm = lm_factory(cfg.model)
        tr = cached_trainer(lm, cfg, examples, args.cache_dir, f"cinc-age-{with_demo}")
        names = sorted({e.recording for e in examples})
        pred_all, ref_all, base_all = [], [], []
        for k in range(5):
            held = set(names[k::5])
            train_idx = [i for i, e in enumerate(examples) if e.recording not in held]
            test_idx = [i for i, e in enumerate(examples) if e.recording in held and not e.augmented]
            pred, _ = _fold_fit(tr, train_idx, test_idx, args.age_steps)
            pred_all += list(pred)
            ref_all += [examples[i].target for i in test_idx]
            base_all += [float(np.mean([examples[i].target for i in train_idx]))] * len(test_idx)
        key = "context_plus_demographics" if with_demo else "context"
        out[key] = {
            "n": len(ref_all),
            "mae": float(np.mean(np.abs(np.array(pred_all) - np.array(ref_all)))),
            "mae_training_mean": float(np.mean(np.abs(np.array(base_all) - np.array(ref_all)))),
        }
        print(
            f"  vascular age {key}: MAE {out[key]['mae']:.2f} y (predicting the training mean: "
            f"{out[key]['mae_training_mean']:.2f} y)",
            flush=True,
        )
    return out


def run_vascular_synthetic(args, lm_factory) -> dict:
    """PPG vascular age on synthetic signals with a known aging model: train on 160 ages, test on 40
    others (ages 20-80, heart rates 55-95 bpm)."""
    from cardioagent.models.vitals import data, synthetic
    from cardioagent.models.vitals.model import VitalsModelConfig
    from cardioagent.models.vitals.train import TrainConfig

    rng = np.random.default_rng(args.seed)
    ages = rng.uniform(20, 80, 200)
    recs = synthetic.aged_recordings(ages, seed=args.seed)
    examples = data.prepare_examples(recs, "vascular_age", "context", False)
    cfg = TrainConfig(
        task="vascular_age",
        modality="ppg",
        model=VitalsModelConfig(head="regression", lora_layers=args.lora_layers, value_range=(18.0, 100.0)),
        steps=args.age_steps * 3,
        lr=args.lr,
        seed=args.seed,
    )
    lm = lm_factory(cfg.model)
    tr = cached_trainer(lm, cfg, examples, args.cache_dir, "synthetic-ppg-age")
    train_idx, test_idx = list(range(160)), list(range(160, 200))
    pred, fit_s = _fold_fit(tr, train_idx, test_idx, cfg.steps)
    y = ages[160:]
    from cardioagent.models.vitals.features import ppg_age_features

    # the classical comparison: least squares of age on the same SDPPG ratios the prompt carries
    def row(r):
        f = ppg_age_features(r.signal[:, 0], r.fs)
        vals = [f.b_a, f.c_a, f.d_a, f.e_a, f.aging_index]
        return [np.nan if v is None else v for v in vals] + [1.0]

    X = np.array([row(r) for r in recs])
    ok = np.isfinite(X).all(axis=1)
    tr_ok = ok[:160]
    coef, *_ = np.linalg.lstsq(X[:160][tr_ok], ages[:160][tr_ok], rcond=None)
    lin = np.where(ok[160:], X[160:] @ np.nan_to_num(coef), ages[:160].mean())
    out = {
        "n_train": 160,
        "n_test": 40,
        "steps": cfg.steps,
        "mae": float(np.mean(np.abs(pred - y))),
        "mae_training_mean": float(np.mean(np.abs(ages[:160].mean() - y))),
        "mae_linear_on_sdppg_ratios": float(np.mean(np.abs(lin - y))),
        "test_windows_without_sdppg_waves": int((~ok[160:]).sum()),
        "fit_s": round(fit_s, 1),
    }
    print(
        f"  synthetic PPG vascular age: MAE {out['mae']:.2f} y (training mean {out['mae_training_mean']:.2f} y, "
        f"linear fit on the SDPPG ratios {out['mae_linear_on_sdppg_ratios']:.2f} y)",
        flush=True,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="ppg,ecg")
    ap.add_argument("--ppg-data", type=Path, default=SHARED / "ppg_wrist_spc2015")
    ap.add_argument("--ecg-data", type=Path, default=SHARED / "ecg1_rpeaks_cpsc2019")
    ap.add_argument("--mitbih-data", type=Path, default=SHARED / "mitbih")
    ap.add_argument("--cinc-data", type=Path, default=SHARED / "ecg12_cinc2021")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--age-steps", type=int, default=40, help="steps per fold for the vascular-age parts")
    ap.add_argument("--lora-layers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _threads(args.threads)
    from cardioagent.models.llm.weights import cardio_home

    args.cache_dir = args.cache_dir or cardio_home() / "cache" / "vitals-bench"
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    from cardioagent.models.vitals.model import VitalsLM

    loaded = {}

    def lm_factory(model_cfg):
        """One 4-bit base per configuration in this process; adapters are reset per fold."""
        key = model_cfg.model_dump_json()
        if key not in loaded:
            loaded.clear()
            import torch

            torch.manual_seed(args.seed)
            loaded[key] = VitalsLM(model_cfg)
        return loaded[key]

    meta = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": ".venv/bin/python bench/vitals.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "torch_threads": args.threads,
        },
    }
    main_out, exp_out = {}, {}
    t_start = time.perf_counter()
    if "ppg" in parts:
        print("wrist PPG heart rate, SPC 2015, leave-one-recording-out", flush=True)
        main_out["ppg_hr_spc2015"] = run_ppg(args, lm_factory)
        s = main_out["ppg_hr_spc2015"]["summary"]
        print("  MAE over all windows: " + ", ".join(f"{k} {v['mae']:.2f}" for k, v in s.items()) + " bpm")
    if "ecg" in parts:
        print("ECG heart rate, CPSC 2019, 5 folds by record", flush=True)
        main_out["ecg_hr_cpsc2019"] = run_ecg(args, lm_factory)
        s = main_out["ecg_hr_cpsc2019"]["summary"]
        print("  MAE: " + ", ".join(f"{k} {v['mae']:.3f}" for k, v in s.items()) + " bpm")
    variants = []
    if "decision" in parts:
        variants += ["regression_head", "text_head"]
    if "ablation" in parts:
        variants += ["context_without_tracker", "signal_only"]
    if variants:
        print(
            "subset experiments (SPC 2015, two held-out recordings, every fourth training window)", flush=True
        )
        exp_out["subset"] = run_subset(args, lm_factory, variants)
    if "vascular" in parts:
        print("vascular age from PPG, synthetic signals with a known aging model", flush=True)
        exp_out["vascular_age_synthetic_ppg"] = run_vascular_synthetic(args, lm_factory)
    if "demographics" in parts:
        print(
            "demographics vs signal-only: vascular age from 12-lead ECG (CinC 2021, 25 records)", flush=True
        )
        exp_out["demographics"] = run_demographics(args, lm_factory)
    from cardioagent.models.vitals.metrics import rounded

    meta["total_seconds"] = round(time.perf_counter() - t_start, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if main_out:
        (RESULTS / "vitals.json").write_text(
            json.dumps(rounded({"benchmark": "vitals", **meta, **main_out}), indent=1)
        )
        print("wrote bench/results/vitals.json")
    if exp_out:
        path = RESULTS / "vitals_experiments.json"
        previous = json.loads(path.read_text()) if path.is_file() else {}
        merged = {**previous, "benchmark": "vitals_experiments", **meta}
        for k, v in exp_out.items():  # each section keeps the command and time it was measured with
            merged[k] = {**previous.get(k, {}), **v, "command": meta["command"], "when": meta["when"]}
        path.write_text(json.dumps(rounded(merged), indent=1))
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
