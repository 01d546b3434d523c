"""The user's own documents (a discharge letter, a device manual, a guideline PDF) as searchable sources.

Markdown, plain text and PDF (text extracted with pypdfium2; scanned PDFs without a text layer are
refused with a clear error) go into the ``user_docs`` collection, apart from the curated corpus. Each is
split into ~800-character chunks along headings and paragraphs, with ~150 characters of overlap inside a
section so a sentence cut at a boundary is still found whole on one side. Hits are tagged
``source_kind="user"`` and cited as "user document: <filename>".

A document is keyed by its file name: adding a file with the same name again replaces the earlier chunks.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from cardioagent.tools.errors import (
    CorruptFileError,
    FileTooLargeError,
    InputError,
    UnsupportedFormatError,
)

if TYPE_CHECKING:
    from cardioagent.knowledge_base.store import KnowledgeStore

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text"}
PDF_SUFFIXES = {".pdf"}
ACCEPTED = "Markdown (.md), plain text (.txt) or a PDF with a text layer, up to 25 MB"
MAX_BYTES = 25 * 1024 * 1024
CHUNK_CHARS = 800
OVERLAP_CHARS = 150
MIN_TEXT_CHARS = 20


class DocChunk(BaseModel):
    heading: str
    text: str


class UserDocReport(BaseModel):
    name: str
    chunks: int
    characters: int
    replaced: bool

    def summary(self) -> str:
        verb = "replaced" if self.replaced else "added"
        return f"{verb} user document {self.name}: {self.chunks} chunks from {self.characters} characters"


def user_citation(name: str) -> str:
    return f"user document: {name}"


def read_document_text(path: Path | str) -> str:
    """The text of a Markdown / text / PDF file, or an ``InputError`` saying why it cannot be used."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise InputError(name, f"no such file ({path})", ACCEPTED)
    if not path.is_file():
        raise InputError(name, "is a folder, not a file", ACCEPTED)
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES | PDF_SUFFIXES:
        raise UnsupportedFormatError(
            name, f"'{suffix or 'no extension'}' is not a document type we read", ACCEPTED
        )
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise FileTooLargeError(name, f"is {size / 1e6:.1f} MB", ACCEPTED)
    text = _read_pdf(path) if suffix in PDF_SUFFIXES else _read_text(path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text.strip()) < MIN_TEXT_CHARS:
        hint = " (a scanned PDF has no text layer; run OCR on it first)" if suffix in PDF_SUFFIXES else ""
        raise InputError(name, f"contains no readable text{hint}", ACCEPTED)
    return text


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise CorruptFileError(path.name, "looks like a binary file, not text", ACCEPTED)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CorruptFileError(path.name, "is not UTF-8 text", ACCEPTED) from None


def _read_pdf(path: Path) -> str:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        raise CorruptFileError(path.name, f"cannot be opened as a PDF ({e})", ACCEPTED) from None
    try:
        pages = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        # Blank line between pages so a page break also ends a paragraph for the chunker.
        return "\n\n".join(pages)
    finally:
        pdf.close()


_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) blocks: split at Markdown headings; text before the first heading has heading ''."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.split("\n"):
        m = _MD_HEADING.match(line)
        if m:
            sections.append((m.group(1).strip(), []))
        else:
            sections[-1][1].append(line)
    return [(h, "\n".join(lines).strip()) for h, lines in sections if "\n".join(lines).strip() or h]


def _pieces(paragraph: str, limit: int) -> list[str]:
    """A paragraph longer than ``limit`` cut at sentence ends, then at spaces, as a last resort hard."""
    if len(paragraph) <= limit:
        return [paragraph]
    out: list[str] = []
    current = ""
    for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                out.append(current)
                current = ""
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > limit:
            out.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        out.append(current)
    return out


def _tail(text: str, n: int) -> str:
    """The last ~n characters of ``text``, starting at a word boundary."""
    if len(text) <= n:
        return text
    tail = text[-n:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < n // 2 else tail


def chunk_document(text: str, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[DocChunk]:
    """Chunks of about ``size`` characters, never across a heading, overlapping by ~``overlap`` inside one."""
    chunks: list[DocChunk] = []
    for heading, body in _sections(text):
        paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", body)]
        pieces = [piece for p in paragraphs if p for piece in _pieces(p, size - overlap)]
        if not pieces:
            if heading:
                chunks.append(DocChunk(heading=heading, text=heading))
            continue
        current = ""
        for piece in pieces:
            if current and len(current) + 2 + len(piece) > size:
                chunks.append(DocChunk(heading=heading, text=current))
                current = _tail(current, overlap) + " … " + piece
            else:
                current = f"{current}\n\n{piece}" if current else piece
        chunks.append(DocChunk(heading=heading, text=current))
    return chunks


def add_user_document(path: Path | str, store: KnowledgeStore | None = None) -> UserDocReport:
    """Ingest one document into the store's ``user_docs`` collection, replacing a same-named earlier one."""
    from cardioagent.knowledge_base.store import USER_COLLECTION, KnowledgeStore

    store = store or KnowledgeStore()
    path = Path(path)
    text = read_document_text(path)
    chunks = chunk_document(text)
    name = path.name
    col = store.collection(USER_COLLECTION)
    replaced = bool(col.get(where={"doc_name": name}, include=[])["ids"])
    if replaced:
        col.delete(where={"doc_name": name})
    doc_hash = hashlib.sha256(text.encode()).hexdigest()[:16]
    # The heading goes into the embedded text (as in the corpus) but the stored document is the chunk.
    embedded = [f"{name} — {c.heading}: {c.text}" if c.heading else f"{name}: {c.text}" for c in chunks]
    vectors = store._embed(embedded)
    col.add(
        ids=[f"{name}::{i:04d}" for i in range(len(chunks))],
        documents=[c.text for c in chunks],
        embeddings=vectors,
        metadatas=[
            {
                "doc_name": name,
                "heading": c.heading,
                "chunk": i,
                "source_kind": "user",
                "citation": user_citation(name),
                "doc_hash": doc_hash,
            }
            for i, c in enumerate(chunks)
        ],
    )
    return UserDocReport(name=name, chunks=len(chunks), characters=len(text), replaced=replaced)


def list_user_documents(store: KnowledgeStore) -> list[str]:
    from cardioagent.knowledge_base.store import USER_COLLECTION

    metas = store.collection(USER_COLLECTION).get(include=["metadatas"])["metadatas"] or []
    return sorted({str(m["doc_name"]) for m in metas})


def remove_user_document(name: str, store: KnowledgeStore) -> bool:
    """Drop a document's chunks; False when no document of that name was stored."""
    from cardioagent.knowledge_base.store import USER_COLLECTION

    col = store.collection(USER_COLLECTION)
    if not col.get(where={"doc_name": name}, include=[])["ids"]:
        return False
    col.delete(where={"doc_name": name})
    return True
