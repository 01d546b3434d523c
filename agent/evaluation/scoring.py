"""Scoring as ECG-QA does: exact match of answer sets, accuracy overall and per type; a majority baseline.

ECG-QA's rule (``llm_modeling.py`` of the ECG-QA repository): the gold set is the item's answers in lower
case (``{"none"}`` when the list is empty), the prediction is the set of options found in the reply, and a
question is correct when the two sets are equal — order-free, no partial credit. Here the prediction comes
from ``parser.parse_answer``; an unparseable reply is wrong and counted as unparseable, and a run that
failed with an error is wrong and counted as an error.

The majority baseline answers every item of a template with the template's most frequent gold answer set
among the items scored (ties: the set that sorts first). It is computed on the very items it is scored on,
which flatters it; per-template is finer, so stronger, than per question type.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from cardioagent.agent.closed_question import norm


def gold_set(answer: Iterable[str]) -> frozenset[str]:
    return frozenset(norm(a) for a in answer) or frozenset({"none"})


def exact_match(gold: Iterable[str], prediction: Iterable[str] | None) -> bool:
    if prediction is None:
        return False
    return gold_set(gold) == frozenset(norm(p) for p in prediction)


class Accuracy(BaseModel):
    n: int = 0
    correct: int = 0
    unparseable: int = 0
    errors: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    def add(self, correct: bool, status: str) -> None:
        self.n += 1
        self.correct += int(correct)
        self.unparseable += int(status == "unparseable")
        self.errors += int(status == "error")

    def as_dict(self) -> dict[str, Any]:
        acc = self.accuracy
        return {**self.model_dump(), "accuracy": None if acc is None else round(acc, 4)}


GROUPS = ("question_type", "attribute_type", "template_id")


def accuracy_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """rows: dicts with ``correct``, ``status`` and the group fields -> overall and per-group accuracy."""
    overall = Accuracy()
    groups: dict[str, dict[str, Accuracy]] = {g: defaultdict(Accuracy) for g in GROUPS}
    for r in rows:
        overall.add(bool(r["correct"]), r["status"])
        for g in GROUPS:
            groups[g][str(r.get(g))].add(bool(r["correct"]), r["status"])
    return {
        "overall": overall.as_dict(),
        **{f"by_{g}": {k: v.as_dict() for k, v in sorted(groups[g].items())} for g in GROUPS},
    }


def majority_answers(items: list[dict[str, Any]]) -> dict[str, frozenset[str]]:
    """template id -> its most frequent gold answer set (ties broken by sorted order)."""
    counts: dict[str, Counter[frozenset[str]]] = defaultdict(Counter)
    for it in items:
        counts[str(it["template_id"])][gold_set(it["answer"])] += 1
    return {t: min(c.items(), key=lambda kv: (-kv[1], sorted(kv[0])))[0] for t, c in counts.items()}


def majority_baseline(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy of answering each item with its template's majority answer set."""
    majority = majority_answers(items)
    rows = [
        {
            **{g: it.get(g) for g in GROUPS},
            "status": "ok",
            "correct": gold_set(it["answer"]) == majority[str(it["template_id"])],
        }
        for it in items
    ]
    table = accuracy_table(rows)
    table["answers"] = {t: sorted(a) for t, a in sorted(majority.items())}
    table["rule"] = "per template: the most frequent gold answer set among the scored items of that template"
    return table
