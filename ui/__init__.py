"""ui/ — the ways a person reaches the agent: the Gradio chat app and the ``cardioagent`` command line.

Both talk to the agent only through its public API (``cardioagent.agent``); the command line also wires in
each room's own sub-commands (``tools``, ``kb``, ``train``) through their ``commands.register`` functions.

May import: every other room. Nothing imports ``ui``.
"""
