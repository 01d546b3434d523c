"""Loaders: every format into ``Recording``, pairing of multi-file uploads, and one error per bad input.

Expected values come from the sources themselves (headers, labels.csv, reference.csv, the shared data
README) or from an independent reading of the raw bytes, never from the loader's own output.
"""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from cardioagent.tools.errors import (
    CorruptFileError,
    EmptyChannelError,
    FileTooLargeError,
    HeaderMismatchError,
    InputError,
    SamplingRateError,
    UnsupportedFormatError,
)
from cardioagent.tools.signal.loaders import SUPPORTED_FORMATS, load_files, load_recording
from cardioagent.tools.signal.loaders.channel_kinds import guess_channel_kind, split_unit
from cardioagent.tools.signal.recording import STANDARD_12_LEADS, ChannelKind, Modality

BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")


def _copy(src: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(src, dest_dir / src.name))


# ---------------------------------------------------------------- WFDB


def test_cinc_mat_record_in_physical_units(tests_data):
    rec = load_recording(tests_data / "E07500.hea")
    assert rec.format == "wfdb" and rec.name == "E07500" and rec.modality == Modality.ECG
    assert rec.channel_names == STANDARD_12_LEADS
    assert {c.kind for c in rec.channels} == {ChannelKind.ECG} and {c.unit for c in rec.channels} == {"mV"}
    assert rec.sampling_rate_hz == 500 and rec.n_samples == 5000 and rec.duration_s == pytest.approx(10.0)
    assert rec.demographics.age == 78 and rec.demographics.sex == "male"
    assert rec.diagnoses == ["67741000119109", "426177001"]
    assert "Rx: Unknown" in rec.header_comments
    # Independent reading: the .mat holds digital values, the header says gain 1000/mV, baseline 0.
    digital = scipy.io.loadmat(tests_data / "E07500.mat")["val"]
    np.testing.assert_allclose(rec.signal, digital.T / 1000.0)
    assert 0.2 < np.ptp(rec.channel_data("II")) < 5.0  # a plausible QRS amplitude in mV
    assert len(rec.id) == 16 and int(rec.id, 16) >= 0


def test_second_cinc_record(tests_data):
    rec = load_recording(tests_data / "JS20000.hea")
    assert rec.channel_names == STANDARD_12_LEADS and rec.sampling_rate_hz == 500
    assert rec.demographics.age == 84 and rec.demographics.sex == "female"
    assert rec.diagnoses == ["284470004", "427084000", "698252002", "55930002"]
    assert np.nanmax(np.abs(rec.signal)) < 10  # mV, not digital units


def test_cpsc_record_with_reference_peaks(tests_data):
    rec = load_recording(tests_data / "cpsc2019_00014.hea")
    assert rec.channel_names == ["ECG"] and rec.sampling_rate_hz == 500 and rec.n_samples == 5000
    (ann,) = rec.annotations
    # reference.csv of the CPSC-2019 set: cpsc2019_00014 has 13 R-peaks
    assert ann.source == "atr" and len(ann.samples) == 13 and len(ann.symbols) == 13
    assert all(0 <= s < rec.n_samples for s in ann.samples)
    assert np.ptp(rec.signal) < 5


def test_mitbih_format_212_excerpt(tests_data):
    rec = load_recording(tests_data / "mitbih100_60s.hea")
    assert rec.channel_names == ["MLII", "V5"] and rec.sampling_rate_hz == 360
    assert rec.n_samples == 60 * 360
    assert rec.demographics.age == 69 and rec.demographics.sex == "male"
    sources = {a.source: a for a in rec.annotations}
    assert set(sources) == {"atr", "qrs"}
    beats = [s for s in sources["atr"].symbols if s in BEAT_SYMBOLS]
    # The cardiologists' labels and the QRS detector's marks are independent annotators of the same minute.
    assert len(beats) == len(sources["qrs"].samples)
    assert 60 <= len(beats) <= 90  # README: mean rate about 75.5 bpm
    assert np.all(np.abs(rec.signal) < 5) and 0.5 < np.ptp(rec.channel_data("MLII")) < 5


