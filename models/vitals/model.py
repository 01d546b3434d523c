"""The QLoRA estimator: a causal LM loaded in 4-bit NF4 (bitsandbytes) with LoRA adapters (peft), and a
choice of two outputs.

- ``head="regression"``: a linear head on the last token's final hidden state. The prediction is
  ``base + scale * head(h)``, where ``base`` is the window's classical estimate when the prompt carries
  one (context setting) and the training mean otherwise, and ``scale`` the training spread of the
  residual. The head starts at zero, so an untrained model returns ``base``.
- ``head="text"``: the number is generated as text after the answer cue, with decoding constrained to
  the digits of numbers inside the task's plausible range (so the output always parses).

Which one is the default was decided by measurement (docs/vitals.md, bench/results/vitals.json).

LoRA sits on the attention projections (q, k, v, o) of the top ``lora_layers`` decoder layers
(``None``: all). Everything below those layers is frozen and receives no adapter, so its output for a
given prompt never changes during training: ``lower_states`` computes it once per prompt and training
runs only the top layers from that cache (``upper``). On a CPU this is what makes leave-one-recording-out
training of the embedded model fit in minutes. The cache path is used for Llama-like architectures, whose
decoder takes ``inputs_embeds`` unchanged; other architectures (GPT-2 adds position embeddings, Gemma
scales the embeddings) run the whole model at every step.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from cardioagent.models.llm.spec import LLMBackendError

log = logging.getLogger(__name__)

CACHEABLE_ARCHITECTURES = {"llama", "mistral", "qwen2", "qwen3", "phi3", "olmo", "olmo2"}
DEFAULT_TARGETS = {"gpt2": ["c_attn", "c_proj"], "default": ["q_proj", "k_proj", "v_proj", "o_proj"]}
HEAD_FILE = "head.safetensors"
CONFIG_FILE = "vitals_model.json"


class VitalsModelConfig(BaseModel):
    base: str = Field(
        "embedded",
        description="'embedded' (SmolLM2-135M-Instruct), 'gemma3-270m' (Gemma 3 270M base, from its PyPI package), a "
        "local HF folder or a hub id",
    )
    quantize_4bit: bool = True
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: list[str] | None = Field(
        None, description="default: q/k/v/o projections (c_attn/c_proj for GPT-2)"
    )
    lora_layers: int | None = Field(4, description="LoRA on the top N decoder layers; None: on all of them")
    head: Literal["regression", "text"] = "regression"
    value_range: tuple[float, float] = Field(
        (25.0, 250.0), description="plausible outputs (text decoding, clipping)"
    )
    value_decimals: int = Field(0, description="decimals of the text answer")


class _Stop(Exception):
    """Raised by a forward pre-hook to stop the model once the cached layer's input is captured."""


def resolve_base(base: str) -> str:
    if base == "embedded":
        from cardioagent.models.llm.weights import ensure_embedded_hf_copy

        return str(ensure_embedded_hf_copy())
    if base == "gemma3-270m":
        from cardioagent.models.llm.weights import ensure_gemma_hf_copy

        return str(ensure_gemma_hf_copy())
    path = Path(base).expanduser()
    return str(path) if path.exists() else base


