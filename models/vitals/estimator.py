"""Running a trained (shipped or user-trained) adapter on a ``Recording``.

Per window the estimator gives the QLoRA estimate, the classical estimate it can be checked against, an
uncertainty and a quality flag:

- uncertainty = the larger of the adapter's held-out MAE (from its training report) and the distance
  between the QLoRA and classical estimates of that window;
- a window with nothing to measure (no pulse in the PPG, fewer than three R-peaks) gets no number;
- a window whose signal quality fails (see ``data._ppg_quality`` / ``_ecg_quality``) and whose two
  estimates disagree by more than ``DISAGREE_FRACTION`` gets no number (UNUSABLE, with the reason)
  instead of a guess; poor quality with agreeing estimates is reported, flagged POOR; good quality with
  disagreeing estimates is flagged POOR too.

The recording's value is the median of the windows that got a number. Long recordings are estimated on
at most ``MAX_WINDOWS`` evenly spaced windows (features are still computed, and PPG rates tracked, over
every window), so one call stays within seconds on a CPU.
"""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from cardioagent.models.vitals import data
from cardioagent.models.vitals.prompts import Modality, Setting, Task
from cardioagent.tools.contract import Measurement, Quality
from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.recording import ChannelKind, Demographics, Recording

ADAPTERS_DIR = Path(__file__).resolve().parents[1] / "adapters"
MAX_WINDOWS = 24
DISAGREE_FRACTION = 0.10
NAMES = {"hr": ("heart rate", "bpm"), "vascular_age": ("vascular age", "years")}
_LOCK = threading.Lock()


# A user-trained adapter, used without touching the source tree: an adapter folder (``OUT/adapter`` of
# ``cardioagent train vitals``) or a folder of ``<task>_<modality>`` adapters. ``--adapter`` sets it.
ADAPTER_ENV = "CARDIOAGENT_VITALS_ADAPTER"


def _adapter_pair(folder: Path) -> tuple[str, str] | None:
    """(task, modality) of the adapter in ``folder``, or None when it holds none."""
    try:
        meta = json.loads((folder / "vitals_model.json").read_text())
    except (OSError, ValueError):
        return None
    return (str(meta.get("task")), str(meta.get("modality"))) if isinstance(meta, dict) else None


def override_adapters(root: str | Path) -> dict[tuple[str, str], Path]:
    """The adapters found in ``root`` (itself one, or its ``<task>_<modality>`` sub-folders), by pair."""
    root = Path(root).expanduser()
    found: dict[tuple[str, str], Path] = {}
    for folder in (root, *sorted(p for p in root.iterdir() if p.is_dir())) if root.is_dir() else ():
        pair = _adapter_pair(folder)
        if pair is not None:
            found.setdefault(pair, folder)
    return found


def adapter_dir(task: str, modality: str) -> Path:
    """The adapter for (task, modality): the one ``$CARDIOAGENT_VITALS_ADAPTER`` names when it is for that
    pair, else the shipped one."""
    override = os.environ.get(ADAPTER_ENV)
    if override:
        chosen = override_adapters(override).get((task, modality))
        if chosen is not None:
            return chosen
    return ADAPTERS_DIR / f"{task}_{modality}"


def shipped_adapter_problem(task: str, modality: str) -> str | None:
    """None when the shipped adapter for (task, modality) is present, else why not."""
    folder = adapter_dir(task, modality)
    needed = ("adapter_model.safetensors", "adapter_config.json", "vitals_model.json")
    missing = [n for n in needed if not (folder / n).is_file()]
    return None if not missing else f"no trained adapter in {folder} (missing {', '.join(missing)})"


class WindowEstimate(BaseModel):
    start_s: float
    end_s: float
    estimate: Measurement
    classical: Measurement
    note: str = ""


class VitalsEstimate(BaseModel):
    task: str
    modality: str
    value: Measurement
    classical: Measurement
    windows: list[WindowEstimate] = Field(default_factory=list)
    windows_total: int
    windows_refused: int
    adapter: str
    held_out_mae: float | None
    method: str
    warnings: list[str] = Field(default_factory=list)


@lru_cache(maxsize=4)
def _load(folder: str):
    from cardioagent.models.vitals.model import VitalsLM

    lm, meta = VitalsLM.load(folder)
    report = Path(folder) / "report.json"
    mae = None
    if report.is_file():
        mae = json.loads(report.read_text()).get("metrics", {}).get("mae")
    return lm, meta, mae


def _labelled(rec: Recording, task: Task, modality: Modality) -> data.LabelledRecording:
    window_s, step_s = data.DEFAULT_WINDOWS[(task, modality)]
    lr = data._from_recording(rec, modality, window_s, step_s)
    duration = lr.signal.shape[0] / lr.fs
    if duration < window_s:
        if modality == "ecg" and duration >= 5.0:  # a short ECG strip is one window
            lr.window_s = lr.step_s = duration
        else:
            raise InputError(
                rec.name,
                f"it is {duration:.1f} s long",
                f"at least {window_s:g} s of {modality.upper()} for this estimate",
            )
    return lr


