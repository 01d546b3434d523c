"""One batch task -> its rows, through the same path as ``cardioagent analyze`` (load, ``analyze_recording``).

``BatchAnalyzer`` is the worker an engine runs: ``setup()`` once per worker process (imports, the noise
model's weights), then one call per task. A call never raises: a file that cannot be read, or an analysis
that crashes, becomes an error row whose ``error_kind`` is the exception's class name.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cardioagent.agent.batch.schema import (
    AnalysisErrorRow,
    BatchRow,
    MeasurementRow,
    RecordTask,
    StatementRow,
)

# Keys of a ToolResult's dump that hold a Measurement (a dict with these fields) at its top level; per-lead,
# per-channel and per-window values stay out of the row (they are many, and the fused value is reported).
_MEASUREMENT_KEYS = {"name", "value", "unit", "quality"}
_MEASUREMENT_FIELDS = ("name", "quantity", "value", "unit", "uncertainty", "channel", "quality")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def peak_rss_mb() -> float:
    """Peak resident memory of this process and of its largest finished child, in MB (Linux: ru_maxrss KB)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of the children it has waited for (tool subprocesses)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class BatchAnalyzer:
    """Picklable worker: sent to each worker process or Ray actor, set up there once."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = max_bytes

    def setup(self) -> None:
        # Load once per worker what every record needs: the analysis modules and the noise model's weights
        # (cached in the module for the life of the process).
        from cardioagent.tools import analysis  # noqa: F401
        from cardioagent.tools.signal import noise

        noise.load_model()

    def __call__(self, task: RecordTask) -> list[dict[str, Any]]:
        started, cpu_started = time.perf_counter(), cpu_seconds()
        try:
            rows = self._analyse(task)
        except Exception as exc:  # noqa: BLE001 — one bad file must not end the run: its error is its row
            rows = [error_row(task, type(exc).__name__, str(exc))]
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_started
        for r in rows:
            r.update(
                seconds=round(seconds / len(rows), 4),
                cpu_s=round(cpu / len(rows), 4),
                worker=worker_id(),
                worker_rss_mb=peak_rss_mb(),
                finished_at=_now(),
            )
        return rows

    def _analyse(self, task: RecordTask) -> list[dict[str, Any]]:
        from cardioagent.tools.report import analyze_recording
        from cardioagent.tools.signal.loaders import load_files

        if not Path(task.path).exists():
            return [error_row(task, "MissingFile", f"{Path(task.path).name}: no such file")]
        recordings = load_files([task.path], sampling_rate_hz=task.sampling_rate_hz, max_bytes=self.max_bytes)
        rows = []
        for rec in recordings:
            key = task.key if len(recordings) == 1 else f"{task.key}#{rec.name}"
            report = analyze_recording(rec)
            rows.append(report_row(task, key, rec, report))
        return rows


def error_row(task: RecordTask, kind: str, message: str) -> dict[str, Any]:
    return BatchRow(
        key=task.key,
        task_key=task.key,
        source=task.path,
        status="error",
        error_kind=kind,
        error=message,
        metadata=json.dumps(task.metadata),
        finished_at=_now(),
    ).model_dump()


def report_row(task: RecordTask, key: str, rec: Any, report: Any) -> dict[str, Any]:
    summary = report.recording
    row = BatchRow(
        key=key,
        task_key=task.key,
        source=task.path,
        status="ok",
        name=summary.name,
        format=summary.format,
        modality=summary.modality.value,
        sampling_rate_hz=summary.sampling_rate_hz,
        duration_s=summary.duration_s,
        n_channels=len(summary.channels),
        metadata=json.dumps(task.metadata),
        device_statements=device_statements(rec),
    )
    for outcome in report.analyses:
        if outcome.error:
            row.analysis_errors.append(AnalysisErrorRow(analysis=outcome.name, error=outcome.error))
            continue
        result = outcome.result or {}
        row.quality_flags.extend(f"{outcome.name}: {w}" for w in result.get("warnings", []))
        for value in result.values():
            if isinstance(value, dict) and _MEASUREMENT_KEYS <= value.keys():
                # Validated from the dump's dict: its values are untyped (Any) until the model checks them.
                row.measurements.append(
                    MeasurementRow.model_validate(
                        {"analysis": outcome.name, **{k: value.get(k) for k in _MEASUREMENT_FIELDS}}
                    )
                )
        if outcome.name == "quality":
            row.quality = result.get("overall") or result.get("quality")
            for ch in result.get("channels", []):
                row.quality_flags.extend(
                    f"{ch['channel']}: {n['kind']}" for n in ch.get("noise", []) if n.get("present")
                )
                if ch.get("quality") not in (None, "good"):
                    row.quality_flags.append(f"{ch['channel']}: {ch.get('quality')} ({ch.get('reason', '')})")
        elif outcome.name == "rhythm" and result.get("statement"):
            row.statements.append(
                StatementRow(
                    source="rhythm",
                    id=str(result["statement"]),
                    name=str(result["statement"]),
                    verdict="present",
                )
            )
        elif outcome.name == "intervals":
            row.statements.extend(
                StatementRow(
                    source="intervals",
                    id=s["id"],
                    name=s["name"],
                    verdict=s["verdict"],
                    probability=s.get("probability"),
                )
                for s in result.get("statements", [])
            )
    return row.model_dump()


def device_statements(rec: Any) -> list[str]:
    """Statements the recording device printed (machine interpretation), when the loader keeps them.

    Read defensively: only some formats carry them, and their shape belongs to the loader (text, or a model).
    """
    found = getattr(rec, "device_statements", None) or []
    if isinstance(found, str):
        found = [found]
    out = []
    for s in found:
        if isinstance(s, str):
            out.append(s)
        elif hasattr(s, "model_dump"):
            out.append(json.dumps(s.model_dump(mode="json"), sort_keys=True))
        else:
            out.append(str(s))
    return out