def load_base(cfg: VitalsModelConfig, device_map: Any = None):
    """(model, tokenizer): the base causal LM, 4-bit NF4 when ``cfg.quantize_4bit``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_base(cfg.base)
    cuda = torch.cuda.is_available()
    if device_map is None:
        device_map = {"": int(os.environ.get("LOCAL_RANK", "0"))} if cuda else "cpu"
    kwargs: dict[str, Any] = {"device_map": device_map}
    if cfg.quantize_4bit:
        from transformers import BitsAndBytesConfig

        from cardioagent.models.llm.weights import _import_bitsandbytes_quietly

        try:
            _import_bitsandbytes_quietly()
        except ImportError as err:
            raise LLMBackendError(f"4-bit loading needs bitsandbytes: {err}") from None
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=False,
            bnb_4bit_compute_dtype=torch.bfloat16 if cuda else torch.float32,
        )
    else:
        kwargs["dtype"] = torch.bfloat16 if cuda else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as err:
        raise LLMBackendError(f"could not load the base model {cfg.base!r}: {err}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return model, tokenizer


def _decoder(causal_lm):
    """The decoder stack (``.layers``) inside a causal LM, however it is wrapped."""
    m = causal_lm
    for attr in ("base_model", "model"):
        while hasattr(m, attr) and not hasattr(m, "layers") and not hasattr(m, "h"):
            m = getattr(m, attr)
    return m


def _layers(decoder):
    return decoder.layers if hasattr(decoder, "layers") else decoder.h


def _keep_4bit_layers_differentiable(model) -> None:
    """Stop bitsandbytes from repacking 4-bit weights for its AVX512-BF16 CPU kernel.

    On such CPUs a ``Linear4bit`` called in eval mode without gradients converts its weight, for good, to
    a packed layout whose kernel has no backward: after one evaluation pass, gradients through the frozen
    4-bit layers silently become zero and training goes wrong (tests/test_vitals_model.py checks this).
    The unpacked kernel is about 25 % slower at inference and gives the same numbers in both modes.
    """
    try:
        import bitsandbytes as bnb
    except ImportError:  # pragma: no cover - only reached for unquantised models
        return
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


class VitalsLM:
    """A base LM with LoRA adapters and a regression head, plus the caching machinery for training."""

    def __init__(self, cfg: VitalsModelConfig, device_map: Any = None) -> None:
        import torch
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        self.cfg = cfg
        base, self.tokenizer = load_base(cfg, device_map)
        if cfg.quantize_4bit:
            # casts norms to fp32 and freezes the base; gradient checkpointing off: memory is no issue at
            # this size and recomputation would double the CPU time
            base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=False)
        model_type = getattr(base.config, "model_type", "")
        n_layers = int(base.config.num_hidden_layers)
        k = n_layers if cfg.lora_layers is None else max(1, min(int(cfg.lora_layers), n_layers))
        self.split = n_layers - k
        targets = cfg.target_modules or DEFAULT_TARGETS.get(model_type, DEFAULT_TARGETS["default"])
        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=targets,
            bias="none",
            task_type="CAUSAL_LM",
            layers_to_transform=list(range(self.split, n_layers)),
        )
        self.model = get_peft_model(base, lora)
        _keep_4bit_layers_differentiable(self.model)
        hidden = int(base.config.hidden_size)
        self.device = next(self.model.parameters()).device
        self.head = torch.nn.Linear(hidden, 1).to(self.device)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        self.cacheable = model_type in CACHEABLE_ARCHITECTURES
        self.target_mean = 0.0
        self.target_scale = 1.0
        self.decoder = _decoder(self.model)

    # ----------------------------------------------------------------------------------- parameters

    def trainable_parameters(self) -> list:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return params + (list(self.head.parameters()) if self.cfg.head == "regression" else [])

    def trainable_state(self) -> dict:
        from peft import get_peft_model_state_dict

        state = {f"lora.{k}": v.detach().clone() for k, v in get_peft_model_state_dict(self.model).items()}
        state.update({f"head.{k}": v.detach().clone() for k, v in self.head.state_dict().items()})
        return state

    def load_trainable_state(self, state: dict) -> None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(self.model, {k[5:]: v for k, v in state.items() if k.startswith("lora.")})
        self.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})

    def train(self, mode: bool = True) -> None:
        self.model.train(mode)
        self.head.train(mode)

    # --------------------------------------------------------------------------------------- forward

    def tokenize(self, texts: list[str]):
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )

    def lower_states(self, input_ids, attention_mask):
        """Hidden states entering the first adapted layer, (B, T, H); computed without gradients."""
        import torch

        layers = _layers(self.decoder)
        captured: dict[str, Any] = {}

        def grab(_module, args, kwargs):
            captured["h"] = args[0] if args else kwargs["hidden_states"]
            raise _Stop

        handle = layers[self.split].register_forward_pre_hook(grab, with_kwargs=True)
        try:
            with torch.no_grad():
                self.decoder(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        except _Stop:
            pass
        finally:
            handle.remove()
        return captured["h"].detach()

    @contextmanager
    def _top_layers_only(self):
        import torch

        full = self.decoder.layers
        self.decoder.layers = torch.nn.ModuleList(list(full)[self.split :])
        # Gemma 3 picks each layer's mask and rotary table (sliding or global) by its loop position in
        # config.layer_types, so the list must start where the layers now start
        config: Any = getattr(self.decoder, "config", None)
        types = getattr(config, "layer_types", None)
        if types is not None:
            config.layer_types = list(types)[self.split :]
        try:
            yield
        finally:
            self.decoder.layers = full
            if types is not None:
                config.layer_types = types

    def upper(self, lower, attention_mask):
        """Final (normed) hidden states from cached ``lower`` states, through the adapted layers only."""
        with self._top_layers_only():
            return self.decoder(
                inputs_embeds=lower, attention_mask=attention_mask, use_cache=False
            ).last_hidden_state

    def final_states(self, input_ids, attention_mask):
        """Final hidden states through the whole model (inference, and architectures without caching)."""
        return self.decoder(
            input_ids=input_ids, attention_mask=attention_mask, use_cache=False
        ).last_hidden_state

    def lm_logits(self, final_hidden):
        return self.model.get_output_embeddings()(final_hidden)

    def regress(self, final_hidden, attention_mask, base):
        """Predictions in target units: ``base + scale * head(h_last)``; ``base`` a (B,) tensor."""
        import torch

        last = attention_mask.sum(dim=1) - 1
        h = final_hidden[torch.arange(final_hidden.shape[0], device=final_hidden.device), last]
        return base + self.target_scale * self.head(h.float()).squeeze(-1)

    # -------------------------------------------------------------------------------- text decoding

    def allowed_answers(self) -> list[str]:
        lo, hi = self.cfg.value_range
        step = 10**-self.cfg.value_decimals
        values = np.arange(np.ceil(lo), hi + step / 2, step)
        return [f"{v:.{self.cfg.value_decimals}f}" for v in values]

    def answer_ids(self, text: str) -> list[int]:
        """Token ids of an answer as the model writes it after the cue: a space, the number, end."""
        ids = self.tokenizer(" " + text, add_special_tokens=False).input_ids
        return ids + [self.tokenizer.eos_token_id]

    def generate_numbers(self, prompts: list[str]) -> list[float]:
        """Greedy decoding constrained to the token paths of ``allowed_answers`` (always parses)."""
        import torch

        trie: dict = {}
        for text in self.allowed_answers():
            node = trie
            for t in self.answer_ids(text):
                node = node.setdefault(t, {})
            node[None] = text
        out = []
        with torch.no_grad():
            for prompt in prompts:
                enc = self.tokenize([prompt])
                res = self.model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, use_cache=True)
                past, logits, node = res.past_key_values, res.logits[0, -1], trie
                while True:
                    options = [t for t in node if t is not None]
                    if not options:
                        break
                    pick = options[int(torch.argmax(logits[options]))]
                    node = node[pick]
                    if None in node and len(node) == 1:
                        break
                    res = self.model(
                        input_ids=torch.tensor([[pick]], device=self.device),
                        past_key_values=past,
                        use_cache=True,
                    )
                    past, logits = res.past_key_values, res.logits[0, -1]
                out.append(float(node[None]) if None in node else float("nan"))
        return out

    # -------------------------------------------------------------------------------------- save/load

    def save(self, folder: str | Path, extra: dict | None = None) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # name the base as the user gave it ("embedded", an id), not this machine's cache path
        self.model.peft_config["default"].base_model_name_or_path = self.cfg.base
        self.model.save_pretrained(str(folder))
        (folder / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
        if self.cfg.head == "regression":
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
                folder / HEAD_FILE,
            )
        meta = {
            "model": self.cfg.model_dump(),
            "target_mean": self.target_mean,
            "target_scale": self.target_scale,
            **(extra or {}),
        }
        (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, folder: str | Path, device_map: Any = None) -> tuple[VitalsLM, dict]:
        """A model with the adapters, head and scaling saved in ``folder``, and the saved metadata."""
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        folder = Path(folder)
        meta = json.loads((folder / CONFIG_FILE).read_text())
        self = cls(VitalsModelConfig(**meta["model"]), device_map)
        adapter = folder / "adapter_model.safetensors"
        set_peft_model_state_dict(self.model, load_file(str(adapter), device=str(self.device)))
        if (folder / HEAD_FILE).is_file():
            self.head.load_state_dict(load_file(str(folder / HEAD_FILE), device=str(self.device)))
        self.target_mean = float(meta["target_mean"])
        self.target_scale = float(meta["target_scale"])
        self.train(False)
        return self, meta
