"""tools/vocabulary — the one clinical vocabulary every room reads.

Findings (SNOMED-CT codes of CinC 2021, PTB-XL SCP-ECG statements, ECG-QA answers, lay words and common
misspellings), the other words of ECG questions (leads, noise kinds, diagnostic superclasses, range
categories), and quantities with units, conversions and normal ranges by sex and age with their sources.

    from cardioagent.tools.vocabulary import vocabulary
    v = vocabulary()
    v.resolve("AFib").id                       -> "atrial_fibrillation"
    v.resolve("qt corrected").id               -> "qtc"   (a Quantity)
    [m.id for m in v.find("Is the QTc long? any PVCs in V1?")]
                                               -> ["qtc", "premature_ventricular_contractions", "lead_v1"]

Plugins add words with ``vocabulary().add_term(Term(...))`` or ``add_synonyms(id, [...])``; a surface form
may belong to one entry only, and adding one that another entry owns raises ``ValueError``.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from pydantic import BaseModel

from cardioagent.tools.vocabulary.quantities import QUANTITIES, QUANTITY_BY_ID, NormalRange, Quantity
from cardioagent.tools.vocabulary.terms import LEADS, Term, build_terms, words

__all__ = [
    "Match",
    "NormalRange",
    "Quantity",
    "Term",
    "Vocabulary",
    "vocabulary",
    "LEADS",
    "words",
    "QUANTITIES",
    "QUANTITY_BY_ID",
]

Entry = Term | Quantity


class Match(BaseModel):
    id: str
    kind: str  # a Term kind, or "quantity"
    text: str  # the words of the question that named it
    start: int
    end: int


def _is_abbreviation(surface: str) -> bool:
    s = surface.strip()
    return len(s) <= 5 and " " not in s and any(c.isupper() for c in s)


class Vocabulary:
    """Surface form -> entry. Whole words, longest match first; short all-caps abbreviations ("PR", "AF",
    "SB") match only as written in capitals, so "pr interval" is a quantity and "af" in lower case is not
    taken for a finding unless a lay synonym says so."""

    def __init__(self, terms: dict[str, Term], quantities: list[Quantity]) -> None:
        self._lock = threading.Lock()
        self.terms = dict(terms)
        self.quantities = {q.id: q for q in quantities}
        self.dropped: list[tuple[str, str, str]] = []  # (surface, owner kept, entry it was dropped from)
        self._index: dict[str, str] = {}  # normalized surface -> id (case-insensitive forms)
        self._caps: dict[str, str] = {}  # abbreviations, exact case -> id
        self._ecgqa: dict[str, str] = {}
        for q in quantities:
            # "PR", "QTc", "RR" as written in capitals are quantities before any finding's abbreviation.
            caps = [s.upper().replace("QTC", "QTc") for s in q.synonyms if " " not in s and len(s) <= 5]
            self._claim_all(q.id, [q.id.replace("_", " "), q.name, *q.synonyms, *caps], drop_from=q.synonyms)
            if q.ecgqa:
                self._ecgqa[q.ecgqa] = q.id
        for t in sorted(self.terms.values(), key=_priority):
            self._claim_all(t.id, [t.name, *t.synonyms, *t.ecgqa], drop_from=t.synonyms)
            for a in t.ecgqa:
                self._ecgqa[a] = t.id
        self._pattern: re.Pattern[str] | None = None
        self._words: set[str] | None = None

    # --- building -------------------------------------------------------------------------------------
    def _claim_all(self, entry_id: str, surfaces: list[str], drop_from: list[str]) -> None:
        for s in list(dict.fromkeys(surfaces)):
            owner = self._claim(entry_id, s)
            if owner != entry_id and s in drop_from:
                drop_from.remove(s)
                self.dropped.append((s, owner, entry_id))

    def _claim(self, entry_id: str, surface: str) -> str:
        if _is_abbreviation(surface):
            return self._caps.setdefault(surface.strip(), entry_id)
        key = words(surface)
        if not key:
            return entry_id
        return self._index.setdefault(key, entry_id)

    def add_term(self, term: Term) -> None:
        """Register a plugin's term; its surface forms must be new."""
        with self._lock:
            if term.id in self.terms or term.id in self.quantities:
                raise ValueError(f"vocabulary id {term.id!r} exists already")
            self._check_free(term.id, [term.name, *term.synonyms])
            self.terms[term.id] = term
            self._claim_all(term.id, [term.name, *term.synonyms], drop_from=[])
            self._pattern = None
            self._words = None

    def add_synonyms(self, entry_id: str, synonyms: list[str]) -> None:
        with self._lock:
            entry = self.get(entry_id)
            if entry is None:
                raise KeyError(entry_id)
            self._check_free(entry_id, synonyms)
            entry.synonyms.extend(synonyms)
            self._claim_all(entry_id, synonyms, drop_from=[])
            self._pattern = None
            self._words = None

    def _check_free(self, entry_id: str, surfaces: list[str]) -> None:
        for s in surfaces:
            owner = self._caps.get(s.strip()) if _is_abbreviation(s) else self._index.get(words(s))
            if owner is not None and owner != entry_id:
                raise ValueError(f"{s!r} already names {owner!r}")

    # --- reading --------------------------------------------------------------------------------------
    def get(self, entry_id: str) -> Entry | None:
        return self.quantities.get(entry_id) or self.terms.get(entry_id)

    def quantity(self, quantity_id: str) -> Quantity:
        return self.quantities[quantity_id]

    def resolve(self, text: str) -> Entry | None:
        """The entry a whole phrase names (an option, an answer), or None. A final plural 's' is tolerated."""
        raw = text.strip()
        if raw in self._caps:
            return self.get(self._caps[raw])
        key = words(raw)
        for k in (key, key[:-1] if key.endswith("s") else None, key[:-2] if key.endswith("es") else None):
            if k and k in self._index:
                return self.get(self._index[k])
        found = self._ecgqa.get(raw.lower())
        return self.get(found) if found else None

    def from_ecgqa(self, answer: str) -> Entry | None:
        """The entry an ECG-QA answer string names (exactly as in ECG-QA's ``answers.csv``)."""
        found = self._ecgqa.get(answer.strip().lower())
        return self.get(found) if found else self.resolve(answer)

    def spell(self, text: str) -> str:
        """The text with each unknown word of five letters or more replaced by the one vocabulary word one
        typing slip away (a transposition or substitution; an insertion or deletion from six letters on),
        as a dictionary spelling corrector does (Damerau 1964; Norvig's corrector). Known words, short words
        and words with several candidates are left as they are."""
        lexicon = self._lexicon()

        def fix(m: re.Match) -> str:
            word = m.group(0)
            low = word.lower()
            if len(low) < 5 or low in lexicon or not low.isalpha():
                return word
            found = {c for c in _one_slip(low, deletions=len(low) >= 6) if c in lexicon}
            return found.pop() if len(found) == 1 else word

        return re.sub(r"[A-Za-z]+", fix, text)

    def _lexicon(self) -> set[str]:
        lexicon: set[str] | None = getattr(self, "_words", None)
        if lexicon is None:
            lexicon = self._words = {w for key in self._index for w in key.split() if w.isalpha()}
        return lexicon

    def find(self, text: str, kinds: set[str] | None = None, spell: bool = True) -> list[Match]:
        """Every entry a free text names, longest non-overlapping matches first, in text order (after
        ``spell`` has corrected typing slips: spans then refer to the corrected text).
        Answer words ("yes", "none") are never matched inside a sentence."""
        if spell:
            text = self.spell(text)
        matches: list[Match] = []
        taken: list[tuple[int, int]] = []
        lowered = text.lower()
        candidates = []
        for surface, entry_id in self._caps.items():
            plural = "s?" if len(surface) > 1 and not surface[-1].isdigit() else ""
            for m in re.finditer(rf"(?<![A-Za-z0-9]){re.escape(surface)}{plural}(?![A-Za-z0-9])", text):
                candidates.append((m.start(), m.end(), entry_id, m.group(0)))
        for m in self._surface_pattern().finditer(lowered):
            key = words(m.group(1))
            indexed = self._index.get(key) or self._index.get(key[:-1])
            if indexed:
                candidates.append((m.start(1), m.end(1), indexed, text[m.start(1) : m.end(1)]))
        for start, end, entry_id, surface in sorted(candidates, key=lambda c: (-(c[1] - c[0]), c[0])):
            kind = self._kind(entry_id)
            if kind == "answer" or (kinds is not None and kind not in kinds):
                continue
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            matches.append(Match(id=entry_id, kind=kind, text=surface, start=start, end=end))
        return sorted(matches, key=lambda m: m.start)

    def _kind(self, entry_id: str) -> str:
        return "quantity" if entry_id in self.quantities else self.terms[entry_id].kind

    def _surface_pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            # Surfaces as regexes over lower-case text: words joined by any run of non-word characters.
            alts = sorted(self._index, key=len, reverse=True)
            parts = [r"[^a-z0-9/]+".join(re.escape(w) for w in key.split()) + r"(?:e?s)?" for key in alts]
            self._pattern = re.compile(r"(?<![a-z0-9])(" + "|".join(parts) + r")(?![a-z0-9])")
        return self._pattern

    def quantity_of(self, name: str, unit: str = "") -> str | None:
        """The quantity a measurement's display name reports ("QTc (Bazett)" -> "qtc"), for results made
        before tools set ``Measurement.quantity``. The whole name must name one quantity: "QTc dispersion"
        names none."""
        stripped = re.sub(r"\s*\(.*?\)\s*", " ", name).strip()
        for candidate in (stripped, name):
            entry = self.resolve(candidate)
            if isinstance(entry, Quantity):
                if (
                    entry.id == "heart_rate"
                    and unit
                    and unit.lower() not in ("bpm", "/min", "1/min", "beats/min")
                ):
                    return None
                return entry.id
        return None


def _one_slip(word: str, deletions: bool) -> set[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in letters}
    if deletions:
        out |= {a + b[1:] for a, b in splits if b}
        out |= {a + c + b for a, b in splits for c in letters}
    out.discard(word)
    return out


def _priority(t: Term) -> int:
    # Who keeps a contested word: the words of questions' structure before findings, SNOMED findings before
    # the entries other systems add.
    order = {"lead": 0, "noise": 1, "category": 2, "answer": 3, "stage": 4, "finding": 5, "superclass": 6}
    return order.get(t.kind, 9) * 10 + (0 if t.snomed else 1)


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The process-wide vocabulary (built once from the shipped tables; plugins may add to it)."""
    return Vocabulary(
        {k: t.model_copy(deep=True) for k, t in build_terms().items()},
        [q.model_copy(deep=True) for q in QUANTITIES],
    )
