"""``intervals(rec, method="ecgdeli")``: ECGdeli's wave boundaries under the same interval and statement
code as the default median-beat delineation. Skipped where the optional package ``ecgdeli`` is absent."""

from __future__ import annotations

import numpy as np
import pytest

from cardioagent.tools.analysis import intervals
from cardioagent.tools.contract import Quality
from cardioagent.tools.signal import delineate_ecgdeli as ed
from cardioagent.tools.signal.recording import STANDARD_12_LEADS

needs_ecgdeli = pytest.mark.skipif(not ed.available(), reason="optional package ecgdeli not installed")

# Agreement with the default method, in ms: the 90th percentile of the between-method difference measured
# on the benchmarks (PTB-XL tune folds 1-8, n = 159-160: PR 55, median-across-leads QRS 34; CinC-2021,
# n = 25: QT 38), rounded up. ECGdeli runs longer than the default on every interval (median +22 ms QRS,
# +20 ms PR on PTB-XL tune; +20 ms QT on CinC), so a systematic difference of that size is expected here.
TOL_MS = {"pr": 60.0, "qrs": 35.0, "qt": 40.0}


@pytest.fixture(scope="module")
def e07500(tests_data):
    from cardioagent.tools.signal.loaders import load_recording

    return load_recording(tests_data / "E07500.hea")


@needs_ecgdeli
def test_ecgdeli_intervals_are_plausible_and_close_to_the_default(e07500):
    alt = intervals(e07500, method="ecgdeli")
    ref = intervals(e07500)
    assert [lead.lead for lead in alt.leads] == STANDARD_12_LEADS
    # the plausibility ranges the default method's test uses on this record (test_analysis.py)
    assert 120 <= alt.pr.value <= 220 and 60 <= alt.qrs.value <= 130 and 350 <= alt.qtc_bazett.value <= 480
    for key, tol in TOL_MS.items():
        a, r = getattr(alt, key).value, getattr(ref, key).value
        assert abs(a - r) <= tol, f"{key}: ecgdeli {a} vs default {r} ms"
    assert sum(lead.quality != Quality.UNUSABLE for lead in alt.leads) >= 10
    assert "ECGdeli" in alt.method
    assert not any(isinstance(v, float) and np.isnan(v) for v in (alt.pr.value, alt.qrs.value, alt.qt.value))


@needs_ecgdeli
def test_a_flat_lead_costs_only_itself(e07500):
    # ECGdeli raises on a flat lead; intervals leaves it out of the annotation and measures the others
    sig = np.asarray(e07500.signal, dtype=float).copy()
    sig[:, 7] = 0.0  # V2 disconnected
    res = intervals(e07500.model_copy(update={"signal": sig, "id": "flat-v2"}), method="ecgdeli")
    by = {lead.lead: lead for lead in res.leads}
    assert by["V2"].quality == Quality.UNUSABLE
    assert res.qt.value is not None and res.qrs.value is not None


def test_unknown_method_is_refused(e07500):
    with pytest.raises(ValueError, match="unknown delineation method"):
        intervals(e07500, method="nope")


def test_missing_package_gives_a_clear_error(e07500, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ecgdeli(name, *args, **kwargs):
        if name == "ecgdeli":
            raise ImportError("No module named 'ecgdeli'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ecgdeli)
    with pytest.raises(ed.EcgdeliUnavailable, match=r"cardioagent\[ecgdeli\]"):
        intervals(e07500, method="ecgdeli")