def estimate(
    rec: Recording,
    task: Task = "hr",
    modality: Modality | None = None,
    demographics: Demographics | None = None,
    folder: str | Path | None = None,
) -> VitalsEstimate:
    if rec.signal is None:
        raise InputError(rec.name, "it is an image, not a sampled signal", "an ECG or PPG recording")
    if modality is None:
        modality = "ppg" if rec.indices_of(ChannelKind.PPG) and not rec.indices_of(ChannelKind.ECG) else "ecg"
    folder = Path(folder) if folder is not None else adapter_dir(task, modality)
    problem = shipped_adapter_problem(task, modality) if folder == adapter_dir(task, modality) else None
    if problem:
        raise InputError(rec.name, f"no {task} estimator for {modality.upper()} is installed", problem)
    with _LOCK:
        lm, meta, held_mae = _load(str(folder))
    if meta.get("task") != task or meta.get("modality") != modality:
        raise InputError(
            str(folder),
            f"the adapter is for {meta.get('task')} from {meta.get('modality')}",
            f"an adapter trained for {task} from {modality}",
        )
    lr = _labelled(rec, task, modality)
    if demographics is not None:
        lr.demographics = lr.demographics.merged(demographics)
    examples = data.build_examples(
        lr, task, _setting(meta, folder), bool(meta.get("demographics")), labelled_only=False
    )
    chosen = np.unique(np.linspace(0, len(examples) - 1, min(MAX_WINDOWS, len(examples))).round().astype(int))
    picked = [examples[i] for i in chosen]
    with _LOCK:
        values = _predict(lm, picked)
    name, unit = NAMES[task]
    windows, accepted, refused = [], [], 0
    floor = held_mae or 0.0
    for ex, v in zip(picked, values, strict=False):
        c = ex.classical
        gap = None if c is None else abs(v - c)
        disagree = gap is not None and gap > DISAGREE_FRACTION * max(abs(c), 1.0)
        note = ex.quality_note
        if ex.unusable or (not ex.quality_ok and (disagree or c is None and task == "hr")):
            q, value = Quality.UNUSABLE, None
            note = f"no estimate: {note}" + (
                f"; QLoRA {v:.0f} and classical {c:.0f} {unit} disagree" if disagree else ""
            )
            refused += 1
        else:
            q = Quality.POOR if (not ex.quality_ok or disagree) else Quality.GOOD
            value = round(float(v), 1)
            if disagree:
                note = (
                    note + "; " if note else ""
                ) + f"QLoRA and classical estimates differ by {gap:.0f} {unit}"
            accepted.append((value, max(floor, gap or 0.0), q))
        unc = None if value is None else round(max(floor, gap or 0.0), 1)
        windows.append(
            WindowEstimate(
                start_s=round(ex.start_s, 2),
                end_s=round(ex.start_s + lr.window_s, 2),
                estimate=Measurement(name=name, value=value, unit=unit, uncertainty=unc, quality=q),
                classical=Measurement(
                    name=f"classical {name}",
                    value=None if c is None else round(c, 1),
                    unit=unit,
                    quality=Quality.ACCEPTABLE if c is not None else Quality.UNUSABLE,
                ),
                note=note,
            )
        )
    warnings = []
    if accepted:
        vals = np.array([a[0] for a in accepted])
        good = [a for a in accepted if a[2] == Quality.GOOD]
        overall_q = Quality.GOOD if len(good) >= 0.5 * len(windows) else Quality.POOR
        overall = Measurement(
            name=name,
            value=round(float(np.median(vals)), 1),
            unit=unit,
            uncertainty=round(float(np.median([a[1] for a in accepted])), 1),
            quality=overall_q,
        )
    else:
        overall = Measurement(name=name, value=None, unit=unit, quality=Quality.UNUSABLE)
        warnings.append("every window was of poor quality with disagreeing estimates: no number is given")
    if refused:
        warnings.append(f"{refused} of {len(windows)} windows refused for poor quality")
    if task == "vascular_age":
        warnings.append(
            "vascular age has no public ground truth: this estimator was validated against "
            "chronological age of a small set of records and synthetic signals (docs/vitals.md)"
        )
    cl = [w.classical.value for w in windows if w.classical.value is not None]
    classical = Measurement(
        name=f"classical {name}",
        value=round(float(np.median(cl)), 1) if cl else None,
        unit=unit,
        quality=Quality.ACCEPTABLE if cl else Quality.UNUSABLE,
    )
    model = meta.get("model", {})
    method = (
        f"QLoRA LLM estimator ({model.get('base')} in 4-bit NF4 with LoRA adapters, "
        f"{meta.get('setting', 'context')} prompt, {model.get('head')} head) on "
        f"{len(windows)} of {len(examples)} {lr.window_s:g}-s windows; value = median of windows; "
        f"uncertainty = larger of the held-out MAE and the distance to the classical estimate"
    )
    return VitalsEstimate(
        task=task,
        modality=modality,
        value=overall,
        classical=classical,
        windows=windows,
        windows_total=len(examples),
        windows_refused=refused,
        adapter=str(folder),
        held_out_mae=held_mae,
        method=method,
        warnings=warnings,
    )


def _setting(meta: dict, folder: Path) -> Setting:
    """The prompt setting the adapter was trained with (its vitals_model.json; "context" when unstated)."""
    setting = meta.get("setting", "context")
    if setting == "signal":
        return "signal"
    if setting == "context":
        return "context"
    raise InputError(
        str(folder),
        f"its vitals_model.json names an unknown prompt setting {setting!r}",
        "an adapter written by `cardioagent train vitals` (setting 'signal' or 'context')",
    )


def _predict(lm, examples) -> np.ndarray:
    import torch

    if lm.cfg.head == "text":
        return np.array(lm.generate_numbers([e.prompt for e in examples]))
    out = []
    with torch.no_grad():
        for k in range(0, len(examples), 8):
            chunk = examples[k : k + 8]
            enc = lm.tokenize([e.prompt for e in chunk])
            base = torch.tensor(
                [lm.target_mean if e.anchor is None else e.anchor for e in chunk], dtype=torch.float32
            )
            out.append(
                lm.regress(
                    lm.final_states(enc.input_ids, enc.attention_mask), enc.attention_mask, base
                ).numpy()
            )
    lo, hi = lm.cfg.value_range
    return np.clip(np.concatenate(out), lo, hi)
