"""Reading labelled data sets into windows, and windows into prompts.

``read_dataset(folder, task, modality)`` recognises these layouts (the shared data sets and a generic one
for users' own data):

- IEEE SPC 2015 wrist PPG: ``DATA_*.csv`` with ``DATA_*_reference_hr.csv`` (heart rate per 8-s window,
  2-s step). PPG channels with the accelerometer; the chest ECG is dropped so it cannot leak.
- CPSC 2019 single-lead ECG: ``reference.csv`` (record, reference_hr_bpm) beside WFDB records: one
  10-s window per record.
- MIT-BIH style WFDB records with ``.atr`` beat annotations and no reference file: 10-s windows labelled
  60 / mean RR of the annotated beats inside them.
- CinC 2021 12-lead ECGs: ``labels.csv`` with an ``age`` column: chronological age per record (the
  stand-in for vascular age, which has no public ground truth).
- Generic: ``targets.csv`` with columns ``file, value`` and optionally ``start_s, end_s`` (a window;
  without them the whole recording) and ``age, sex, height_cm, weight_kg``; files are read by
  ``cardioagent.tools.signal.loaders``.

``build_examples`` turns labelled recordings into ``Example``s (prompt, target, the classical anchor and a
quality flag) for one task, modality and setting; ``prepare_examples`` also makes augmented copies.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from cardioagent.models.vitals import features as feat
from cardioagent.models.vitals import prompts
from cardioagent.models.vitals.preprocess import augmented_copy, clean_channels, segment
from cardioagent.models.vitals.prompts import Modality, Setting, Task
from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.recording import ChannelKind, Demographics, Recording

DEFAULT_WINDOWS = {
    ("hr", "ppg"): (8.0, 2.0),
    ("hr", "ecg"): (10.0, 10.0),
    ("vascular_age", "ppg"): (10.0, 10.0),
    ("vascular_age", "ecg"): (10.0, 10.0),
}
PPG_MIN_QUALITY = 2.5  # spectral peak ratio below which a PPG window is flagged (as the classical tool does)
# below this share of power in the cardiac band a PPG window holds no pulse: 14 of the 1,768 SPC 2015
# windows fall below it (refused, though tracking got them right), white noise stays under 0.65 (99th pct)
PPG_MIN_CARDIAC_RATIO = 0.7
ECG_MIN_AGREEMENT = 0.85
AUGMENT_BELOW_WINDOWS = 20  # bSQI below which an ECG window is flagged (as tools.signal.sqi grades it)


@dataclass
class LabelledRecording:
    name: str
    modality: Modality
    fs: float
    signal: np.ndarray  # (n, k): the PPG channels, or ECG leads (best lead first)
    accel: np.ndarray | None = None  # (n, 3) or None
    demographics: Demographics = field(default_factory=Demographics)
    window_s: float = 8.0
    step_s: float = 2.0
    # reference per window start (s, rounded to 0.1); a whole-recording label is stored at start 0
    targets: dict[float, float] = field(default_factory=dict)
    source: str = ""


@dataclass
class Example:
    recording: str
    start_s: float
    target: float | None
    prompt: str
    anchor: float | None  # classical estimate a regression head corrects; None for signal-only prompts
    classical: float | None  # the classical estimate, kept for uncertainty and side-by-side reports
    quality_ok: bool
    quality_note: str = ""
    augmented: bool = False
    unusable: bool = (
        False  # nothing to measure (no pulse, no beats): the tool refuses whatever the model says
    )


def _key(t: float) -> float:
    return round(float(t), 1)


def _rate_of(rec: Recording) -> float:
    """The sampling rate of a signal recording (a photographed ECG has none)."""
    if rec.sampling_rate_hz is None:
        raise InputError(
            rec.name,
            "it has no sampling rate (an image, not a sampled signal)",
            "ECG or PPG recordings (WFDB, EDF, CSV, ...)",
        )
    return float(rec.sampling_rate_hz)


def _from_recording(rec: Recording, modality: Modality, window_s: float, step_s: float) -> LabelledRecording:
    kind = ChannelKind.PPG if modality == "ppg" else ChannelKind.ECG
    idx = rec.indices_of(kind)
    if not idx:
        raise InputError(
            rec.name,
            f"it has no {modality.upper()} channel (channels: {', '.join(rec.channel_names)})",
            f"recordings with a {modality.upper()} channel for a {modality} task",
        )
    if modality == "ecg":  # lead II first when present: the usual rhythm lead
        names = [rec.channels[i].name.upper() for i in idx]
        if "II" in names:
            idx = [idx[names.index("II")]] + [i for i in idx if rec.channels[i].name.upper() != "II"]
        idx = idx[:1]
    acc = rec.indices_of(ChannelKind.ACCEL)
    sig = np.asarray(rec.signal, dtype=float)
    return LabelledRecording(
        name=rec.name,
        modality=modality,
        fs=_rate_of(rec),
        signal=sig[:, idx],
        accel=sig[:, acc] if acc and modality == "ppg" else None,
        demographics=rec.demographics,
        window_s=window_s,
        step_s=step_s,
        source=str(rec.source_files[0]) if rec.source_files else "",
    )


def read_spc2015(folder: Path) -> list[LabelledRecording]:
    from cardioagent.tools.signal.loaders import load_recording

    out = []
    for f in sorted(p for p in folder.glob("DATA_*.csv") if not p.stem.endswith("_reference_hr")):
        ref = folder / f"{f.stem}_reference_hr.csv"
        if not ref.is_file():
            continue
        lr = _from_recording(load_recording(f), "ppg", 8.0, 2.0)
        with ref.open() as fh:
            lr.targets = {_key(float(r["window_start_s"])): float(r["hr_bpm"]) for r in csv.DictReader(fh)}
        out.append(lr)
    return out


def read_cpsc2019(folder: Path) -> list[LabelledRecording]:
    from cardioagent.tools.signal.loaders import load_recording

    out = []
    with (folder / "reference.csv").open() as fh:
        for r in csv.DictReader(fh):
            rec = load_recording(folder / f"{r['record']}.hea").model_copy(update={"annotations": []})
            duration = rec.n_samples / _rate_of(rec)
            lr = _from_recording(rec, "ecg", duration, duration)
            lr.targets = {0.0: float(r["reference_hr_bpm"])}
            out.append(lr)
    return out


def read_annotated_wfdb(folder: Path, window_s: float = 10.0) -> list[LabelledRecording]:
    """Records with ``.atr`` beat labels: 10-s windows labelled 60 / mean RR of the annotated beats."""
    from cardioagent.tools.signal.loaders import load_recording

    beat_symbols = set("NLRBAaJSVrFejnE/fQ?")
    out = []
    for hea in sorted(folder.glob("*.hea")):
        if not hea.with_suffix(".atr").is_file():
            continue
        rec = load_recording(hea)
        ann = next((a for a in rec.annotations if a.source == "atr"), None)
        if ann is None:
            continue
        beats = np.array(
            [s for s, sym in zip(ann.samples, ann.symbols, strict=False) if sym in beat_symbols], dtype=float
        )
        lr = _from_recording(rec.model_copy(update={"annotations": []}), "ecg", window_s, window_s)
        n = lr.signal.shape[0]
        w = round(window_s * lr.fs)
        for start in range(0, n - w + 1, w):
            inside = beats[(beats >= start) & (beats < start + w)]
            rr = np.diff(inside) / lr.fs
            rr = rr[(rr >= 0.2) & (rr <= 3.0)]
            if len(rr) >= 3:
                lr.targets[_key(start / lr.fs)] = float(60.0 / rr.mean())
        out.append(lr)
    return out


def _demographics_from_row(row: dict) -> Demographics:
    def num(k):
        v = (row.get(k) or "").strip()
        try:
            return float(v) if v else None
        except ValueError:
            return None

    sexes: dict[str, Literal["male", "female"]] = {"male": "male", "female": "female"}
    sex = sexes.get((row.get("sex") or "").strip().lower())
    return Demographics(age=num("age"), sex=sex, height_cm=num("height_cm"), weight_kg=num("weight_kg"))


def read_cinc2021_ages(folder: Path, modality: Modality = "ecg") -> list[LabelledRecording]:
    """12-lead records with their chronological age as the label (whole 10-s record, lead II)."""
    from cardioagent.tools.signal.loaders import load_recording

    out = []
    with (folder / "labels.csv").open() as fh:
        for r in csv.DictReader(fh):
            if not (r.get("age") or "").strip():
                continue
            rec = load_recording(folder / f"{r['record']}.hea")
            duration = rec.n_samples / _rate_of(rec)
            lr = _from_recording(rec, modality, duration, duration)
            lr.demographics = rec.demographics.merged(_demographics_from_row(r))
            lr.targets = {0.0: float(r["age"])}
            out.append(lr)
    return out


def read_generic(folder: Path, modality: Modality, window_s: float, step_s: float) -> list[LabelledRecording]:
    from cardioagent.tools.signal.loaders import load_recording

    by_file: dict[str, LabelledRecording] = {}
    with (folder / "targets.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"file", "value"} <= set(rows[0]):
        raise InputError(
            str(folder / "targets.csv"),
            "it lacks the columns 'file' and 'value'",
            "a CSV with file, value and optionally start_s, end_s, age, sex, height_cm, weight_kg",
        )
    for r in rows:
        name = r["file"]
        if name not in by_file:
            rec = load_recording(folder / name)
            whole = not (r.get("start_s") or "").strip()
            duration = rec.n_samples / _rate_of(rec)
            w = duration if whole else window_s
            lr = _from_recording(rec, modality, w, duration if whole else step_s)
            lr.demographics = rec.demographics.merged(_demographics_from_row(r))
            by_file[name] = lr
        lr = by_file[name]
        start = float(r["start_s"]) if (r.get("start_s") or "").strip() else 0.0
        if (r.get("end_s") or "").strip():
            lr.window_s = float(r["end_s"]) - start
        lr.targets[_key(start)] = float(r["value"])
    return list(by_file.values())


def detect_layout(folder: Path) -> str:
    if (folder / "targets.csv").is_file():
        return "generic"
    if any(p for p in folder.glob("DATA_*_reference_hr.csv")):
        return "spc2015"
    if (folder / "reference.csv").is_file():
        return "cpsc2019"
    if (folder / "labels.csv").is_file():
        return "cinc2021"
    if any(folder.glob("*.atr")):
        return "annotated_wfdb"
    return "unknown"


def read_dataset(folder: str | Path, task: Task, modality: Modality) -> list[LabelledRecording]:
    """Labelled recordings of a folder in one of the layouts above, for ``task`` and ``modality``."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(str(folder), "it is not a folder", "a folder holding recordings and their labels")
    layout = detect_layout(folder)
    window_s, step_s = DEFAULT_WINDOWS.get((task, modality), (10.0, 10.0))
    readers = {
        "spc2015": lambda: read_spc2015(folder),
        "cpsc2019": lambda: read_cpsc2019(folder),
        "annotated_wfdb": lambda: read_annotated_wfdb(folder),
        "cinc2021": lambda: read_cinc2021_ages(folder, modality),
        "generic": lambda: read_generic(folder, modality, window_s, step_s),
    }
    if layout not in readers:
        raise InputError(
            str(folder),
            "no labels were found (no targets.csv, reference.csv, labels.csv, "
            "DATA_*_reference_hr.csv or .atr files)",
            "one of the layouts in docs/vitals.md",
        )
    recs = readers[layout]()
    if layout in ("spc2015", "cpsc2019", "annotated_wfdb") and task != "hr":
        raise InputError(
            str(folder), f"its labels are heart rates, not {task}", "a folder labelled for the task"
        )
    if layout == "cinc2021" and task != "vascular_age":
        raise InputError(
            str(folder),
            "its labels are ages (for vascular age), not heart rates",
            "a folder labelled for the task",
        )
    recs = [r for r in recs if r.modality == modality]
    if not recs:
        raise InputError(str(folder), f"no {modality.upper()} recordings with labels", "labelled recordings")
    return recs


