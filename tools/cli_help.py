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
