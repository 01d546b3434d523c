"""Which language a question is written in, and the notice when the answer cannot be in it.

Detection uses py3langid, the maintained fork of langid.py (Lui & Baldwin, "langid.py: An Off-the-shelf
Language Identification Tool", ACL 2012 demo): a naive Bayes classifier over byte n-grams whose model ships
inside the package (nothing is downloaded). Questions are short and full of shared clinical terms ("QTc",
"LBBB", "bpm"), which langid.py reads with little confidence; so a language other than English is claimed
only with a confident classification of a question of several words, and the candidates are restricted to
languages people plausibly ask in. Anything less is "undetermined" and treated as English — a missed notice
costs less than telling an English speaker that they did not write English.

The answer itself is composed from tool outputs in English (``agent/compose.py``); the embedded model
understands English only. The notice says so plainly, and the tools the clinical vocabulary recognises in
the question still run, because numbers and terms ("QT", "120 bpm", "fibrillation") are often shared.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:  # py3langid is optional and untyped: the name only annotates
    from py3langid.langid import LanguageIdentifier

# Languages a question is classified among (ISO 639-1): the widely spoken ones langid.py models well.
CANDIDATES = (
    "en",
    "fr",
    "de",
    "es",
    "it",
    "pt",
    "nl",
    "pl",
    "sv",
    "da",
    "no",
    "fi",
    "cs",
    "ro",
    "tr",
    "ru",
    "uk",
    "el",
    "hu",
    "zh",
    "ja",
    "ko",
    "ar",
    "he",
    "hi",
    "id",
    "vi",
)
NAMES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "ro": "Romanian",
    "tr": "Turkish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "el": "Greek",
    "hu": "Hungarian",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "ar": "Arabic",
    "he": "Hebrew",
    "hi": "Hindi",
    "id": "Indonesian",
    "vi": "Vietnamese",
}
MIN_CONFIDENCE = 0.9  # normalised probability of the top language
MIN_WORDS = 3  # "HRV?" or "QT interval" say nothing about a language
_WORD = re.compile(r"[^\W\d_]{2,}")


class LanguageGuess(BaseModel):
    code: str  # ISO 639-1, or "und" (undetermined)
    name: str
    confidence: float

    @property
    def is_english(self) -> bool:
        """True also when undetermined: the default reading."""
        return self.code in ("en", "und")


UNDETERMINED = LanguageGuess(code="und", name="undetermined", confidence=0.0)


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(CANDIDATES))
    return ident


def detect_language(text: str) -> LanguageGuess:
    """The language of ``text``, or ``UNDETERMINED`` when it is too short or the classifier is unsure.
    Without py3langid installed every text is undetermined (and so read as English)."""
    # Words of 2+ letters; CJK scripts have no spaces, so count their characters instead.
    words = _WORD.findall(text)
    cjk = len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]", text))
    if len(words) < MIN_WORDS and cjk < 4:
        return UNDETERMINED
    try:
        code, prob = _identifier().classify(text)
    except ImportError:
        return UNDETERMINED
    if prob < MIN_CONFIDENCE:
        return UNDETERMINED
    return LanguageGuess(code=code, name=NAMES.get(code, code), confidence=round(float(prob), 3))


def language_notice(question: str, model_answers_in_kind: bool = False) -> str | None:
    """The plain notice for a question not in English, or None.

    ``model_answers_in_kind``: a configured model writes the plain-words paragraph and may follow the
    question's language; the findings stay in English either way.
    """
    guess = detect_language(question)
    if guess.is_english:
        return None
    if model_answers_in_kind:
        return (
            f"Your question looks like {guess.name}. The findings below are written in English; the "
            f"configured language model was asked to write its plain-words paragraph in {guess.name}."
        )
    return (
        f"Your question looks like {guess.name}, but the embedded model understands English only, so this "
        "answer is in English. The tools that the clinical terms and numbers in your question point to "
        "were run; for a fuller answer, ask in English, or configure a multilingual language model."
    )