# ------------------------------------------------------------------------------------------- examples


def _ppg_quality(f: feat.PpgWindowFeatures) -> tuple[bool, str, bool]:
    """(quality ok, why not, unusable)."""
    if not f.ppg_peaks:
        return False, "flat or empty PPG", True
    if f.cardiac_power_ratio is not None and f.cardiac_power_ratio < PPG_MIN_CARDIAC_RATIO:
        return (
            False,
            (
                f"no pulse: {f.cardiac_power_ratio:.0%} of the power is in the cardiac band "
                f"(< {PPG_MIN_CARDIAC_RATIO:.0%})"
            ),
            True,
        )
    if f.peak_ratio < PPG_MIN_QUALITY:
        return (
            False,
            f"no clear pulse frequency (spectral peak ratio {f.peak_ratio:.1f} < {PPG_MIN_QUALITY})",
            False,
        )
    return True, "", False


def _ecg_quality(f: feat.EcgWindowFeatures) -> tuple[bool, str, bool]:
    if f.rpeak_bpm is None or f.n_beats < 3:
        return False, "fewer than 3 R-peaks found", True
    if f.detector_agreement is not None and f.detector_agreement < ECG_MIN_AGREEMENT:
        return (
            False,
            f"R-peak detectors disagree (bSQI {f.detector_agreement:.2f} < {ECG_MIN_AGREEMENT})",
            False,
        )
    return True, "", False


