"""Fuzz the clinical-format loaders: mutations of real DICOM, HL7 aECG, Philips XML, GE MUSE XML, SCP-ECG and
Apple Health CSV files, each loaded through ``load_files`` in a forked child with a memory cap and a time cap.

    .venv/bin/python bench/fuzz_clinical_formats.py             # 1,000 cases, prints a table
    .venv/bin/python bench/fuzz_clinical_formats.py --n 300 --seed 1

Seeds: ``tests/data/formats`` (redistributable files and a synthetic Apple export) and, when present, the GPL
files of ``../shared/data/ecg_formats`` (GE MUSE XML, Apple exports). Mutations: byte flips, truncation,
insertion of random bytes, a repeated block, numbers in XML or CSV text replaced by 0/-1/nan/inf/1e308/
999999999, DICOM waveform sample/channel counts and SCP section lengths overwritten with huge values.

Outcomes: ``ok`` (loaded; finite samples, a rate in 50..10000 Hz), ``specific`` (an ``InputError`` of our own
wording), ``wrapped`` (an ``InputError`` that quotes a library's message), ``traceback`` (another exception
escaped), ``crash`` (the child died), ``hang`` (past the time cap). Writes
``bench/results/fuzz_clinical_formats.json``. ``tests/test_clinical_formats.py`` runs 200 cases of it.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy: no thread pools in the forked children

import argparse
import json
import multiprocessing as mp
import random
import re
import resource
import struct
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORMATS_DATA = REPO / "tests" / "data" / "formats"
SHARED_FORMATS = (
    Path(os.environ.get("CARDIOAGENT_SHARED_DATA", REPO.parent / "shared" / "data")) / "ecg_formats"
)
OUT = REPO / "bench" / "results" / "fuzz_clinical_formats.json"
TIME_CAP_S = 20.0
MEMORY_CAP = int(1.5 * 1024**3)
BAD = {"traceback", "crash", "hang"}
_VALUES = [b"0", b"-1", b"nan", b"inf", b"1e308", b"999999999", b"-99999", b"1e-30", b""]


def seeds(include_shared: bool = True) -> list[Path]:
    found = sorted(p for p in FORMATS_DATA.iterdir() if p.suffix.lower() in (".dcm", ".xml", ".scp", ".csv"))
    if include_shared and SHARED_FORMATS.is_dir():
        found += sorted((SHARED_FORMATS / "ge_muse_xml").glob("*.xml"))
        found += sorted((SHARED_FORMATS / "apple_health_ecg_csv").glob("*.csv"))
    return found


# ----------------------------------------------------------------------------------------------- mutations


def _flip(b: bytes, rng: random.Random) -> tuple[bytes, str]:
    a = bytearray(b)
    k = rng.choice([1, 4, 32, 256])
    for _ in range(k):
        a[rng.randrange(len(a))] = rng.randrange(256)
    return bytes(a), f"flip {k} bytes"


def _truncate(b: bytes, rng: random.Random) -> tuple[bytes, str]:
    n = rng.randrange(1, len(b))
    return b[:n], f"truncate at {n}"


def _insert(b: bytes, rng: random.Random) -> tuple[bytes, str]:
    at, junk = rng.randrange(len(b)), bytes(rng.randrange(256) for _ in range(rng.choice([1, 16, 512])))
    return b[:at] + junk + b[at:], f"insert {len(junk)} bytes at {at}"


def _repeat(b: bytes, rng: random.Random) -> tuple[bytes, str]:
    at = rng.randrange(len(b))
    block = b[at : at + rng.choice([8, 64, 1024])]
    times = rng.choice([10, 100, 1000])
    return b[:at] + block * times + b[at:], f"repeat {len(block)} bytes x{times}"


def _numbers(b: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Replace some numbers in a text format (XML attribute values, CSV fields) by hostile values."""
    spans = [m.span() for m in re.finditer(rb"-?\d+(\.\d+)?", b[:200_000])]
    if not spans:
        return _flip(b, rng)
    out, last, picks = [], 0, sorted(rng.sample(spans, min(len(spans), rng.choice([1, 3, 20]))))
    for s, e in picks:
        out += [b[last:s], rng.choice(_VALUES)]
        last = e
    out.append(b[last:])
    return b"".join(out), f"{len(picks)} numbers replaced"


