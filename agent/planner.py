"""Choosing tools: modality routing first, then a deterministic, explainable planner.

The embedded 135M model cannot choose tools reliably, so by default the plan is made without it:
1. route by the modality of what is attached (signals, ECG images, or nothing: a knowledge question);
2. among the tools that accept that modality, pick those whose declared ``keywords`` occur in the question
   (a keyword inside a longer keyword of another tool does not count: "heart rate variability" is HRV, not
   heart rate), else, unless the request is a general one ("analyse this"), those whose ``examples`` are
   close to the question in the local embedding space;
3. nothing asked for in particular: the tools that declare themselves ``default_for`` the modality;
4. tools that are ``prerequisite_for`` the modality (signal quality) run first, so every number comes with
   its quality flag.
Every planned call carries the reason it was chosen; the reasons are part of the answer's trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel

from cardioagent.tools.contract import Tool
from cardioagent.tools.registry import ToolRegistry

# "Analyse this", "anything abnormal?": a request for the overview, answered by the default tools. Without
# this, similarity would follow the word "ECG" to whichever tool's examples mention it most.
GENERAL_REQUEST = re.compile(
    r"\b(analy[sz]e|analysis|interpret\w*|read|review|look(ing)? at|check|summar\w*|overview|report|"
    r"what do you see|anything|abnormal\w*|normal|ok(ay)?|fine|worr\w*)\b",
    re.IGNORECASE,
)
SIMILARITY_THRESHOLD = 0.55
SIMILARITY_MARGIN = 0.06  # keep tools whose best example is this close to the overall best


class RecordingRef(BaseModel):
    id: str
    name: str
    modality: str  # ecg | ppg | mixed | ecg_image


class PlannedCall(BaseModel):
    tool: str
    args: dict[str, Any]
    reason: str


def route(recordings: list[RecordingRef]) -> str:
    """'image', 'signal' or 'text', decided by what is attached, before any model is asked anything."""
    modalities = {r.modality for r in recordings}
    if "ecg_image" in modalities:
        return "image" if modalities == {"ecg_image"} else "signal+image"
    return "signal" if modalities else "text"


def plan(question: str, recordings: list[RecordingRef], registry: ToolRegistry) -> list[PlannedCall]:
    calls: list[PlannedCall] = []
    targets = recordings or [RecordingRef(id="", name="", modality="text")]
    for rec in targets:
        calls.extend(_plan_for(question, rec, registry))
    return calls


def _plan_for(question: str, rec: RecordingRef, registry: ToolRegistry) -> list[PlannedCall]:
    everything = registry.tools_for(rec.modality)
    main = [t for t in everything if not _is_prerequisite(t, rec.modality)]
    chosen = _by_keywords(question, everything)  # asking for quality itself is a request like any other
    chosen.update(_by_vocabulary(question, everything, chosen))
    if not chosen and not GENERAL_REQUEST.search(question):
        chosen = _by_similarity(question, main)
    if not chosen:
        chosen = {
            t.name: f"no specific measurement asked for: runs by default for {rec.modality}"
            for t in main
            if rec.modality in t.default_for
        }
    pre = {
        t.name: f"runs before other {rec.modality} tools so every number carries a quality flag"
        for t in everything
        if _is_prerequisite(t, rec.modality) and t.name not in chosen
    }
    if not chosen:
        pre = {}
    calls = []
    for name, reason in [*pre.items(), *chosen.items()]:
        fields = registry.get(name).input_model.model_fields
        args: dict[str, Any] = {"recording_id": rec.id} if rec.id and "recording_id" in fields else {}
        args.update({key: question for key in ("question", "query") if key in fields})
        suffix = f" (recording {rec.name})" if rec.name else ""
        calls.append(PlannedCall(tool=name, args=args, reason=reason + suffix))
    return calls


# Words that ask for the interval measurements as a set ("which numeric features became abnormal?").
NUMERIC_FEATURES = re.compile(
    r"\bnumeric\w*\s+(features?|measurements?|values?|attributes?|factors?|parameters?)\b|"
    r"\b(intervals|durations|measurements)\b",
    re.IGNORECASE,
)
# The tool that decides a named finding, by the vocabulary's category of the finding.
FINDING_TOOL = {"rate": "heart_rate", "rhythm": "rhythm_analysis", "morphology": "ecg_intervals"}


def _add_missing(
    out: dict[str, str],
    chosen: dict[str, str],
    available: set[str],
    measuring: tuple[str, ...],
    text: str,
    id_: str,
) -> None:
    """Add the first available tool of ``measuring`` unless a chosen or added one already measures it."""
    if set(measuring) & (set(chosen) | set(out)):
        return
    name = next((n for n in measuring if n in available), None)
    if name:
        out[name] = f"the question names '{text}' (vocabulary: {id_}), which {name} measures"


def _by_vocabulary(question: str, tools: list[Tool[Any]], chosen: dict[str, str]) -> dict[str, str]:
    """For each target the question names in the clinical vocabulary that no chosen tool measures, the tool
    that does: a quantity's reporting tool ("RR interval" -> heart_rate), the rhythm tool for a rhythm
    finding ("extra systoles"), the interval tool for a morphology finding ("bundle branch block") and for
    "numeric features" as a set."""
    from cardioagent.tools.analysis.interpretation import stated_findings
    from cardioagent.tools.vocabulary import vocabulary

    voc = vocabulary()
    available = {t.name for t in tools}
    out: dict[str, str] = {}
    for match in voc.find(question, kinds={"quantity", "finding", "superclass"}):
        if match.kind == "quantity":
            measuring = voc.quantity(match.id).tools  # any tool that reports it covers it
        elif match.kind == "finding":
            measuring = (FINDING_TOOL.get(voc.terms[match.id].category, "ecg_intervals"),)
            if match.id in stated_findings() and measuring != ("ecg_intervals",):
                # a rhythm finding the interpretation engine also states (premature complexes: their QRS
                # shape against the dominant beat) needs both tools, not either
                _add_missing(out, chosen, available, ("ecg_intervals",), match.text, match.id)
        else:
            measuring = ("ecg_intervals",)
        _add_missing(out, chosen, available, measuring, match.text, match.id)
    if (m := NUMERIC_FEATURES.search(question)) is not None:
        for name in ("ecg_intervals",):
            if name in available and name not in chosen:
                out.setdefault(name, f"the question asks for '{m.group(0)}': the interval measurements")
    return out


def required_calls(
    question: str, recordings: list[RecordingRef], registry: ToolRegistry, planned: list[PlannedCall]
) -> list[PlannedCall]:
    """The calls a model-made plan lacks for what the question names, one per recording: a tool whose own
    declared keywords it mentions ("is the rhythm regular" -> the rhythm tool), and the tool that measures
    each vocabulary target; the deterministic planner acting as the model's validator."""
    out = []
    for rec in recordings:
        tools = registry.tools_for(rec.modality)
        have = {c.tool: c.reason for c in planned if c.args.get("recording_id") in (rec.id, None)}
        named = {k: v for k, v in _by_keywords(question, tools).items() if k not in have}
        named.update(_by_vocabulary(question, tools, have | named))
        for name, reason in named.items():
            fields = registry.get(name).input_model.model_fields
            args: dict[str, Any] = {"recording_id": rec.id} if "recording_id" in fields else {}
            out.append(
                PlannedCall(
                    tool=name,
                    args=args,
                    reason=f"added by the validator: {reason} (recording {rec.name})",
                )
            )
    return out