def test_icu_record_is_mixed(tests_data):
    rec = load_recording(tests_data / "a103l_30s.hea")
    assert rec.modality == Modality.MIXED
    assert [(c.name, c.kind) for c in rec.channels] == [
        ("II", ChannelKind.ECG),
        ("V", ChannelKind.ECG),
        ("PLETH", ChannelKind.PPG),
    ]
    assert rec.channels[2].unit == "NU" and rec.channels[0].unit == "mV"
    assert rec.sampling_rate_hz == 250 and rec.duration_s == pytest.approx(30.0)
    assert "False alarm" in rec.header_comments


# ---------------------------------------------------------------- pairing and archives


def test_header_and_data_uploaded_in_separate_folders(tests_data, tmp_path):
    direct = load_recording(tests_data / "E07500.hea")
    hea = _copy(tests_data / "E07500.hea", tmp_path / "upload1")
    mat = _copy(tests_data / "E07500.mat", tmp_path / "upload2")
    for order in ([hea, mat], [mat, hea]):
        (rec,) = load_files(order)
        assert rec.name == "E07500" and rec.id == direct.id
        np.testing.assert_array_equal(rec.signal, direct.signal)
        # what the user knows the files by: base names, never the server's upload folders
        assert sorted(rec.source_files) == ["E07500.hea", "E07500.mat"]


def test_several_records_shuffled_across_folders_pair_by_name(tests_data, tmp_path):
    names = [
        "cpsc2019_00014.atr",
        "E07500.mat",
        "cpsc2019_00014.hea",
        "JS20000.hea",
        "cpsc2019_00014.dat",
        "JS20000.mat",
        "E07500.hea",
    ]
    uploads = [_copy(tests_data / n, tmp_path / f"gradio{i}") for i, n in enumerate(names)]
    recs = {r.name: r for r in load_files(uploads)}
    assert set(recs) == {"E07500", "JS20000", "cpsc2019_00014"}
    assert recs["JS20000"].demographics.age == 84 and recs["E07500"].demographics.age == 78
    assert len(recs["cpsc2019_00014"].annotations[0].samples) == 13


def test_zip_upload(tests_data, tmp_path):
    archive = tmp_path / "records.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in ["E07500.hea", "E07500.mat", "mitbih100_60s.hea", "mitbih100_60s.dat", "mitbih100_60s.atr"]:
            zf.write(tests_data / n, f"export/{n}")
        zf.writestr("export/README.txt", "not a recording, skipped inside an archive")
        zf.writestr("__MACOSX/export/._E07500.hea", b"\x00\x05junk")
    recs = {r.name: r for r in load_files([archive])}
    assert set(recs) == {"E07500", "mitbih100_60s"}
    assert recs["E07500"].id == load_recording(tests_data / "E07500.hea").id  # same bytes, same id
    assert [a.source for a in recs["mitbih100_60s"].annotations] == ["atr"]
    assert sorted(recs["E07500"].source_files) == [
        "records.zip:export/E07500.hea",
        "records.zip:export/E07500.mat",
    ]


def test_load_recording_refuses_an_archive_of_two(tests_data, tmp_path):
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for n in ["E07500.hea", "E07500.mat", "JS20000.hea", "JS20000.mat"]:
            zf.write(tests_data / n, n)
    with pytest.raises(InputError, match="2 records"):
        load_recording(archive)


def test_data_file_without_header(tests_data, tmp_path):
    dat = _copy(tests_data / "cpsc2019_00014.dat", tmp_path)
    with pytest.raises(HeaderMismatchError) as e:
        load_files([dat])
    assert "cpsc2019_00014.dat" in str(e.value) and ".hea" in str(e.value)


def test_annotation_file_without_header(tests_data, tmp_path):
    atr = _copy(tests_data / "cpsc2019_00014.atr", tmp_path)
    with pytest.raises(HeaderMismatchError, match="cpsc2019_00014.atr"):
        load_files([atr])


