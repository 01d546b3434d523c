"""The corpus entry model and its loader.

An entry is one Markdown file ``corpus/<category>/<id>.md``: YAML front matter, then ``## Section``
blocks (see ``corpus/README.md``). Loading needs only PyYAML and pydantic, so entries can be read, shown
and resolved by SNOMED code without chromadb or any model.

``load_corpus`` checks each file on its own (schema, sections, id = file name, category = folder) and the
corpus as a whole (unique ids, one entry per SNOMED code); ``corpus_problems`` adds the checks that may
legitimately fail while the corpus is being written (``related`` ids that do not exist yet).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from cardioagent.tools.errors import CardioAgentError

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"

Category = Literal[
    "rhythm",
    "conduction",
    "morphology_ischemia",
    "hypertrophy",
    "axis",
    "interval",
    "vital_sign",
    "ppg_vascular",
    "hrv",
    "general",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
Urgency = Literal["routine", "soon", "urgent", "emergency"]
URGENCIES: tuple[str, ...] = Urgency.__args__  # type: ignore[attr-defined]

REQUIRED_SECTIONS = ("Definition", "Criteria", "Appearance", "Significance")
OPTIONAL_SECTIONS = ("Normal ranges",)
SECTION_ORDER = ("Definition", "Criteria", "Normal ranges", "Appearance", "Significance")

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t]*$", re.MULTILINE)
_ID = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


class CorpusError(CardioAgentError):
    """The corpus files break the format of ``corpus/README.md``; ``problems`` lists every one found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  - ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the knowledge-base corpus:\n  - {shown}{more}")


class KnowledgeEntry(BaseModel):
    """One concept of the clinical corpus."""

    id: str
    name: str
    synonyms: list[str] = Field(default_factory=list)
    snomed: list[str] = Field(default_factory=list, description="SNOMED-CT codes this entry covers")
    category: Category
    urgency: Urgency
    ptbxl_superclass: Literal["NORM", "MI", "STTC", "CD", "HYP"] | None = None
    related: list[str] = Field(default_factory=list)
    sources: list[str] = Field(min_length=1)
    sections: dict[str, str] = Field(description="section title -> Markdown body, in file order")
    content_hash: str = Field(default="", description="sha256 of the file text; changes re-embed the entry")
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("id")
    @classmethod
    def _snake_case(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"id {v!r} is not snake_case ([a-z0-9_])")
        return v

    @field_validator("snomed", mode="before")
    @classmethod
    def _codes_as_strings(cls, v: object) -> object:
        # YAML turns an unquoted code into an int; the codes are identifiers, so keep them as digit strings.
        if isinstance(v, (list, tuple)):
            return [str(c).strip() for c in v]
        return v

    @field_validator("snomed")
    @classmethod
    def _digits(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not c.isdigit()]
        if bad:
            raise ValueError(f"SNOMED codes must be digit strings, got {bad}")
        return v

    @field_validator("synonyms", "related", "sources", mode="before")
    @classmethod
    def _none_is_empty(cls, v: object) -> object:
        return [] if v is None else [str(x) for x in v] if isinstance(v, (list, tuple)) else v

    def section(self, title: str) -> str:
        """The body of a section ('' when the entry has none), matched case-insensitively."""
        for k, body in self.sections.items():
            if k.lower() == title.lower():
                return body
        return ""

    def criteria_items(self) -> list[str]:
        """The Criteria section as a list of bullet texts (a paragraph counts as one item).

        A lead-in line ending with a colon ("The ECG criteria for X are:") is not a criterion and is left out.
        """
        return [i for i in bullet_items(self.section("Criteria")) if not i.endswith(":")]

    def aliases(self) -> list[str]:
        """Name first, then synonyms, without duplicates (case-insensitive)."""
        seen: set[str] = set()
        out = []
        for a in [self.name, *self.synonyms]:
            if a.lower() not in seen:
                seen.add(a.lower())
                out.append(a)
        return out

    def title(self) -> str:
        """'Name (syn1, syn2, ...)' — the header put in front of every embedded chunk of this entry."""
        return f"{self.name} ({', '.join(self.synonyms)})" if self.synonyms else self.name

    def markdown(self) -> str:
        """The entry as readable Markdown (what ``cardioagent kb show`` prints)."""
        lines = [f"# {self.name}  [{self.id}]", ""]
        if self.synonyms:
            lines.append(f"Also called: {', '.join(self.synonyms)}")
        meta = f"Category: {self.category} · urgency: {self.urgency}"
        if self.snomed:
            meta += f" · SNOMED-CT: {', '.join(self.snomed)}"
        lines += [meta, ""]
        for title, body in self.sections.items():
            lines += [f"## {title}", body, ""]
        if self.related:
            lines += [f"Related: {', '.join(self.related)}", ""]
        lines.append("Sources:")
        lines += [f"- {s}" for s in self.sources]
        return "\n".join(lines)


def bullet_items(markdown: str) -> list[str]:
    """Split a Markdown block into items: each bullet (with its continuation lines) or each paragraph."""
    items: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            items.append(" ".join(s.strip() for s in current).strip())
            current.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif re.match(r"^([-*+]|\d+[.)])\s+", stripped):
            flush()
            current.append(re.sub(r"^([-*+]|\d+[.)])\s+", "", stripped))
        else:
            current.append(stripped)
    flush()
    return [i for i in items if i]


