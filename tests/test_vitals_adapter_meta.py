"""The prompt setting an adapter's ``vitals_model.json`` states is checked before any prompt is built.

Regression (found by mypy, issue 17): an unknown setting used to fall through to the signal-prompt branch
without the cleaned windows that branch needs, and crashed with a TypeError instead of saying what was wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cardioagent.models.vitals.estimator import _setting
from cardioagent.tools.errors import InputError


def test_known_settings_and_the_default_are_kept():
    assert _setting({"setting": "signal"}, Path("adapter")) == "signal"
    assert _setting({"setting": "context"}, Path("adapter")) == "context"
    assert _setting({}, Path("adapter")) == "context"  # adapters written before the field existed


def test_an_unknown_setting_is_a_clear_input_error():
    with pytest.raises(InputError) as info:
        _setting({"setting": "spectrum"}, Path("adapter"))
    text = str(info.value)
    assert "'spectrum'" in text and "context" in text
