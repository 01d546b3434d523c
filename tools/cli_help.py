"""``--help`` that shows each option's default, once.

argparse's ``ArgumentDefaultsHelpFormatter`` appends "(default: None)" to options without a default and a
second default to help texts that already state one; this formatter shows a default only when there is one
to show (not None, False or an empty list) and the help does not mention it already.
"""

from __future__ import annotations

import argparse


class DefaultsHelpFormatter(argparse.HelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or "default" in text.lower()
            or default is argparse.SUPPRESS
            or default is None
            or default is False
            or default == []
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


def add_llm_summary_options(parser: argparse.ArgumentParser) -> None:
    """``--no-llm`` / ``--llm-summary``: whether the language model writes its plain-words paragraph
    (``llm_summary`` None leaves it to the backend: on for a configured model, off for the embedded one)."""
    llm = parser.add_mutually_exclusive_group()
    llm.add_argument(
        "--no-llm",
        dest="llm_summary",
        action="store_false",
        default=None,
        help="no plain-words paragraph by the language model (the tools-only agent)",
    )
    llm.add_argument(
        "--llm-summary",
        dest="llm_summary",
        action="store_true",
        help="add the language model's plain-words paragraph (default: only for a configured model)",
    )
