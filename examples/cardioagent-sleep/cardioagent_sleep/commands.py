"""``cardioagent sleep stages PATH [--subject ID] [--json] [--figure PNG]``

PATH is a wearable CSV (heart rate + motion, loaded by cardioagent's loaders as a ``wearable`` recording) or a
folder of published epoch-feature files (``<ID>_count_feature.out``, ``_hr_feature.out``,
``_cosine_feature.out``, ``_time_feature.out``), of which ``--subject`` picks one. With ``--json`` it prints
``stages`` (one of ``wake|n1|n2|n3|rem`` per 30-s epoch, in the file's order), the coarser views and the
summary figures. Errors a person can cause are ``InputError``s: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from cardioagent.tools.errors import InputError

_FOLDER_ACCEPTED = (
    "a folder with <ID>_count_feature.out, <ID>_hr_feature.out, <ID>_cosine_feature.out and "
    "<ID>_time_feature.out (Walch et al. 2019 epoch features), with --subject ID"
)


def register(subparsers) -> None:
    p = subparsers.add_parser("sleep", help="sleep staging from a wearable night (cardioagent-sleep plugin)")
    sub = p.add_subparsers(dest="sleep_command", metavar="SUBCOMMAND")
    s = sub.add_parser("stages", help="stages per 30-s epoch, sleep figures and a hypnogram")
    s.add_argument("path", type=Path, help="wearable CSV, or a folder of epoch-feature files")
    s.add_argument("--subject", default=None, help="subject id in a folder of epoch-feature files")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--figure", type=Path, default=None, help="write the hypnogram PNG here")
    s.set_defaults(func=run_stages)
    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def _from_folder(folder: Path, subject: str | None):
    import numpy as np

    from cardioagent_sleep.staging import stage_features
    from cardioagent_sleep.train import read_feature_files

    available = sorted({f.name.split("_")[0] for f in folder.glob("*_hr_feature.out")})
    if subject is None:
        if len(available) != 1:
            raise InputError(
                folder.name,
                f"it holds epoch features of {len(available)} subjects "
                f"({', '.join(available[:8])}{'...' if len(available) > 8 else ''}); name one with "
                "--subject",
                _FOLDER_ACCEPTED,
            )
        subject = available[0]
    if subject not in available:
        raise InputError(folder.name, f"no epoch-feature files for subject {subject!r}", _FOLDER_ACCEPTED)
    try:
        feats = read_feature_files(folder, subject)
    except (OSError, ValueError) as exc:
        raise InputError(
            folder.name, f"the feature files of {subject} cannot be read ({exc})", _FOLDER_ACCEPTED
        ) from None
    if not np.isfinite(feats).all():
        raise InputError(folder.name, f"the feature files of {subject} hold non-numbers", _FOLDER_ACCEPTED)
    # The time feature gives each epoch's start in hours since the first epoch (epochs without data are absent).
    return subject, stage_features(feats, feats[:, 3] * 3600.0)


def run_stages(args: argparse.Namespace) -> int:
    from cardioagent.tools.contract import Quality
    from cardioagent_sleep.hypnogram import draw_hypnogram
    from cardioagent_sleep.tool import build_result

    path: Path = args.path
    if path.is_dir():
        subject, staged = _from_folder(path, args.subject)
        result = build_result(
            staged, Quality.ACCEPTABLE, "published epoch features (activity counts, HR, clock)", []
        )
        name = subject
        span_epochs = (
            (staged.epoch_starts_s.max() - staged.epoch_starts_s.min()) / 30.0 + 1
            if len(staged.stages)
            else 0
        )
        if span_epochs > len(staged.stages) + 0.5:
            result.warnings.append(
                "the feature files skip epochs without data; figures count only the epochs present"
            )
    elif path.is_file():
        result, name = _from_file(path)
    else:
        raise InputError(
            path.name, "no such file or folder", "a wearable CSV or a folder of epoch-feature files"
        )
    if args.figure is not None:
        import numpy as np

        draw_hypnogram(
            result.stages, np.asarray(result.probabilities), args.figure, title=f"{name}: estimated hypnogram"
        )
        result.figures.append(str(args.figure))
    if args.json:
        out = {
            "source": str(path),
            "subject": args.subject,
            "epoch_s": result.epoch_s,
            "epochs": result.epochs,
            "stages": result.stages,
            "stages_wake_nrem_rem": result.stages_wake_nrem_rem,
            "stages_wake_light_deep_rem": result.stages_wake_light_deep_rem,
            "stages_sleep_wake": result.stages_sleep_wake,
            "summary": {
                k: v.value
                for k, v in (
                    ("total_sleep_time_min", result.total_sleep_time),
                    ("time_in_bed_min", result.time_in_bed),
                    ("sleep_efficiency_pct", result.sleep_efficiency),
                    ("sleep_onset_latency_min", result.sleep_onset_latency),
                    ("waso_min", result.wake_after_sleep_onset),
                )
            },
            "stage_percentages": {k: m.value for k, m in result.stage_percentages.items()},
            "quality": result.quality.value,
            "method": result.method,
            "warnings": result.warnings,
            "figures": result.figures,
        }
        json.dump(out, sys.stdout)
        print()
    else:
        print(f"{name} — sleep stages ({result.quality.value} quality)")
        print(result.summary())
        print(f"method: {result.method}")
        for f in result.figures:
            print(f"figure: {f}")
    return 0


def _from_file(path: Path):
    from cardioagent.tools.contract import ToolContext
    from cardioagent.tools.signal.loaders import load_recording
    from cardioagent_sleep.tool import SleepStagesTool

    rec = load_recording(path)
    if rec.modality.value != "wearable":
        raise InputError(
            path.name,
            f"it loads as a {rec.modality.value} recording, not a wearable night",
            "a wearable CSV with a time column, heart_rate and wrist motion",
        )
    with tempfile.TemporaryDirectory(prefix="cardioagent-sleep-") as tmp:
        ctx = ToolContext(get_recording={rec.id: rec}.__getitem__, artifacts_dir=Path(tmp))
        from cardioagent.tools.contract import RecordingInput

        result = SleepStagesTool().run(RecordingInput(recording_id=rec.id), ctx)
        result.figures = []  # the temporary folder goes away; --figure writes one where asked
    return result, rec.name
