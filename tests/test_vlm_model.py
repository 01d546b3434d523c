"""The embedded ECG-image VLM (LLaVA: ECG CNN tower + projector + SmolLM2 in 4-bit NF4 with LoRA) and
the same loading/LoRA path on a tiny random Llama-3.2-Vision (Mllama): the LoRA targets exclude
``lm_head`` and ``embed_tokens``, the base language model is 4-bit, and one training step only moves
the vision tower, the projector and the adapters."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("bitsandbytes")

from cardioagent.models.llm.weights import embedded_model_available, ensure_embedded_hf_copy
from cardioagent.models.vlm.instruct import facts_from_synth, sample_pairs
from cardioagent.models.vlm.model import (
    LORA_TARGET_REGEX,
    LORA_TARGETS,
    EcgVisionConfig,
    EcgVisionModel,
    VlmSpec,
    add_lora,
    build_batch,
    load_embedded_vlm,
    load_mllama,
    lora_target_names,
    parameter_bytes,
    trainable_parameter_names,
)
from cardioagent.models.vlm.synth import generate
from cardioagent.tools.signal.render.paper import render_12lead

torch.set_num_threads(1)
pytestmark = pytest.mark.slow  # loads SmolLM2 (and converts it once into a temporary home)


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    reason = embedded_model_available()
    if reason:
        pytest.fail(f"the embedded model is part of the install: {reason}")
    home = tmp_path_factory.mktemp("vlm-home")
    previous = os.environ.get("CARDIOAGENT_HOME")
    os.environ["CARDIOAGENT_HOME"] = str(home)
    try:
        yield ensure_embedded_hf_copy()
    finally:
        if previous is None:
            os.environ.pop("CARDIOAGENT_HOME", None)
        else:
            os.environ["CARDIOAGENT_HOME"] = previous


@pytest.fixture(scope="module")
def bundle(lm_dir):
    return add_lora(load_embedded_vlm(lm_dir, VlmSpec(image_size=(128, 224), token_grid=(2, 6))))


def _examples(n: int):
    out = []
    for seed in range(n):
        rec, labels = generate(np.random.default_rng(seed))
        img = render_12lead(rec, dpi=40, paper="compact", show_header=False).image
        pair = sample_pairs(facts_from_synth(labels, f"s{seed}"), np.random.default_rng(seed), 2)[1]
        out.append((img, pair.question, pair.answer))
    return out


def test_lora_targets_exclude_lm_head_and_embed_tokens(bundle):
    names = lora_target_names(bundle.model)
    n_layers = bundle.model.base_model.model.config.text_config.num_hidden_layers
    assert len(names) == n_layers * len(LORA_TARGETS)
    for name in names:
        assert ".language_model." in name and name.rsplit(".", 1)[1] in LORA_TARGETS, name
        assert "lm_head" not in name and "embed_tokens" not in name and "vision_tower" not in name
    assert not any(
        re.fullmatch(LORA_TARGET_REGEX, n) for n in ("lm_head", "model.language_model.embed_tokens")
    )
    assert bundle.model.peft_config["default"].target_modules == LORA_TARGET_REGEX


def test_base_language_model_is_4bit_nf4(bundle):
    import bitsandbytes as bnb

    llava = bundle.model.base_model.model
    linears = [
        (n, m) for n, m in llava.model.language_model.named_modules() if isinstance(m, torch.nn.Linear)
    ]
    base_layers = [(n, m) for n, m in linears if n.endswith(LORA_TARGETS) or ".base_layer" in n]
    quantized = [(n, m) for n, m in linears if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == len(lora_target_names(bundle.model)) and base_layers
    for _, m in quantized:
        assert m.weight.quant_state.quant_type == "nf4" and not m.weight.requires_grad
    # lm_head, the embeddings and the vision parts stay full precision
    assert not isinstance(llava.lm_head, bnb.nn.Linear4bit)
    assert llava.model.language_model.embed_tokens.weight.dtype == torch.float32
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in llava.model.vision_tower.modules())
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in llava.model.multi_modal_projector.modules())


def test_training_step_moves_only_vision_projector_and_lora(bundle):
    model = bundle.model
    model.train()
    ex = _examples(2)
    batch = build_batch(bundle, [e[0] for e in ex], [e[1] for e in ex], [e[2] for e in ex])
    n_img = bundle.processor.n_image_tokens
    assert (batch["input_ids"] == bundle.processor.image_token_id).sum(dim=1).tolist() == [n_img, n_img]
    model.zero_grad(set_to_none=True)
    out = model(**batch)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    moved = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    for n in with_grad:
        assert "lora_" in n or ".vision_tower." in n or ".multi_modal_projector." in n, n
    assert any("lora_A" in n for n in with_grad)  # zero at the first step: lora_B starts at zero
    for group in ("lora_B", ".vision_tower.", ".multi_modal_projector."):
        assert any(group in n for n in moved), group
    frozen = [
        n
        for n, p in model.named_parameters()
        if ("embed_tokens" in n or "lm_head" in n or "norm" in n and "language_model" in n)
    ]
    assert frozen and not any(dict(model.named_parameters())[n].requires_grad for n in frozen)
    # what would ship: encoder + projector + adapters, stored as fp16
    size = parameter_bytes(model, trainable_parameter_names(model))
    assert size < 60e6, size


def test_labels_hold_only_the_answer(bundle):
    ex = _examples(1)
    batch = build_batch(bundle, [ex[0][0]], [ex[0][1]], [ex[0][2]])
    tok = bundle.processor.tokenizer
    kept = batch["labels"][0][batch["labels"][0] != -100]
    assert tok.decode(kept) == ex[0][2] + tok.eos_token
    prompt_only = build_batch(bundle, [ex[0][0]], [ex[0][1]])
    assert "labels" not in prompt_only and prompt_only["pixel_values"].shape == (1, 3, 128, 224)


def test_generation_runs_from_an_image(bundle):
    model = bundle.model
    model.eval()
    ex = _examples(1)
    batch = build_batch(bundle, [ex[0][0]], [ex[0][1]])
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=3, do_sample=False)
    assert (
        out.shape[1] == batch["input_ids"].shape[1] + 3
        or out[0, -1] == bundle.processor.tokenizer.eos_token_id
    )


def test_the_trace_tower_runs_inside_llava_with_the_reading_in_the_prompt(lm_dir):
    """The shipped design: the digitizing tower inside the same stock LLaVA, and the label head's reading
    as text before the question; labels still cover only the answer, and a step moves the adapters."""
    spec = VlmSpec(
        tower="trace",
        trace_columns=256,
        trace_channels=(8, 8, 16, 16, 16),
        trace_hidden=32,
        prompt_reading=True,
    )
    b = add_lora(load_embedded_vlm(lm_dir, spec))
    ex = _examples(1)
    reading = "Image reading:\nRhythm: Sinus rhythm.\nRate: 64 bpm (normal)."
    batch = build_batch(b, [ex[0][0]], [ex[0][1]], [ex[0][2]], readings=[reading])
    tok = b.processor.tokenizer
    text = tok.decode(batch["input_ids"][0])
    assert text.index("Rate: 64 bpm") < text.index(ex[0][1])  # the reading comes before the question
    kept = batch["labels"][0][batch["labels"][0] != -100]
    assert tok.decode(kept) == ex[0][2] + tok.eos_token
    assert batch["pixel_values"].shape == (1, spec.vision_config().n_input_channels, 256)
    assert (batch["input_ids"] == b.processor.image_token_id).sum() == spec.vision_config().n_image_tokens
    b.model.train()
    out = b.model(**batch)
    out.loss.backward()
    assert any("lora_A" in n and p.grad is not None for n, p in b.model.named_parameters())
    assert not any(
        re.fullmatch(LORA_TARGET_REGEX, n) for n, _ in b.model.named_modules() if "vision_tower" in n
    )


def test_vision_tower_shapes_and_size():
    cfg = EcgVisionConfig()
    tower = EcgVisionModel(cfg)
    x = torch.zeros(2, 3, *cfg.image_size)
    out = tower(x)
    assert out.last_hidden_state.shape == (2, cfg.n_image_tokens, cfg.hidden_size)
    assert out.hidden_states[-1] is out.last_hidden_state
    assert out.finding_logits.shape == (2, cfg.n_findings) and out.numbers.shape == (2, cfg.n_numbers)
    n_params = sum(p.numel() for p in tower.parameters())
    assert 1e6 < n_params < 8e6, n_params


def test_mllama_family_loads_4bit_with_the_same_lora_targets(tmp_path):
    """A tiny random Llama-3.2-Vision: the path a user with the real weights takes."""
    import bitsandbytes as bnb
    from transformers import MllamaConfig, MllamaForConditionalGeneration
    from transformers.models.mllama.configuration_mllama import MllamaTextConfig, MllamaVisionConfig

    vision = MllamaVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_global_layers=1,
        attention_heads=2,
        image_size=28,
        patch_size=14,
        max_num_tiles=1,
        vision_output_dim=64,
        intermediate_layers_indices=[0],
        supported_aspect_ratios=[[1, 1]],
    )
    text = MllamaTextConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        vocab_size=300,
        cross_attention_layers=[1],
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    MllamaForConditionalGeneration(
        MllamaConfig(vision_config=vision, text_config=text, image_token_index=299)
    ).save_pretrained(tmp_path)
    b = add_lora(load_mllama(tmp_path, VlmSpec(family="mllama", base=str(tmp_path), lora_r=2, lora_alpha=4)))
    names = lora_target_names(b.model)
    assert names and all(".language_model." in n for n in names)
    assert any(".cross_attn." in n for n in names)  # the cross-attention layers are adapted too
    assert not any("lm_head" in n or "embed_tokens" in n or "vision_model" in n for n in names)
    mllama = b.model.base_model.model
    assert all(
        isinstance(m, bnb.nn.Linear4bit)
        for n, m in mllama.model.language_model.named_modules()
        if n.endswith(("q_proj.base_layer", "down_proj.base_layer"))
    )
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in mllama.model.vision_model.modules())
    assert not trainable_parameter_names(b.model) or all(
        "lora_" in n for n in trainable_parameter_names(b.model)
    )
