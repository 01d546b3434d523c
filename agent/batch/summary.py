"""The end-of-run summary of a batch: counts, failures by kind, quality, statement prevalence.

Prevalence is over the recordings analysed without error: for each interpretation statement, how many were
``present``, how many ``undetermined`` (the analysis could not decide, e.g. a noisy lead); for rhythm, how
many had each rhythm statement. These are signal findings of this tool, not diagnoses.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import BaseModel, Field


class StatementCount(BaseModel):
    source: str
    name: str
    present: int
    undetermined: int
    prevalence: float  # present / recordings analysed


class BatchSummary(BaseModel):
    rows: int
    ok: int
    errors: int
    failures_by_kind: dict[str, int] = Field(default_factory=dict)
    quality: dict[str, int] = Field(default_factory=dict)
    analysis_errors: dict[str, int] = Field(default_factory=dict)  # analysis -> recordings where it failed
    statements: list[StatementCount] = Field(default_factory=list)
    device_statements: dict[str, int] = Field(default_factory=dict)


def summarize(results: Path) -> BatchSummary:
    import pyarrow.parquet as pq

    t = pq.read_table(
        results,
        columns=["status", "error_kind", "quality", "statements", "analysis_errors", "device_statements"],
    ).to_pylist()
    ok = [r for r in t if r["status"] == "ok"]
    present: Counter[tuple[str, str]] = Counter()  # (source, name) -> recordings
    undetermined: Counter[tuple[str, str]] = Counter()
    for r in ok:
        for s in r["statements"] or []:
            k = (s["source"], s["name"])
            present[k] += s["verdict"] == "present"
            undetermined[k] += s["verdict"] == "undetermined"
    statements = [
        StatementCount(
            source=src,
            name=name,
            present=present[(src, name)],
            undetermined=undetermined[(src, name)],
            prevalence=round(present[(src, name)] / len(ok), 4) if ok else 0.0,
        )
        for src, name in sorted(set(present) | set(undetermined), key=lambda k: (k[0], -present[k], k[1]))
    ]
    return BatchSummary(
        rows=len(t),
        ok=len(ok),
        errors=len(t) - len(ok),
        failures_by_kind=dict(
            Counter(r["error_kind"] or "?" for r in t if r["status"] != "ok").most_common()
        ),
        quality=dict(Counter(r["quality"] or "not assessed" for r in ok).most_common()),
        analysis_errors=dict(
            Counter(e["analysis"] for r in ok for e in r["analysis_errors"] or []).most_common()
        ),
        statements=statements,
        device_statements=dict(Counter(s for r in ok for s in r["device_statements"] or []).most_common(20)),
    )


def format_summary(s: BatchSummary) -> str:
    lines = [f"{s.rows} recordings: {s.ok} analysed, {s.errors} failed"]
    if s.failures_by_kind:
        lines.append("failures by kind:")
        lines += [f"  {k:28s} {v:6d}" for k, v in s.failures_by_kind.items()]
    if s.quality:
        lines.append("signal quality:")
        lines += [f"  {k:28s} {v:6d}" for k, v in s.quality.items()]
    if s.analysis_errors:
        lines.append("analyses not available (recording too short, wrong modality, ...):")
        lines += [f"  {k:28s} {v:6d}" for k, v in s.analysis_errors.items()]
    if s.statements:
        lines.append(f"statements (of {s.ok} analysed)          present  prevalence  undetermined")
        lines += [
            f"  {st.source[:9]:9s} {st.name[:36]:36s} {st.present:6d}  {100 * st.prevalence:8.1f}%  "
            f"{st.undetermined:10d}"
            for st in s.statements
        ]
    if s.device_statements:
        lines.append("device statements (most frequent):")
        lines += [f"  {v:6d}  {k[:90]}" for k, v in s.device_statements.items()]
    lines.append("Signal findings of this tool, not diagnoses; not a medical device.")
    return "\n".join(lines)