def overview_calls(
    question: str, recordings: list[RecordingRef], registry: ToolRegistry, planned: list[PlannedCall]
) -> list[PlannedCall]:
    """For an open question that names no target in the clinical vocabulary ("go through this tracing"),
    the modality's default tools a model-made plan left out: the planner's own rule for such a request
    (``_plan_for``), so the overview is complete whoever planned it."""
    from cardioagent.tools.vocabulary import vocabulary

    if vocabulary().find(question, kinds={"quantity", "finding", "superclass", "noise"}):
        return []
    return _missing(
        recordings,
        registry,
        planned,
        lambda tool, mod: mod in tool.default_for and not _is_prerequisite(tool, mod),
        "an open question naming no measurement is answered with the {modality} overview",
        only_measured=False,
    )


def prerequisite_calls(
    recordings: list[RecordingRef], registry: ToolRegistry, planned: list[PlannedCall]
) -> list[PlannedCall]:
    """The prerequisite tools (signal quality) a model-made plan left out for a recording it measures, so
    every number it shows carries a quality flag, as in a plan of the rules."""
    return _missing(
        recordings,
        registry,
        planned,
        _is_prerequisite,
        "runs before other {modality} tools so every number carries a quality flag",
        only_measured=True,
    )


def _missing(
    recordings: list[RecordingRef],
    registry: ToolRegistry,
    planned: list[PlannedCall],
    wanted: Callable[[Tool[Any], str], bool],
    why: str,
    only_measured: bool,
) -> list[PlannedCall]:
    """Per recording, the calls of the ``wanted(tool, modality)`` tools the plan lacks (for recordings the
    plan measures at all, when ``only_measured``), each with the validator's reason."""
    out = []
    for rec in recordings:
        mine = {c.tool for c in planned if c.args.get("recording_id") == rec.id}
        if only_measured and not mine:
            continue
        for tool in registry.tools_for(rec.modality):
            if wanted(tool, rec.modality) and tool.name not in mine:
                out.append(
                    PlannedCall(
                        tool=tool.name,
                        args={"recording_id": rec.id},
                        reason=f"added by the validator: {why.format(modality=rec.modality)} "
                        f"(recording {rec.name})",
                    )
                )
    return out


