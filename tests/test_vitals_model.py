"""The QLoRA model: the base really is 4-bit NF4, only LoRA parameters (plus the regression head) train,
the lower-layer cache is exact, and adapters survive a save/load round trip. One model load per module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cardioagent.models.llm.weights import embedded_model_available

pytestmark = pytest.mark.slow

PROMPTS = [
    "Estimate the heart rate from a 8 s PPG window.\nPPG peaks (bpm:power) 151:100 80:40.\n"
    "Tracked rate 151.\nHeart rate (bpm):",
    "Estimate the heart rate from a 10 s ECG window.\nR-peaks 12; R-peak rate 74.9.\nHeart rate (bpm):",
]


@pytest.fixture(scope="module")
def lm(shared_home):
    reason = embedded_model_available()
    if reason:
        pytest.fail(f"the embedded model is part of the install: {reason}")
    from cardioagent.models.vitals.model import VitalsLM, VitalsModelConfig

    torch.manual_seed(0)
    return VitalsLM(VitalsModelConfig(lora_layers=4))


def test_base_model_is_4bit_nf4(lm):
    import bitsandbytes as bnb

    linears = [
        (n, m)
        for n, m in lm.model.named_modules()
        if isinstance(m, torch.nn.Linear) and ".layers." in n and "lora_" not in n
    ]
    assert len(linears) == 30 * 7  # q, k, v, o, gate, up, down in each of the 30 decoder layers
    assert all(isinstance(m, bnb.nn.Linear4bit) for _, m in linears), [
        n for n, m in linears if not isinstance(m, bnb.nn.Linear4bit)
    ][:3]
    w = linears[0][1].weight
    assert w.quant_state.quant_type == "nf4" and w.dtype == torch.uint8


def test_only_lora_parameters_train(lm):
    trainable = {n: p for n, p in lm.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_A" in n or "lora_B" in n for n in trainable)
    layers = {int(n.split(".layers.")[1].split(".")[0]) for n in trainable}
    assert layers == {26, 27, 28, 29}  # the top four decoder layers
    # r=8 on q (576->576), k and v (576->192), o (576->576): 30,720 per layer
    assert sum(p.numel() for p in trainable.values()) == 4 * 30_720
    frozen = [n for n, p in lm.model.named_parameters() if not p.requires_grad]
    assert any("embed_tokens" in n for n in frozen) and any("mlp" in n for n in frozen)
    head = list(lm.head.parameters())
    assert sum(p.numel() for p in head) == 577  # the regression head: one linear unit on 576 features
    assert {id(p) for p in lm.trainable_parameters()} == {id(p) for p in [*trainable.values(), *head]}


def test_cached_lower_layers_give_exactly_the_full_forward(lm):
    enc = lm.tokenize(PROMPTS)
    with torch.no_grad():
        full = lm.final_states(enc.input_ids, enc.attention_mask)
        low = lm.lower_states(enc.input_ids, enc.attention_mask)
        cached = lm.upper(low, enc.attention_mask)
    real = enc.attention_mask.bool()
    assert torch.equal(cached[real], full[real])
    assert low.shape[:2] == enc.input_ids.shape


def test_untrained_head_returns_the_anchor_and_gradients_reach_lora(lm):
    """Also after an inference pass in eval mode (which, unchecked, repacks bitsandbytes' CPU weights into
    a layout without a backward pass and silently zeroes these gradients)."""
    enc = lm.tokenize(PROMPTS)
    lm.train(False)
    with torch.no_grad():
        lm.final_states(enc.input_ids, enc.attention_mask)
    low = lm.lower_states(enc.input_ids, enc.attention_mask)
    base = torch.tensor([151.0, 74.9])
    with torch.no_grad():
        pred = lm.regress(lm.upper(low, enc.attention_mask), enc.attention_mask, base)
    assert torch.equal(pred, base)
    lm.train(True)
    try:
        out = lm.regress(lm.upper(low, enc.attention_mask), enc.attention_mask, base)
        # the head is zero, so only it gets a gradient on the first step; give it weight to reach LoRA
        with torch.no_grad():
            lm.head.weight.normal_(0, 0.01)
        out = lm.regress(lm.upper(low, enc.attention_mask), enc.attention_mask, base)
        ((out - 140.0) ** 2).mean().backward()
        # LoRA B starts at zero (the adapted model starts as the base), so B gets the first gradient
        grads = {n: p.grad for n, p in lm.model.named_parameters() if "lora_B" in n and p.grad is not None}
        assert len(grads) == 16 and all(float(g.abs().sum()) > 0 for g in grads.values()), {
            n.split("layers.")[1]: float(g.abs().sum()) for n, g in grads.items()
        }
    finally:
        lm.model.zero_grad(set_to_none=True)
        lm.head.zero_grad(set_to_none=True)
        torch.nn.init.zeros_(lm.head.weight)
        lm.train(False)


def test_4bit_matmul_backpropagates_to_its_input():
    """The LoRA gradient of every adapted layer below the top one flows through frozen 4-bit weights."""
    import bitsandbytes as bnb

    torch.manual_seed(1)
    dense = torch.nn.Linear(64, 32, bias=False)
    q = bnb.nn.Linear4bit(64, 32, bias=False, compute_dtype=torch.float32, quant_type="nf4")
    q.weight = bnb.nn.Params4bit(dense.weight.data.clone(), requires_grad=False, quant_type="nf4")
    q = q.to("cpu")
    w = bnb.functional.dequantize_4bit(q.weight.data, q.weight.quant_state)
    x = torch.randn(2, 5, 64, requires_grad=True)
    g = torch.randn(2, 5, 32)
    (q(x) * g).sum().backward()
    assert torch.allclose(x.grad, g @ w, atol=1e-5)


def test_save_and_load_round_trip(lm, tmp_path):
    from cardioagent.models.vitals.model import VitalsLM

    with torch.no_grad():
        lm.head.weight.normal_(0, 0.01)
        lm.head.bias.fill_(0.5)
        for n, p in lm.model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.01)
    lm.target_mean, lm.target_scale = 100.0, 7.0
    enc = lm.tokenize(PROMPTS)
    base = torch.tensor([151.0, 74.9])
    with torch.no_grad():
        before = lm.regress(lm.final_states(enc.input_ids, enc.attention_mask), enc.attention_mask, base)
    lm.save(tmp_path / "adapter", extra={"task": "hr"})
    size = sum(f.stat().st_size for f in (tmp_path / "adapter").iterdir())
    assert size < 2_000_000  # LoRA on four layers plus the head: well under the 10 MB budget
    again, meta = VitalsLM.load(tmp_path / "adapter")
    with torch.no_grad():
        after = again.regress(again.final_states(enc.input_ids, enc.attention_mask), enc.attention_mask, base)
    assert meta["task"] == "hr" and again.target_scale == 7.0
    assert torch.allclose(before, after, atol=1e-4)
    assert not torch.equal(before, base)


def test_text_decoding_is_constrained_to_numbers_in_range(lm):
    lm.cfg.value_range = (30.0, 220.0)
    try:
        values = lm.generate_numbers(PROMPTS)
    finally:
        lm.cfg.value_range = (25.0, 250.0)
    assert len(values) == 2 and all(np.isfinite(v) and 30 <= v <= 220 and v == int(v) for v in values)
