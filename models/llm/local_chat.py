"""A langchain chat model over a local transformers causal LM, with tool calling.

langchain-huggingface's ChatHuggingFace cannot run a tool loop over a local pipeline (it neither passes
``tools=`` to the chat template nor parses calls out of the text), so this adapter does both:

- tools bound with ``bind_tools`` travel as OpenAI-style JSON schemas into
  ``tokenizer.apply_chat_template(..., tools=...)`` when the template uses them (Qwen, Llama 3.1, Hermes...);
- templates that ignore ``tools=`` (SmolLM2's does: it renders the same string with or without them) get
  the schemas in the system prompt instead, in the ``<tools>`` / ``<tool_call>[...]</tool_call>`` format
  SmolLM2 was fine-tuned on for function calling; earlier calls and tool results are written into the
  conversation in that same format;
- the generated text is parsed by ``tool_calls.parse_tool_calls`` into ``AIMessage.tool_calls`` (bad JSON
  becomes ``invalid_tool_calls``, never an exception).

Generation is greedy by default, under ``torch.inference_mode`` with the KV cache, and stops at EOS /
``<|im_end|>``. On CPU a small model runs fastest on ONE intra-op thread: its matrices are too small
for threads to pay off, and on a busy machine a second OpenMP thread that waits for a core makes every
step several times slower (see bench/llm_latency.py). ``threads`` or ``$CARDIOAGENT_LLM_THREADS`` overrides.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from cardioagent.models.llm.chat_base import ToolBindingChatModel, role_dicts, text_of
from cardioagent.models.llm.spec import LLMBackendError
from cardioagent.models.llm.tool_calls import parse_tool_calls

THREADS_ENV = "CARDIOAGENT_LLM_THREADS"
_FORCE_CHOICES = ("any", "required")

_TOOLS_SYSTEM_PROMPT = """\
You can call functions. You are given a question and a set of possible functions.
If a function is needed to answer the question, call one or more of them; otherwise answer directly.
If the question lacks a parameter that a function requires, say so instead of guessing.

You have access to the following tools:
<tools>{tools}</tools>

