"""Regression: ``median_beat_measures`` on a record whose best lead yields no median beat.

``delineation.median_beat`` returns None when no beat window fits the record; the agreement check used to
delineate that None (an AttributeError deep in the delineation) before testing it. It must refuse the
record with the ValueError its callers expect, naming the lead."""

from __future__ import annotations

import numpy as np
import pytest

from cardioagent.models.vlm.agreement import median_beat_measures
from cardioagent.models.vlm.synth import generate
from cardioagent.tools.signal import delineation


def test_no_median_beat_is_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    rec, _ = generate(np.random.default_rng([35]), {"sinus_rhythm"})
    per_lead, _ = median_beat_measures(rec)  # the record itself is measurable
    assert set(per_lead) == set(rec.channel_names)

    monkeypatch.setattr(delineation, "median_beat", lambda x, beats, fs: None)
    with pytest.raises(ValueError, match="QRS not delineated"):
        median_beat_measures(rec)