def window_features(
    lr: LabelledRecording,
    starts: np.ndarray,
    batch: np.ndarray,
    acc_batch: np.ndarray | None,
    tracking: bool = True,
) -> Sequence[feat.PpgWindowFeatures | feat.EcgWindowFeatures]:
    """Context features of every window of one recording (PPG windows are also tracked together,
    unless ``tracking`` is off: the ablation in which the model must pick the rate from one window)."""
    if lr.modality == "ppg":
        out = [
            feat.ppg_window_features(batch[i], lr.fs, None if acc_batch is None else acc_batch[i])
            for i in range(len(starts))
        ]
        if tracking:
            feat.track_windows(out, lr.step_s)
        return out
    return [feat.ecg_window_features(batch[i][:, 0], lr.fs) for i in range(len(starts))]


def build_examples(
    lr: LabelledRecording,
    task: Task,
    setting: Setting,
    with_demographics: bool,
    labelled_only: bool = True,
    augmented: bool = False,
    tracking: bool = True,
) -> list[Example]:
    """Prompts for every window of ``lr`` (only labelled windows when ``labelled_only``)."""
    batch, starts = segment(lr.signal, lr.fs, lr.window_s, lr.step_s)
    if len(starts) == 0:
        raise InputError(
            lr.name,
            f"it is shorter than one {lr.window_s:g}-s window",
            f"recordings of at least {lr.window_s:g} s",
        )
    acc_batch = segment(lr.accel, lr.fs, lr.window_s, lr.step_s)[0] if lr.accel is not None else None
    feats: Sequence[
        feat.PpgAgeFeatures | feat.EcgAgeFeatures | feat.PpgWindowFeatures | feat.EcgWindowFeatures
    ]
    if task == "vascular_age":
        age_of = feat.ppg_age_features if lr.modality == "ppg" else feat.ecg_age_features
        feats = [
            age_of(batch[i].mean(axis=1) if lr.modality == "ppg" else batch[i][:, 0], lr.fs)
            for i in range(len(starts))
        ]
    else:
        feats = window_features(lr, starts, batch, acc_batch, tracking)
    cleaned = None
    if setting == "signal":
        cleaned = segment(clean_channels(lr.signal, lr.fs, lr.modality), lr.fs, lr.window_s, lr.step_s)[0]
    out = []
    for i, s in enumerate(starts):
        target = lr.targets.get(_key(s))
        if labelled_only and target is None:
            continue
        # The features' class follows task and modality (age features for vascular_age, PPG ones for PPG).
        f = feats[i]
        if isinstance(f, (feat.PpgAgeFeatures, feat.EcgAgeFeatures)):
            ok, note, unusable = f.ok, "" if f.ok else "the average beat could not be delineated", not f.ok
        else:
            ok, note, unusable = _ppg_quality(f) if isinstance(f, feat.PpgWindowFeatures) else _ecg_quality(f)
        if setting == "context":
            if isinstance(f, feat.PpgAgeFeatures):
                body, anchor = prompts.ppg_age_text(f), None
            elif isinstance(f, feat.EcgAgeFeatures):
                body, anchor = prompts.ecg_age_text(f), None
            else:
                body = (
                    prompts.ppg_context_text(f)
                    if isinstance(f, feat.PpgWindowFeatures)
                    else prompts.ecg_context_text(f)
                )
                anchor = prompts.anchor_of(task, lr.modality, f)
        else:
            assert cleaned is not None  # setting == "signal": segmented above
            x = cleaned[i].mean(axis=1) if lr.modality == "ppg" else cleaned[i][:, 0]
            body = prompts.samples_text(x, lr.fs, lr.modality, None if acc_batch is None else acc_batch[i])
            anchor = None
        classical = (
            prompts.anchor_of("hr", lr.modality, f)
            if isinstance(f, (feat.PpgWindowFeatures, feat.EcgWindowFeatures))
            else None
        )  # task == "hr"
        prompt = prompts.build_prompt(
            task, lr.modality, setting, lr.window_s, body, lr.demographics, with_demographics
        )
        out.append(
            Example(lr.name, float(s), target, prompt, anchor, classical, ok, note, augmented, unusable)
        )
    return out


def prepare_examples(
    recs: list[LabelledRecording],
    task: Task,
    setting: Setting,
    with_demographics: bool,
    augment_copies: int = 0,
    seed: int = 0,
    progress=None,
    tracking: bool = True,
) -> list[Example]:
    """Examples of every labelled window, plus ``augment_copies`` augmented copies of each recording with
    fewer than ``AUGMENT_BELOW_WINDOWS`` labelled windows (short records such as CPSC's 10-s strips need
    them; a long recording already gives many windows)."""
    rng = np.random.default_rng(seed)
    out: list[Example] = []
    for lr in recs:
        out += build_examples(lr, task, setting, with_demographics, tracking=tracking)
        for _ in range(augment_copies if len(lr.targets) < AUGMENT_BELOW_WINDOWS else 0):
            sig = augmented_copy(lr.signal, lr.fs, rng)
            copy = LabelledRecording(**{**lr.__dict__, "signal": sig})
            out += build_examples(copy, task, setting, with_demographics, augmented=True, tracking=tracking)
        if progress is not None:
            progress(lr.name)
    return out
