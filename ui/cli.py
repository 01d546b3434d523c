"""The ``cardioagent`` command line.

Each room contributes its own sub-commands through a ``commands.register(subparsers)`` function; this module
only assembles them and turns the errors a person can cause into one clear line (exit code 2), never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import entry_points

from cardioagent.agent import CardioAgentError

# Rooms whose commands are wired in, in the order shown by --help. A room that fails to import (a missing
# optional dependency) loses its commands, not the whole CLI.
COMMAND_MODULES = [
    "cardioagent.tools.commands",
    "cardioagent.knowledge_base.commands",
    "cardioagent.models.commands",  # before agent: the agent adds `train parser` to its `train` command
    "cardioagent.agent.commands",
    "cardioagent.agent.batch.commands",
    "cardioagent.agent.reporting.commands",
    "cardioagent.ui.commands",
]
# Plugins add sub-commands the same way, through this entry-point group (``register(subparsers)``).
COMMAND_ENTRY_POINTS = "cardioagent.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cardioagent",
        description="Local-first assistant for ECG and PPG recordings. Not a medical device.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the messages and progress bars of third-party libraries (hidden by default)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue  # that room has no commands yet
            raise
        module.register(sub)
    for entry in entry_points(group=COMMAND_ENTRY_POINTS):
        try:
            register = entry.load()
        except Exception as exc:  # a broken plugin loses its commands, not the whole CLI
            print(f"warning: plugin commands {entry.name!r} not loaded: {exc}", file=sys.stderr)
            continue
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever fetched from a hub at run time
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    from cardioagent.agent import configure_output

    # before any heavy import: some libraries read their verbosity from the environment when imported
    configure_output(verbose=args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except CardioAgentError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `cardioagent analyze ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
