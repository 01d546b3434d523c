"""Tool plugins: the example third-party package, discovery through entry points, broken plugins reported
and disabled (never fatal), ``cardioagent tools list|check``, timeouts, and the plugin guide's own example.

The example plugin (examples/cardioagent-hrv-stress) must be installed in the environment, as ``make test``
does: ``pip install --no-deps -e examples/cardioagent-hrv-stress``.
"""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from cardioagent_hrv_stress.baevsky import baevsky_index, clean_rr, rr_histogram, stress_index

from cardioagent.tools import registry as registry_module
from cardioagent.tools.contract import Quality, Tool, ToolContext
from cardioagent.tools.errors import InputError, ToolError
from cardioagent.tools.registry import ToolRegistry, contract_problems
from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

REPO = Path(__file__).resolve().parents[1]
FS = 250.0
HEART_RATE = 70


# --- the math, on RR series whose answer is computed by hand ----------------------------------------------


def test_stress_index_of_a_hand_computed_series():
    # 6 intervals in [800, 850) ms, 3 in [850, 900), 1 in [900, 950):
    # Mo = 0.825 s, AMo = 6/10 = 60 %, MxDMn = 0.90 - 0.80 = 0.10 s, SI = 60 / (2 * 0.825 * 0.10) = 363.64
    rr = [0.80] * 6 + [0.86] * 3 + [0.90]
    si = baevsky_index(rr)
    assert si.mode_s == pytest.approx(0.825)
    assert si.amplitude_mode_pct == pytest.approx(60.0)
    assert si.variation_range_s == pytest.approx(0.10)
    assert si.stress_index == pytest.approx(60 / (2 * 0.825 * 0.10))
    assert stress_index(rr) == pytest.approx(363.636, abs=1e-3)


def test_histogram_bins_are_50_ms_wide_and_aligned_on_multiples_of_50_ms():
    # 0.95 - 0.10 is 0.8499999999999999 in floating point: it is 850 ms and belongs to [850, 900)
    h = rr_histogram([0.849, 0.95 - 0.10, 0.899, 0.900])
    assert h.edges_s.tolist() == pytest.approx([0.80, 0.85, 0.90, 0.95])
    assert h.counts.tolist() == [1, 2, 1]
    assert h.mode_s == pytest.approx(0.875)
    assert h.amplitude_mode_pct == pytest.approx(50.0)
    assert h.variation_range_s == pytest.approx(0.051)


def test_a_tie_between_bins_goes_to_the_bin_nearest_the_median():
    # [700, 750) and [900, 950) both hold 2 of 5 ([950, 1000) holds 1); the median is 0.90, so Mo = 0.925,
    # not the first full bin; SI = 40 / (2 * 0.925 * 0.26)
    rr = [0.70, 0.70, 0.90, 0.90, 0.96]
    si = baevsky_index(rr)
    assert si.mode_s == pytest.approx(0.925)
    assert si.amplitude_mode_pct == pytest.approx(40.0)
    assert si.stress_index == pytest.approx(40 / (2 * 0.925 * 0.26))


def test_less_variable_rr_gives_a_higher_index():
    rng = np.random.default_rng(7)
    noise = rng.standard_normal(300)
    steady, variable = 0.85 + 0.01 * noise, 0.85 + 0.05 * noise
    assert stress_index(steady) > 3 * stress_index(variable)


def test_undefined_or_mistaken_input_is_refused():
    with pytest.raises(ValueError, match="undefined"):
        stress_index([0.8] * 20)
    with pytest.raises(ValueError, match="milliseconds"):
        stress_index([800, 850, 900])
    with pytest.raises(ValueError):
        stress_index([])


def test_clean_rr_drops_a_missed_beat_and_a_premature_pair():
    rng = np.random.default_rng(3)
    clean = 0.80 + 0.02 * rng.standard_normal(60)
    dirty = np.concatenate([clean[:20], [1.60], clean[20:40], [0.50, 1.10], clean[40:]])
    kept, dropped = clean_rr(dirty)
    assert dropped == 3
    np.testing.assert_allclose(kept, clean)
    assert stress_index(kept) == pytest.approx(stress_index(clean))
    assert stress_index(dirty) < 0.5 * stress_index(clean)  # why cleaning matters: MxDMn explodes


