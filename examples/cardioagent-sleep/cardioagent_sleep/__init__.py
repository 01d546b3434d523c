"""cardioagent-sleep: sleep staging from a wearable's heart rate and wrist motion, as a cardioagent plugin.

Entry points (see ``pyproject.toml``): ``cardioagent.tools`` -> ``register_tools`` (the ``sleep_stages``
tool) and ``cardioagent.commands`` -> ``register_commands`` (``cardioagent sleep stages PATH``). Both import
their modules lazily, so the pure feature and model code can be used without the rest of cardioagent.
"""

from __future__ import annotations

__version__ = "0.1.0"


def register_tools(register) -> None:
    """Entry point of the ``cardioagent.tools`` group."""
    from cardioagent_sleep.tool import SleepStagesTool

    register(SleepStagesTool)


def register_commands(subparsers) -> None:
    """Entry point of the ``cardioagent.commands`` group: adds ``cardioagent sleep stages``."""
    from cardioagent_sleep.commands import register

    register(subparsers)
