"""Training the ECG-image VLM: stage 1 on a tiny data set writes weights that load back with the same
outputs, resumes from its checkpoint, learns the page logit from generated negatives, and picks
thresholds on validation images only; the stage-2 path (4-bit SmolLM2 + LoRA + projector) runs two
steps and saves only the small parts."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cardioagent.models.vlm.checkpoint import has_language_parts, load_vision, read_meta
from cardioagent.models.vlm.dataset import build_dataset, read_jsonl
from cardioagent.models.vlm.model import VlmSpec
from cardioagent.models.vlm.negatives import KINDS, make_negative
from cardioagent.models.vlm.synth import FINDINGS
from cardioagent.models.vlm.train import (
    Stage1Config,
    Stage2Config,
    TrainConfig,
    _targets,
    choose_thresholds,
    is_validation_group,
    split_groups,
    train_vlm,
)

torch.set_num_threads(1)
TINY = VlmSpec(image_size=(64, 112), token_grid=(2, 4), vision_channels=(8, 16, 32, 64))
TINY_TRACE = VlmSpec(
    tower="trace", trace_columns=256, trace_channels=(8, 8, 16, 16, 16), trace_hidden=32, prompt_reading=True
)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("vlm-data")
    build_dataset(out, 10, seed=3, augment=True)
    return out


def test_targets_mask_unknowns_and_negatives():
    facts = {
        "assessed": ["sinus_rhythm", "wide_qrs"],
        "findings": ["wide_qrs"],
        "heart_rate_bpm": 75.0,
        "axis_deg": 90.0,
        "pr_ms": None,
        "qrs_ms": 140.0,
        "qtc_ms": 420.0,
    }
    y, ym, n, nm = _targets(facts)
    assert ym.sum() == 2 and y[FINDINGS.index("wide_qrs")] == 1 and y[FINDINGS.index("sinus_rhythm")] == 0
    assert n[0] == pytest.approx(0.75) and nm[3] == 0  # heart rate / 100; PR unknown
    assert n[1] == pytest.approx(1.0) and abs(n[2]) < 1e-6  # axis 90 degrees: sin 1, cos 0
    y, ym, n, nm = _targets(None)
    assert ym.sum() == 0 and nm.sum() == 0


def test_validation_split_is_by_group_and_stable():
    groups = [f"rec{i // 3}" for i in range(300)]
    train, val = split_groups(groups, 0.2, seed=1)
    assert set(train).isdisjoint(val) and len(train) + len(val) == 300
    assert {groups[i] for i in train}.isdisjoint({groups[i] for i in val})
    assert 20 <= len(val) <= 100
    # the same record lands on the same side whatever list it is part of
    assert all(is_validation_group(groups[i], 0.2, 1) for i in val)


def test_thresholds_are_chosen_for_balanced_accuracy():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (200, len(FINDINGS))).astype(np.float32)
    p = np.clip(0.3 * y + 0.35 + rng.normal(0, 0.02, y.shape), 0, 1)  # separable at 0.5, not at 0.3
    th = choose_thresholds(p, y, np.ones_like(y))
    assert all(0.4 <= th[f] <= 0.65 for f in FINDINGS)


def test_negatives_cover_every_kind():
    rng = np.random.default_rng(5)
    for kind in KINDS:
        img, k = make_negative(rng, kind, size=(120, 200))
        assert k == kind and img.shape == (120, 200, 3) and img.dtype == np.uint8
        assert img.std() > 1.0  # something was drawn
    with pytest.raises(ValueError, match="unknown negative kind"):
        make_negative(rng, "cat")


def test_stage1_trains_saves_loads_and_resumes(tiny_data, tmp_path):
    out = tmp_path / "run"
    cfg = TrainConfig(
        data_dir=str(tiny_data),
        out_dir=str(out),
        spec=TINY,
        stage1=Stage1Config(epochs=2, batch_size=4, negatives=6, validation_fraction=0.3),
        stage2=Stage2Config(steps=0),
        checkpoint_every=2,
        seed=0,
    )
    report = train_vlm(cfg, stages=("1",), progress=False)
    s1 = report["stage1"]
    assert s1["steps"] == 2 * ((16 - s1["validation_images"]) // 4) and s1["history"] is not None
    assert set(s1["thresholds"]) == set(FINDINGS)
    meta = read_meta(out)
    assert meta.stages == ["1"] and meta.training["real_records"] == [] and not has_language_parts(out)
    tower, proc, meta = load_vision(out)
    lines = read_jsonl(tiny_data / "images.jsonl")
    x = proc([tiny_data / lines[0]["image"]])
    with torch.no_grad():
        o = tower(x)
    assert o.finding_logits.shape == (1, len(FINDINGS)) and o.page_logit.shape == (1,)
    # the weights were stored in fp16 and load back close to the trained fp32 tower's outputs
    ck = torch.load(out / "checkpoints" / "stage1.pt", weights_only=False)
    fresh = type(tower)(tower.config)
    fresh.load_state_dict(ck["model"])
    fresh.eval()
    with torch.no_grad():
        ref = fresh(x)
    assert torch.allclose(ref.finding_logits, o.finding_logits, atol=5e-2)
    # resuming a finished run does no more steps and keeps the history
    again = train_vlm(cfg, stages=("1",), progress=False)
    assert (
        again["stage1"]["steps"] == s1["steps"]
        and again["stage1"]["seconds_this_run"] < s1["seconds_this_run"] + 5
    )
    assert json.loads((out / "report.json").read_text())["stage1"]["thresholds"]
    assert "Stage 1" in (out / "report.md").read_text()


def test_trace_stage1_digitizes_each_image_once_and_trains(tiny_data, tmp_path):
    from cardioagent.models.vlm.model import EcgTraceModel, EcgTraceProcessor

    out = tmp_path / "trace"
    cfg = TrainConfig(
        data_dir=str(tiny_data),
        out_dir=str(out),
        spec=TINY_TRACE,
        stage1=Stage1Config(epochs=2, batch_size=4, negatives=4, validation_fraction=0.3),
        stage2=Stage2Config(steps=0),
        seed=0,
    )
    report = train_vlm(cfg, stages=("1",), progress=False)
    assert report["stage1"]["steps"] > 0 and set(report["stage1"]["thresholds"]) == set(FINDINGS)
    cached = sorted(tiny_data.glob("trace_features_256_v*.npy"))
    lines = read_jsonl(tiny_data / "images.jsonl")
    assert len(cached) == 1
    arr = np.load(cached[0])
    assert (
        arr.shape == (len(lines), TINY_TRACE.vision_config().n_input_channels, 256)
        and arr.dtype == np.float16
    )
    fresh = EcgTraceProcessor(256).one(tiny_data / lines[2]["image"]).numpy()
    np.testing.assert_allclose(arr[2].astype(np.float32), fresh, rtol=1e-2, atol=1e-2)  # same profiles, fp16
    tower, proc, meta = load_vision(out)
    assert isinstance(tower, EcgTraceModel) and meta.spec.tower == "trace" and meta.spec.prompt_reading
    with torch.no_grad():
        o = tower(proc([tiny_data / lines[0]["image"]]))
    assert o.finding_logits.shape == (1, len(FINDINGS))
    # a second run reads the cache instead of digitizing again
    stamp = cached[0].stat().st_mtime_ns
    train_vlm(cfg.model_copy(update={"out_dir": str(tmp_path / "again")}), stages=("1",), progress=False)
    assert cached[0].stat().st_mtime_ns == stamp


def test_excluded_records_are_never_loaded(tiny_data):
    lines = read_jsonl(tiny_data / "images.jsonl")
    from cardioagent.models.vlm.train import load_images

    cfg = TrainConfig(
        data_dir=str(tiny_data),
        out_dir="unused",
        spec=TINY,
        exclude_groups=[lines[0]["group"]],
        stage1=Stage1Config(negatives=2),
    )
    cache, kept = load_images(cfg, progress=False)
    assert lines[0]["group"] not in cache.groups and len(kept) == len(lines) - 1
    assert sum(1 for g in cache.groups if g.startswith("negative-")) == 2


@pytest.mark.slow
def test_stage2_qlora_saves_small_parts(tiny_data, tmp_path, shared_home):
    out = tmp_path / "run2"
    cfg = TrainConfig(
        data_dir=str(tiny_data),
        out_dir=str(out),
        spec=TINY_TRACE,
        stage1=Stage1Config(epochs=1, batch_size=4, negatives=2, validation_fraction=0.3),
        stage2=Stage2Config(steps=2, batch_size=1, eval_questions=2, max_new_tokens=4),
        seed=0,
    )
    report = train_vlm(cfg, progress=False)
    assert (
        has_language_parts(out) and read_meta(out).stages == ["1", "2"] and read_meta(out).spec.prompt_reading
    )
    s2 = report["stage2"]
    assert s2["steps"] == 2 and s2["validation"]["questions"] >= 1
    adapter = json.loads((out / "lora" / "adapter_config.json").read_text())
    assert "lm_head" not in json.dumps(adapter["target_modules"]) and "embed_tokens" not in json.dumps(
        adapter["target_modules"]
    )
    # only adapters, projector and tower are written: far below the 60 MB budget
    total = sum(
        f.stat().st_size
        for f in out.rglob("*")
        if f.is_file() and "checkpoints" not in f.parts and "data" not in f.parts
    )
    assert total < 60e6