def test_clean_rr_drops_a_mildly_premature_beat_and_the_interval_after_it():
    steady = [0.80, 0.81, 0.79, 0.80, 0.82, 0.80, 0.79, 0.81, 0.80, 0.80]
    # 0.66 s is 17.5 % early; the 0.90 s after it is within 15 % of 0.80 but starts on the premature beat
    kept, dropped = clean_rr(steady + [0.66, 0.90] + steady)
    assert dropped == 2
    assert kept.tolist() == steady + steady
    # the same short interval inside a smooth dip (sinus variation, no pause after it) is kept
    dip = [0.74, 0.68, 0.66, 0.70, 0.76]
    kept, dropped = clean_rr(steady + dip + steady)
    assert dropped == 0 and kept.tolist() == steady + dip + steady


# --- synthetic recordings -------------------------------------------------------------------------------


def _ecg_recording(duration_s: float, hr_std: float, seed: int = 1) -> Recording:
    import neurokit2 as nk

    ecg = nk.ecg_simulate(
        duration=duration_s,
        sampling_rate=int(FS),
        heart_rate=HEART_RATE,
        heart_rate_std=hr_std,
        random_state=seed,
    )
    return Recording(
        id=f"sim-ecg-{duration_s:g}s-std{hr_std:g}",
        name=f"sim_ecg_{hr_std:g}",
        source_files=[],
        format="numpy",
        modality=Modality.ECG,
        sampling_rate_hz=FS,
        channels=[Channel(name="II", kind=ChannelKind.ECG, unit="mV")],
        signal=np.asarray(ecg, dtype=float).reshape(-1, 1),
    )


@pytest.fixture(scope="module")
def recordings() -> dict[str, Recording]:
    recs = [_ecg_recording(120, 1), _ecg_recording(120, 6), _ecg_recording(25, 1), _ecg_recording(7, 1)]
    return {r.id: r for r in recs}


def _ctx(recordings: dict[str, Recording], tmp_path: Path) -> ToolContext:
    return ToolContext(get_recording=recordings.__getitem__, artifacts_dir=tmp_path)


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return ToolRegistry().discover()


# --- discovery and running through the registry ---------------------------------------------------------


def test_registry_discovers_the_example_plugin_alongside_the_builtins(registry):
    names = registry.names()
    assert "hrv_stress_index" in names
    assert registry.spec("hrv_stress_index").plugin == "hrv_stress"
    assert registry.spec("heart_rate").plugin == "builtin"
    assert registry.spec("hrv_stress_index").available
    assert not [p for p in registry.problems if p.plugin in ("hrv_stress", "builtin")], registry.problems
    from cardioagent_hrv_stress.tool import HrvStressIndexTool

    assert contract_problems(HrvStressIndexTool) == []
    assert registry.spec("hrv_stress_index").output_schema["properties"]["stress_index"]


def test_stress_index_of_a_synthetic_ecg(registry, recordings, tmp_path):
    result = registry.run(
        "hrv_stress_index", {"recording_id": "sim-ecg-120s-std1"}, _ctx(recordings, tmp_path)
    )
    si = result.stress_index
    assert si.value is not None and 20 < si.value < 3000  # Baevsky reports ~50 at rest to ~1000 under strain
    assert si.unit == "" and si.channel == "II"
    assert result.channel == "II"
    # 120 s at 70 bpm: about 140 beats; the mode lies in the bin that holds 60/70 = 0.857 s
    assert 130 <= result.beats_detected <= 150
    assert result.intervals_used >= 125
    assert abs(result.mode.value - 60 / HEART_RATE) <= 0.05
    # two minutes of intervals: a number, but not GOOD against 5-minute reference recordings
    assert result.quality == Quality.ACCEPTABLE
    assert any("5-minute" in w for w in result.warnings)
    assert "Baevsky" in result.method
    assert si.value == pytest.approx(
        result.amplitude_mode.value / (2 * result.mode.value * result.variation_range.value), rel=1e-3
    )
    assert "stress index" in result.summary().lower()


