"""Per-lead noise kinds (tools/signal/noise.py): PTB-XL lead-string parsing, feature sanity on synthetic
12-lead signals with one lead spoiled, the shipped JSON model, and the ``noise`` field of assess_quality."""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest

from cardioagent.tools.signal import noise
from cardioagent.tools.signal.noise import LEAD_ORDER, NOISE_KINDS, noise_kinds, parse_noise_leads

FS = 500
LIMB = ["I", "II", "III", "aVR", "aVL", "aVF"]


# ------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "text, leads",
    [
        (" , I-V1,  ", LIMB + ["V1"]),
        (" , I-AVR,  ", ["I", "II", "III", "aVR"]),
        (" , alles,  ", list(LEAD_ORDER)),
        ("alles", list(LEAD_ORDER)),
        ("all", list(LEAD_ORDER)),
        ("noisy recording", list(LEAD_ORDER)),
        ("V1,V2", ["V1", "V2"]),
        (" , II,III,AVF-V6", ["II", "III", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]),
        (" , I,III-AVR,  ", ["I", "III", "aVR"]),
        (" , II-AVF,V5,V6", ["II", "III", "aVR", "aVL", "aVF", "V5", "V6"]),
        (" , V1V6", ["V1", "V6"]),
        (" , V5 ", ["V5"]),
        ("I,III,AVL", ["I", "III", "aVL"]),
        (" , leicht,  ", []),
        ("", []),
        (None, []),
        (float("nan"), []),
    ],
)
def test_parse_noise_leads(text, leads):
    assert parse_noise_leads(text) == leads


def test_canonical_lead_names():
    assert noise.canonical_lead("AVF") == "aVF"
    assert noise.canonical_lead("avl") == "aVL"
    assert noise.canonical_lead("lead V3") == "V3"
    assert noise.canonical_lead("ECG") is None


def test_noise_labels_from_a_database_row():
    row = {
        "baseline_drift": None,
        "static_noise": " , I-AVR,  ",
        "burst_noise": "V2",
        "electrodes_problems": "",
    }
    assert noise.noise_labels(row) == {
        "baseline_drift": [],
        "static_noise": ["I", "II", "III", "aVR"],
        "burst_noise": ["V2"],
        "electrodes_problems": [],
    }


# ------------------------------------------------------------------------------------ synthetic signals


@pytest.fixture(scope="module")
def clean12() -> np.ndarray:
    import neurokit2 as nk

    base = nk.ecg_simulate(duration=10, sampling_rate=FS, heart_rate=70, noise=0, random_state=0)
    i, ii = 0.6 * base, 1.0 * base
    limb = [i, ii, ii - i, -(i + ii) / 2, i - ii / 2, ii - i / 2]
    chest = [
        g * np.roll(base, s)
        for g, s in zip([-0.5, -0.8, 0.6, 1.2, 1.1, 0.9], [0, 2, 4, 6, 8, 10], strict=False)
    ]
    rng = np.random.default_rng(0)
    return np.column_stack(limb + chest) + rng.normal(0, 0.003, (len(base), 12))


def _present(x: np.ndarray, kind: str) -> list[str]:
    out = noise_kinds(x, FS, LEAD_ORDER)
    return [lead for lead in LEAD_ORDER if out[lead][kind]["present"]]


def _t(x: np.ndarray) -> np.ndarray:
    return np.arange(x.shape[0]) / FS


def test_clean_recording_has_no_noise(clean12):
    out = noise_kinds(clean12, FS, LEAD_ORDER)
    for lead in LEAD_ORDER:
        for kind in NOISE_KINDS:
            assert out[lead][kind]["present"] is False, (lead, kind, out[lead][kind])
            assert 0.0 <= out[lead][kind]["probability"] <= 1.0


def test_baseline_wander_is_drift_on_that_lead_only(clean12):
    x = clean12.copy()
    x[:, 7] += 0.8 * np.sin(2 * np.pi * 0.3 * _t(x))
    assert _present(x, "baseline_drift") == ["V2"]
    assert _present(x, "static_noise") == []


@pytest.mark.parametrize("kind_of_noise", ["mains", "white"])
def test_mains_or_white_noise_is_static_noise(clean12, kind_of_noise):
    x = clean12.copy()
    if kind_of_noise == "mains":
        x[:, 5] += 0.15 * np.sin(2 * np.pi * 50 * _t(x))
    else:
        x[:, 5] += np.random.default_rng(1).normal(0, 0.05, len(x))
    assert _present(x, "static_noise") == ["aVF"]
    assert _present(x, "baseline_drift") == []


def test_short_bursts_are_burst_noise(clean12):
    x = clean12.copy()
    t = _t(x)
    rng = np.random.default_rng(2)
    for start in (2.0, 6.0):
        m = (t > start) & (t < start + 0.6)
        x[m, 3] += rng.normal(0, 0.3, m.sum())
    assert _present(x, "burst_noise") == ["aVR"]


