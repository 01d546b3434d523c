"""The grounding check: every number in an answer must come from something measured or retrieved this turn.

Sources of allowed numbers: the tool outputs of the turn (numeric fields and numbers inside their text),
the summaries of the attached recordings (lead count, duration, sampling rate), the retrieved knowledge
passages (thresholds such as "< 60 bpm") and the user's own question. A number in the answer matches a
source when the source, rounded to the decimals the answer shows, equals it. A sentence that states a number
no source has is removed, and the removal is recorded in the report that travels with the answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

# Numbers as people write them; citation markers [3] and list markers "1." at line start are not claims.
_NUMBER = re.compile(r"(?<![\w.])[-+−]?\d+(?:[.,]\d+)?(?![\d])")
_CITATION = re.compile(r"\[\d+(?:\s*[,–-]\s*\d+)*\]")
_LIST_MARKER = re.compile(r"^\s*\d+[.)]\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s)")


class UngroundedNumber(BaseModel):
    number: str
    sentence: str


class GroundingReport(BaseModel):
    checked_numbers: int
    grounded_numbers: int
    removed: list[UngroundedNumber]

    @property
    def ok(self) -> bool:
        return not self.removed


def numbers_in(obj: Any) -> set[float]:
    """All numbers inside a JSON-like object: numeric leaves and numbers written inside strings."""
    found: set[float] = set()
    _collect(obj, found)
    return found


def _collect(obj: Any, found: set[float]) -> None:
    if isinstance(obj, bool) or obj is None:
        return
    if isinstance(obj, (int, float)):
        found.add(float(obj))
    elif isinstance(obj, str):
        found.update(_parse(m.group(0)) for m in _NUMBER.finditer(obj))
    elif isinstance(obj, dict):
        for v in obj.values():
            _collect(v, found)
    elif isinstance(obj, (list, tuple, set)):
        for v in obj:
            _collect(v, found)
    elif isinstance(obj, BaseModel):
        _collect(obj.model_dump(mode="json"), found)


def _parse(text: str) -> float:
    return float(text.replace("−", "-").replace(",", "."))


def _decimals(text: str) -> int:
    for sep in (".", ","):
        if sep in text:
            return len(text.split(sep, 1)[1])
    return 0


def is_grounded(text: str, sources: Iterable[float]) -> bool:
    value = _parse(text)
    digits = _decimals(text)
    tolerance = 0.5 * 10 ** (-digits) + 1e-9
    for s in sources:
        if abs(s - value) <= tolerance or abs(abs(s) - abs(value)) <= tolerance:
            return True
    return False


def check_answer(answer: str, sources: Iterable[float]) -> tuple[str, GroundingReport]:
    """Return the answer with ungrounded sentences removed, and the report of what was checked."""
    source_list = sorted(set(sources))
    kept_parts: list[str] = []
    removed: list[UngroundedNumber] = []
    checked = grounded = 0
    for line in answer.split("\n"):
        marker = _LIST_MARKER.match(line)
        prefix = marker.group(0) if marker else ""
        line = line[len(prefix) :]
        kept_sentences = [prefix] if prefix else []
        for sentence in _sentences(line):
            claims = [m.group(0) for m in _NUMBER.finditer(_strip_markers(sentence))]
            bad = [c for c in claims if not is_grounded(c, source_list)]
            checked += len(claims)
            grounded += len(claims) - len(bad)
            if bad:
                removed.extend(UngroundedNumber(number=b, sentence=sentence.strip()) for b in bad)
            else:
                kept_sentences.append(sentence)
        new_line = "".join(kept_sentences).rstrip()
        if new_line.strip() != prefix.strip() or not line.strip():
            kept_parts.append(new_line)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept_parts)).strip()
    return text, GroundingReport(checked_numbers=checked, grounded_numbers=grounded, removed=removed)


def _sentences(line: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(line) if s]


def _strip_markers(sentence: str) -> str:
    return _CITATION.sub(" ", sentence)
