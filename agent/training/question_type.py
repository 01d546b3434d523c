"""Training of the question-type classifier (``agent.question_type``): run by ``cardioagent train parser``,
never imported when answering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cardioagent.agent.question import rule_type
from cardioagent.agent.question_phrasings import Phrasing
from cardioagent.agent.question_type import LEARNED_TYPES, MIN_PROBABILITY, MODEL, _model, features


def train(
    items: list[Phrasing], families: tuple[str, ...], out: Path = MODEL, c: float = 4.0
) -> dict[str, Any]:
    """Fit on ``items`` (dicts with question, type, family, n_recordings, options) of ``families``; compare
    with the word rules by leave-one-family-out CV; write the model only when it is better. Returns the
    report."""
    from sklearn.linear_model import LogisticRegression

    data = [
        it
        for it in items
        if it["family"] in families
        and it["type"] in LEARNED_TYPES
        and not it.get("options")
        and it["n_recordings"] < 2
    ]
    x = features([it["question"] for it in data])
    y = np.array([it["type"] for it in data])
    fam = np.array([it["family"] for it in data])
    learned = rules = 0
    brier = []
    for held in sorted(set(fam)):
        tr, te = fam != held, fam == held
        if len(set(y[tr])) < 2:
            continue
        clf = LogisticRegression(C=c, max_iter=2000).fit(x[tr], y[tr])
        proba = clf.predict_proba(x[te])
        pred = clf.classes_[proba.argmax(1)]
        conf = proba.max(1)
        for it, p, pc in zip([d for d, m in zip(data, te, strict=False) if m], pred, conf, strict=False):
            rule = rule_type(it["question"], [], it["n_recordings"], [])
            hybrid = p if pc >= MIN_PROBABILITY else rule
            learned += hybrid == it["type"]
            rules += rule == it["type"]
            brier.append((1.0 - pc) ** 2 if p == it["type"] else pc**2)
    n = len(data)
    report = {
        "n": n,
        "families": sorted(set(fam)),
        "cv": "leave-one-template-family-out",
        "accuracy_learned_with_rule_fallback": round(learned / n, 3),
        "accuracy_rules": round(rules / n, 3),
        "brier_top_class": round(float(np.mean(brier)), 4),
        "min_probability": MIN_PROBABILITY,
        "C": c,
    }
    report["shipped"] = learned > rules
    if report["shipped"]:
        clf = LogisticRegression(C=c, max_iter=2000).fit(x, y)
        out.write_text(
            json.dumps(
                {
                    "classes": list(clf.classes_),
                    "coef": np.round(clf.coef_, 5).tolist(),
                    "intercept": np.round(clf.intercept_, 5).tolist(),
                    "report": report,
                }
            )
        )
    elif out.is_file():
        out.unlink()
    _model.cache_clear()
    out.with_name("question_type_report.json").write_text(json.dumps(report, indent=2))
    return report