def _dicom_counts(b: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Overwrite NumberOfWaveformChannels (003A,0005) / NumberOfWaveformSamples (003A,0010) values."""
    a = bytearray(b)
    hits = [
        m.start()
        for m in re.finditer(
            re.escape(struct.pack("<HH", 0x003A, 0x0010))
            + b"|"
            + re.escape(struct.pack("<HH", 0x003A, 0x0005)),
            b,
        )
    ]
    if not hits:
        return _flip(b, rng)
    at = rng.choice(hits)
    # value follows the tag (implicit: 4-byte length; explicit: VR + 2-byte length): overwrite 4 bytes after 8
    a[at + 8 : at + 12] = struct.pack("<I", rng.choice([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
    return bytes(a), f"DICOM count at {at} overwritten"


def _scp_lengths(b: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Overwrite a 4-byte length field of the SCP-ECG record or a section header with a huge value."""
    a = bytearray(b)
    at = rng.choice([2, 6 + 4] + [m.start() + 4 for m in re.finditer(rb"SCPECG", b)][:20])
    a[at : at + 4] = struct.pack("<I", rng.choice([0, 7, 0x7FFFFFFF, 0xFFFFFFFF]))
    return bytes(a), f"SCP length at {at} overwritten"


def mutate(path: Path, rng: random.Random) -> tuple[bytes, str]:
    b = path.read_bytes()
    ops = [_flip, _truncate, _insert, _repeat]
    if path.suffix.lower() in (".xml", ".csv"):
        ops += [_numbers, _numbers]
    elif path.suffix.lower() == ".dcm":
        ops += [_dicom_counts, _dicom_counts]
    elif path.suffix.lower() == ".scp":
        ops += [_scp_lengths, _scp_lengths]
    op = rng.choice(ops)
    return op(b, rng)


# ----------------------------------------------------------------------------------------------- running


def _child(path: Path, conn) -> None:
    import numpy as np

    from cardioagent.tools.errors import InputError
    from cardioagent.tools.signal.loaders import load_files

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    try:
        recs = load_files([path])
        plausible = all(
            r.signal is not None and np.isfinite(r.signal).all() and 50 <= (r.sampling_rate_hz or 0) <= 10000
            for r in recs
        )
        conn.send(("ok" if plausible else "odd", ""))
    except InputError as e:
        wrapped = "could not be read (" in str(e) or "cannot be read (" in str(e)
        conn.send(("wrapped" if wrapped else "specific", str(e)[:300]))
    except BaseException as e:  # noqa: BLE001 - what the fuzzer looks for
        conn.send(("traceback", f"{type(e).__name__}: {str(e)[:300]}"))


def run_case(data: bytes, name: str, folder: Path, time_cap_s: float = TIME_CAP_S) -> tuple[str, str, float]:
    """Load ``data`` (saved as ``name``) in a forked child; (outcome, message, seconds)."""
    path = folder / name
    path.write_bytes(data)
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    started = time.perf_counter()
    proc = ctx.Process(target=_child, args=(path, child))
    proc.start()
    child.close()
    outcome, message = "crash", ""
    if parent.poll(time_cap_s):
        try:
            outcome, message = parent.recv()
        except EOFError:
            outcome = "crash"
    else:
        outcome = "hang"
    proc.join(1.0)
    if proc.is_alive():
        proc.kill()
        proc.join()
    elif outcome == "crash":
        message = f"exit code {proc.exitcode}"
    path.unlink(missing_ok=True)
    return outcome, message, time.perf_counter() - started


def fuzz(n: int, seed: int = 0, include_shared: bool = True, time_cap_s: float = TIME_CAP_S) -> dict:
    import ecgdatakit.parsing.parser  # noqa: F401
    import pydicom  # noqa: F401

    import cardioagent.tools.signal.loaders  # noqa: F401 - imported once: every forked child has it loaded

    rng = random.Random(seed)
    files = seeds(include_shared)
    counts: dict[str, Counter] = defaultdict(Counter)
    bad, slowest = [], (0.0, "")
    with tempfile.TemporaryDirectory(prefix="fuzz-clinical-") as tmp:
        for i in range(n):
            src = files[i % len(files)]
            data, how = mutate(src, rng)
            outcome, message, secs = run_case(data, f"case{i}{src.suffix}", Path(tmp), time_cap_s)
            counts[src.name][outcome] += 1
            if secs > slowest[0]:
                slowest = (secs, f"{src.name}: {how}")
            if outcome in BAD:
                bad.append(
                    {
                        "case": i,
                        "seed_file": src.name,
                        "mutation": how,
                        "outcome": outcome,
                        "message": message,
                    }
                )
    total = Counter()
    for c in counts.values():
        total.update(c)
    return {
        "n": n,
        "seed": seed,
        "seed_files": [f.name for f in files],
        "time_cap_s": time_cap_s,
        "per_file": {k: dict(v) for k, v in counts.items()},
        "total": dict(total),
        "slowest_s": round(slowest[0], 2),
        "slowest_case": slowest[1],
        "bad": bad,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    started = time.perf_counter()
    res = fuzz(args.n, args.seed)
    res["wall_s"] = round(time.perf_counter() - started, 1)
    cols = ["ok", "specific", "wrapped", "odd", "traceback", "crash", "hang"]
    print(f"{'seed file':40s} " + " ".join(f"{c:>9s}" for c in cols))
    for name, c in sorted(res["per_file"].items()):
        print(f"{name[:40]:40s} " + " ".join(f"{c.get(k, 0):9d}" for k in cols))
    print(f"{'total':40s} " + " ".join(f"{res['total'].get(k, 0):9d}" for k in cols))
    print(f"slowest case {res['slowest_s']} s ({res['slowest_case']}); wall {res['wall_s']} s")
    for b in res["bad"][:20]:
        print("BAD", b)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1))
    return 1 if res["bad"] else 0


if __name__ == "__main__":
    sys.exit(main())
