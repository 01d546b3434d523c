"""cardioagent-hrv-stress: an example cardioagent plugin adding Baevsky's stress index.

cardioagent finds this package through the entry point in its ``pyproject.toml``::

    [project.entry-points."cardioagent.tools"]
    hrv_stress = "cardioagent_hrv_stress:register_tools"

and calls ``register_tools(register)`` once, with a function that validates and registers one tool class.
The tool module is imported inside ``register_tools`` rather than at the top of this file, so the pure
math in ``cardioagent_hrv_stress.baevsky`` stays importable (and testable) without the rest of cardioagent.
"""

from __future__ import annotations

from cardioagent_hrv_stress.baevsky import (
    BaevskyIndex,
    RrHistogram,
    baevsky_index,
    central_range_s,
    clean_rr,
    rr_histogram,
    stress_index,
)

__all__ = [
    "BaevskyIndex",
    "RrHistogram",
    "baevsky_index",
    "central_range_s",
    "clean_rr",
    "register_tools",
    "rr_histogram",
    "stress_index",
]
__version__ = "0.1.0"


def register_tools(register) -> None:
    """Entry point of the ``cardioagent.tools`` group: hand each tool class to ``register``."""
    from cardioagent_hrv_stress.tool import HrvStressIndexTool

    register(HrvStressIndexTool)
