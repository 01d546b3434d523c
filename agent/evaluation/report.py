"""``report.json`` and ``report.md`` (tables and two figures) from a run's ``trace.jsonl``.

The report covers the items of the benchmark (after ``--limit``) that have a row in the trace; questions
whose recordings are missing are counted, not scored. Next to the agent it reports the per-template
majority baseline computed on the same items (``scoring.majority_baseline``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cardioagent.agent.evaluation.runner import TRACE, read_trace
from cardioagent.agent.evaluation.scoring import accuracy_table, majority_baseline

ACCURACY_FIGURE = "accuracy_by_type.png"
LATENCY_FIGURE = "latency.png"


def write_report(
    out_dir: Path, keys: list[str], run: dict[str, Any], missing: dict[str, str]
) -> dict[str, Any]:
    """Score the trace rows of ``keys`` and write report.json, report.md and the figures; returns the report."""
    rows_by_key = read_trace(out_dir / TRACE)
    rows = [rows_by_key[k] for k in keys if k in rows_by_key]
    report = build_report(rows, run, missing, n_selected=len(keys))
    report["wrong"] = wrong_answers(rows, trace_lines(out_dir / TRACE))
    (out_dir / "report.json").write_text(json.dumps(report, indent=1))
    figures = _figures(out_dir, report, [r["latency_s"] for r in rows if r.get("latency_s") is not None])
    (out_dir / "report.md").write_text(markdown(report, figures))
    return report


def build_report(
    rows: list[dict[str, Any]], run: dict[str, Any], missing: dict[str, str], n_selected: int
) -> dict[str, Any]:
    latencies = sorted(r["latency_s"] for r in rows if r.get("latency_s") is not None)
    tools: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, int] = defaultdict(int)
    for r in rows:
        for t in r.get("tools") or []:
            tools[t["tool"]].append(t["seconds"])
            failures[t["tool"]] += int(not t["ok"])
    tokens = {
        k: sum(int((r.get("tokens") or {}).get(k, 0)) for r in rows)
        for k in ("llm_calls", "input_tokens", "output_tokens")
    }
    return {
        "run": {
            **run,
            "n_selected": n_selected,
            "n_scored": len(rows),
            "n_missing_input": len(missing),
            "missing_input": dict(list(missing.items())[:20]),
            "when": _now(),
            "machine": _machine(),
        },
        "agent": accuracy_table(rows),
        "majority_baseline": majority_baseline([{**r, "answer": r["gold"]} for r in rows]),
        "latency_s": _latency(latencies),
        "tools": {
            name: {
                "calls": len(s),
                "mean_s": round(statistics.fmean(s), 4),
                "max_s": round(max(s), 4),
                "failures": failures[name],
            }
            for name, s in sorted(tools.items())
        },
        "tokens": tokens,
    }


MAX_WRONG_LISTED = 200  # report.json and report.md stay readable; the trace has every row


def trace_lines(path: Path) -> dict[str, int]:
    """1-based line of each key's last row in the trace (the row that counts), for links into it."""
    lines: dict[str, int] = {}
    if path.is_file():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            try:
                lines[str(json.loads(line)["key"])] = n
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return lines


def wrong_answers(rows: list[dict[str, Any]], lines: dict[str, int]) -> list[dict[str, Any]]:
    """The rows scored wrong, unparseable or in error: what a person reads to see what went wrong."""
    out = []
    for r in rows:
        if r.get("correct"):
            continue
        out.append(
            {
                "key": r["key"],
                "line": lines.get(r["key"]),
                "status": r.get("status"),
                "question_type": r.get("question_type"),
                "question": r.get("question", ""),
                "gold": r.get("gold"),
                "prediction": r.get("prediction"),
                "why": r.get("error") or r.get("parse_note") or "",
            }
        )
    return out[:MAX_WRONG_LISTED] if len(out) > MAX_WRONG_LISTED else out


