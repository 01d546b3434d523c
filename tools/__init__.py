"""tools/ — what the agent can do to a recording, and the contract third parties follow to add more.

Lives here:
- ``contract``: the tool contract (name, description, modalities, pydantic input/output models, ``run``),
  ``Measurement`` and ``ToolResult``.
- ``registry``: discovery through the entry-point group ``cardioagent.tools`` (built-in tools register the
  same way third-party plugins do), contract checks, execution with timeouts, retries and typed errors.
- ``signal/``: the ``Recording`` model, loaders (WFDB, EDF, CSV, NumPy, images), pure signal math
  (filters, peaks, delineation, quality), rendering, windowing and augmentation.
- ``analysis/``: analysis functions over a ``Recording`` that return typed results.
- ``builtin/``: the built-in signal tools, thin wrappers over ``analysis/``.
- ``vocabulary/``: the one clinical vocabulary (findings, leads, noise kinds, quantities with normal ranges)
  that tools, CKEPE, the planner, closed-question rules and knowledge search all key on.
- ``errors``: user-facing typed errors.

May import: third-party libraries only. Never ``cardioagent.agent``, ``models``, ``knowledge_base`` or ``ui``:
the other rooms build on this one.
"""