def test_the_index_is_higher_for_a_less_variable_heart_rate(registry, recordings, tmp_path):
    ctx = _ctx(recordings, tmp_path)
    steady = registry.run("hrv_stress_index", {"recording_id": "sim-ecg-120s-std1"}, ctx).stress_index.value
    variable = registry.run("hrv_stress_index", {"recording_id": "sim-ecg-120s-std6"}, ctx).stress_index.value
    assert steady > 2 * variable, (steady, variable)


def test_few_beats_are_flagged_poor_and_very_few_give_no_number(registry, recordings, tmp_path):
    ctx = _ctx(recordings, tmp_path)
    few = registry.run("hrv_stress_index", {"recording_id": "sim-ecg-25s-std1"}, ctx)  # ~29 beats
    assert few.quality == Quality.POOR and few.stress_index.value is not None
    assert few.stress_index.quality == Quality.POOR
    very_few = registry.run("hrv_stress_index", {"recording_id": "sim-ecg-7s-std1"}, ctx)  # ~8 beats
    assert very_few.quality == Quality.UNUSABLE
    assert very_few.stress_index.value is None
    assert very_few.warnings and "needed" in very_few.warnings[-1]


# --- the quality rules, on peaks whose intervals are chosen by the test ----------------------------------


@pytest.fixture()
def fake_peaks(monkeypatch):
    """Replace the plugin's peak detector: the test puts the PeaksResult it wants in ``holder['peaks']``."""
    from cardioagent_hrv_stress import tool

    holder: dict = {}
    monkeypatch.setattr(tool, "detect_peaks", lambda rec, channel=None: holder["peaks"])
    return holder


def _peaks(rr_s: np.ndarray, quality: Quality = Quality.GOOD):
    from cardioagent.tools.analysis import PeaksResult

    samples = np.rint((0.5 + np.concatenate([[0.0], np.cumsum(rr_s)])) * FS).astype(int)
    return PeaksResult(
        quality=quality,
        method="test detector",
        recording="fake",
        channel="II",
        kind="ecg",
        sampling_rate_hz=FS,
        samples=samples.tolist(),
        times_s=(samples / FS).tolist(),
        n_peaks=len(samples),
        detector="test",
        reason="chosen by the test",
    )


def _steady_rr(n: int, sd: float, seed: int = 5) -> np.ndarray:
    rr = 0.80 + sd * np.random.default_rng(seed).standard_normal(n)
    return np.rint(rr * FS) / FS  # on the sample grid, so the expected value below is exact


def test_five_clean_minutes_are_good_and_match_the_math(registry, recordings, tmp_path, fake_peaks):
    rr = _steady_rr(400, 0.02)  # 320 s
    fake_peaks["peaks"] = _peaks(rr)
    result = registry.run(
        "hrv_stress_index", {"recording_id": "sim-ecg-120s-std1"}, _ctx(recordings, tmp_path)
    )
    kept, dropped = clean_rr(rr)
    assert result.quality == Quality.GOOD, result.warnings
    assert result.intervals_used == kept.size and result.intervals_rejected == dropped
    assert result.stress_index.value == pytest.approx(stress_index(kept), abs=0.05)
    assert result.beats_detected == 401


def test_the_peaks_quality_carries_over(registry, recordings, tmp_path, fake_peaks):
    ctx = _ctx(recordings, tmp_path)
    fake_peaks["peaks"] = _peaks(_steady_rr(400, 0.02), quality=Quality.POOR)
    result = registry.run("hrv_stress_index", {"recording_id": "sim-ecg-120s-std1"}, ctx)
    assert result.quality == Quality.POOR and result.stress_index.value is not None
    fake_peaks["peaks"] = _peaks(_steady_rr(400, 0.02), quality=Quality.UNUSABLE)
    result = registry.run("hrv_stress_index", {"recording_id": "sim-ecg-120s-std1"}, ctx)
    assert result.quality == Quality.UNUSABLE and result.stress_index.value is None


def test_many_rejected_intervals_make_a_poor_index(registry, recordings, tmp_path, fake_peaks):
    rr = list(_steady_rr(500, 0.02))
    merged = [rr[i] + rr[i + 1] if i % 4 == 0 else rr[i] for i in range(len(rr) - 1) if i % 4 != 1]
    fake_peaks["peaks"] = _peaks(
        np.array(merged)
    )  # one beat in four missed: a third of the intervals doubled
    result = registry.run(
        "hrv_stress_index", {"recording_id": "sim-ecg-120s-std1"}, _ctx(recordings, tmp_path)
    )
    share = result.intervals_rejected / (result.intervals_rejected + result.intervals_used)
    assert share > 0.2 and result.quality == Quality.POOR
    assert any("left out" in w for w in result.warnings)


