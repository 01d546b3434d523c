"""Fuzz the upload path: mutations of real files, each loaded in a forked child with time and memory caps.

    .venv/bin/python bench/fuzz_loaders.py                # 1,000 cases, prints a table
    .venv/bin/python bench/fuzz_loaders.py --n 300 --seed 1

Seeds are the records in ``tests/data`` (WFDB .hea/.mat/.dat/.atr/.qrs, EDF, CSV, NPZ), files derived from
them for the formats tests/data has no sample of (.npy, .zip, .png, .jpg, .pdf), and the CSV and EDF files of
``../shared/data/ecg_formats`` when that folder exists (skipped otherwise). Each case mutates one file of a
seed (byte flips, truncation, insertion, field values such as 0/-1/nan/inf/1e-30/1e308, path names such as
``../../x`` or an absolute path aimed at a victim recording, ANSI escapes, huge repeats, lying headers, zip
member names that leave the archive, image sizes of 13000 x 13000, PDF pages of a kilometre, ...), and
uploads the result through ``RecordingStore.add`` in a forked child with ``RLIMIT_AS`` (1.5 GB) and a
30-s wall-clock cap. Outcomes:

- ``ok``: loaded, and the output is plausible;
- ``specific``: refused with an ``InputError`` of our own wording;
- ``wrapped``: refused with an ``InputError`` that wraps a library's message;
- ``traceback``: another exception escaped;
- ``crash``: the child died (signal, abort, out of memory in C);
- ``hang``: the child ran past the time cap and was killed;
- ``odd``: loaded, but the output is not plausible (NaN/inf samples, an ECG spanning more than 50 mV, a rate
  outside 50..10000 Hz, control characters in names, annotations outside the record, a stored recording
  that does not reload under its id, more values or pixels than the limits allow);
- ``write_outside``: a file appeared or changed outside the case's own folder (a canary folder and a
  stored victim recording are watched).

What it found and what was fixed in the loaders (each now a test in ``tests/test_security_uploads.py``): an
annotation file whose notes send ``wfdb.rdann`` into an endless loop (now detected and the file left out), a
header whose signals in one file have two formats (a wfdb ``TypeError``, now a specific error), and damaged
``.npz``/``.zip``/PDF data surfacing as wrapped library errors (now specific).

Writes ``bench/results/fuzz_loaders.json``: the counts per format and outcome, the slowest case, the peak
memory of a child, and every case that was not ``ok``/``specific``/``wrapped``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy: no thread pools in the forked children

import argparse
import hashlib
import io
import json
import multiprocessing as mp
import random
import re
import resource
import shutil
import struct
import sys
import tempfile
import time
import traceback
import zipfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TESTS_DATA = REPO / "tests" / "data"
SHARED_FORMATS = (
    Path(os.environ.get("CARDIOAGENT_SHARED_DATA", REPO.parent / "shared" / "data")) / "ecg_formats"
)
OUT = REPO / "bench" / "results" / "fuzz_loaders.json"
TIME_CAP_S = 30.0
MEMORY_CAP = int(1.5 * 1024**3)
OUTCOMES = ["ok", "specific", "wrapped", "traceback", "crash", "hang", "odd", "write_outside"]
BAD = {"traceback", "crash", "hang", "odd", "write_outside"}


# ------------------------------------------------------------------------------------------------- seeds


@dataclass
class Seed:
    name: str
    format: str
    files: dict[str, bytes]  # file name -> bytes
    main: str  # the file most mutations target
    extra: dict = field(default_factory=dict)


def _read(*names: str) -> dict[str, bytes]:
    return {n: (TESTS_DATA / n).read_bytes() for n in names}


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _trace_image(signal: np.ndarray, width: int = 600, height: int = 200) -> np.ndarray:
    """Lead II of a real record drawn as black on white: a plausible ECG strip for the image loaders."""
    img = np.full((height, width, 3), 255, np.uint8)
    x = np.interp(np.linspace(0, len(signal) - 1, width), np.arange(len(signal)), signal)
    y = (height / 2 - (x - np.median(x)) / (np.ptp(x) + 1e-9) * height * 0.8).astype(int).clip(0, height - 1)
    img[y, np.arange(width)] = 0
    img[::40, :, 1:] = 200  # a grid
    img[:, ::40, 1:] = 200
    return img


def _pdf_with_trace(signal: np.ndarray) -> bytes:
    x = np.interp(np.linspace(0, len(signal) - 1, 400), np.arange(len(signal)), signal)
    y = 100 + (x - np.median(x)) / (np.ptp(x) + 1e-9) * 80
    path = " ".join(f"{20 + i:.1f} {v:.1f} {'m' if i == 0 else 'l'}" for i, v in enumerate(y)) + " S"
    content = path.encode()
    objs = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 842 595]/Contents 4 0 R>>",
        b"<</Length " + str(len(content)).encode() + b">>stream\n" + content + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj".encode() + o + b"endobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer<</Size {len(objs) + 1}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def build_seeds() -> list[Seed]:
    from PIL import Image

    seeds = [
        Seed("E07500", "wfdb", _read("E07500.hea", "E07500.mat"), "E07500.hea"),
        Seed("JS20000", "wfdb", _read("JS20000.hea", "JS20000.mat"), "JS20000.mat"),
        Seed("a103l_30s", "wfdb", _read("a103l_30s.hea", "a103l_30s.dat"), "a103l_30s.hea"),
        Seed(
            "cpsc2019_00014",
            "wfdb",
            _read("cpsc2019_00014.hea", "cpsc2019_00014.dat", "cpsc2019_00014.atr"),
            "cpsc2019_00014.atr",
        ),
        Seed(
            "mitbih100_60s",
            "wfdb",
            _read("mitbih100_60s.hea", "mitbih100_60s.dat", "mitbih100_60s.atr", "mitbih100_60s.qrs"),
            "mitbih100_60s.dat",
        ),
        Seed("synthetic_ecg_ppg", "edf", _read("synthetic_ecg_ppg.edf"), "synthetic_ecg_ppg.edf"),
        Seed("synthetic_ppg_accel", "csv", _read("synthetic_ppg_accel.csv"), "synthetic_ppg_accel.csv"),
        Seed("synthetic_12lead", "npz", _read("synthetic_12lead.npz"), "synthetic_12lead.npz"),
    ]
    with np.load(TESTS_DATA / "synthetic_12lead.npz") as z:
        buf = io.BytesIO()
        np.save(buf, np.asarray(z["signal"])[:, 1])
    seeds.append(
        Seed(
            "synthetic_lead_II",
            "npy",
            {"lead_II.npy": buf.getvalue()},
            "lead_II.npy",
            extra={"sampling_rate_hz": 500},
        )
    )
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in ("E07500.hea", "E07500.mat", "mitbih100_60s.hea", "mitbih100_60s.dat", "mitbih100_60s.atr"):
            zf.writestr(f"export/{n}", (TESTS_DATA / n).read_bytes())
    seeds.append(Seed("records_zip", "zip", {"records.zip": zbuf.getvalue()}, "records.zip"))
    import scipy.io

    lead = scipy.io.loadmat(TESTS_DATA / "E07500.mat")["val"][1].astype(float)
    png = _png(_trace_image(lead))
    seeds.append(Seed("E07500_png", "png", {"E07500_strip.png": png}, "E07500_strip.png"))
    jbuf = io.BytesIO()
    Image.fromarray(_trace_image(lead)).save(jbuf, format="JPEG", quality=85)
    seeds.append(Seed("E07500_jpg", "jpg", {"E07500_strip.jpg": jbuf.getvalue()}, "E07500_strip.jpg"))
    seeds.append(Seed("E07500_pdf", "pdf", {"E07500_strip.pdf": _pdf_with_trace(lead)}, "E07500_strip.pdf"))
    if SHARED_FORMATS.is_dir():
        for p in sorted(SHARED_FORMATS.glob("*/*")):  # the format folders, not index.csv
            if p.is_file() and p.suffix.lower() in (".csv", ".edf"):
                fmt = p.suffix.lower().lstrip(".")
                seeds.append(Seed(f"shared:{p.parent.name}/{p.name}", fmt, {p.name: p.read_bytes()}, p.name))
    return seeds


# ------------------------------------------------------------------------------------------------- mutations

INTERESTING = [
    "0",
    "-1",
    "nan",
    "inf",
    "-inf",
    "1e-30",
    "1e308",
    "-1e308",
    "99999999999999",
    "4294967296",
    "0.0000001",
    "",
    " ",
    "abc",
    "\x1b[31mred\x1b[0m",
    "\x00",
    "é",
    "A" * 3000,
    "1/0",
    "(",
    ")",
    "NaN(0)/mV",
    "0(0)/mV",
    "-200/mV",
    "1e-30/mV",
    "200(99999999999)/mV",
    "16x0",
    "16+99999999",
]
INTERESTING_BYTES = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE, 0x41, 0x2F, 0x2E]


class Mutator:
    def __init__(self, rng: random.Random, victim: Path, outside: Path) -> None:
        self.rng = rng
        self.victim = victim
        self.outside = outside

    def path_names(self) -> list[str]:
        """Names aimed at the victim recording and the canary folder: absolute, and relative to where the
        loader's staging folders lie (<tmp>/<upload dir>/<stage dir>/)."""
        stage = os.path.join(tempfile.gettempdir(), "a", "b")
        planted = self.outside / "planted.mat"
        return [
            str(self.victim),
            os.path.relpath(self.victim, stage),
            str(planted),
            os.path.relpath(planted, stage),
            "../../../../../../../../etc/passwd",
            "/etc/passwd",
            "..",
            ".",
            "sub/dir/x.mat",
            "C:\\x.mat",
            "~/x.mat",
        ]

    # -- generic bytes
    def bytes_op(self, data: bytes) -> tuple[bytes, str]:
        r = self.rng
        b = bytearray(data)
        op = r.choice(["flip", "set", "truncate", "extend", "dup", "delete", "head", "zero"])
        if not b:
            return bytes(r.randbytes(r.randint(1, 64))), "random"
        if op == "flip":
            for _ in range(r.randint(1, 20)):
                i = r.randrange(len(b))
                b[i] ^= 1 << r.randrange(8)
        elif op == "set":
            for _ in range(r.randint(1, 8)):
                b[r.randrange(len(b))] = r.choice(INTERESTING_BYTES)
        elif op == "truncate":
            b = b[: r.randrange(len(b))]
        elif op == "extend":
            b += r.randbytes(r.randint(1, 4096)) if r.random() < 0.5 else bytes(r.randint(1, 1 << 16))
        elif op == "dup":
            i, j = sorted(r.randrange(len(b)) for _ in range(2))
            b[j:j] = b[i:j] * r.randint(1, 20)
        elif op == "delete":
            i, j = sorted(r.randrange(len(b)) for _ in range(2))
            del b[i:j]
        elif op == "head":  # most parsers die in the first bytes
            for _ in range(r.randint(1, 10)):
                b[r.randrange(min(len(b), 512))] = r.randrange(256)
        else:
            i = r.randrange(len(b))
            b[i : i + r.randint(1, 2048)] = bytes(len(b[i : i + 2048]))
        return bytes(b), op

    # -- text formats (WFDB header, CSV)
    def text_op(self, data: bytes, kind: str) -> tuple[bytes, str]:
        r = self.rng
        text = data.decode("utf-8", "replace")
        lines = text.split("\n")
        op = r.choice(
            [
                "field",
                "field",
                "field",
                "pathname",
                "delete_line",
                "dup_line",
                "swap",
                "many_lines",
                "encoding",
                "delimiter",
                "bytes",
                "control",
                "long_line",
            ]
        )
        if op == "field":
            i = r.randrange(len(lines))
            fields = lines[i].split(" " if kind == "hea" else ",")
            j = r.randrange(len(fields))
            fields[j] = r.choice(INTERESTING)
            lines[i] = (" " if kind == "hea" else ",").join(fields)
        elif op == "pathname":
            name = r.choice(self.path_names())
            if kind == "hea":
                idx = [k for k, ln in enumerate(lines[1:], 1) if ln and not ln.startswith("#")]
                pick = idx if r.random() < 0.5 else idx[:1]
                for k in pick:
                    parts = lines[k].split(" ", 1)
                    lines[k] = name + (" " + parts[1] if len(parts) > 1 else "")
                if r.random() < 0.3:
                    lines[0] = name + " " + lines[0].split(" ", 1)[-1]
            else:
                lines[0] = lines[0].replace(lines[0].split(",")[0], name, 1)
        elif op == "delete_line":
            del lines[r.randrange(len(lines))]
        elif op == "dup_line":
            i = r.randrange(len(lines))
            lines[i:i] = [lines[i]] * r.randint(1, 50)
        elif op == "swap":
            i, j = r.randrange(len(lines)), r.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "many_lines":
            n = r.choice([3_000, 100_000, 2_500_000 if kind == "csv" else 100_000])
            filler = "# comment" if kind == "hea" else (lines[1] if len(lines) > 1 else "0")
            lines[1:1] = [filler] * n
        elif op == "encoding":
            enc = r.choice(["latin-1", "utf-16", "cp1252"])
            return ("\n".join(lines) + r.choice(["\n# Ärzt é\n", "\n"])).encode(enc, "replace"), op
        elif op == "delimiter":
            text = text.replace(r.choice([",", " ", "\n"]), r.choice([";", "\t", ",,", "\r", "  "]))
            return text.encode(), op
        elif op == "bytes":
            return self.bytes_op(data)
        elif op == "control":
            i = r.randrange(len(lines))
            lines[i] = lines[i] + r.choice(["\x1b[2J\x1b[H", "\x07\x08", "\u202e", "\x1b]0;pwned\x07", "\r"])
        else:
            i = r.randrange(len(lines))
            lines[i] = lines[i] + "," * r.randint(300, 5000) if kind == "csv" else lines[i] + " x" * 50_000
        return "\n".join(lines).encode("utf-8", "surrogatepass"), op

    # -- EDF: ASCII header fields
    def edf_op(self, data: bytes) -> tuple[bytes, str]:
        r = self.rng
        if len(data) < 256 or r.random() < 0.35:
            return self.bytes_op(data)
        b = bytearray(data)
        try:
            ns = int(b[252:256].decode().strip())
        except ValueError:
            ns = 1
        ns = max(1, min(ns, 64))
        fields = [(168, 8), (176, 8), (184, 8), (236, 8), (244, 8), (252, 4)]
        off = 256
        for width in (16, 80, 8, 8, 8, 8, 8, 80, 8, 32):
            fields += [(off + k * width, width) for k in range(ns)]
            off += width * ns
        start, width = r.choice(fields)
        value = r.choice(
            [
                "0",
                "-1",
                "nan",
                "1e308",
                "99999999",
                "1",
                "0.000001",
                "abc",
                "",
                "-99999",
                "2",
                "\x1b[31m",
                "100000",
                "1e-9",
            ]
        )
        b[start : start + width] = value.encode("latin-1", "replace")[:width].ljust(width)
        return bytes(b), f"header_field@{start}={value!r}"

    # -- NumPy: structure-aware
    def npy_op(self, data: bytes, npz: bool) -> tuple[bytes, str]:
        r = self.rng
        if r.random() < 0.3:
            return self.bytes_op(data)
        arrays: dict[str, np.ndarray] = {}
        try:
            if npz:
                with np.load(io.BytesIO(data), allow_pickle=False) as z:
                    arrays = {k: np.asarray(z[k]) for k in z.files}
            else:
                arrays = {"arr_0": np.load(io.BytesIO(data), allow_pickle=False)}
        except Exception:  # noqa: BLE001 — a previous mutation's bytes: fall back to byte mutation
            return self.bytes_op(data)
        key = "signal" if "signal" in arrays else next(iter(arrays))
        sig = arrays[key]
        op = r.choice(["nan", "inf", "huge", "dtype", "shape", "empty", "fs", "channels", "object", "lie"])
        if op == "nan":
            sig = sig.astype(float)
            sig.flat[r.sample(range(sig.size), min(sig.size, r.choice([1, 100, sig.size // 2 + 1])))] = np.nan
        elif op == "inf":
            sig = sig.astype(float)
            sig.flat[r.randrange(sig.size)] = np.inf
        elif op == "huge":
            sig = sig.astype(float) * r.choice([1e6, 1e30, 1e300, -1e20, 0.0])
        elif op == "dtype":
            sig = sig.astype(r.choice([np.int8, np.uint16, np.float16, np.complex64, np.bool_, "U8"]))
        elif op == "shape":
            shapes = [
                lambda a: a.reshape(-1),
                lambda a: a.T,
                lambda a: a[None],
                lambda a: a[..., None],
                lambda a: a[:3],
                lambda a: a[..., :0],
            ]
            sig = r.choice(shapes)(sig)
        elif op == "empty":
            sig = np.zeros((0,) + sig.shape[1:])
        elif op == "fs" and npz:
            arrays["fs"] = np.asarray(r.choice([0, -1, np.nan, np.inf, 1e9, 49.9, [500, 250], "500"]))
        elif op == "channels" and npz:
            n = sig.shape[1] if sig.ndim == 2 else 1
            names = r.choice([[f"\x1b[31mII{k}\x07" for k in range(n)], ["x"] * (n + 3), ["A" * 5000] * n])
            arrays["channels"] = np.asarray(names)
        elif op == "object":
            buf = io.BytesIO()
            np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
            return self._repack(arrays, key, buf.getvalue(), npz), op
        else:  # a header that lies about the shape
            buf = io.BytesIO()
            shape = r.choice([(10**9,), (60_000_000,), (5000, 10**6), (-1,), (2**62, 2)])
            try:
                np.lib.format.write_array_header_1_0(
                    buf, {"descr": "<f8", "fortran_order": False, "shape": shape}
                )
            except Exception:  # noqa: BLE001
                buf.write(b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }")
            buf.write(bytes(r.randint(0, 4096)))
            return self._repack(arrays, key, buf.getvalue(), npz), f"lie{shape}"
        arrays[key] = sig
        out = io.BytesIO()
        if npz:
            np.savez_compressed(out, **arrays)
        else:
            np.save(out, arrays[key])
        return out.getvalue(), op

    @staticmethod
    def _repack(arrays: dict, key: str, raw: bytes, npz: bool) -> bytes:
        if not npz:
            return raw
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for k, v in arrays.items():
                if k == key:
                    zf.writestr(f"{k}.npy", raw)
                else:
                    b = io.BytesIO()
                    np.save(b, v)
                    zf.writestr(f"{k}.npy", b.getvalue())
        return out.getvalue()

    # -- zip: structure-aware
    def zip_op(self, data: bytes) -> tuple[bytes, str]:
        r = self.rng
        if r.random() < 0.25:
            return self.bytes_op(data)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                members = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
        except Exception:  # noqa: BLE001
            return self.bytes_op(data)
        op = r.choice(["rename", "mutate", "nested", "many", "dup", "hea_path", "bomb", "drop"])
        names = list(members)
        if op == "rename" and names:
            old = r.choice(names)
            members[
                r.choice(
                    self.path_names()
                    + [
                        "../" + Path(old).name,
                        "/" + Path(old).name,
                        "a/../../" + Path(old).name,
                        ".hidden.hea",
                        "\x1b[31m" + Path(old).name,
                    ]
                )
            ] = members.pop(old)
        elif op == "mutate" and names:
            n = r.choice(names)
            members[n] = (
                self.bytes_op(members[n])[0] if not n.endswith(".hea") else self.text_op(members[n], "hea")[0]
            )
        elif op == "nested":
            members["inner.zip"] = data
        elif op == "many":
            for k in range(r.choice([50, 1500])):
                members[f"m/{k}.csv"] = b"ECG\n1\n2\n"
        elif op == "dup" and names:
            n = r.choice(names)
            members["other/" + Path(n).name] = members[n]
        elif op == "hea_path":
            heas = [n for n in names if n.endswith(".hea")]
            if heas:
                n = r.choice(heas)
                text = members[n].decode("latin-1").split("\n")
                target = r.choice(self.path_names())
                text = [text[0]] + [
                    target + " " + ln.split(" ", 1)[1] if ln and not ln.startswith("#") and " " in ln else ln
                    for ln in text[1:]
                ]
                members[n] = "\n".join(text).encode("latin-1")
        elif op == "bomb":
            members["bomb.csv"] = b"0\n" * r.choice([1_000_000, 40_000_000])
        elif op == "drop" and names:
            members.pop(r.choice(names))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for n, b in members.items():
                zf.writestr(zipfile.ZipInfo(n), b, compress_type=zipfile.ZIP_DEFLATED)
        return out.getvalue(), op

    # -- images
    def png_op(self, data: bytes) -> tuple[bytes, str]:
        r = self.rng
        if r.random() < 0.5 or not data.startswith(b"\x89PNG"):
            return self.bytes_op(data)
        w, h = r.choice([(13000, 13000), (1, 1), (0, 10), (100000, 1), (2**31 - 1, 2), (8000, 6000)])
        ihdr = struct.pack(">IIBBBBB", w, h, 8, r.choice([0, 2, 3, 6]), 0, 0, 0)
        chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
        return data[:8] + chunk + data[33:], f"ihdr{w}x{h}"

    def jpg_op(self, data: bytes) -> tuple[bytes, str]:
        r = self.rng
        i = data.find(b"\xff\xc0")
        if r.random() < 0.5 or i < 0:
            return self.bytes_op(data)
        h, w = r.choice([(13000, 13000), (65535, 65535), (0, 0), (1, 60000)])
        b = bytearray(data)
        b[i + 5 : i + 9] = struct.pack(">HH", h, w)
        return bytes(b), f"sof{w}x{h}"

    def pdf_op(self, data: bytes) -> tuple[bytes, str]:
        r = self.rng
        if r.random() < 0.4:
            return self.bytes_op(data)
        box = r.choice(
            [
                "0 0 14000 14000",
                "0 0 1000000 1000000",
                "0 0 0 0",
                "0 0 -500 700",
                "0 0 3 99999",
                "0 0 14400 14400",
                "0 0 nan 1",
                "0 0 1e308 1e308",
            ]
        )
        text = data.replace(b"0 0 842 595", box.encode())
        if r.random() < 0.3:
            text = text.replace(b"/Count 1", b"/Count 99999999")
        return text, f"mediabox[{box}]"

    def mutate(self, seed: Seed) -> tuple[dict[str, bytes], str, str]:
        """The seed's files with one of them mutated; (files, target file, operation)."""
        files = dict(seed.files)
        target = seed.main if self.rng.random() < 0.6 else self.rng.choice(sorted(files))
        try:
            data, op = self._mutate_one(target, files[target])
        except Exception as e:  # noqa: BLE001 — a mutation that does not apply: mutate the bytes instead
            data, op = self.bytes_op(files[target])
            op = f"{op} (after {type(e).__name__})"
        files[target] = data
        if self.rng.random() < 0.05:  # an upload name with control characters / odd characters
            odd = self.rng.choice(["\x1b[31m", " (1)", ";rm -rf ~;", "é", "\u202e"])
            new = Path(target).stem + odd + Path(target).suffix
            files[new] = files.pop(target)
            target = new
        return files, target, op

    def _mutate_one(self, target: str, data: bytes) -> tuple[bytes, str]:
        suffix = Path(target).suffix.lower()
        if suffix == ".hea":
            data, op = self.text_op(data, "hea")
        elif suffix == ".csv":
            data, op = self.text_op(data, "csv")
        elif suffix == ".edf":
            data, op = self.edf_op(data)
        elif suffix in (".npz", ".npy"):
            data, op = self.npy_op(data, suffix == ".npz")
        elif suffix == ".zip":
            data, op = self.zip_op(data)
        elif suffix == ".png":
            data, op = self.png_op(data)
        elif suffix in (".jpg", ".jpeg"):
            data, op = self.jpg_op(data)
        elif suffix == ".pdf":
            data, op = self.pdf_op(data)
        else:
            data, op = self.bytes_op(data)
        return data, op


# ------------------------------------------------------------------------------------------------- one case


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _odd_names(rec) -> str | None:
    """A control character in a name the UI or a file path will show."""
    for text in [rec.name, *rec.channel_names, *rec.source_files]:
        if _CONTROL.search(text):
            return f"control character in {text!r}"
    return None


def _odd_image(rec, limits) -> str | None:
    """An image that is not 8-bit colour or is over the pixel limit."""
    if rec.image.ndim != 3 or rec.image.dtype != np.uint8:
        return f"image of shape {rec.image.shape} {rec.image.dtype}"
    if rec.image.shape[0] * rec.image.shape[1] > limits.max_image_pixels:
        return f"image of {rec.image.shape[0]}x{rec.image.shape[1]} pixels"
    return None


def _odd_signal(rec, limits) -> str | None:
    """A signal that is misshapen, not finite, outside the limits, or with annotations past its end."""
    sig = rec.signal
    if sig is None or sig.ndim != 2 or sig.shape[1] != len(rec.channels) or sig.shape[0] == 0:
        return "signal missing or misshapen"
    if not np.isfinite(sig).all():
        return "NaN/inf in the signal"
    if not 50 <= rec.sampling_rate_hz <= 10_000:
        return f"sampling rate {rec.sampling_rate_hz}"
    if sig.size > limits.max_samples:
        return f"{sig.size} values"
    if sig.shape[0] / rec.sampling_rate_hz < limits.min_duration_s:
        return "shorter than the minimum"
    for j, ch in enumerate(rec.channels):
        if ch.kind.value == "ecg":
            lo, hi = np.percentile(sig[:, j], [1, 99])
            if hi - lo > limits.max_ecg_mv:
                return f"ECG {ch.name} spans {hi - lo:.3g} mV"
    for ann in rec.annotations:
        if any(s < 0 or s >= sig.shape[0] for s in ann.samples):
            return "annotation outside the record"
    return None


def _odd(recs, store_root: Path, limits) -> str | None:
    """Why the loaded output is not plausible, or None."""
    from cardioagent.agent.session_store import RecordingStore

    for rec in recs:
        why = _odd_names(rec)
        if why is None:
            why = _odd_image(rec, limits) if rec.image is not None else _odd_signal(rec, limits)
        if why is not None:
            return why
        again = RecordingStore(store_root).get(rec.id)
        if again.id != rec.id:
            return "the stored recording reloads under another id"
    return None


def _child(case_dir: Path, uploads: list[Path], rate: float | None, conn) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # C libraries (pyedflib) print to stdout: keep the table clean
    os.dup2(devnull, 2)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    except (ValueError, OSError):
        pass
    tmp = case_dir / "tmp"
    tmp.mkdir()
    tempfile.tempdir = str(tmp)
    os.environ["TMPDIR"] = str(tmp)
    from cardioagent.agent.session_store import RecordingStore
    from cardioagent.tools.errors import InputError
    from cardioagent.tools.signal.loaders import limits

    result: dict = {}
    started = time.perf_counter()
    try:
        store = RecordingStore(case_dir / "home" / "recordings")
        recs = store.add(uploads, sampling_rate_hz=rate)
        why = _odd(recs, store.root, limits())
        result = {"outcome": "odd" if why else "ok", "detail": why or f"{len(recs)} recording(s)"}
    except InputError as e:
        cause = e.__cause__
        message = str(e)
        wrapped = "could not be read (" in message or (
            cause is not None and not isinstance(cause, InputError) and type(cause).__name__ in message
        )
        result = {
            "outcome": "wrapped" if wrapped else "specific",
            "detail": message[:300],
            "error": type(e).__name__,
        }
    except BaseException as e:  # noqa: BLE001 — this is what the bench is looking for
        result = {
            "outcome": "traceback",
            "detail": f"{type(e).__name__}: {str(e)[:200]}",
            "traceback": traceback.format_exc()[-2000:],
        }
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    conn.send(result)
    conn.close()
    os._exit(0)


def _snapshot(root: Path, skip: Path) -> dict[str, str]:
    out = {}
    for p in root.rglob("*"):
        if skip in p.parents or p == skip or not p.is_file():
            continue
        out[str(p.relative_to(root))] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def run_case(i: int, seed: Seed, files: dict[str, bytes], root: Path, baseline: dict[str, str]) -> dict:
    case_dir = root / "cases" / f"{i:05d}"
    up = case_dir / "uploads"
    up.mkdir(parents=True)
    uploads = []
    for name, data in files.items():
        (up / name).write_bytes(data)
        uploads.append(up / name)
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    started = time.perf_counter()
    proc = ctx.Process(target=_child, args=(case_dir, uploads, seed.extra.get("sampling_rate_hz"), child))
    proc.start()
    child.close()
    result = None
    if parent.poll(TIME_CAP_S):
        try:
            result = parent.recv()
        except EOFError:
            result = None
    proc.join(1.0)
    if proc.is_alive():
        proc.kill()
        proc.join()
        if result is None:
            result = {"outcome": "hang", "detail": f"over {TIME_CAP_S:g} s"}
    if result is None:
        result = {"outcome": "crash", "detail": f"exit code {proc.exitcode}"}
    result["wall_s"] = round(time.perf_counter() - started, 3)
    after = _snapshot(root, case_dir)
    if after != baseline:
        changed = sorted(set(after.items()) ^ set(baseline.items()))
        result = {**result, "outcome": "write_outside", "detail": f"changed: {changed[:5]}"}
    shutil.rmtree(case_dir, ignore_errors=True)
    return result


# ------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="number of mutated cases (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    # Imported once here: every forked child starts with the loaders loaded.
    from cardioagent.agent.session_store import RecordingStore
    from cardioagent.tools.signal.loaders import limits

    seeds = build_seeds()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="cardioagent-fuzz-"))
    try:
        outside = root / "outside"
        outside.mkdir()
        victim_store = RecordingStore(root / "victim" / "recordings")
        (victim,) = victim_store.add([TESTS_DATA / "E07500.hea", TESTS_DATA / "E07500.mat"])
        victim_mat = victim_store.root / victim.id / "E07500.mat"
        (root / "cases").mkdir()
        baseline = _snapshot(root, root / "cases")
        mutator = Mutator(rng, victim_mat, outside)
        rows = []
        started = time.perf_counter()
        for i in range(args.n):
            seed = seeds[i % len(seeds)]
            files, target, op = mutator.mutate(seed)
            res = run_case(i, seed, files, root, baseline)
            rows.append(
                {
                    "case": i,
                    "seed": seed.name,
                    "format": seed.format,
                    "file": ascii(target)[1:-1][:80],
                    "mutation": ascii(op)[1:-1][:80],
                    **res,
                }
            )
            if res["outcome"] in BAD:
                detail = ascii(res.get("detail"))[:200]
                print(
                    f"  case {i} {seed.name} {target!a} {ascii(op)[:60]}: {res['outcome']} {detail}",
                    file=sys.stderr,
                )
            if (i + 1) % 100 == 0:
                print(f"  {i + 1}/{args.n} cases, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        total_s = time.perf_counter() - started
        victim_intact = RecordingStore(victim_store.root).get(victim.id).id == victim.id
    finally:
        shutil.rmtree(root, ignore_errors=True)

    by_format: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        by_format[r["format"]][r["outcome"]] += 1
    totals = Counter(r["outcome"] for r in rows)
    slowest = max(rows, key=lambda r: r["wall_s"])
    peak = max((r.get("peak_mb", 0) for r in rows), default=0)
    lim = limits()

    header = f"{'format':8s} {'cases':>6s} " + " ".join(f"{o:>13s}" for o in OUTCOMES)
    print(header)
    print("-" * len(header))
    for fmt in sorted(by_format):
        c = by_format[fmt]
        print(f"{fmt:8s} {sum(c.values()):6d} " + " ".join(f"{c[o]:13d}" for o in OUTCOMES))
    print("-" * len(header))
    print(f"{'all':8s} {len(rows):6d} " + " ".join(f"{totals[o]:13d}" for o in OUTCOMES))
    print(
        f"\nslowest case {slowest['wall_s']:.2f} s ({slowest['seed']}, {slowest['mutation']}); "
        f"peak child memory {peak:.0f} MB (cap {MEMORY_CAP / 1024**3:.1f} GB address space); "
        f"victim recording intact: {victim_intact}; {total_s:.0f} s in all"
    )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "command": "bench/fuzz_loaders.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                "cases": len(rows),
                "seed": args.seed,
                "seeds": [s.name for s in seeds],
                "time_cap_s": TIME_CAP_S,
                "memory_cap_bytes": MEMORY_CAP,
                "limits": lim.model_dump(),
                "totals": {o: totals[o] for o in OUTCOMES},
                "by_format": {f: {o: c[o] for o in OUTCOMES} for f, c in sorted(by_format.items())},
                "slowest_case_s": slowest["wall_s"],
                "slowest_case": {k: slowest.get(k) for k in ("seed", "mutation", "outcome")},
                "peak_child_memory_mb": peak,
                "victim_intact": victim_intact,
                "total_s": round(total_s, 1),
                "bad_cases": [r for r in rows if r["outcome"] in BAD],
                "wrapped_cases": [
                    {k: r.get(k) for k in ("case", "seed", "file", "mutation", "detail")}
                    for r in rows
                    if r["outcome"] == "wrapped"
                ],
                "specific_sample": [
                    {k: r.get(k) for k in ("case", "seed", "file", "mutation", "detail")}
                    for r in rows
                    if r["outcome"] == "specific"
                ][:60],
            },
            indent=1,
        )
    )
    print(f"wrote {args.out}")
    return 1 if any(totals[o] for o in BAD) else 0


if __name__ == "__main__":
    raise SystemExit(main())
