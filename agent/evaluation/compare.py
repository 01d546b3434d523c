"""Side-by-side table of evaluation runs (``cardioagent bench compare``), with the majority baseline.

Runs on the same benchmark are compared type by type; the majority column is the first run's (computed on
its scored items). When the runs' traces are given, the share of questions with the same predicted answer
in every run is reported too: two agents that decide alike show 100% however different their wording.
"""
from __future__ import annotations

from pathlib import Path


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


def compare_runs(reports: list[dict], labels: list[str], traces: list[Path] | None = None) -> str:
    base = reports[0]["majority_baseline"]
    head = "| | " + " | ".join(labels) + " | majority answer (per template) |"
    sep = "|---" * (len(labels) + 2) + "|"
    lines = ["## Accuracy (exact match of the answer set)", "", head, sep]

    def row(name: str, pick) -> str:
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
            lines.append(row(f"{group.replace('_', ' ')}: {k}", lambda t, g=group, k=k: t[f"by_{g}"].get(k)))
    lines.append("| unparseable | " + " | ".join(str(r["agent"]["overall"]["unparseable"]) for r in reports) + " | — |")
    lines.append("| latency p50 / p95 (s) | " + " | ".join(
        f"{r['latency_s'].get('p50', 0):.3f} / {r['latency_s'].get('p95', 0):.3f}" for r in reports) + " | — |")
    lines.append("| language-model calls, tokens out | " + " | ".join(
        f"{r['tokens']['llm_calls']}, {r['tokens']['output_tokens']}" for r in reports) + " | — |")
    lines.append("| settings | " + " | ".join(
        f"{r['run'].get('backend')}, paragraph {'on' if r['run'].get('llm_summary') else 'off'}" for r in reports)
        + " | — |")
    if traces and (found := agreement(traces)):
        same, n = found
        lines += ["", f"Same predicted answer in every run: {same} of {n} questions."]
    return "\n".join(lines) + "\n"