def test_a_range_set_by_a_few_extremes_is_flagged(registry, recordings, tmp_path, fake_peaks):
    rr = _steady_rr(400, 0.01)
    rr[200] = 0.90  # 12.5 % long: passes the cleaning, but stretches MxDMn far beyond the central 98 %
    fake_peaks["peaks"] = _peaks(rr)
    result = registry.run(
        "hrv_stress_index", {"recording_id": "sim-ecg-120s-std1"}, _ctx(recordings, tmp_path)
    )
    assert result.intervals_rejected == 0
    assert result.quality == Quality.POOR
    assert any("extreme" in w for w in result.warnings)


def test_ppg_and_mixed_recordings(registry, recordings, tmp_path):
    import neurokit2 as nk

    ecg = recordings["sim-ecg-120s-std1"]
    ppg = nk.ppg_simulate(duration=120, sampling_rate=int(FS), heart_rate=HEART_RATE, random_state=2)
    pleth = Channel(name="PLETH", kind=ChannelKind.PPG, unit="au")
    ppg_rec = Recording(
        id="sim-ppg",
        name="sim_ppg",
        source_files=[],
        format="numpy",
        modality=Modality.PPG,
        sampling_rate_hz=FS,
        channels=[pleth],
        signal=ppg.reshape(-1, 1),
    )
    mixed = Recording(
        id="sim-mixed",
        name="sim_mixed",
        source_files=[],
        format="numpy",
        modality=Modality.MIXED,
        sampling_rate_hz=FS,
        channels=[*ecg.channels, pleth],
        signal=np.column_stack([ecg.signal[:, 0], ppg[: ecg.n_samples]]),
    )
    ctx = _ctx({r.id: r for r in (ppg_rec, mixed)}, tmp_path)
    from_ppg = registry.run("hrv_stress_index", {"recording_id": "sim-ppg"}, ctx)
    assert from_ppg.channel == "PLETH" and from_ppg.stress_index.value is not None
    # ppg_simulate draws its own interval jitter, so the mode may sit a bin or two from 60/70 s
    assert 130 <= from_ppg.beats_detected <= 150
    assert abs(from_ppg.mode.value - 60 / HEART_RATE) <= 0.1
    assert "PPG" in from_ppg.method
    # a mixed recording: the ECG by default, the PPG when asked for by name
    assert registry.run("hrv_stress_index", {"recording_id": "sim-mixed"}, ctx).channel == "II"
    on_pleth = registry.run("hrv_stress_index", {"recording_id": "sim-mixed", "channel": "PLETH"}, ctx)
    assert on_pleth.channel == "PLETH" and on_pleth.stress_index.channel == "PLETH"


@pytest.mark.slow
@pytest.mark.shared_data
def test_agrees_with_the_cardiologists_beats_on_mitbih_100(registry, shared_data, tmp_path):
    from cardioagent.tools.signal.loaders import load_files

    rec = load_files(sorted((shared_data / "mitbih").glob("100.*")))[0]
    atr = next(a for a in rec.annotations if a.source == "atr")
    beat = np.isin(atr.symbols, list("NLRBAaJSVrFejnE/fQ?"))
    samples, symbols = np.asarray(atr.samples)[beat], np.asarray(atr.symbols)[beat]
    normal_pair = (symbols[1:] == "N") & (symbols[:-1] == "N")
    reference = stress_index((np.diff(samples) / rec.sampling_rate_hz)[normal_pair])  # 111.5
    result = registry.run("hrv_stress_index", {"recording_id": rec.id}, _ctx({rec.id: rec}, tmp_path))
    assert result.quality in (Quality.GOOD, Quality.ACCEPTABLE)
    assert result.stress_index.value == pytest.approx(reference, rel=0.10)


