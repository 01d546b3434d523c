"""Everything in cardioagent that has weights.

This room holds the LLM backends (``cardioagent.models.llm``: the embedded SmolLM2, local HF models,
OpenAI-compatible servers), the QLoRA vitals estimators, the ECG-image VLM, their training and evaluation
code, and the small adapters shipped with the package.

Dependencies point one way: code here may import ``cardioagent.tools`` (the tool contract, errors, signal
I/O) but never ``cardioagent.agent`` or ``cardioagent.ui``. Nothing here downloads weights at run time.
"""