def _cell(value: Any, width: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def wrong_section(wrong: list[dict[str, Any]]) -> list[str]:
    if not wrong:
        return ["", "## Wrong and unparsed answers", "", "None."]
    capped = f" (the first {MAX_WRONG_LISTED})" if len(wrong) == MAX_WRONG_LISTED else ""
    lines = [
        "",
        "## Wrong and unparsed answers",
        "",
        (
            f"{len(wrong)} listed{capped}; each links to its row in trace.jsonl (the full answer, tools and "
            "timings)."
        ),
        "",
        "| trace | status | type | question | gold | predicted | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in wrong:
        link = f"[line {w['line']}](trace.jsonl#L{w['line']})" if w.get("line") else w["key"]
        lines.append(
            f"| {link} | {w['status']} | {w['question_type']} | {_cell(w['question'])} | "
            f"{_cell(w['gold'], 40)} | {_cell(w['prediction'], 40)} | {_cell(w['why'], 60)} |"
        )
    return lines


def _latency(values: list[float]) -> dict[str, Any]:
    if not values:
        return {}

    def pct(p: float) -> float:
        return round(values[min(len(values) - 1, round(p * (len(values) - 1)))], 4)

    return {
        "n": len(values),
        "mean": round(statistics.fmean(values), 4),
        "p50": pct(0.5),
        "p90": pct(0.9),
        "p95": pct(0.95),
        "max": round(values[-1], 4),
        "total": round(sum(values), 2),
    }


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def markdown(report: dict[str, Any], figures: list[str]) -> str:
    run, agent, base = report["run"], report["agent"], report["majority_baseline"]
    o, bo = agent["overall"], base["overall"]
    lines = [
        f"# Evaluation: {run.get('benchmark_name', '')}",
        "",
        (
            f"- benchmark: `{run.get('benchmark')}`; scored {run['n_scored']} of {run['n_selected']} questions"
            + (
                f"; {run['n_missing_input']} not run (recordings missing, e.g. "
                f"{next(iter(run['missing_input'].values()))})"
                if run["n_missing_input"]
                else ""
            )
        ),
        (
            f"- agent: backend `{run.get('backend')}`, language-model paragraph "
            f"{'on' if run.get('llm_summary') else 'off'}, planner `{run.get('planner')}`, "
            f"{'one thread (memory kept)' if run.get('keep_memory') else 'fresh memory per question'}, "
            f"{run.get('workers')} worker(s)"
        ),
        (
            f"- command: `{run.get('command')}`"
            + (f" (--limit sample: {run['sample']})" if run.get("sample") else "")
        ),
        f"- {run['when']}, {run['machine']['cpus']} CPUs, Python {run['machine']['python']}",
        "",
        "## Overall (exact match of the answer set, as in ECG-QA)",
        "",
        "| | accuracy | correct / n | unparseable | errors |",
        "|---|---|---|---|---|",
        f"| agent | {_pct(o['accuracy'])} | {o['correct']} / {o['n']} | {o['unparseable']} | {o['errors']} |",
        f"| majority answer (per template) | {_pct(bo['accuracy'])} | {bo['correct']} / {bo['n']} | — | — |",
        "",
    ]
    for group, title in (
        ("question_type", "question type"),
        ("attribute_type", "attribute type"),
        ("template_id", "template"),
    ):
        lines += [
            f"## By {title}",
            "",
            f"| {title} | n | agent | majority | unparseable |",
            "|---|---|---|---|---|",
        ]
        for k, v in agent[f"by_{group}"].items():
            b = base[f"by_{group}"].get(k, {})
            lines.append(
                f"| {k} | {v['n']} | {_pct(v['accuracy'])} | {_pct(b.get('accuracy'))} | {v['unparseable']} |"
            )
        lines.append("")
    lat = report["latency_s"]
    if lat:
        lines += [
            "## Latency per question (seconds, wall clock of `Assistant.ask`)",
            "",
            "| mean | p50 | p90 | p95 | max | total |",
            "|---|---|---|---|---|---|",
            (
                f"| {lat['mean']:.3f} | {lat['p50']:.3f} | {lat['p90']:.3f} | {lat['p95']:.3f} | "
                f"{lat['max']:.3f} | {lat['total']:.1f} |"
            ),
            "",
        ]
    if report["tools"]:
        lines += ["## Tools", "", "| tool | calls | mean s | max s | failures |", "|---|---|---|---|---|"]
        lines += [
            f"| {k} | {v['calls']} | {v['mean_s']:.3f} | {v['max_s']:.3f} | {v['failures']} |"
            for k, v in report["tools"].items()
        ]
        lines.append("")
    t = report["tokens"]
    lines += [
        f"Language-model calls: {t['llm_calls']}, tokens in/out: {t['input_tokens']}/{t['output_tokens']}.",
        "",
    ]
    lines += [f"![{f}]({f})" for f in figures]
    lines += wrong_section(report.get("wrong") or [])
    lines += ["", "Majority baseline: " + base["rule"] + " (computed on the scored items themselves)."]
    return "\n".join(lines) + "\n"


def _figures(out_dir: Path, report: dict[str, Any], latencies: list[float]) -> list[str]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    agent, base = report["agent"], report["majority_baseline"]
    fig = Figure(figsize=(11, 4), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, group in zip(fig.subplots(1, 2), ("question_type", "attribute_type"), strict=False):
        keys = list(agent[f"by_{group}"])
        xs = range(len(keys))
        ax.bar(
            [x - 0.2 for x in xs],
            [100 * (agent[f"by_{group}"][k]["accuracy"] or 0) for k in keys],
            0.4,
            label="agent",
        )
        ax.bar(
            [x + 0.2 for x in xs],
            [100 * (base[f"by_{group}"].get(k, {}).get("accuracy") or 0) for k in keys],
            0.4,
            label="majority answer",
        )
        ax.set_xticks(list(xs), keys, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 118)
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"by {group.replace('_', ' ')}")
        ax.legend(fontsize=8, loc="upper center", ncol=2)
    fig.savefig(out_dir / ACCURACY_FIGURE, dpi=100)
    out = [ACCURACY_FIGURE]
    if latencies:
        fig = Figure(figsize=(6, 3.5), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.hist(latencies, bins=min(40, max(5, len(latencies) // 5)))
        ax.set_xlabel("seconds per question")
        ax.set_ylabel("questions")
        ax.set_title("latency distribution")
        fig.savefig(out_dir / LATENCY_FIGURE, dpi=100)
        out.append(LATENCY_FIGURE)
    return out


def _machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def command_line() -> str:
    return (
        " ".join(["cardioagent", *sys.argv[1:]])
        if sys.argv and sys.argv[0].endswith("cardioagent")
        else " ".join(sys.argv)
    )