def test_an_ecg_image_is_refused_with_an_input_error(registry, tmp_path):
    image = Recording(
        id="img",
        name="photo.png",
        source_files=["photo.png"],
        format="image",
        modality=Modality.ECG_IMAGE,
        image=np.zeros((10, 10, 3), dtype=np.uint8),
    )
    with pytest.raises(InputError, match="photo.png"):
        registry.run("hrv_stress_index", {"recording_id": "img"}, _ctx({"img": image}, tmp_path))


def test_the_planner_keywords_fire_on_stress_questions_only():
    from cardioagent_hrv_stress.tool import HrvStressIndexTool

    def fires(question: str) -> bool:
        return any(re.search(k, question, flags=re.IGNORECASE) for k in HrvStressIndexTool.keywords)

    assert fires("What is my stress index?")
    assert fires("Compute the Baevsky index")
    assert fires("Am I stressed?")
    assert not fires("Was this recorded during an exercise stress test?")
    assert not fires("What is the heart rate?")


# --- a broken plugin is reported and disabled, never fatal ---------------------------------------------

BROKEN_MODULES = ("cardioagent_broken_import", "cardioagent_broken_tools")

BROKEN_TOOLS_SOURCE = """
from pydantic import BaseModel

from cardioagent.tools.contract import Measurement, Quality, Tool, ToolResult


class NotAResult(BaseModel):
    value: float


class NoDescriptionTool(Tool):
    name = "broken_contract_tool"
    description = ""
    output_model = NotAResult

    def run(self, args, ctx):
        return NotAResult(value=1.0)


class WeightlessTool(Tool):
    name = "weightless_tool"
    description = "Estimates something with a neural network whose weights are not installed."
    modalities = ("ecg",)

    def unavailable_reason(self):
        return "weights not found"

    def run(self, args, ctx):
        return ToolResult(quality=Quality.GOOD, method="never runs")
"""


