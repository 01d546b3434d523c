"""The learned part of question reading: what kind of answer a question without allowed answers wants
(verify / open / explain / plot), from its sentence embedding.

The question's vocabulary targets are masked first ("Do I have AFib?" -> "Do I have FINDING?"), so the
model learns the shape of the request, not the findings of its training phrasings; the embedding is the
local all-MiniLM-L6-v2 one; the classifier a multinomial logistic regression, whose weights ship as JSON
(``question_type_model.json``, a few hundred kB) and run with numpy. It is trained by
``cardioagent train parser`` (``agent.training.question_type``) on the tune template families of
``bench/question_parsing.py`` and kept only where leave-one-family-out cross-validation shows it beats
the word rules of ``agent.question`` (the
training report, ``question_type_report.json``, holds both figures). Its probability is calibrated in that
cross-validation; below ``MIN_PROBABILITY`` the word rules decide.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODEL = Path(__file__).parent / "question_type_model.json"
LEARNED_TYPES = ("verify", "open", "explain", "plot")
MIN_PROBABILITY = 0.6


def masked(question: str) -> str:
    """The question with every vocabulary target replaced by its kind, in capitals."""
    from cardioagent.tools.vocabulary import vocabulary

    voc = vocabulary()
    text = voc.spell(question)
    for m in sorted(voc.find(text, spell=False), key=lambda m: -m.start):
        text = text[: m.start] + m.kind.upper() + text[m.end :]
    return text


def features(questions: list[str]) -> np.ndarray:
    from cardioagent.knowledge_base.embedding import embed_texts

    x = np.asarray(embed_texts([masked(q) for q in questions]), dtype=np.float32)
    norms: np.ndarray = np.linalg.norm(x, axis=1, keepdims=True)  # numpy types norm's return as Any
    return x / (norms + 1e-9)


@lru_cache(maxsize=1)
def _model() -> dict[str, Any] | None:
    if not MODEL.is_file():
        return None
    spec: dict[str, Any] = json.loads(MODEL.read_text())
    spec["W"] = np.asarray(spec["coef"], dtype=np.float32)
    spec["b"] = np.asarray(spec["intercept"], dtype=np.float32)
    return spec


def predict(question: str) -> tuple[str, float] | None:
    """(type, probability) from the shipped model, or None when no model ships or embeddings are missing."""
    spec = _model()
    if spec is None:
        return None
    try:
        x = features([question])[0]
    except Exception:  # no embedding model installed: the word rules decide
        return None
    z = spec["W"] @ x + spec["b"]
    p = np.exp(z - z.max())
    p /= p.sum()
    k = int(np.argmax(p))
    return spec["classes"][k], float(p[k])