def invalid_reason(call: PlannedCall, recordings: list[RecordingRef], registry: ToolRegistry) -> str | None:
    """Why a model-made call cannot run as asked (an unknown tool, a recording not in this turn, a tool
    that does not accept the recording's modality, arguments its input model refuses), or None."""
    if call.tool not in registry.names():
        return f"no tool named {call.tool!r}"
    tool = registry.get(call.tool)
    rid = call.args.get("recording_id")
    if "recording_id" in tool.input_model.model_fields:
        rec = next((r for r in recordings if r.id == rid), None)
        if rec is None:
            return f"recording_id {rid!r} is not a recording of this conversation"
        if rec.modality not in tool.modalities:
            return f"{call.tool} does not accept {rec.modality} recordings"
    try:
        tool.input_model.model_validate(call.args)
    except Exception as exc:  # pydantic's message names the field
        return f"arguments refused: {str(exc).splitlines()[0]}"
    return None


def _is_prerequisite(tool: Tool[Any], modality: str) -> bool:
    return modality in tool.prerequisite_for


def _by_keywords(question: str, tools: list[Tool[Any]]) -> dict[str, str]:
    matches = []  # (start, end, tool name, matched text)
    for tool in tools:
        for pattern in tool.keywords:
            for m in re.finditer(pattern, question, flags=re.IGNORECASE):
                matches.append((m.start(), m.end(), tool.name, m.group(0)))
    kept: dict[str, str] = {}
    for start, end, name, text in matches:
        inside_longer = any(
            s <= start and end <= e and (e - s) > (end - start) and other != name
            for s, e, other, _ in matches
        )
        if not inside_longer and name not in kept:
            kept[name] = f"the question mentions '{text}'"
    return kept


def _by_similarity(question: str, tools: list[Tool[Any]]) -> dict[str, str]:
    scored = []
    for tool in tools:
        if not tool.examples:
            continue
        sims = _similarities(question, tuple(tool.examples))
        if sims is None:
            return {}
        best = int(np.argmax(sims))
        scored.append((float(sims[best]), tool.name, tool.examples[best]))
    if not scored:
        return {}
    top = max(s for s, _, _ in scored)
    return {
        name: f"the question is close to '{example}' (similarity {score:.2f})"
        for score, name, example in sorted(scored, reverse=True)
        if score >= SIMILARITY_THRESHOLD and score >= top - SIMILARITY_MARGIN
    }


def _similarities(question: str, examples: tuple[str, ...]) -> np.ndarray | None:
    try:
        vectors = _embed_examples(examples)
        q = _embed((question,))[0]
    except Exception:  # no embedding model installed: keywords and defaults still plan
        return None
    sims: np.ndarray = vectors @ q  # numpy types the product of untyped arrays as Any
    return sims


@lru_cache(maxsize=256)
def _embed_examples(examples: tuple[str, ...]) -> np.ndarray:
    return _embed(examples)


def _embed(texts: tuple[str, ...]) -> np.ndarray:
    from cardioagent.knowledge_base.embedding import embed_texts

    return np.asarray(embed_texts(list(texts)), dtype=np.float32)