@pytest.fixture()
def broken_plugin(tmp_path, monkeypatch) -> Path:
    """A fake installed distribution with three bad entry points, put on sys.path for one test."""
    site = tmp_path / "site"
    info = site / "broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""\
        [cardioagent.tools]
        zz_broken_import = cardioagent_broken_import:register_tools
        zz_broken_contract = cardioagent_broken_tools:NoDescriptionTool
        zz_needs_weights = cardioagent_broken_tools:WeightlessTool
        """)
    )
    (site / "cardioagent_broken_import.py").write_text("import cardioagent_missing_dependency_xyz\n")
    (site / "cardioagent_broken_tools.py").write_text(BROKEN_TOOLS_SOURCE)
    monkeypatch.syspath_prepend(str(site))  # also invalidates importlib's caches
    monkeypatch.setattr(registry_module, "_DEFAULT", None)  # the CLI must rediscover
    yield site
    for name in BROKEN_MODULES:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()


def test_broken_plugins_are_reported_and_disabled_not_fatal(broken_plugin, recordings, tmp_path):
    reg = ToolRegistry().discover()
    problems = {p.plugin: [] for p in reg.problems}
    for p in reg.problems:
        problems[p.plugin].append(p)
    # only the two broken entry points are reported; the missing weights are not a contract problem
    assert {name for name in problems if name.startswith("zz_")} == {"zz_broken_import", "zz_broken_contract"}
    assert not [p for p in reg.problems if p.plugin in ("hrv_stress", "builtin")], reg.problems
    assert "import failed" in problems["zz_broken_import"][0].problem
    assert "cardioagent_missing_dependency_xyz" in problems["zz_broken_import"][0].problem
    contract = " ".join(p.problem for p in problems["zz_broken_contract"])
    assert "description" in contract and "output_model" in contract
    assert {p.tool for p in problems["zz_broken_contract"]} == {"broken_contract_tool"}
    assert "broken_contract_tool" not in reg.names(available_only=False)

    # missing weights: listed, marked unavailable, never planned, refuses to run with a clear reason
    assert "weightless_tool" in reg.names(available_only=False)
    assert "weightless_tool" not in reg.names()
    spec = reg.spec("weightless_tool")
    assert spec.plugin == "zz_needs_weights" and not spec.available
    assert spec.unavailable_reason == "weights not found"
    assert "weightless_tool" not in [t.name for t in reg.tools_for("ecg")]
    ctx = _ctx(recordings, tmp_path)
    with pytest.raises(ToolError, match="unavailable here: weights not found"):
        reg.run("weightless_tool", {"recording_id": "sim-ecg-120s-std1"}, ctx)

    # the good tools still work
    assert {"hrv_stress_index", "heart_rate"} <= set(reg.names())
    result = reg.run("hrv_stress_index", {"recording_id": "sim-ecg-120s-std1"}, ctx)
    assert result.stress_index.value is not None


# --- the command line -------------------------------------------------------------------------------------


def test_tools_check_passes_on_a_healthy_install(monkeypatch, capsys):
    from cardioagent.ui.cli import main

    monkeypatch.setattr(registry_module, "_DEFAULT", None)
    code = main(["tools", "check"])
    out = capsys.readouterr().out
    assert "ok      hrv_stress_index (hrv_stress)" in out
    assert "ok      heart_rate (builtin)" in out
    assert code == 0, out


def test_tools_list_shows_the_plugin(monkeypatch, capsys):
    from cardioagent.ui.cli import main

    monkeypatch.setattr(registry_module, "_DEFAULT", None)
    assert main(["tools", "list"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("hrv_stress_index"))
    assert "[hrv_stress]" in line and "ecg,ppg,mixed" in line and "available" in line


def test_tools_check_fails_with_a_broken_plugin(broken_plugin, capsys):
    from cardioagent.ui.cli import main

    code = main(["tools", "check"])
    out = capsys.readouterr().out
    assert code == 1
    assert "broken  zz_broken_import: import failed" in out
    assert "broken  zz_broken_contract/broken_contract_tool: description" in out
    assert "ok      weightless_tool (zz_needs_weights) — unavailable: weights not found" in out
    assert "ok      hrv_stress_index (hrv_stress)" in out


# --- the registry's guard rails ---------------------------------------------------------------------------


class SleepyTool(Tool):
    name = "sleepy_tool"
    description = "Sleeps for a second: a stand-in for a tool that hangs."
    timeout_s = 0.2

    def run(self, args, ctx):
        time.sleep(1.0)
        raise AssertionError("the registry should have stopped waiting")


def test_a_tool_that_overruns_its_timeout_gives_a_tool_error(tmp_path):
    reg = ToolRegistry()
    assert reg.register(SleepyTool) is True
    started = time.monotonic()
    with pytest.raises(ToolError, match="timed out") as info:
        reg.run("sleepy_tool", {"recording_id": "any"}, _ctx({}, tmp_path), retries=0)
    assert time.monotonic() - started < 0.9  # it did not wait for the sleep to end
    assert info.value.tool == "sleepy_tool" and not info.value.retryable  # the same call would overrun again


# --- the plugin guide's complete example is real code -----------------------------------------------------


def _guide_example() -> str:
    text = (REPO / "docs" / "plugins.md").read_text()
    marker = text.index("<!-- tested: tests/test_plugins.py runs this block -->")
    block = re.search(r"```python\n(.*?)```", text[marker:], flags=re.DOTALL)
    assert block, "the tested python block after the marker in docs/plugins.md is missing"
    return block.group(1)


def test_the_guides_minimal_plugin_follows_the_contract_and_runs(recordings, tmp_path, monkeypatch):
    package = tmp_path / "site" / "cardioagent_mean_rr"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(_guide_example())
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.delitem(sys.modules, "cardioagent_mean_rr", raising=False)
    try:
        module = importlib.import_module("cardioagent_mean_rr")
        assert contract_problems(module.MeanRrTool) == []
        reg = ToolRegistry()
        module.register_tools(lambda cls: reg.register(cls, plugin="mean_rr"))
        assert reg.spec("mean_rr_interval").plugin == "mean_rr"
        result = reg.run(
            "mean_rr_interval", {"recording_id": "sim-ecg-120s-std1"}, _ctx(recordings, tmp_path)
        )
    finally:
        sys.modules.pop("cardioagent_mean_rr", None)
    assert result.mean_rr.value == pytest.approx(60 / HEART_RATE, abs=0.03)
    assert result.mean_rr.unit == "s" and result.mean_rr.uncertainty > 0
    assert result.quality in (Quality.GOOD, Quality.ACCEPTABLE)