To call functions, reply with only the calls, in exactly this format:
<tool_call>[
{{"name": "func_name1", "arguments": {{"argument1": "value1", "argument2": "value2"}}}}
]</tool_call>"""


def forced_tool_name(tool_choice: Any) -> str | None:
    """The one tool a tool_choice names, if it names one."""
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else tool_choice.get("name")
        return name if isinstance(name, str) else None
    if isinstance(tool_choice, str) and tool_choice not in ("auto", "none", *_FORCE_CHOICES):
        return tool_choice
    return None


def default_threads(n_params: int) -> int:
    env = os.environ.get(THREADS_ENV, "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if n_params < 1_000_000_000:
        return 1
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(8, available))


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    target = n if n is not None and n != previous else None  # None: leave the thread count as it is
    if target is not None:
        torch.set_num_threads(target)
    try:
        yield
    finally:
        if target is not None:
            torch.set_num_threads(previous)


class LocalChatModel(ToolBindingChatModel):
    """Chat model over ``hf_model`` (a transformers causal LM) and its ``tokenizer``."""

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    hf_model: Any = Field(repr=False, exclude=True)
    tokenizer: Any = Field(repr=False, exclude=True)
    model_name: str = "local"
    max_new_tokens: int = 256
    threads: int | None = Field(default=None, description="torch intra-op threads; None = default_threads")

    _native_tools: bool | None = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "cardioagent-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
        }

    # -- tools -------------------------------------------------------------------------------------------

    @property
    def template_uses_tools(self) -> bool:
        """Whether the chat template renders ``tools=`` (checked once by rendering with and without)."""
        if self._native_tools is None:
            probe_messages = [{"role": "user", "content": "hello"}]
            probe_tool = {
                "type": "function",
                "function": {
                    "name": "cardioagent_probe_tool",
                    "description": "probe",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
            try:
                with_tools = self.tokenizer.apply_chat_template(
                    probe_messages, tools=[probe_tool], tokenize=False, add_generation_prompt=True
                )
                without = self.tokenizer.apply_chat_template(
                    probe_messages, tokenize=False, add_generation_prompt=True
                )
                self._native_tools = with_tools != without and "cardioagent_probe_tool" in with_tools
            except Exception:  # noqa: BLE001 - any template failure means: do not rely on it
                self._native_tools = False
        return self._native_tools

    # -- prompt ------------------------------------------------------------------------------------------

    def render_prompt(
        self,
        messages: Sequence[BaseMessage],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
    ) -> tuple[str, str]:
        """(prompt text for the model, prefill): the prefill is appended to the prompt to force a call
        and belongs to the reply (it is prepended to the generated text before parsing)."""
        tools = self.tools if tools is None else tools
        tool_choice = self.tool_choice if tool_choice is None else tool_choice
        if tool_choice == "none":
            tools = []
        native = bool(tools) and self.template_uses_tools
        chat = to_chat_dicts(messages, native_tools=native)
        if tools and not native:
            chat = _with_tools_system_prompt(chat, tools)
        kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": True}
        if native:
            kwargs["tools"] = tools
        try:
            prompt = self.tokenizer.apply_chat_template(chat, **kwargs)
        except Exception as err:  # noqa: BLE001 - jinja errors have many types
            raise LLMBackendError(
                f"the chat template of {self.model_name} rejected the conversation: {err}"
            ) from None
        prefill = ""
        if tools and not native:
            name = forced_tool_name(tool_choice)
            if name:
                prefill = '<tool_call>[{"name": ' + json.dumps(name) + ', "arguments": {'
            elif tool_choice in _FORCE_CHOICES or tool_choice is True:
                prefill = '<tool_call>[{"name": "'
        return prompt + prefill, prefill

    # -- generation --------------------------------------------------------------------------------------

    def _stop_token_ids(self) -> list[int]:
        ids: set[int] = set()
        generation_eos = getattr(self.hf_model.generation_config, "eos_token_id", None)
        for source in (self.tokenizer.eos_token_id, generation_eos):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, (list, tuple)):
                ids.update(i for i in source if isinstance(i, int))
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != self.tokenizer.unk_token_id:
            ids.add(im_end)
        return sorted(ids)

    def _generate_kwargs(self, stop: list[str] | None) -> dict[str, Any]:
        stop_ids = self._stop_token_ids()
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else stop_ids[0]
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "eos_token_id": stop_ids,
            "pad_token_id": pad,
            "use_cache": True,
        }
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=self.tokenizer)
        return kwargs

    def _encode(self, prompt: str) -> dict[str, Any]:
        encoded = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        n_prompt = int(encoded["input_ids"].shape[1])
        limit = getattr(self.hf_model.config, "max_position_embeddings", None)
        if limit and n_prompt + self.max_new_tokens > limit:
            raise LLMBackendError(
                f"the conversation is {n_prompt} tokens; with {self.max_new_tokens} new tokens it exceeds "
                f"the {limit}-token context of {self.model_name}. Start a new conversation."
            )
        return {k: v.to(self.hf_model.device) for k, v in encoded.items()}

    def _threads(self) -> int | None:
        if self.hf_model.device.type != "cpu":
            return None
        if self.threads:
            return self.threads
        return default_threads(sum(p.numel() for p in self.hf_model.parameters()))

    def generate_text(
        self, prompt: str, stop: list[str] | None = None, min_new_tokens: int = 0
    ) -> tuple[str, dict[str, Any]]:
        """Greedy (or sampled) continuation of a rendered prompt -> (text, usage/timing metadata).

        ``min_new_tokens`` suppresses EOS until that many tokens exist (benchmarks use it for fixed lengths).
        """
        import torch

        inputs = self._encode(prompt)
        n_prompt = int(inputs["input_ids"].shape[1])
        with self._lock, _torch_threads(self._threads()), torch.inference_mode():
            started = time.perf_counter()
            extra = {"min_new_tokens": min_new_tokens} if min_new_tokens else {}
            output = self.hf_model.generate(**inputs, **self._generate_kwargs(stop), **extra)
            seconds = time.perf_counter() - started
        new_ids = output[0, n_prompt:]
        n_new = int(new_ids.shape[0])
        hit_eos = n_new > 0 and int(new_ids[-1]) in self._stop_token_ids()
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        text = _cut_at_stop(text, stop)
        meta = {
            "input_tokens": n_prompt,
            "output_tokens": n_new,
            "generation_seconds": round(seconds, 3),
            "tokens_per_second": round(n_new / seconds, 2) if seconds > 0 else None,
            "finish_reason": "length" if (n_new >= self.max_new_tokens and not hit_eos) else "stop",
        }
        return text, meta

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools, tool_choice = self.tools_for_call(kwargs)
        message = self._reply(messages, stop, tools, tool_choice)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _reply(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        tools: list[dict[str, Any]],
        tool_choice: Any,
    ) -> AIMessage:
        """The whole reply as one message (tool calls parsed when tools are bound and may be called)."""
        prompt, prefill = self.render_prompt(messages, tools, tool_choice)
        text, meta = self.generate_text(prompt, stop)
        return self._to_message(prefill + text, meta, tools if tool_choice != "none" else [])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        tools, tool_choice = self.tools_for_call(kwargs)
        if tools and tool_choice != "none":
            # Tool-call markup must not reach the user half-written, and chunks cannot be taken back:
            # with tools bound, the reply is generated whole and sent as one chunk.
            message = self._reply(messages, stop, tools, tool_choice)
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content=message.content,
                    tool_call_chunks=[
                        {
                            "name": c["name"],
                            "args": json.dumps(c["args"]),
                            "id": c["id"],
                            "index": i,
                            "type": "tool_call_chunk",
                        }
                        for i, c in enumerate(message.tool_calls)
                    ],
                    invalid_tool_calls=message.invalid_tool_calls,
                    usage_metadata=message.usage_metadata,
                    response_metadata=message.response_metadata,
                )
            )
            return
        yield from self._stream_text(messages, stop, run_manager)

    def _stream_text(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
    ) -> Iterator[ChatGenerationChunk]:
        import torch
        from transformers import TextIteratorStreamer

        prompt, _ = self.render_prompt(messages, [], "none")
        inputs = self._encode(prompt)
        n_prompt = int(inputs["input_ids"].shape[1])
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                with self._lock, _torch_threads(self._threads()), torch.inference_mode():
                    box["output"] = self.hf_model.generate(
                        **inputs, **self._generate_kwargs(stop), streamer=streamer
                    )
            except Exception as err:  # noqa: BLE001 - re-raised in the caller's thread below
                box["error"] = err
                streamer.end()

        started = time.perf_counter()
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        emitted = ""
        stopped = False
        for piece in streamer:  # drained to the end so the worker never blocks on a full queue
            if stopped or not piece:
                continue
            if stop:
                joined = emitted + piece
                cut = _cut_at_stop(joined, stop)
                stopped = len(cut) < len(joined)
                piece = cut[len(emitted) :]
            emitted += piece
            if piece:
                if run_manager:
                    run_manager.on_llm_new_token(piece)
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        worker.join()
        if "error" in box:
            raise LLMBackendError(f"{self.model_name} failed while generating: {box['error']}")
        seconds = time.perf_counter() - started
        n_new = int(box["output"].shape[1] - n_prompt) if "output" in box else 0
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={
                    "input_tokens": n_prompt,
                    "output_tokens": n_new,
                    "total_tokens": n_prompt + n_new,
                },
                response_metadata={
                    "model_name": self.model_name,
                    "generation_seconds": round(seconds, 3),
                    "finish_reason": "stop",
                },
            )
        )

    def _to_message(self, text: str, meta: dict[str, Any], tools: list[dict[str, Any]]) -> AIMessage:
        names = [t["function"]["name"] for t in tools]
        if names:
            parsed = parse_tool_calls(text, names)
            content, calls, invalid = parsed.content, parsed.tool_calls, parsed.invalid_tool_calls
        else:
            content, calls, invalid = text.strip(), [], []
        finish = "tool_calls" if calls else meta["finish_reason"]
        return AIMessage(
            content=content,
            tool_calls=calls,
            invalid_tool_calls=invalid,
            usage_metadata={
                "input_tokens": meta["input_tokens"],
                "output_tokens": meta["output_tokens"],
                "total_tokens": meta["input_tokens"] + meta["output_tokens"],
            },
            response_metadata={
                **meta,
                "finish_reason": finish,
                "model_name": self.model_name,
                "raw_text": text,
            },
        )


def _cut_at_stop(text: str, stop: list[str] | None) -> str:
    if not stop:
        return text
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


# -- langchain messages -> chat-template dicts -------------------------------------------------------------


def to_chat_dicts(messages: Sequence[BaseMessage], native_tools: bool) -> list[dict[str, Any]]:
    """Langchain messages as ``[{"role", "content", ...}]`` for ``apply_chat_template``.

    With ``native_tools`` earlier calls and results use the HF convention (``tool_calls`` on assistant
    turns, ``role: tool`` turns); without it they are written as text in the ``<tool_call>`` format of
    the system prompt, with tool results as a user turn holding ``<tool_response>`` blocks (consecutive
    results in one turn), because such templates know no ``tool`` role.
    """

    def tool(msg: ToolMessage) -> dict[str, Any]:
        content = text_of(msg.content)
        if native_tools:
            return {
                "role": "tool",
                "content": content,
                "tool_call_id": msg.tool_call_id,
                "name": msg.name or "",
            }
        block = (
            "<tool_response>"
            + json.dumps(
                {"name": msg.name or _tool_name_for(messages, msg), "content": content}, ensure_ascii=False
            )
            + "</tool_response>"
        )
        return {"role": "user", "content": block, "_tool_results": True}

    chat: list[dict[str, Any]] = []
    for entry in role_dicts(messages, assistant=lambda m: _assistant_dict(m, native_tools), tool=tool):
        if entry.get("_tool_results") and chat and chat[-1].get("_tool_results"):
            chat[-1]["content"] += "\n" + entry["content"]
        else:
            chat.append(entry)
    for entry in chat:
        entry.pop("_tool_results", None)
    return chat


def _assistant_dict(msg: AIMessage, native_tools: bool) -> dict[str, Any]:
    content = text_of(msg.content)
    if not msg.tool_calls:
        return {"role": "assistant", "content": content}
    if native_tools:
        return {
            "role": "assistant",
            "content": content,
            "tool_calls": [
                {
                    "id": c.get("id"),
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["args"]},
                }
                for c in msg.tool_calls
            ],
        }
    calls = json.dumps(
        [{"name": c["name"], "arguments": c["args"]} for c in msg.tool_calls], ensure_ascii=False
    )
    text = (content.strip() + "\n" if content.strip() else "") + f"<tool_call>{calls}</tool_call>"
    return {"role": "assistant", "content": text}


def _tool_name_for(messages: Sequence[BaseMessage], tool_msg: ToolMessage) -> str:
    for msg in messages:
        if isinstance(msg, AIMessage):
            for call in msg.tool_calls:
                if call.get("id") == tool_msg.tool_call_id:
                    return call["name"]
    return ""


def _with_tools_system_prompt(
    chat: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    functions = [t.get("function", t) for t in tools]
    block = _TOOLS_SYSTEM_PROMPT.format(tools=json.dumps(functions, ensure_ascii=False))
    if chat and chat[0]["role"] == "system":
        return [{"role": "system", "content": chat[0]["content"].rstrip() + "\n\n" + block}, *chat[1:]]
    return [{"role": "system", "content": block}, *chat]