def test_corrupt_zip(tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really an archive")
    with pytest.raises(CorruptFileError, match="broken.zip"):
        load_files([bad])


# ---------------------------------------------------------------- EDF


def test_edf_with_mixed_rates_and_annotations(tests_data):
    rec = load_recording(tests_data / "synthetic_ecg_ppg.edf")
    assert rec.format == "edf" and rec.modality == Modality.MIXED
    assert [(c.name, c.kind) for c in rec.channels] == [
        ("ECG", ChannelKind.ECG),
        ("Pleth", ChannelKind.PPG),
        ("Resp", ChannelKind.RESP),
    ]
    assert rec.sampling_rate_hz == 256 and rec.duration_s == pytest.approx(30.0)
    assert rec.channels[0].unit == "mV" and 0.3 < np.ptp(rec.channel_data("ECG")) < 5  # written in uV
    assert any("Resp 32 Hz" in c and "256 Hz" in c for c in rec.header_comments)
    assert any("EEG Fpz-Cz" in c for c in rec.header_comments)
    assert rec.demographics.sex == "female" and rec.demographics.age == 60
    (ann,) = rec.annotations
    assert ann.source == "edf" and ann.symbols == ["Lights off", "Cough", "Movement"]
    assert ann.samples == [2 * 256, int(10.5 * 256), 25 * 256]
    assert not any("SYNTH-1" in c for c in rec.header_comments)  # the patient code is not kept


# ---------------------------------------------------------------- CSV


def test_csv_with_spc2015_layout(tests_data):
    rec = load_recording(tests_data / "synthetic_ppg_accel.csv")
    assert rec.format == "csv" and rec.sampling_rate_hz == 125 and rec.duration_s == pytest.approx(30.0)
    kinds = {c.name: c.kind for c in rec.channels}
    assert kinds == {
        "ppg1": ChannelKind.PPG,
        "ppg2": ChannelKind.PPG,
        "acc_x": ChannelKind.ACCEL,
        "acc_y": ChannelKind.ACCEL,
        "acc_z": ChannelKind.ACCEL,
        "ecg_chest": ChannelKind.ECG,
    }
    assert rec.modality == Modality.MIXED
    assert np.mean(rec.channel_data("acc_z")) == pytest.approx(1.0, abs=0.05)  # gravity, as written


def test_csv_ppg_and_accel_only_is_ppg(tests_data, tmp_path):
    rows = list(csv.reader((tests_data / "synthetic_ppg_accel.csv").read_text().splitlines()))
    out = tmp_path / "wrist.csv"
    with open(out, "w", newline="") as f:
        csv.writer(f).writerows([r[:6] for r in rows])
    assert load_recording(out).modality == Modality.PPG


def test_headerless_csv_with_time_column(tmp_path):
    t = np.arange(1000) / 200
    x = np.sin(2 * np.pi * 1.2 * t)
    path = tmp_path / "nohead.csv"
    np.savetxt(path, np.column_stack([t, x, -x]), delimiter=",", fmt="%.6f")
    rec = load_recording(path)
    assert rec.sampling_rate_hz == 200 and rec.channel_names == ["ch1", "ch2"]
    assert rec.modality == Modality.ECG and any("treated as ECG" in c for c in rec.header_comments)


def test_csv_time_in_ms_semicolons_comments_and_units(tmp_path):
    t = np.arange(0, 5000, 4.0)  # ms, 250 Hz
    x = np.sin(2 * np.pi * t / 1000)
    path = tmp_path / "device.csv"
    lines = ["# device: Acme patch", "time_ms;ECG (mV);Pleth"] + [
        f"{a:.0f};{b:.4f};{-b:.4f}" for a, b in zip(t, x, strict=False)
    ]
    path.write_text("\n".join(lines) + "\n")
    rec = load_recording(path)
    assert rec.sampling_rate_hz == 250 and rec.channel_names == ["ECG", "Pleth"]
    assert rec.channels[0].unit == "mV" and rec.modality == Modality.MIXED
    assert "device: Acme patch" in rec.header_comments


def test_csv_without_time_uses_given_rate_and_drops_index(tests_data, tmp_path):
    rec = load_recording(tests_data / "malformed" / "no_time_column.csv", sampling_rate_hz=250)
    assert (
        rec.sampling_rate_hz == 250 and rec.channel_names == ["ecg"] and rec.duration_s == pytest.approx(10)
    )
    path = tmp_path / "indexed.csv"
    path.write_text("sample,II\n" + "".join(f"{i},{np.sin(i / 20):.4f}\n" for i in range(600)))
    rec = load_recording(path, sampling_rate_hz=300)
    assert rec.channel_names == ["II"] and rec.sampling_rate_hz == 300


def test_csv_non_numeric_value_names_column_and_line(tmp_path):
    path = tmp_path / "typo.csv"
    path.write_text("time_s,ecg\n0.000,0.1\n0.004,0.2\n0.008,abc\n0.012,0.1\n")
    with pytest.raises(CorruptFileError) as e:
        load_files([path])
    assert "typo.csv" in str(e.value) and "'ecg'" in str(e.value) and "line 4" in str(e.value)


def test_some_flat_channels_are_dropped_and_nans_interpolated(tmp_path):
    fs = 250
    t = np.arange(5 * fs) / fs
    ecg = np.sin(2 * np.pi * 1.1 * t)
    ecg[[100, 101, 700]] = np.nan
    path = tmp_path / "leadoff.csv"
    path.write_text(
        "time_s,I,II,PPG\n" + "".join(f"{a:.3f},{b:.5f},0.0,\n" for a, b in zip(t, ecg, strict=False))
    )
    rec = load_recording(path)
    assert rec.channel_names == ["I"]
    assert np.isfinite(rec.signal).all()
    assert rec.signal[100, 0] == pytest.approx(np.sin(2 * np.pi * 1.1 * 100 / fs), abs=0.01)
    notes = " ".join(rec.header_comments)
    assert "II (flat" in notes and "PPG (all NaN)" in notes and "interpolated 3" in notes


# ---------------------------------------------------------------- NumPy


def test_npz_twelve_lead(tests_data):
    rec = load_recording(tests_data / "synthetic_12lead.npz")
    assert rec.format == "numpy" and rec.channel_names == STANDARD_12_LEADS
    assert rec.sampling_rate_hz == 500 and rec.n_samples == 5000 and rec.modality == Modality.ECG
    raw = np.load(tests_data / "synthetic_12lead.npz")["signal"]
    np.testing.assert_allclose(rec.signal, raw.astype(np.float64))
    assert 0.5 < np.ptp(rec.channel_data("II")) < 5


def test_npy_needs_rate_and_is_oriented(tmp_path):
    x = np.sin(np.linspace(0, 60, 3000))
    path = tmp_path / "leads.npy"
    np.save(path, np.vstack([x, 2 * x, 3 * x]))  # (channels, samples)
    with pytest.raises(SamplingRateError) as e:
        load_files([path])
    assert "leads.npy" in str(e.value) and "sampling_rate_hz" in str(e.value)
    rec = load_recording(path, sampling_rate_hz=300)
    assert rec.signal.shape == (3000, 3) and rec.duration_s == pytest.approx(10)
    np.testing.assert_allclose(rec.signal[:, 2], 3 * x)


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, signal=np.array([{"a": 1}], dtype=object), fs=250)
    with pytest.raises(CorruptFileError, match="evil.npz"):
        load_files([path])


