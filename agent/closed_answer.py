"""Closed questions (allowed answers given): one recording's rules or the comparison of several.

The entry point the graph calls; it sits above ``closed_question`` (one recording) and ``comparison``
(two or more), so neither needs the other at import time.
"""

from __future__ import annotations

from cardioagent.agent.closed_question import ClosedAnswer, decide_one, facts_of
from cardioagent.agent.comparison import compare
from cardioagent.agent.state import ToolCallRecord


def decide(
    question: str, options: list[str], records: list[ToolCallRecord], range_profile: str = "clinical"
) -> ClosedAnswer:
    """The option(s) this turn's tool outputs support."""
    f = facts_of(records)
    opts = [o for o in options if o.strip()]
    if len(f.recordings) > 1:
        return compare(question, opts, [facts_of(records, rid) for rid in f.order], range_profile)
    return decide_one(question, opts, f)
