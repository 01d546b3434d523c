r"""The agent graph, on one screen.

    START -> triage -> plan --(calls pending)--> act --> plan  (loops while the planner asks for more)
                          \--(nothing pending)--> answer -> ground -> END

triage: emergency check and modality routing, no model involved. plan: the deterministic planner (default
for the embedded model) or native tool calls (a configured model, or the fine-tuned question parser when an
adapter ships), validated by the planner. act: runs the calls with timeouts,
retries and typed errors. answer: findings from tool outputs + CKEPE knowledge with citations (+ an optional
plain-words paragraph by the LLM; + a rule-based "**Answer:**" line when the caller gave closed-question
options, as the evaluation harness does). ground: drops any sentence with a number no tool produced.
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from cardioagent.agent.nodes import Nodes
from cardioagent.agent.state import AgentState


def build_graph(
    nodes: Nodes, checkpointer: BaseCheckpointSaver[str] | None = None
) -> CompiledStateGraph[AgentState, None, AgentState, AgentState]:
    graph = StateGraph(AgentState)
    graph.add_node("triage", nodes.triage)
    graph.add_node("plan", nodes.plan)
    graph.add_node("act", nodes.act)
    graph.add_node("answer", nodes.answer)
    graph.add_node("ground", nodes.ground)
    graph.add_edge(START, "triage")
    graph.add_edge("triage", "plan")
    graph.add_conditional_edges("plan", lambda s: "act" if s.get("pending") else "answer", ["act", "answer"])
    graph.add_edge("act", "plan")
    graph.add_edge("answer", "ground")
    graph.add_edge("ground", END)
    return graph.compile(checkpointer=checkpointer)
