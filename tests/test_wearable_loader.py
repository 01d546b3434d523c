"""The wearable CSV loader (heart rate + motion -> a ``wearable`` recording on a 1-s grid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardioagent.tools.errors import CorruptFileError
from cardioagent.tools.signal.loaders import load_recording
from cardioagent.tools.signal.loaders.wearable_csv import MAX_BRIDGE_S, is_wearable_csv
from cardioagent.tools.signal.recording import ChannelKind, Modality


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_detection_by_header(tmp_path):
    assert is_wearable_csv(
        _write(tmp_path / "a.csv", "second,x_move,y_move,z_move,heart_rate", ["0,0,0,1,60"])
    )
    assert is_wearable_csv(_write(tmp_path / "b.csv", "time_s;acc_x;acc_y;acc_z;HR (bpm)", ["0;0;0;1;60"]))
    # waveforms stay with the signal loader, even when they carry a heart-rate column
    assert not is_wearable_csv(_write(tmp_path / "c.csv", "time_s,ECG,hr", ["0,0.1,60"]))
    assert not is_wearable_csv(_write(tmp_path / "d.csv", "time_s,PPG", ["0,0.1"]))
    assert not is_wearable_csv(_write(tmp_path / "e.csv", "second,x,y,z", ["0,0,0,1"]))  # no heart rate


def test_irregular_unsorted_rows_with_a_gap(tmp_path):
    # heart rate every 5 s for 10 min, rows shuffled and one repeated, then a 5-min hole, then 5 more min
    t = np.r_[np.arange(0, 600, 5.0), np.arange(900, 1200, 5.0)]
    rows = [f"{s:g},{0.01 * s:.3f},0,1,{60 + (s % 7):g},{s % 3:g}" for s in t]
    rng = np.random.default_rng(0)
    rows = [rows[i] for i in rng.permutation(len(rows))] + [rows[3]]
    rec = load_recording(
        _write(tmp_path / "night.csv", "timestamp,acc_x,acc_y,acc_z,heart_rate,counts", rows)
    )
    assert rec.modality == Modality.WEARABLE and rec.sampling_rate_hz == 1.0
    assert rec.channel_names == ["heart_rate", "acc_x", "acc_y", "acc_z", "activity_count"]
    assert [c.kind for c in rec.channels][1:4] == [ChannelKind.ACCEL] * 3 and rec.channels[0].unit == "bpm"
    assert rec.n_samples == 1196 and "start_s=0" in rec.header_comments
    hr = rec.channel_data("heart_rate")
    assert hr[10] == pytest.approx(60 + 10 % 7)  # a sample falls on second 10
    assert hr[12] == pytest.approx(
        0.6 * (60 + 10 % 7) + 0.4 * (60 + 15 % 7)
    )  # interpolated between 10 and 15
    gap = ~np.isfinite(hr)
    # seconds more than MAX_BRIDGE_S from any sample stay empty: 595 + 60 < s < 900 - 60
    assert gap.sum() == int(900 - 595 - 2 * MAX_BRIDGE_S) - 1
    assert any("repeated" in c for c in rec.header_comments)


def test_reference_stages_become_annotations(tmp_path):
    rows = [f"{s},0,0,1,60,{0 if s < 60 else 2}" for s in range(120)]
    rec = load_recording(
        _write(tmp_path / "s.csv", "second,x_move,y_move,z_move,heart_rate,psg_status", rows)
    )
    psg = rec.annotations[0]
    assert psg.source == "psg" and psg.samples == [0, 60] and psg.symbols == ["0", "2"]


def test_bad_time_column_is_a_clear_error(tmp_path):
    with pytest.raises(CorruptFileError, match="time column"):
        load_recording(_write(tmp_path / "x.csv", "second,heart_rate,acc_x", ["a,60,0", "b,61,0"]))
