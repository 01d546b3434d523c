"""The one place that says where cardioagent keeps its state on disk.

Every room reads it from here (tools is the lowest layer, so models, the knowledge base and the agent can
all import it without reaching upward).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = "~/.cardioagent"


def cardio_home() -> Path:
    """Root of everything stored: conversations, uploaded recordings, the knowledge store, model caches.

    ``CARDIOAGENT_HOME`` set to an empty string means "not set": an empty path would otherwise put the
    store in the current directory.
    """
    return Path(os.environ.get("CARDIOAGENT_HOME") or DEFAULT_HOME).expanduser()