def parse_entry(text: str, path: Path | None = None) -> KnowledgeEntry:
    """Parse one entry file's text. Raises ``CorpusError`` naming the file and every problem in it."""
    where = str(path) if path else "<text>"
    meta, body = _front_matter(text, where)
    sections, problems = _sections(body, where)
    try:
        entry = KnowledgeEntry(
            **{k: v for k, v in meta.items() if k in KnowledgeEntry.model_fields},
            sections=sections,
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
            path=path,
        )
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"])
            problems.append(f"{where}: {loc}: {err['msg']}")
        raise CorpusError(problems) from None
    problems += _placement_problems(entry, meta, path, where)
    if problems:
        raise CorpusError(problems)
    return entry


def _front_matter(text: str, where: str) -> tuple[dict, str]:
    """The YAML front matter as a mapping, and the Markdown body after it."""
    m = _FRONT_MATTER.match(text)
    if not m:
        raise CorpusError([f"{where}: no YAML front matter between '---' lines at the top"])
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as e:
        raise CorpusError([f"{where}: front matter is not valid YAML ({e})"]) from None
    if not isinstance(meta, dict):
        raise CorpusError([f"{where}: front matter is not a mapping"])
    return meta, text[m.end() :]


def _sections(body: str, where: str) -> tuple[dict[str, str], list[str]]:
    """The '## ' sections of the body by title, and what is wrong with them."""
    problems: list[str] = []
    sections: dict[str, str] = {}
    parts = _HEADING.split(body)
    preamble = re.sub(
        r"^#[ \t].*$", "", parts[0], flags=re.MULTILINE
    ).strip()  # an optional '# Title' line is fine
    if preamble:
        problems.append(f"{where}: text before the first '## ' section: {preamble[:60]!r}")
    for title, content in zip(parts[1::2], parts[2::2], strict=False):
        title = title.strip()
        if title in sections:
            problems.append(f"{where}: section '{title}' appears twice")
        sections[title] = content.strip()
    problems += [
        f"{where}: section '## {title}' is missing or empty"
        for title in REQUIRED_SECTIONS
        if not sections.get(title)
    ]
    problems += [
        f"{where}: unknown section '## {title}'"
        for title in sections
        if title not in REQUIRED_SECTIONS + OPTIONAL_SECTIONS
    ]
    return sections, problems


def _placement_problems(entry: KnowledgeEntry, meta: dict, path: Path | None, where: str) -> list[str]:
    """Unknown front-matter keys, and an id or category that disagrees with the file's name or folder."""
    problems = []
    unknown = sorted(set(meta) - set(KnowledgeEntry.model_fields))
    if unknown:
        problems.append(f"{where}: unknown front-matter keys {unknown}")
    if path is not None:
        if path.stem != entry.id:
            problems.append(f"{where}: id '{entry.id}' differs from the file name '{path.stem}'")
        if path.parent.name != entry.category:
            problems.append(
                f"{where}: category '{entry.category}' differs from the folder '{path.parent.name}'"
            )
    return problems


def corpus_files(root: Path | None = None) -> list[Path]:
    root = Path(root) if root else CORPUS_DIR
    return sorted(p for p in root.glob("*/*.md") if p.name.lower() != "readme.md")


def load_corpus(root: Path | None = None, strict: bool = True) -> list[KnowledgeEntry]:
    """Every entry under ``root`` (default: the shipped corpus), sorted by id.

    With ``strict`` any problem raises ``CorpusError`` listing all of them; without it broken files are
    skipped (used while the corpus is being edited, so one bad file does not take the search down).
    """
    entries: list[KnowledgeEntry] = []
    problems: list[str] = []
    for path in corpus_files(root):
        try:
            entries.append(parse_entry(path.read_text(encoding="utf-8"), path))
        except CorpusError as e:
            problems += e.problems
        except UnicodeDecodeError:
            problems.append(f"{path}: not UTF-8 text")
    problems += _collection_problems(entries)
    if problems and strict:
        raise CorpusError(problems)
    return sorted(_drop_duplicate_ids(entries), key=lambda e: e.id)


def _drop_duplicate_ids(entries: Iterable[KnowledgeEntry]) -> list[KnowledgeEntry]:
    seen: dict[str, KnowledgeEntry] = {}
    for e in entries:
        seen.setdefault(e.id, e)
    return list(seen.values())


def _collection_problems(entries: list[KnowledgeEntry]) -> list[str]:
    problems = []
    by_id: dict[str, KnowledgeEntry] = {}
    by_code: dict[str, str] = {}
    for e in entries:
        if e.id in by_id:
            problems.append(f"id '{e.id}' is used by both {by_id[e.id].path} and {e.path}")
        by_id[e.id] = e
        for code in e.snomed:
            if code in by_code and by_code[code] != e.id:
                problems.append(f"SNOMED {code} is claimed by both '{by_code[code]}' and '{e.id}'")
            by_code.setdefault(code, e.id)
    return problems


def corpus_problems(entries: list[KnowledgeEntry]) -> list[str]:
    """Whole-corpus checks beyond ``load_corpus``: related ids exist and do not point to the entry itself."""
    ids = {e.id for e in entries}
    problems = _collection_problems(entries)
    for e in entries:
        for r in e.related:
            if r == e.id:
                problems.append(f"'{e.id}' lists itself as related")
            elif r not in ids:
                problems.append(f"'{e.id}' relates to '{r}', which is not an entry")
    return problems


@lru_cache(maxsize=4)
def _cached_corpus(root: Path, stamp: tuple[tuple[str, int], ...]) -> tuple[KnowledgeEntry, ...]:
    return tuple(load_corpus(root, strict=False))


def cached_corpus(root: Path | None = None) -> list[KnowledgeEntry]:
    """``load_corpus(root, strict=False)``, re-read only when a file's modification time changes."""
    root = Path(root) if root else CORPUS_DIR
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in corpus_files(root))
    return list(_cached_corpus(root.resolve(), stamp))
