"""What a person at a terminal sees while cardioagent works: one status line per slow step, and quiet.

Two jobs, kept here (the lowest room) so that every room may use them:

* ``status("building the knowledge store")`` — a context manager that writes one line to stderr when a step
  starts and, when it took longer than ``SLOW_S``, one line with its duration when it ends. A person who
  waits a minute then knows what for. Off unless a command turned it on with ``configure_output``, so that
  library use and tests stay silent.
* ``configure_output(verbose=False)`` — third-party libraries print things that do not concern a user of
  this program (bitsandbytes' hint to install ``kernels``, which would fetch a kernel from the Hub — never
  done here; weight-loading progress bars; transformers' load reports and advisory warnings). Below ERROR
  they are hidden; ``--verbose`` shows them all, with their logger names.

Environment variables are used where a library reads its verbosity at import time; they must therefore be
set before the library is imported, which ``configure_output`` does at program start.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

SLOW_S = 2.0  # a step that took longer than this gets a "done in N s" line

# Loggers of libraries whose INFO/WARNING records are about their own internals, not the user's data.
THIRD_PARTY_LOGGERS = (
    "bitsandbytes",
    "transformers",
    "accelerate",
    "peft",
    "huggingface_hub",
    "sentence_transformers",
    "chromadb",
    "torch",
    "urllib3",
    "httpx",
    "gguf",
    "datasets",
    "py.warnings",
    "langchain",
    "neurokit2",
)
# Read by the libraries at import: no progress bars for loading weights or tokenizers, no advisory notes.
QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb: no telemetry attempt (and no message about it)
}

_state = {"enabled": False, "verbose": False}
log = logging.getLogger("cardioagent.progress")


class _ThirdPartyFilter(logging.Filter):
    """On the stderr handler: a third-party record below ERROR is not shown unless ``--verbose``.

    A handler filter (not a logger level) so that it also catches child loggers such as
    ``bitsandbytes.backends.cpu.ops`` and records that a library logs with its own level settings."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose or record.levelno >= logging.ERROR:
            return True
        top = record.name.split(".", 1)[0]
        return not (record.name in THIRD_PARTY_LOGGERS or top in THIRD_PARTY_LOGGERS)


class _OwnHandler(logging.StreamHandler[TextIO]):
    """The handler ``configure_output`` installs; the marker lets a second call replace it while handlers
    others installed stay."""

    _cardioagent = True


def configure_output(verbose: bool = False, *, show_status: bool = True) -> None:
    """Set up the terminal: status lines on (``show_status``) and third-party chatter hidden unless
    ``verbose``. Call once at program start, before heavy imports (some libraries read the environment
    variables of ``QUIET_ENV`` when they are imported)."""
    _state.update(enabled=show_status, verbose=verbose)
    if not verbose:
        for key, value in QUIET_ENV.items():
            os.environ.setdefault(key, value)
    logging.captureWarnings(True)  # warnings.warn(...) of libraries become records of "py.warnings"
    handler = _OwnHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s")
    )
    handler.addFilter(_ThirdPartyFilter(verbose))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_cardioagent", False)] + [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    # Our own INFO lines ("converting the embedded model (once)") are status for a person: show them.
    logging.getLogger("cardioagent").setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        # A library that configured its own logger (level or handler) before us: lower it too.
        for name in THIRD_PARTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)


def is_enabled() -> bool:
    return bool(_state["enabled"])


def is_verbose() -> bool:
    return bool(_state["verbose"])


def say(message: str) -> None:
    """One status line on stderr (only when a command turned status lines on)."""
    if _state["enabled"]:
        print(message, file=sys.stderr, flush=True)


@contextmanager
def status(message: str, slow_s: float = SLOW_S) -> Iterator[None]:
    """``with status("loading the image model"):`` — says what starts and, if it was slow, how long it took."""
    if not _state["enabled"]:
        yield
        return
    say(f"{message}…")
    started = time.perf_counter()
    yield
    took = time.perf_counter() - started
    if took >= slow_s:
        say(f"{message}: done in {took:.0f} s")
