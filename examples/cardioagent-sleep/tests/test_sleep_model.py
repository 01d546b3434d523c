"""The shipped weights, the numpy model, the stage collapses, the sleep figures and the agreement metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cardioagent_sleep.metrics import cohen_kappa, wake_sens_spec
from cardioagent_sleep.model import forward_backward, load_weights, predict_proba
from cardioagent_sleep.stages import STAGES, collapse_index, collapse_proba, stage_index_from_psg
from cardioagent_sleep.staging import sleep_figures, stage_features
from cardioagent_sleep.train import read_feature_files

DATA = Path(__file__).parent / "data"


def test_weights_carry_attribution_and_cross_validation():
    w = load_weights()
    assert w.classes == list(STAGES)
    meta = w.metadata
    assert "doi:10.1093/sleep/zsz180" in meta["attribution"] and "10.13026/hmhs-py35" in meta["attribution"]
    assert "ODC-By" in meta["attribution"]
    cv = meta["cross_validation"]["pooled"]
    assert 0.0 < cv["three"]["accuracy"] <= 1.0 and "kappa" in cv["three"]
    assert 0.0 < w.wake_threshold < 1.0


def test_predict_proba_on_published_features():
    feats = read_feature_files(DATA / "epoch_features", "1066528")
    p = predict_proba(feats)
    assert p.shape == (len(feats), 5)
    assert np.allclose(p.sum(1), 1.0)
    y = stage_index_from_psg(np.loadtxt(DATA / "epoch_features" / "1066528_psg_labels.out"))
    # In-sample (this night is one of the 21 training nights): a sanity check that the weights are the trained
    # ones, not a held-out figure. Measured: sleep/wake kappa 0.29, accuracy 0.863 against 0.831 for "all sleep".
    two = collapse_proba(p, "two").argmax(1)
    assert cohen_kappa(collapse_index(y, "two"), two, 2) > 0.2
    assert np.mean(two == collapse_index(y, "two")) > np.mean(y > 0)


def test_forward_backward_follows_sticky_transitions():
    post = np.array([[0.9, 0.1], [0.4, 0.6], [0.9, 0.1]])
    sticky = np.array([[0.95, 0.05], [0.05, 0.95]])
    out = forward_backward(post, sticky, np.array([0.5, 0.5]))
    assert np.allclose(out.sum(1), 1.0)
    assert out[1, 0] > 0.5  # the lone dissenting epoch is pulled towards its neighbours
    flat = forward_backward(post, np.full((2, 2), 0.5), np.array([0.5, 0.5]))
    assert np.allclose(flat, post)  # no memory: posteriors unchanged


def test_collapses_sum_probabilities():
    p = np.array([[0.1, 0.2, 0.3, 0.15, 0.25]])
    assert collapse_proba(p, "three")[0].tolist() == pytest.approx([0.1, 0.65, 0.25])
    assert collapse_proba(p, "four")[0].tolist() == pytest.approx([0.1, 0.5, 0.15, 0.25])
    assert collapse_proba(p, "two")[0].tolist() == pytest.approx([0.9, 0.1])
    assert collapse_index(np.array([0, 1, 2, 3, 4]), "four").tolist() == [0, 1, 1, 2, 3]
    assert stage_index_from_psg(np.array([0, 1, 2, 3, 4, 5, -1])).tolist() == [0, 1, 2, 3, 3, 4, -1]


def test_sleep_figures_by_hand():
    # 10 epochs (5 min in bed): 2 wake, then n1 n2 n2 wake n3 rem rem wake
    stages = ["wake", "wake", "n1", "n2", "n2", "wake", "n3", "rem", "rem", "wake"]
    f = sleep_figures(stages)
    assert f["time_in_bed_min"] == 5.0
    assert f["total_sleep_time_min"] == 3.0
    assert f["sleep_efficiency_pct"] == pytest.approx(60.0)
    assert f["sleep_onset_latency_min"] == 1.0
    assert f["waso_min"] == 1.0
    assert f["n2_pct_of_sleep"] == pytest.approx(100 * 2 / 6)
    assert f["rem_pct_of_sleep"] == pytest.approx(100 * 2 / 6)
    none = sleep_figures(["wake"] * 4)
    assert (
        none["total_sleep_time_min"] == 0.0
        and none["sleep_onset_latency_min"] is None
        and none["waso_min"] is None
    )


def test_stage_features_labels_are_consistent_views():
    feats = read_feature_files(DATA / "epoch_features", "1066528")
    s = stage_features(feats, feats[:, 3] * 3600)
    assert set(s.stages) <= set(STAGES)
    assert len(s.stages) == len(s.stages_three) == len(s.stages_two) == len(feats)
    # every epoch the five-class arg-max calls REM has REM as the largest single probability
    rem = np.array(s.stages) == "rem"
    assert np.all(s.proba[rem].argmax(1) == 4)


def test_metrics_by_hand():
    y = np.array([0, 0, 1, 1])
    assert cohen_kappa(y, y, 2) == pytest.approx(1.0)
    assert cohen_kappa(y, np.array([0, 1, 0, 1]), 2) == pytest.approx(0.0)
    sens, spec = wake_sens_spec(np.array([True, True, False, False]), np.array([True, False, False, False]))
    assert (sens, spec) == (1.0, 0.5)
