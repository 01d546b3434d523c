"""From the agent's events to Chatbot messages.

A turn is shown as: the recordings it received, one collapsible step per tool run (Gradio ``metadata``:
title, status pending/done, duration, and the tool's key numbers as the body), each tool's figures right
after its step, then the answer. Messages are plain dicts in Gradio's messages format; a figure's
``content`` is ``{"path": ...}`` with the path in the agent's store (the app swaps in a copy it may serve),
so the same messages can be saved as the transcript and exported.

Text that came from files (file and channel names, tool summaries quoting them, error messages naming a
file) is made inert before it becomes a message: names are escaped, longer text has its images, links and
HTML disarmed (``cardioagent.agent.untrusted``), so a header cannot put a remote image or a tag in the chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cardioagent.agent import (
    AgentEvent,
    Answer,
    RecordingSummary,
    defang_markdown,
    describe,
    inert_markdown,
    title_of,
)
from cardioagent.ui.knowledge_panel import link_citations

Message = dict[str, Any]

STEP_ICON = "🛠️"
FAILED_ICON = "⚠️"
EMERGENCY_ICON = "🚨"
FIGURE_CAPTIONS = {
    "heart_rate": "signal with the detected beats",
    "ecg_image_digitize": "the page and the digitized leads",
    "render_ecg_paper": "12-lead ECG",
    "hrv_analysis": "heart-rate trend",
}


def _args_text(args: dict[str, Any]) -> str:
    shown = {k: v for k, v in args.items() if v not in (None, "", [], {})}
    return defang_markdown(", ".join(f"{k}={v}" for k, v in shown.items()))


def recording_line(summary: RecordingSummary | dict) -> str:
    s = summary if isinstance(summary, RecordingSummary) else RecordingSummary.model_validate(summary)
    extra = []
    if s.channels and s.modality.value != "ecg_image":
        names = [inert_markdown(c.name, max_chars=60) for c in s.channels]
        extra.append("leads " + ", ".join(names[:12]) + (" …" if len(names) > 12 else ""))
    demo = s.demographics
    who = ", ".join(x for x in [f"age {demo.age:g}" if demo.age is not None else "", demo.sex or ""] if x)
    if who:
        extra.append(who)
    head = f"**{inert_markdown(s.name, max_chars=120)}** ({inert_markdown(s.format.upper(), max_chars=20)})"
    return f"{head}: {describe(s)}" + (f"; {'; '.join(extra)}" if extra else "")


def recordings_message(
    summaries: Sequence[dict | RecordingSummary], qualities: dict[str, str] | None = None
) -> Message:
    lines = []
    for s in summaries:
        rid = s["id"] if isinstance(s, dict) else s.id
        q = (qualities or {}).get(rid)
        lines.append("- " + recording_line(s) + (f"; signal quality: **{q}**" if q else ""))
    return {"role": "assistant", "content": "📎 Received:\n" + "\n".join(lines)}


def error_message(error: BaseException | str, *, what: str = "Could not read the upload") -> Message:
    return {"role": "assistant", "content": f"{FAILED_ICON} **{what}.** {defang_markdown(error)}"}


# What a file a tool wrote is, by the end of its name (the digitizer's figures and downloads).
FILE_CAPTIONS = {
    "-page.png": "the page, found and straightened",
    "-strip.png": "the leads digitized from the image (mV)",
    ".csv": "the digitized signal, CSV (one column per lead, mV)",
    ".hea": "the digitized signal, WFDB header",
    ".dat": "the digitized signal, WFDB data",
}


def figure_message(path: str, tool: str | None = None) -> Message:
    caption = next(
        (c for end, c in FILE_CAPTIONS.items() if str(path).endswith(end)),
        FIGURE_CAPTIONS.get(tool or "", "figure"),
    )
    title = title_of(tool) if tool else "Figure"
    return {"role": "assistant", "content": {"path": str(path), "alt_text": f"{title}: {caption}"}}


def user_message(text: str, files: Sequence[str | Path]) -> Message:
    names = ", ".join(inert_markdown(Path(f).name, max_chars=120) for f in files)
    return {"role": "user", "content": text + (f"\n\n📎 {names}" if names else "")}


def _downloads(result: dict[str, Any] | None) -> list[str]:
    """Files a tool offers for download (the digitized signal as CSV and WFDB), shown after its figures."""
    return [str(p) for p in (result or {}).get("downloads") or []]


class TurnRenderer:
    """Collects one turn's messages as the events arrive; ``messages`` is what to show so far."""

    def __init__(self, skip_recordings: set[str] | None = None) -> None:
        self.messages: list[Message] = []
        self.answer: Answer | None = None
        self._pending: list[int] = []  # indices of steps started and not yet finished, in order
        self._figures: set[str] = set()
        self._skip_recordings = skip_recordings or set()
        self._steps = 0

    def feed(self, event: AgentEvent) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def _on_recordings(self, event: AgentEvent) -> None:
        new = [r for r in event.data.get("recordings", []) if r.get("id") not in self._skip_recordings]
        if new:
            self.messages.append(recordings_message(new))

    def _on_tool_started(self, event: AgentEvent) -> None:
        self._steps += 1
        tool = event.tool or "tool"
        args = _args_text(event.data.get("args") or {})
        reason = event.data.get("reason") or ""
        why = f"\n\nWhy: {defang_markdown(reason)}" if reason else ""
        body = "Running" + (f" ({args})" if args else "") + "…" + why
        self.messages.append(
            {
                "role": "assistant",
                "content": body,
                "metadata": {
                    "title": f"{STEP_ICON} {title_of(tool)}",
                    "status": "pending",
                    "id": f"step-{self._steps}",
                },
            }
        )
        self._pending.append(len(self.messages) - 1)

    def _on_tool_finished(self, event: AgentEvent) -> None:
        data = event.data
        tool = event.tool or data.get("tool") or "tool"
        index = self._pending.pop(0) if self._pending else None
        if index is None:  # a finish without a start: show it anyway
            self.messages.append({"role": "assistant", "content": "", "metadata": {"title": title_of(tool)}})
            index = len(self.messages) - 1
        step = self.messages[index]
        meta = dict(step.get("metadata") or {})
        meta["status"] = "done"
        meta["duration"] = round(float(data.get("seconds") or 0.0), 2)
        if data.get("ok", True):
            summary = (data.get("summary") or "done").strip()
            body = "\n".join(f"- {defang_markdown(line)}" for line in summary.splitlines() if line.strip())
            if data.get("quality"):
                meta["log"] = f"quality: {data['quality']}"
            args = _args_text(data.get("args") or {})
            if args:
                body += f"\n\n_Ran with {args}._"
        else:
            meta["title"] = f"{FAILED_ICON} {title_of(tool)} failed"
            body = defang_markdown(data.get("error") or "failed")
        step["content"] = body
        step["metadata"] = meta
        for fig in [*(data.get("figures") or []), *_downloads(data.get("result"))]:
            self._add_figure(fig, tool)

    def _add_figure(self, path: str, tool: str | None) -> None:
        if path in self._figures or not Path(path).is_file():
            return
        self._figures.add(path)
        self.messages.append(figure_message(path, tool))

    def _on_answer(self, event: AgentEvent) -> None:
        answer = event.answer
        if answer is None:
            return
        self.answer = answer
        for i in self._pending:  # steps whose finish never came (should not happen): close them
            self.messages[i]["metadata"]["status"] = "done"
        self._pending.clear()
        for rec in answer.trace:
            for fig in [*rec.figures, *_downloads(rec.result)]:
                self._add_figure(fig, rec.tool)
        text = link_citations(defang_markdown(answer.text))
        if answer.emergency.emergency:
            text = f"{EMERGENCY_ICON} " + text
        self.messages.append({"role": "assistant", "content": text})

    def fail(self, error: BaseException | str, what: str) -> None:
        for i in self._pending:
            self.messages[i]["metadata"]["status"] = "done"
        self._pending.clear()
        self.messages.append(error_message(error, what=what))
