"""How far a number computed from a signal can be trusted: the flag every measurement carries.

It lives with the signal math that decides it (``sqi``, the detectors), not with the tool contract, so
pure signal functions never depend on the contract; ``cardioagent.tools.contract`` re-exports it for
tools and plugins.
"""

from __future__ import annotations

from enum import Enum


class Quality(str, Enum):
    GOOD = "good"
    ACCEPTABLE = "acceptable"
    POOR = "poor"  # a number is given but should not be trusted on its own
    UNUSABLE = "unusable"  # no number is given
