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


# Higher is better: how flags compare (the best channel, the worse of two flags, "at least acceptable").
QUALITY_RANK = {Quality.GOOD: 3, Quality.ACCEPTABLE: 2, Quality.POOR: 1, Quality.UNUSABLE: 0}


def worse(a: Quality, b: Quality) -> Quality:
    """The less trustworthy of two flags: a number is no better than the worst thing it rests on."""
    return a if QUALITY_RANK[a] <= QUALITY_RANK[b] else b
