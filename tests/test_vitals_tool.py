"""The shipped adapters and the ``vitals_estimate`` tool: registered through the entry point, estimate
with uncertainty and quality flags, refusal of poor windows, small files with their reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cardioagent.models.vitals.estimator import ADAPTERS_DIR, adapter_dir
from cardioagent.tools.contract import Quality, ToolContext
from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

pytestmark = pytest.mark.slow
SHIPPED = [("hr", "ppg"), ("hr", "ecg")]


def test_shipped_adapters_are_small_and_carry_their_reports():
    total = 0
    for task, modality in SHIPPED:
        folder = adapter_dir(task, modality)
        for name in (
            "adapter_model.safetensors",
            "adapter_config.json",
            "head.safetensors",
            "vitals_model.json",
            "report.json",
            "report.md",
            "agreement.png",
        ):
            assert (folder / name).is_file(), folder / name
        meta = json.loads((folder / "vitals_model.json").read_text())
        assert meta["task"] == task and meta["modality"] == modality and meta["model"]["quantize_4bit"]
        report = json.loads((folder / "report.json").read_text())
        assert report["metrics"]["n"] > 0 and report["metrics"]["mae"] is not None
        assert not set(report["held_out_recordings"]) & set(report["training"]["train_recordings"])
        total += sum(f.stat().st_size for f in folder.iterdir())
    assert total < 10_000_000
    assert not any(p.name.startswith("checkpoint") for p in ADAPTERS_DIR.rglob("*"))


def _registry():
    from cardioagent.tools.registry import ToolRegistry

    return ToolRegistry().discover()


def _ctx(recs, tmp_path):
    by_id = {r.id: r for r in recs}
    return ToolContext(get_recording=lambda i: by_id[i], artifacts_dir=tmp_path)


def test_tool_is_discovered_through_the_entry_point_and_available(shared_home):
    reg = _registry()
    assert "vitals_estimate" in reg.names(available_only=True)
    assert not [p for p in reg.problems if p.tool == "vitals_estimate"]


def test_ecg_estimate_agrees_with_the_reference_and_the_classical_rate(shared_home, tests_data, tmp_path):
    from cardioagent.tools.signal.loaders import load_recording

    rec = load_recording(tests_data / "cpsc2019_00014.hea").model_copy(update={"annotations": []})
    result = _registry().run("vitals_estimate", {"recording_id": rec.id}, _ctx([rec], tmp_path))
    assert result.modality == "ecg" and len(result.windows) == 1
    assert abs(result.estimate.value - 79.51) < 2.0  # reference: 60 / mean RR of the annotated R-peaks
    assert result.estimate.uncertainty is not None and result.estimate.uncertainty > 0
    assert abs(result.classical.value - result.estimate.value) < 2.0
    assert "QLoRA" in result.method and result.summary()


def _wrist(hr: float, seconds: float, noise_only: bool = False, seed: int = 0) -> Recording:
    from cardioagent.models.vitals.synthetic import wrist_ppg

    ppg, acc = wrist_ppg(hr, 75.0, seconds, motion=0.3, seed=seed)
    if noise_only:  # no pulse at all: broadband noise in both PPG channels
        ppg = np.random.default_rng(seed).standard_normal(ppg.shape)
    chans = [Channel(name="ppg1", kind=ChannelKind.PPG), Channel(name="ppg2", kind=ChannelKind.PPG)]
    chans += [Channel(name=f"acc_{a}", kind=ChannelKind.ACCEL) for a in "xyz"]
    return Recording(
        id=f"wrist-{hr}-{noise_only}",
        name="wrist",
        source_files=[],
        format="csv",
        modality=Modality.PPG,
        sampling_rate_hz=125.0,
        channels=chans,
        signal=np.column_stack([ppg, acc]),
    )


def test_wrist_ppg_estimate_and_refusal_of_noise(shared_home, tmp_path):
    reg = _registry()
    clean = _wrist(96.0, 30.0)
    noise = _wrist(96.0, 30.0, noise_only=True, seed=4)
    ctx = _ctx([clean, noise], tmp_path)
    good = reg.run("vitals_estimate", {"recording_id": clean.id}, ctx)
    assert good.modality == "ppg" and good.windows_total == 12
    assert abs(good.estimate.value - 96.0) < 5.0 and good.estimate.quality != Quality.UNUSABLE
    bad = reg.run("vitals_estimate", {"recording_id": noise.id}, ctx)
    # noise is refused with a reason, not passed off as a pulse rate
    assert bad.windows_refused == len(bad.windows) == 12
    assert all(w.estimate.value is None and "no pulse" in w.note for w in bad.windows)
    assert bad.estimate.value is None and bad.quality == Quality.UNUSABLE
    assert "refused" in bad.summary()
