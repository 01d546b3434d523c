"""The card shown as soon as a recording is uploaded: what it is, and whether its signal is usable.

The quality comes from ``Assistant.recording_quality`` (the registry's ``signal_quality`` tool, run the way the
agent runs it), so the card and a later answer never disagree.
"""

from __future__ import annotations

from typing import Any

from cardioagent.agent import Recording, inert_markdown


def summarise_uploads(assistant: Any, recordings: list[Recording]) -> tuple[list[dict], dict[str, str]]:
    """The summaries (as dicts) and qualities by recording id (none where it cannot be assessed)."""
    summaries = [r.summary().model_dump(mode="json") for r in recordings]
    qualities = {}
    for rec in recordings:
        q = assistant.recording_quality(rec)
        if q:
            qualities[rec.id] = q
    return summaries, qualities


def device_note(recordings: list[Recording]) -> str:
    """Markdown lines (text from files made inert) for what each recording's device stated: shown on the
    card apart from the measurements, and labelled as the device's, not cardioagent's."""
    lines = []
    for rec in recordings:
        dr = rec.device_report
        if dr is None:
            continue
        who = inert_markdown(dr.device or dr.source_format or "the device", max_chars=80)
        said = [
            inert_markdown(x, max_chars=120)
            for x in ([f"classification {dr.classification}"] if dr.classification else [])
            + [s.text for s in dr.statements[:6]]
            + ([dr.severity] if dr.severity else [])
        ]
        values = ", ".join(
            f"{m.quantity.replace('_', ' ')} {m.value:g} {m.unit}" for m in dr.measurements[:10]
        )
        parts = [p for p in ("; ".join(said), values) if p]
        if parts:
            when = f", {rec.acquired_at:%Y-%m-%d %H:%M}" if rec.acquired_at else ""
            lines.append(
                f"  - _Stated by {who}{when} (from the file, not measured here)_: " + " — ".join(parts)
            )
    return ("\n" + "\n".join(lines)) if lines else ""
