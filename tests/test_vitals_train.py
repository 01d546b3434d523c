"""Training loop and ``cardioagent train vitals`` on a tiny synthetic set: seeds, checkpoints, resume,
report. A few steps each: these test the machinery, not accuracy (bench/vitals.py measures that)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from cardioagent.models.vitals.synthetic import write_generic_folder

    return write_generic_folder(
        tmp_path_factory.mktemp("synthetic") / "ppg", n_records=3, seconds=14.0, seed=2
    )


@pytest.fixture(scope="module")
def setup(shared_home, folder):
    from cardioagent.models.vitals import data
    from cardioagent.models.vitals.model import VitalsLM, VitalsModelConfig
    from cardioagent.models.vitals.train import TrainConfig

    cfg = TrainConfig(
        model=VitalsModelConfig(lora_layers=2),
        steps=4,
        batch_size=4,
        lr=5e-3,
        seed=3,
        checkpoint_every=2,
        warmup_steps=1,
    )
    examples = data.prepare_examples(data.read_dataset(folder, "hr", "ppg"), "hr", "context", False)
    torch.manual_seed(0)
    return VitalsLM(cfg.model), cfg, examples


def _state(lm):
    return {k: v.clone() for k, v in lm.trainable_state().items()}


def test_training_changes_only_trainable_weights_and_is_seeded(setup):
    from cardioagent.models.vitals.train import Trainer

    lm, cfg, examples = setup
    frozen_before = {
        n: p.detach().clone()
        for n, p in lm.model.named_parameters()
        if not p.requires_grad and p.dtype.is_floating_point
    }
    tr = Trainer(lm, cfg, examples)
    idx = list(range(len(examples)))
    log = tr.fit(idx)
    first = _state(lm)
    assert log["steps"] == 4 and np.isfinite(log["final_loss"])
    assert any(not torch.equal(first[k], tr.initial_state[k]) for k in first)
    for n, p in lm.model.named_parameters():
        if n in frozen_before:
            assert torch.equal(p, frozen_before[n]), n
    tr.reset()
    tr.fit(idx)
    again = _state(lm)
    assert all(torch.equal(first[k], again[k]) for k in first)  # same seed, same weights
    pred = tr.predict(idx[:3])
    assert pred.shape == (3,) and np.all(np.isfinite(pred))


def test_interrupted_run_resumes_to_the_same_weights(setup, tmp_path):
    from cardioagent.models.vitals.train import CHECKPOINT, Trainer

    lm, cfg, examples = setup
    idx = list(range(len(examples)))
    tr = Trainer(lm, cfg, examples)
    tr.fit(idx)
    uninterrupted = _state(lm)

    tr.reset()

    def stop_at_2(step, _loss):
        if step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tr.fit(idx, checkpoint_dir=tmp_path, on_step=stop_at_2)
    assert (tmp_path / CHECKPOINT).is_file()
    tr.reset()  # a new process would start from the initial weights too
    log = tr.fit(idx, checkpoint_dir=tmp_path, resume=True)
    assert log["resumed_from"] == 2
    resumed = _state(lm)
    assert all(torch.allclose(uninterrupted[k], resumed[k], atol=1e-6) for k in resumed)

    other = Trainer(lm, cfg.model_copy(update={"lr": 1e-4}), examples)
    with pytest.raises(ValueError, match="other settings"):
        other.fit(idx, checkpoint_dir=tmp_path, resume=True)


def test_cli_trains_saves_an_adapter_and_writes_the_report(shared_home, folder, tmp_path, capsys):
    from cardioagent.ui.cli import main

    out = tmp_path / "run"
    args = [
        "train",
        "vitals",
        "--task",
        "hr",
        "--modality",
        "ppg",
        "--data",
        str(folder),
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--lora-layers",
        "2",
        "--checkpoint-every",
        "2",
        "--seed",
        "1",
        "--eval-fraction",
        "0.34",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["training"]["steps"] == 3 and report["training"]["resumed_from"] == 0
    assert len(report["held_out_recordings"]) == 1
    held = report["held_out_recordings"][0]
    assert held not in report["training"]["train_recordings"]
    m = report["metrics"]
    assert (
        m["n"] == len(report["windows"]) > 0 and m["mae"] >= 0 and m["loa_low"] <= m["bias"] <= m["loa_high"]
    )
    assert set(report["per_recording"]) == {held}
    assert (out / "agreement.png").stat().st_size > 1000
    md = (out / "report.md").read_text()
    assert "| QLoRA |" in md and "Bland-Altman" in md
    assert (out / "adapter" / "adapter_model.safetensors").is_file() and (
        out / "adapter" / "head.safetensors"
    ).is_file()
    assert report["adapter_bytes"] < 1_000_000

    # a longer budget with --resume continues from the checkpoint at step 3
    assert main(args[:9] + ["5"] + args[10:] + ["--resume"]) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["training"]["resumed_from"] == 3 and again["training"]["steps"] == 5


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    from cardioagent.ui.cli import main

    assert main(["train", "vitals", "--data", str(tmp_path), "--steps", "2"]) == 2
    assert "no labels were found" in capsys.readouterr().err
    assert main(["train", "vitals", "--data", str(tmp_path), "--steps", "0"]) == 2
