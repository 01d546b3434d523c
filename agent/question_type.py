"""The learned part of question reading: what kind of answer a question without allowed answers wants, from
the fine-tuned question parser (``models.parser``: QLoRA on the embedded SmolLM2, trained by
``cardioagent train parser`` in ``agent.training.parser``).

The parser ships only when leave-families-out cross-validation showed it, with the word rules of
``agent.question`` deciding below ``MIN_PROBABILITY``, reads the type better than the rules alone (its
report, ``models/adapters/parser/report.json``, holds both figures). When it does not ship, or cannot be
loaded, ``predict`` returns None and the word rules decide.
"""

from __future__ import annotations

from functools import lru_cache

MIN_PROBABILITY = 0.6  # below it the word rules decide (the threshold the training's cross-validation used)

__all__ = ["MIN_PROBABILITY", "predict"]


def predict(question: str, n_recordings: int = 1) -> tuple[str, float] | None:
    """(type, probability) from the shipped parser, or None when none ships (or it is switched off)."""
    from cardioagent.models.parser import shipped_parser

    return _read(question, n_recordings) if shipped_parser() is not None else None


@lru_cache(maxsize=512)  # one question is read several times in a turn (planning, answering, knowledge)
def _read(question: str, n_recordings: int) -> tuple[str, float] | None:
    from cardioagent.models.parser import shipped_parser

    parser = shipped_parser()
    if parser is None:
        return None
    plan = parser.read(question, ["ecg"] * n_recordings)
    return plan.type, plan.type_probability
