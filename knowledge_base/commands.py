"""``cardioagent kb ...``: build, search, add to and show the knowledge base from the command line.

``register(subparsers)`` adds a ``kb`` parser with four sub-commands to an argparse sub-parsers action.
Every leaf parser sets ``func``: the CLI calls ``args.func(args)``, which prints and returns the exit code
(0 ok, 1 nothing found, 2 bad input). User errors are printed as one line, never as a traceback.

    kb build [--path DIR] [--rebuild]
    kb search "QUERY" [--category C] [-k N] [--json] [--path DIR]
    kb add PATH [--path DIR]
    kb show ID [--path DIR]          (ID may also be a SNOMED code, a name or an abbreviation)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cardioagent.knowledge_base.entries import CATEGORIES, CorpusError
from cardioagent.knowledge_base.user_docs import add_user_document
from cardioagent.tools.errors import CardioAgentError, InputError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    kb = subparsers.add_parser(
        "kb", help="the clinical knowledge base: build, search, add documents, show entries"
    )
    sub = kb.add_subparsers(dest="kb_command", metavar="{build,search,add,show}")
    sub.required = True

    def path_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--path", type=Path, default=None, help="store folder (default: $CARDIOAGENT_HOME/kb)")

    p = sub.add_parser("build", help="index the corpus (incremental: only changed entries are re-embedded)")
    path_option(p)
    p.add_argument("--rebuild", action="store_true", help="drop the index and embed everything again")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("search", help="search the corpus and your added documents")
    p.add_argument("query")
    p.add_argument("--category", choices=CATEGORIES, default=None)
    p.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    p.add_argument("--json", action="store_true", help="print the hits as JSON")
    path_option(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("add", help="add a Markdown, text or PDF document of your own")
    p.add_argument("file", type=Path, metavar="PATH")
    path_option(p)
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("show", help="print one entry (by id, SNOMED code, name or abbreviation)")
    p.add_argument("id", metavar="ID")
    path_option(p)
    p.set_defaults(func=cmd_show)
    return kb


def _store(args: argparse.Namespace):
    from cardioagent.knowledge_base.store import KnowledgeStore

    return KnowledgeStore(path=args.path)


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def cmd_build(args: argparse.Namespace) -> int:
    try:
        report = _store(args).build(rebuild=args.rebuild)
    except CorpusError as e:
        return _fail(str(e))
    print(report.summary())
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    if args.k <= 0:
        return _fail("-k must be a positive number of results")
    try:
        hits = _store(args).search(args.query, k=args.k, category=args.category)
    except CardioAgentError as e:
        return _fail(str(e))
    if args.json:
        print(json.dumps([h.model_dump() for h in hits], indent=2, ensure_ascii=False))
    elif not hits:
        print("no results")
    else:
        for i, h in enumerate(hits, 1):
            where = f"{h.category}, {h.urgency}" if h.source_kind == "corpus" else "user document"
            print(f"{i}. {h.name} — {h.section}  (score {h.score:.2f}; {where}; id {h.entry_id})")
            snippet = " ".join(h.text.split())
            print(f"   {snippet[:300]}{'…' if len(snippet) > 300 else ''}")
            print(f"   cite: {h.citation}")
    return 0 if hits else 1


def cmd_add(args: argparse.Namespace) -> int:
    try:
        report = add_user_document(args.file, store=_store(args))
    except InputError as e:
        return _fail(str(e))
    print(report.summary())
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    found = _store(args).lookup(args.id)
    if found is None:
        return _fail(f"no knowledge-base entry with id, SNOMED code, name or abbreviation {args.id!r}", 1)
    print(found[0].markdown())
    return 0