def test_text_renamed_npz_is_not_unpickled(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("hello, this is not an array")
    with pytest.raises(CorruptFileError, match="not in NumPy's .npy/.npz format"):
        load_files([path])


def test_npz_channel_names_must_match(tmp_path):
    path = tmp_path / "names.npz"
    np.savez(
        path, signal=np.random.default_rng(0).standard_normal((1000, 2)), fs=250, channels=["I", "II", "III"]
    )
    with pytest.raises(HeaderMismatchError, match="3 channel names"):
        load_files([path])


# ---------------------------------------------------------------- images


def test_jpeg_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = img.getexif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    path = tmp_path / "photo.jpg"
    img.save(path, exif=exif)
    rec = load_recording(path)
    assert rec.format == "image" and rec.modality == Modality.ECG_IMAGE and rec.signal is None
    assert rec.image.shape == (40, 20, 3) and rec.image.dtype == np.uint8
    assert rec.summary().image_size == (20, 40)


def test_transparent_png_is_laid_on_white(tmp_path):
    path = tmp_path / "screenshot.png"
    Image.new("RGBA", (30, 10), (0, 0, 0, 0)).save(path)
    rec = load_recording(path)
    assert rec.image.shape == (10, 30, 3) and rec.image.min() == 255


def test_pdf_first_page_rendered_at_150_dpi(tmp_path):
    path = tmp_path / "ecg.pdf"
    pages = [Image.new("RGB", (300, 150), (255, 255, 255)), Image.new("RGB", (100, 100), (0, 0, 0))]
    pages[0].save(path, resolution=100.0, save_all=True, append_images=pages[1:])  # 3 x 1.5 inch
    rec = load_recording(path)
    h, w, c = rec.image.shape
    assert c == 3 and abs(w - 450) <= 2 and abs(h - 225) <= 2
    assert any("page 1 of 2" in note for note in rec.header_comments)


def test_corrupt_image(tmp_path):
    path = tmp_path / "scan.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
    with pytest.raises(CorruptFileError, match="scan.png"):
        load_files([path])


# ---------------------------------------------------------------- malformed uploads

MALFORMED_CASES = [
    ("notes.txt", UnsupportedFormatError, ["'.txt'", SUPPORTED_FORMATS]),
    ("missing_dat.hea", HeaderMismatchError, ["missing_dat.dat", "uploaded together"]),
    ("truncated.hea", HeaderMismatchError, ["truncated", "625 of 2,500 samples", "complete data file"]),
    ("lead_mismatch.hea", HeaderMismatchError, ["12 leads", "only 1 lead", "complete data file"]),
    ("no_time_column.csv", SamplingRateError, ["no time column", "sampling_rate_hz", "time_s"]),
    ("rate_20hz.csv", SamplingRateError, ["20 Hz", "between 50 and 10000 Hz"]),
    ("rate_20khz.csv", SamplingRateError, ["20000 Hz", "between 50 and 10000 Hz"]),
    ("all_nan.csv", EmptyChannelError, ["all NaN", "finite, varying values"]),
    ("flat_line.csv", EmptyChannelError, ["flat", "finite, varying values"]),
    ("not_really.edf", CorruptFileError, ["not a readable EDF", "EDF or EDF+ file"]),
]


@pytest.mark.parametrize("name,error,fragments", MALFORMED_CASES, ids=[c[0] for c in MALFORMED_CASES])
def test_malformed_upload(tests_data, name, error, fragments):
    path = tests_data / "malformed" / name
    with pytest.raises(error) as e:
        load_files([path])
    message = str(e.value)
    assert type(e.value) is error
    assert name in message and e.value.accepted in message
    for fragment in fragments:
        assert fragment in message


def test_unknown_extension_docx(tmp_path):
    path = tmp_path / "ecg_report.docx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(UnsupportedFormatError) as e:
        load_files([path])
    assert "ecg_report.docx" in str(e.value) and ".edf" in str(e.value)


def test_short_recording_still_loads(tests_data):
    rec = load_recording(tests_data / "malformed" / "short_3s.csv")
    assert rec.duration_s == pytest.approx(3.0) and rec.sampling_rate_hz == 250


def test_size_limit_is_checked_before_reading(tests_data):
    # not_really.edf is corrupt: a FileTooLargeError (not a CorruptFileError) shows nothing was parsed.
    path = tests_data / "malformed" / "not_really.edf"
    with pytest.raises(FileTooLargeError) as e:
        load_files([path], max_bytes=100)
    assert "not_really.edf" in str(e.value) and "up to 100 bytes" in str(e.value)
    assert load_files([tests_data / "E07500.hea"], max_bytes=200_000)  # both files fit


def test_size_limit_from_environment(tests_data, monkeypatch):
    monkeypatch.setenv("CARDIOAGENT_MAX_UPLOAD_MB", "0.05")  # 52 kB < the 120 kB .mat
    with pytest.raises(FileTooLargeError, match="E07500.mat"):
        load_files([tests_data / "E07500.hea", tests_data / "E07500.mat"])


def test_zip_that_unpacks_beyond_the_limit(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.csv", "0.0\n" * 250_000)  # 1 MB, compresses to a few kB
    assert archive.stat().st_size < 20_000
    with pytest.raises(FileTooLargeError, match="big.csv"):
        load_files([archive], max_bytes=100_000)


def test_malformed_header_becomes_corrupt_file_error(tmp_path):
    (tmp_path / "rec.hea").write_text("rec 1 fivehundred 1000\nrec.dat 16 200/mV 16 0 0 0 0 ECG\n")
    (tmp_path / "rec.dat").write_bytes(np.zeros(1000, "<i2").tobytes())
    with pytest.raises(CorruptFileError, match="rec.hea"):
        load_files([tmp_path / "rec.hea"])


def test_header_without_rate_needs_one(tmp_path):
    # WFDB's default would be 250 Hz; a header that says nothing must not be read at a guessed rate.
    (tmp_path / "norate.hea").write_text("norate 1\nnorate.dat 16 200/mV 16 0 0 0 0 ECG\n")
    x = (200 * np.sin(np.arange(3000) / 15)).astype("<i2")
    (tmp_path / "norate.dat").write_bytes(x.tobytes())
    with pytest.raises(SamplingRateError, match="norate.hea"):
        load_files([tmp_path / "norate.hea"])
    rec = load_recording(tmp_path / "norate.hea", sampling_rate_hz=500)
    assert rec.sampling_rate_hz == 500 and rec.n_samples == 3000
    np.testing.assert_allclose(rec.signal[:, 0], x / 200)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="nowhere.csv"):
        load_files([tmp_path / "nowhere.csv"])


# ---------------------------------------------------------------- channel kinds


@pytest.mark.parametrize(
    "name,kind",
    [
        ("I", ChannelKind.ECG),
        ("aVR", ChannelKind.ECG),
        ("V6", ChannelKind.ECG),
        ("MLII", ChannelKind.ECG),
        ("ECG", ChannelKind.ECG),
        ("ecg_chest", ChannelKind.ECG),
        ("ECG lead II", ChannelKind.ECG),
        ("PLETH", ChannelKind.PPG),
        ("PPG", ChannelKind.PPG),
        ("ppg1", ChannelKind.PPG),
        ("BVP", ChannelKind.PPG),
        ("acc_x", ChannelKind.ACCEL),
        ("ACC", ChannelKind.ACCEL),
        ("RESP", ChannelKind.RESP),
        ("ABP", ChannelKind.BP),
        ("ART", ChannelKind.BP),
        ("ch1", ChannelKind.OTHER),
        ("EEG Fpz-Cz", ChannelKind.OTHER),
        ("artifact", ChannelKind.OTHER),
        ("SpO2", ChannelKind.OTHER),
    ],
)
def test_guess_channel_kind(name, kind):
    assert guess_channel_kind(name) == kind


def test_split_unit():
    assert split_unit("ECG (mV)") == ("ECG", "mV") and split_unit("acc_x [g]") == ("acc_x", "g")
    assert split_unit("ppg1") == ("ppg1", "")


# ---------------------------------------------------------------- real data sets (../shared/data)


@pytest.mark.shared_data
def test_all_cinc2021_records_match_labels(shared_data):
    folder = shared_data / "ecg12_cinc2021"
    labels = list(csv.DictReader((folder / "labels.csv").read_text().splitlines()))
    assert len(labels) == 25
    recs = {r.name: r for r in load_files(sorted(folder.glob("*.hea")))}  # headers only: data found beside
    assert set(recs) == {row["record"] for row in labels}
    for row in labels:
        rec = recs[row["record"]]
        # Some records have leads recorded as constant zero (JS20004: V2, V4, V6); the loader drops those.
        digital = scipy.io.loadmat(folder / f"{row['record']}.mat")["val"]
        live = [lead for lead, x in zip(STANDARD_12_LEADS, digital, strict=False) if np.ptp(x) > 0]
        assert rec.channel_names == live, row["record"]
        if live != STANDARD_12_LEADS:
            assert any("dropped empty or flat" in c for c in rec.header_comments)
        assert rec.sampling_rate_hz == float(row["fs"]) and rec.n_samples == int(row["samples"])
        assert rec.demographics.sex == row["sex"].lower(), row["record"]
        assert rec.demographics.age == (float(row["age"]) if row["age"] else None), row["record"]
        assert rec.diagnoses == row["dx_snomed"].split(";"), row["record"]
        assert {c.unit for c in rec.channels} == {"mV"}
        assert np.nanmedian(np.abs(rec.signal)) < 2.0 and np.ptp(rec.signal) < 40, row["record"]
    assert len({r.id for r in recs.values()}) == 25


@pytest.mark.shared_data
def test_cinc2021_as_one_zip(shared_data, tmp_path):
    archive = tmp_path / "cinc.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted((shared_data / "ecg12_cinc2021").iterdir()):
            zf.write(p, f"ecg12_cinc2021/{p.name}")  # labels.csv included: it has no signal, see below
    with pytest.raises(InputError, match="labels.csv"):
        load_files([archive])  # a CSV of labels is not a recording, and says so
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted((shared_data / "ecg12_cinc2021").glob("*.[hm]*")):
            zf.write(p, p.name)
    assert len(load_files([archive])) == 25


@pytest.mark.shared_data
def test_mitbih_full_record(shared_data):
    rec = load_recording(shared_data / "mitbih" / "100.hea")
    assert rec.n_samples == 650000 and rec.sampling_rate_hz == 360
    sources = {a.source: a for a in rec.annotations}
    beats = [s for s in sources["atr"].symbols if s in BEAT_SYMBOLS]
    assert len(beats) == 2273  # shared data README
    assert rec.demographics.age == 69 and rec.demographics.sex == "male"


@pytest.mark.shared_data
def test_excerpts_match_their_sources(shared_data, tests_data):
    full = load_recording(shared_data / "mitbih" / "100.hea")
    part = load_recording(tests_data / "mitbih100_60s.hea")
    np.testing.assert_allclose(part.signal, full.signal[: part.n_samples])
    for src in ("atr", "qrs"):
        a_full = next(a for a in full.annotations if a.source == src)
        a_part = next(a for a in part.annotations if a.source == src)
        keep = [i for i, s in enumerate(a_full.samples) if s < part.n_samples]
        assert a_part.samples == [a_full.samples[i] for i in keep]
        assert a_part.symbols == [a_full.symbols[i] for i in keep]
    icu_full = load_recording(shared_data / "icu_ppg_ecg" / "a103l.hea")
    icu_part = load_recording(tests_data / "a103l_30s.hea")
    assert icu_full.modality == Modality.MIXED and icu_full.channel_names == ["II", "V", "PLETH"]
    np.testing.assert_allclose(icu_part.signal, icu_full.signal[: icu_part.n_samples], rtol=1e-6, atol=1e-9)


@pytest.mark.shared_data
def test_spc2015_layout_loads_in_place(shared_data):
    rec = load_recording(shared_data / "ppg_wrist_spc2015" / "DATA_01_TYPE01.csv")
    assert rec.sampling_rate_hz == 125 and rec.duration_s > 240
    # The chest ECG of SPC-2015 is in raw ADC units (it spans ~830 "mV"): dropped with a note, not read as mV.
    assert rec.channel_names == ["ppg1", "ppg2", "acc_x", "acc_y", "acc_z"]
    assert any("ecg_chest" in c and "cannot be millivolts" in c for c in rec.header_comments)
