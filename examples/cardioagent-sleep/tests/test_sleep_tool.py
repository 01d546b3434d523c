"""The sleep_stages tool through cardioagent's registry, the wearable CSV loader, refusals, the CLI and routing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cardioagent_sleep.errors import DaytimeRecordingError, GapError, NoMotionError
from cardioagent_sleep.tool import SleepStagesTool

from cardioagent.tools.contract import Quality, ToolContext
from cardioagent.tools.errors import InputError, TooShortError
from cardioagent.tools.registry import ToolRegistry, contract_problems
from cardioagent.tools.signal.loaders import load_recording
from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

DATA = Path(__file__).parent / "data"
EXCERPT = DATA / "walch_1066528_excerpt.csv"


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return ToolRegistry().discover()


def _ctx(rec: Recording, tmp_path: Path) -> ToolContext:
    return ToolContext(get_recording={rec.id: rec}.__getitem__, artifacts_dir=tmp_path)


def _wearable(signal: np.ndarray, names: list[str], units: list[str]) -> Recording:
    kinds = [ChannelKind.ACCEL if n.startswith("acc") else ChannelKind.OTHER for n in names]
    return Recording(
        id="synthetic0123",
        name="synthetic",
        source_files=[],
        format="csv",
        modality=Modality.WEARABLE,
        sampling_rate_hz=1.0,
        signal=signal,
        channels=[Channel(name=n, kind=k, unit=u) for n, k, u in zip(names, kinds, units, strict=True)],
    )


def test_contract_and_discovery(registry):
    assert contract_problems(SleepStagesTool) == []
    assert not [p for p in registry.problems if p.plugin == "sleep"]
    spec = registry.spec("sleep_stages")
    assert spec.plugin == "sleep" and spec.available and spec.modalities == ["wearable"]


def test_excerpt_loads_as_wearable_recording():
    rec = load_recording(EXCERPT)
    assert rec.modality == Modality.WEARABLE and rec.sampling_rate_hz == 1.0
    assert rec.channel_names == ["heart_rate", "acc_x", "acc_y", "acc_z", "activity_count"]
    assert [c.kind for c in rec.channels][1:4] == [ChannelKind.ACCEL] * 3
    assert "start_s=7" in rec.header_comments
    assert rec.annotations and rec.annotations[0].source == "psg"
    assert rec.n_samples == 3 * 3600 - 4  # seconds 7 .. 10802 on the 1-s grid


@pytest.mark.slow  # > 10 s on a shared 2-core CPU (a night of features, a forked tool call, the planner)
def test_tool_stages_the_excerpt(registry, tmp_path):
    rec = load_recording(EXCERPT)
    result = registry.run("sleep_stages", {"recording_id": rec.id}, _ctx(rec, tmp_path))
    assert result.quality == Quality.ACCEPTABLE
    n = result.epochs
    assert n == len(result.stages) == len(result.stages_wake_nrem_rem) == len(result.probabilities)
    assert 350 <= n <= 360  # 3 h of 30-s epochs
    assert set(result.stages) <= {"wake", "n1", "n2", "n3", "rem"}
    tst = result.total_sleep_time.value
    assert tst == pytest.approx(0.5 * sum(s != "wake" for s in result.stages))
    assert result.sleep_efficiency.value == pytest.approx(100 * tst / result.time_in_bed.value, abs=0.1)
    assert sum(m.value for k, m in result.stage_percentages.items() if k != "wake") == pytest.approx(
        100, abs=0.3
    )
    assert result.total_sleep_time.quantity == "total_sleep_time"
    assert "zsz180" in result.method
    assert result.figures and Path(result.figures[0]).stat().st_size > 10_000
    assert "total sleep time" in result.summary()


def test_refuses_heart_rate_without_motion(tmp_path):
    hr = 60 + np.random.default_rng(0).normal(0, 2, (4 * 3600, 1))
    rec = _wearable(hr, ["heart_rate"], ["bpm"])
    with pytest.raises(NoMotionError, match="no wrist-motion channel"):
        SleepStagesTool().run(SleepStagesTool.input_model(recording_id=rec.id), _ctx(rec, tmp_path))


@pytest.mark.slow  # > 10 s on a shared 2-core CPU (a night of features, a forked tool call, the planner)
def test_refuses_long_gaps_short_nights_and_daytime(tmp_path):
    rng = np.random.default_rng(1)
    n = 4 * 3600
    hr = 60 + rng.normal(0, 2, n)
    counts = np.where(rng.random(n) < 0.02, 20.0, 0.0)
    gappy = hr.copy()
    gappy[3600 : 3600 + 1200] = np.nan  # 20 min without heart rate
    tool = SleepStagesTool()
    for signal, error, words in [
        (np.column_stack([gappy, counts]), GapError, "heart rate is missing for 20 min"),
        (np.column_stack([hr, counts])[:3600], TooShortError, "lasts 1.00 h"),
        (np.column_stack([hr, np.full(n, 60.0)]), DaytimeRecordingError, "moves like a day"),
    ]:
        rec = _wearable(signal, ["heart_rate", "activity_count"], ["bpm", "counts"])
        with pytest.raises(error, match=words):
            tool.run(tool.input_model(recording_id=rec.id), _ctx(rec, tmp_path))
    ok = _wearable(np.column_stack([hr, counts]), ["heart_rate", "activity_count"], ["bpm", "counts"])
    assert tool.run(tool.input_model(recording_id=ok.id), _ctx(ok, tmp_path)).epochs == n // 30 - 1


@pytest.mark.slow  # > 10 s on a shared 2-core CPU (a night of features, a forked tool call, the planner)
def test_low_rate_accelerometer_without_counts_is_flagged_poor(tmp_path):
    rec = load_recording(EXCERPT)
    keep = [rec.channel_index(c) for c in ("heart_rate", "acc_x", "acc_y", "acc_z")]
    bare = _wearable(rec.signal[:, keep], ["heart_rate", "acc_x", "acc_y", "acc_z"], ["bpm", "g", "g", "g"])
    result = SleepStagesTool().run(SleepStagesTool.input_model(recording_id=bare.id), _ctx(bare, tmp_path))
    assert result.quality == Quality.POOR and "proxy" in result.motion_source


def test_cli_folder_of_epoch_features(capsys):
    from cardioagent.ui.cli import main

    assert main(["sleep", "stages", str(DATA / "epoch_features"), "--subject", "1066528", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    labels = np.loadtxt(DATA / "epoch_features" / "1066528_psg_labels.out")
    assert len(out["stages"]) == len(labels)
    assert set(out["stages"]) <= {"wake", "n1", "n2", "n3", "rem"}
    assert out["summary"]["total_sleep_time_min"] == pytest.approx(
        0.5 * sum(s != "wake" for s in out["stages"])
    )
    assert set(out["stage_percentages"]) == {"n1", "n2", "n3", "rem", "wake"}


@pytest.mark.slow  # > 10 s on a shared 2-core CPU (a night of features, a forked tool call, the planner)
def test_cli_csv_and_errors(capsys, tmp_path):
    from cardioagent.ui.cli import main

    fig = tmp_path / "h.png"
    assert main(["sleep", "stages", str(EXCERPT), "--json", "--figure", str(fig)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["stages"]) > 300 and fig.stat().st_size > 10_000
    assert main(["sleep", "stages", str(DATA / "epoch_features"), "--subject", "999", "--json"]) == 2
    assert "no epoch-feature files for subject '999'" in capsys.readouterr().err


@pytest.mark.slow  # > 10 s on a shared 2-core CPU (a night of features, a forked tool call, the planner)
def test_planner_routes_a_wearable_night_to_sleep_stages(registry):
    from cardioagent.agent.planner import RecordingRef, plan

    rec = RecordingRef(id="r1", name="night", modality="wearable")
    for question in ("How did I sleep?", "What was my total sleep time?", "analyse this"):
        calls = plan(question, [rec], registry)
        assert [c.tool for c in calls] == ["sleep_stages"], question
    # an ECG question on an ECG recording never plans it
    assert "sleep_stages" not in [
        c.tool for c in plan("How did I sleep?", [RecordingRef(id="e", name="e", modality="ecg")], registry)
    ]


def test_input_errors_are_cardioagent_errors():
    assert issubclass(NoMotionError, InputError) and issubclass(GapError, InputError)
