"""From a reply to the allowed option(s) it states, or "unparseable" — never a guess.

The rule, in full:
1. The answer is the text after the last line starting ``**Answer:**`` (also ``Answer:`` without bold).
   No such line: unparseable.
2. Options are compared after ``closed_question.norm``: lower case, runs of white space as one space, end
   punctuation (``.``/``!``) dropped. Nothing else: no synonyms, no substrings, no fuzzy matching.
3. The text must be one allowed option, or several joined by ``;`` or ``,`` with every part an allowed
   option ("sinus rhythm; sinus bradycardia"). Options that themselves contain commas are matched whole
   first. Any part that is not an allowed option makes the whole answer unparseable.
4. The answer is a set (order and repeats do not matter), as in ECG-QA's exact match.

So "cannot be determined from the measurements" is unparseable unless it is an option, and "not sure" counts
only where "not sure" is allowed.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from cardioagent.agent.closed_question import norm

_ANSWER_LINE = re.compile(r"^\s*(?:\*\*answer:?\*\*:?|answer:)\s*(.*)$", re.IGNORECASE | re.MULTILINE)


class ParsedAnswer(BaseModel):
    status: Literal["ok", "unparseable"]
    answer: list[str] | None  # normalized allowed options, sorted; None when unparseable
    line: str | None  # the text after "**Answer:**", as written
    why: str = ""


def answer_line(text: str) -> str | None:
    found = _ANSWER_LINE.findall(text or "")
    return found[-1].strip() if found else None


def parse_answer(text: str, options: list[str]) -> ParsedAnswer:
    line = answer_line(text)
    if line is None:
        return ParsedAnswer(status="unparseable", answer=None, line=None, why="no **Answer:** line")
    allowed = {norm(o) for o in options}
    parts = _segment(line, allowed)
    if parts is None:
        return ParsedAnswer(status="unparseable", answer=None, line=line, why="not made of allowed options")
    return ParsedAnswer(status="ok", answer=sorted(set(parts)), line=line)


def _segment(line: str, allowed: set[str]) -> list[str] | None:
    """Split ``line`` at ';' or ',' into parts that are all allowed options (longest parts first)."""
    pieces = re.split(r"([;,])", line)
    texts = pieces[0::2]  # text between separators; pieces[1::2] are the separators themselves

    def solve(i: int) -> list[str] | None:
        if i == len(texts):
            return []
        for j in range(len(texts), i, -1):  # the longest run of pieces first: options may contain commas
            candidate = norm("".join(pieces[2 * i : 2 * j - 1]))
            if candidate in allowed:
                rest = solve(j)
                if rest is not None:
                    return [candidate, *rest]
        return None

    if not norm(line):
        return None
    return solve(0)