def test_flat_lead_is_an_electrode_problem(clean12):
    x = clean12.copy()
    x[:, 10] = 0.0
    out = noise_kinds(x, FS, LEAD_ORDER)
    assert out["V5"]["electrodes_problems"]["present"] is True
    assert (
        "flat" in out["V5"]["electrodes_problems"]["evidence"]
        or "amplitude" in out["V5"]["electrodes_problems"]["evidence"]
    )
    assert all(out["V5"][k]["present"] is None for k in ("baseline_drift", "static_noise", "burst_noise"))
    assert _present(x, "electrodes_problems") == ["V5"]


def test_single_lead_and_too_short_signals(clean12):
    one = noise_kinds(clean12[:, 1], FS, ["II"])
    assert set(one) == {"II"} and all(one["II"][k]["present"] is False for k in NOISE_KINDS)
    f = noise.recording_noise_features(clean12[:, 1], FS, ["II"])[0]
    assert math.isnan(f["max_corr_other"]) and math.isfinite(f["hf_floor_mv"])
    short = noise_kinds(clean12[: FS // 2, :2], FS, ["I", "II"])
    assert all(short[lead][k]["present"] is None for lead in ("I", "II") for k in NOISE_KINDS)


def test_features_respond_to_their_noise(clean12):
    x = clean12[:, 1]
    t = _t(clean12)
    base = noise.lead_noise_features(x, FS)
    drift = noise.lead_noise_features(x + 0.8 * np.sin(2 * np.pi * 0.3 * t), FS)
    hiss = noise.lead_noise_features(x + np.random.default_rng(3).normal(0, 0.05, len(x)), FS)
    assert drift["baseline_range_mv"] > 5 * base["baseline_range_mv"]
    assert hiss["hf_floor_mv"] > 5 * base["hf_floor_mv"]
    assert abs(hiss["baseline_range_mv"] - base["baseline_range_mv"]) < 0.1


# --------------------------------------------------------------------------------------------- model


def test_shipped_model_loads_and_gives_probabilities(clean12):
    model = json.loads(noise.MODEL_PATH.read_text())
    assert set(model["kinds"]) == set(NOISE_KINDS)
    for spec in model["kinds"].values():
        assert 0.0 < spec["threshold"] < 1.0
        if spec["type"] == "logistic":
            n = len(spec["features"])
            assert n and all(len(spec[k]) == n for k in ("transforms", "mean", "scale", "coef"))
    rng = np.random.default_rng(4)
    for _ in range(5):
        x = clean12 * rng.uniform(0.2, 3.0) + rng.normal(0, rng.uniform(0.001, 0.2), clean12.shape)
        for lead in noise_kinds(x, FS, LEAD_ORDER).values():
            for finding in lead.values():
                assert finding["probability"] is None or 0.0 <= finding["probability"] <= 1.0
    # a spec with every feature missing is undetermined, not a number
    spec = model["kinds"]["static_noise"]
    assert noise.kind_probability({}, spec) is None


# ------------------------------------------------------------------------------------- assess_quality


def test_assess_quality_reports_noise_per_ecg_channel(clean12):
    from cardioagent.tools.analysis import assess_quality
    from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

    x = clean12.copy()
    x[:, 7] += 0.8 * np.sin(2 * np.pi * 0.3 * _t(x))
    channels = [Channel(name=n, kind=ChannelKind.ECG, unit="mV") for n in LEAD_ORDER]
    rec = Recording(
        id="noise-test",
        name="noise-test",
        source_files=[],
        format="numpy",
        modality=Modality.ECG,
        sampling_rate_hz=FS,
        signal=x,
        channels=channels,
    )
    report = assess_quality(rec)
    by = {c.channel: c for c in report.channels}
    assert [f.kind for f in by["V2"].noise] == list(NOISE_KINDS)
    drift = {c.channel: next(f for f in c.noise if f.kind == "baseline_drift") for c in report.channels}
    assert drift["V2"].present is True and all(drift[n].present is False for n in LEAD_ORDER if n != "V2")
    assert "baseline drift: V2" in report.summary()
    dumped = report.model_dump(mode="json")
    assert set(dumped["channels"][0]["noise"][0]) == {"kind", "present", "probability", "evidence"}


# ------------------------------------------------------------------------------ real ECG-QA questions


@pytest.mark.shared_data
def test_label_parser_reproduces_ecgqa_noise_answers(shared_data):
    qa_path = shared_data / "ecgqa_format_sample" / "ptbxl_1_250_template.json"
    db_path = shared_data / "ptbxl_1_250" / "ptbxl_database.csv"
    if not qa_path.is_file() or not db_path.is_file():
        pytest.skip("PTB-XL 1-250 or the ECG-QA sample is missing")
    with db_path.open(newline="") as fh:
        labels = {int(r["ecg_id"]): noise.noise_labels(r) for r in csv.DictReader(fh)}
    items = [q for q in json.loads(qa_path.read_text()) if q["template_id"] in (26, 27, 28)]
    assert len(items) > 100
    for q in items:
        lab = labels[q["ecg_id"][0]]
        m = re.search(r"in lead (\S+?)\?", q["question"])
        lead = noise.canonical_lead(m.group(1)) if m else None
        kind = q["attribute"][0].replace(" ", "_")
        if q["template_id"] == 28:
            yes = any(lead in v for v in lab.values())
        elif q["template_id"] == 26:
            yes = lead in lab[kind]
        else:
            yes = bool(lab[kind])
        assert ("yes" if yes else "no") == q["answer"][0], q
