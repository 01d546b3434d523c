"""Side-by-side table of evaluation runs (``cardioagent bench compare``), with the majority baseline.

Runs on the same benchmark are compared type by type; the majority column is the first run's (computed on
its scored items). When the runs' traces are given, the share of questions with the same predicted answer
in every run is reported too: two agents that decide alike show 100% however different their wording.

Runs that scored different questions (a ``--limit`` run beside a full one) are not comparable as they stand:
90% on 20 questions says nothing next to 79% on 416. With the traces, the accuracies are recomputed on the
questions every run scored, and the table says so; without them, the difference is stated as a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cardioagent.tools.errors import InputError


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def agreement(traces: list[Path]) -> tuple[int, int] | None:
    """(questions predicted alike by every run, questions scored by every run)."""
    from cardioagent.agent.evaluation.runner import read_trace

    rows = [read_trace(t) for t in traces]
    if len(rows) < 2:
        return None
    common = set.intersection(*(set(r) for r in rows))
    same = sum(1 for k in common if len({str(r[k].get("prediction")) for r in rows}) == 1)
    return same, len(common)


def restrict_to_common(
    reports: list[dict[str, Any]], traces: list[Path] | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The reports recomputed on the questions every run scored, and a note saying so; the reports as they
    are (and a warning, or None) when the question sets are the same or cannot be compared."""
    from cardioagent.agent.evaluation.runner import read_trace
    from cardioagent.agent.evaluation.scoring import accuracy_table, majority_baseline

    if not traces:
        sizes = {r["run"].get("n_scored") for r in reports}
        names = {r["run"].get("benchmark_name") for r in reports}
        if len(sizes) > 1 or len(names) > 1:
            return reports, (
                "warning: the runs scored different questions ("
                + ", ".join(f"{r['run'].get('benchmark_name')}: {r['run'].get('n_scored')}" for r in reports)
                + ") and their traces are missing, so they cannot be compared on the same questions"
            )
        return reports, None
    rows = [read_trace(t) for t in traces]
    keys = [set(r) for r in rows]
    if all(k == keys[0] for k in keys):
        return reports, None
    common = set.intersection(*keys)
    if not common:
        raise InputError(
            "the runs",
            "they have no question in common (" + ", ".join(str(len(k)) for k in keys) + " questions)",
            "runs of the same benchmark",
        )
    restricted = []
    for report, by_key in zip(reports, rows, strict=False):
        mine = [by_key[k] for k in sorted(common)]
        restricted.append(
            {
                **report,
                "agent": accuracy_table(mine),
                "majority_baseline": majority_baseline([{**r, "answer": r["gold"]} for r in mine]),
            }
        )
    note = (
        "warning: the runs scored different questions ("
        + ", ".join(str(len(k)) for k in keys)
        + f"); accuracies below are on the {len(common)} questions every run scored"
    )
    return restricted, note


def _group_pick(group: str, key: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """Picks one group's accuracy (``by_<group>`` -> ``key``) out of an accuracy table."""
    return lambda table: table[f"by_{group}"].get(key)


def compare_runs(
    reports: list[dict[str, Any]],
    labels: list[str],
    traces: list[Path] | None = None,
    warn: Callable[[str], None] | None = None,
) -> str:
    """The Markdown table; ``warn`` is also given the note when the runs scored different questions."""
    head = "| | " + " | ".join(labels) + " | majority answer (per template) |"
    sep = "|---" * (len(labels) + 2) + "|"
    reports, note = restrict_to_common(reports, traces)
    if note and warn:
        warn(note)
    base = reports[0]["majority_baseline"]
    lines = [
        "## Accuracy (exact match of the answer set)",
        "",
        *([f"**{note}**", ""] if note else []),
        head,
        sep,
    ]

    def row(name: str, pick: Callable[[dict[str, Any]], dict[str, Any] | None]) -> str:
        cells = []
        for r in reports:
            v = pick(r["agent"])
            cells.append("—" if not v else f"{_pct(v['accuracy'])} ({v['correct']}/{v['n']})")
        b = pick(base)
        return f"| {name} | " + " | ".join(cells) + f" | {'—' if not b else _pct(b['accuracy'])} |"

    lines.append(row("**overall**", lambda t: t["overall"]))
    for group in ("question_type", "attribute_type"):
        keys = sorted({k for r in reports for k in r["agent"][f"by_{group}"]})
        for k in keys:
            lines.append(row(f"{group.replace('_', ' ')}: {k}", _group_pick(group, k)))
    lines.append(
        "| unparseable | " + " | ".join(str(r["agent"]["overall"]["unparseable"]) for r in reports) + " | — |"
    )
    lines.append(
        "| latency p50 / p95 (s) | "
        + " | ".join(
            f"{r['latency_s'].get('p50', 0):.3f} / {r['latency_s'].get('p95', 0):.3f}" for r in reports
        )
        + " | — |"
    )
    lines.append(
        "| language-model calls, tokens out | "
        + " | ".join(f"{r['tokens']['llm_calls']}, {r['tokens']['output_tokens']}" for r in reports)
        + " | — |"
    )
    lines.append(
        "| settings | "
        + " | ".join(
            f"{r['run'].get('backend')}, paragraph {'on' if r['run'].get('llm_summary') else 'off'}"
            for r in reports
        )
        + " | — |"
    )
    if traces and (found := agreement(traces)):
        same, n = found
        lines += ["", f"Same predicted answer in every run: {same} of {n} questions."]
    return "\n".join(lines) + "\n"
