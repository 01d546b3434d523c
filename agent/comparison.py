"""Closed questions about two recordings (ECG-QA's ``comparison_*`` questions on numeric features).

"Which numeric features of the second ECG became normal / are now abnormal / are still abnormal compared with
the first?" Every feature named in the options (RR interval, P duration, PR, QRS, QT, QTc: vocabulary
quantities) is classed normal or abnormal on each recording against the vocabulary's normal range for that
person's sex (``tools.vocabulary.quantities``), and the change asked about selects the features:

    became normal    abnormal in the first, normal in the second
    became abnormal  normal in the first, abnormal in the second
    still abnormal   abnormal in both
    still normal     normal in both

The change is read from the question's words with a small polarity lexicon: persistence words ("still",
"remain", "continue"), words for the normal state ("normal", "typical", "standard", "within the normal
range", "stable") and for the abnormal one ("abnormal", "irregular", "unusual", "deviate", "not normal").
A feature that could not be measured on either recording is left out of the answer and named in the
reasons; when nothing could be decided the answer is undetermined, never a guess.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from cardioagent.agent.closed_question import (
    NONE,
    ClosedAnswer,
    Facts,
    OptionVerdict,
    category_by_vocabulary,
    facts_of,
    fallback_answer,
    norm,
)
from cardioagent.agent.state import ToolCallRecord

Change = Literal["became_normal", "became_abnormal", "still_abnormal", "still_normal"]

PERSIST = re.compile(r"\b(still|remain\w*|continu\w*|persist\w*|keep\w*|yet)\b")
ABNORMAL = re.compile(
    r"\b(abnormal\w*|irregular\w*|unusual|atypical|deviat\w*|out of (the )?(normal )?range|"
    r"outside (the )?(normal )?range|not (\w+ )?(normal|typical|standard|within)\w*|anomal\w*|"
    r"pathologic\w*)\b"
)
NORMAL = re.compile(
    r"\b(normal\w*|typical|standard|usual|regular|stable|within (a |the )?(normal )?(range|limits))\b"
)
FROM_ABNORMAL_TO_NORMAL = re.compile(
    r"\b(from abnormal to normal|return\w* to|back to|resolv\w*|normali[sz]\w*)\b"
)


def change_asked(question: str) -> Change | None:
    """The change a comparison question asks for, from its polarity words; None when it names none."""
    q = " ".join(question.lower().split())
    if FROM_ABNORMAL_TO_NORMAL.search(q):
        return "became_normal"
    abnormal = ABNORMAL.search(q) is not None
    normal = NORMAL.search(re.sub(ABNORMAL, " ", q)) is not None
    if PERSIST.search(q):
        return "still_abnormal" if abnormal else ("still_normal" if normal else None)
    if abnormal:
        return "became_abnormal"
    if normal:
        return "became_normal"
    return None


def _state(quantity: str, f: Facts, profile: str = "clinical") -> tuple[bool | None, str, list[str]]:
    """(abnormal?, reason, criteria) of one quantity on one recording."""
    category, why, criteria = category_by_vocabulary(quantity, f, profile)
    return (None if category is None else category != "normal"), why, criteria


def compare(question: str, opts: list[str], facts: list[Facts], profile: str = "clinical") -> ClosedAnswer:
    from cardioagent.tools.vocabulary import Quantity, vocabulary

    if len(facts) != 2:
        return ClosedAnswer(
            kind="unsupported",
            options=opts,
            chosen=fallback_answer(opts),
            note=f"comparisons are judged between two recordings, not {len(facts)}",
        )
    first, second = facts
    change = change_asked(question)
    features = [(o, e.id) for o in opts if isinstance(e := vocabulary().from_ecgqa(norm(o)), Quantity)]
    if change is None or not features:
        why = (
            "the question names no change between the recordings"
            if change is None
            else "the options name no measured quantity"
        )
        return ClosedAnswer(
            kind="unsupported",
            options=opts,
            chosen=fallback_answer(opts),
            note=f"the question concerns two recordings but {why}: not judged",
        )
    wanted = {
        "became_normal": (True, False),
        "became_abnormal": (False, True),
        "still_abnormal": (True, True),
        "still_normal": (False, False),
    }[change]
    verdicts, chosen, undecided, criteria = [], [], [], []
    for option, quantity in features:
        a, why_a, crit_a = _state(quantity, first, profile)
        b, why_b, crit_b = _state(quantity, second, profile)
        criteria += crit_a + crit_b
        reason = f"first: {why_a}; second: {why_b}"
        if a is None or b is None:
            verdicts.append(OptionVerdict(option=option, verdict="undetermined", why=reason))
            undecided.append(option)
        elif (a, b) == wanted:
            verdicts.append(OptionVerdict(option=option, verdict="present", why=reason))
            chosen.append(option)
        else:
            verdicts.append(OptionVerdict(option=option, verdict="absent", why=reason))
    note = f"change asked: {change.replace('_', ' ')} (second recording against the first)"
    if profile != "clinical":
        note += f"; normal ranges of the '{profile}' profile"
    if undecided:
        note += "; not decided (not measured on both): " + ", ".join(undecided)
    if chosen:
        answer: list[str] | None = chosen
    elif len(undecided) < len(features):
        answer = [o for o in opts if norm(o) == NONE][:1] or fallback_answer(opts)
    else:
        answer = fallback_answer(opts)
    return ClosedAnswer(
        kind="comparison",
        options=opts,
        chosen=answer,
        verdicts=verdicts,
        note=note,
        criteria=list(dict.fromkeys(criteria)),
    )


# ----- open comparison questions ------------------------------------------------------------------------------

DEFAULT_COMPARED = ("heart_rate", "pr", "qrs", "qtc")


def difference_lines(
    records: list[ToolCallRecord], refs: list[dict[str, Any]], quantities: list[str]
) -> list[str]:
    """'**Comparison**' lines for an open question about two or more recordings: each quantity asked about
    (or the headline ones) on each recording, labelled by recording, with the change from the first to the
    others and whether it crosses the normal range. Values come from this turn's tool outputs only."""
    from cardioagent.tools.vocabulary import QUANTITY_BY_ID

    if len(refs) < 2:
        return []
    facts = [facts_of(records, r["id"]) for r in refs]
    wanted = [q for q in quantities if q in QUANTITY_BY_ID] or list(DEFAULT_COMPARED)
    lines = []
    for q in wanted:
        values = [f.quantity(q) for f in facts]
        if not any(values):
            continue
        unit = QUANTITY_BY_ID[q].unit
        parts = []
        for ref, f, m in zip(refs, facts, values, strict=False):
            if m is None or m.value is None:
                parts.append(f"{ref['name']}: not measured")
                continue
            cat = category_by_vocabulary(q, f)[0]
            flag = {"low": ", below the normal range", "high": ", above the normal range"}.get(cat or "", "")
            quality = "" if m.quality.value == "good" else f", {m.quality.value} quality"
            parts.append(f"{ref['name']}: {m.value:g} {unit}{flag}{quality}")
        change = ""
        if (
            values[0] is not None
            and values[0].value is not None
            and values[-1] is not None
            and values[-1].value is not None
        ):
            # the direction only: a computed difference would be a number no tool produced
            delta = float(values[-1].value) - float(values[0].value)
            word = "higher" if delta > 0 else ("lower" if delta < 0 else "the same")
            change = f"; {word} in {refs[-1]['name']} than in {refs[0]['name']}"
        lines.append(f"- {QUANTITY_BY_ID[q].name}: " + "; ".join(parts) + change)
    return ["**Comparison** (values from this turn's tools, first recording first)", *lines] if lines else []
