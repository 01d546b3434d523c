"""agent/ — the LangGraph agent and its public API.

Lives here: the graph (routing by modality, planning, tool execution, answer assembly), the state, the
grounding check, safety (emergency advice, no diagnosis claims), memory (SQLite checkpointer and the session
store of uploaded recordings), the ``Assistant`` API used alike by the UI, the CLI and the evaluation
harness, and the scripted evaluation harness.

May import: ``cardioagent.tools``, ``cardioagent.models``, ``cardioagent.knowledge_base`` and third-party
libraries. Never ``cardioagent.ui``.
"""
