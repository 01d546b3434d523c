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
from functools import lru_cache

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
    args: dict
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
    if not chosen and not GENERAL_REQUEST.search(question):
        chosen = _by_similarity(question, main)
    if not chosen:
        chosen = {t.name: f"no specific measurement asked for: runs by default for {rec.modality}"
                  for t in main if rec.modality in t.default_for}
    pre = {t.name: f"runs before other {rec.modality} tools so every number carries a quality flag"
           for t in everything if _is_prerequisite(t, rec.modality) and t.name not in chosen}
    if not chosen:
        pre = {}
    calls = []
    for name, reason in [*pre.items(), *chosen.items()]:
        fields = registry.get(name).input_model.model_fields
        args: dict = {"recording_id": rec.id} if rec.id and "recording_id" in fields else {}
        args.update({key: question for key in ("question", "query") if key in fields})
        suffix = f" (recording {rec.name})" if rec.name else ""
        calls.append(PlannedCall(tool=name, args=args, reason=reason + suffix))
    return calls


def _is_prerequisite(tool: Tool, modality: str) -> bool:
    return modality in tool.prerequisite_for


def _by_keywords(question: str, tools: list[Tool]) -> dict[str, str]:
    matches = []  # (start, end, tool name, matched text)
    for tool in tools:
        for pattern in tool.keywords:
            for m in re.finditer(pattern, question, flags=re.IGNORECASE):
                matches.append((m.start(), m.end(), tool.name, m.group(0)))
    kept: dict[str, str] = {}
    for start, end, name, text in matches:
        inside_longer = any(
            s <= start and end <= e and (e - s) > (end - start) and other != name for s, e, other, _ in matches
        )
        if not inside_longer and name not in kept:
            kept[name] = f"the question mentions '{text}'"
    return kept


def _by_similarity(question: str, tools: list[Tool]) -> dict[str, str]:
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
    return vectors @ q


@lru_cache(maxsize=256)
def _embed_examples(examples: tuple[str, ...]) -> np.ndarray:
    return _embed(examples)


def _embed(texts: tuple[str, ...]) -> np.ndarray:
    from cardioagent.knowledge_base.embedding import embed_texts

    return np.asarray(embed_texts(list(texts)), dtype=np.float32)
