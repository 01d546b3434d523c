"""Photo/scan augmentations of rendered ECG pages: shape and dtype hold, each effect changes the image
measurably and in the expected direction, and a seed reproduces the result exactly."""

from __future__ import annotations

import numpy as np
import pytest

from cardioagent.models.vlm import photo_augment as pa
from cardioagent.models.vlm.synth import generate
from cardioagent.tools.signal.render.paper import render_12lead


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    rec, _ = generate(np.random.default_rng(0), {"sinus_rhythm"})
    return render_12lead(rec, dpi=60, paper="compact", show_header=False).image


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(float) - b.astype(float))))


EFFECTS = {
    "rotate": lambda img, r: pa.rotate(img, 3.0, (60, 60, 60)),
    "perspective": lambda img, r: pa.perspective(img, np.full((4, 2), 0.04)),
    "crop_pad": lambda img, r: pa.crop_pad(img, 0.05, -0.05, 0.02, 0.03, (90, 70, 50)),
    "blur": lambda img, r: pa.blur(img, 1.5),
    "jpeg": lambda img, r: pa.jpeg(img, 15),
    "uneven_lighting": lambda img, r: pa.uneven_lighting(img, 0.5, 30.0, 0.4),
    "paper_tint": lambda img, r: pa.paper_tint(img, (250, 240, 215)),
    "desaturate": lambda img, r: pa.desaturate(img, 1.0, 1.3),
    "noise": lambda img, r: pa.noise(img, 8.0, r),
}


@pytest.mark.parametrize("name", list(EFFECTS))
def test_each_effect_keeps_shape_and_changes_the_image(page, name):
    out = EFFECTS[name](page, np.random.default_rng(1))
    assert out.shape == page.shape and out.dtype == np.uint8
    assert _diff(out, page) > 0.5, name
    again = EFFECTS[name](page, np.random.default_rng(1))
    assert np.array_equal(out, again)


def test_effects_do_what_they_say(page):
    white = np.all(page == 255, axis=-1)
    tinted = pa.paper_tint(page, (250, 240, 215))
    assert tuple(np.median(tinted[white], axis=0)) == (250, 240, 215)
    grey = pa.desaturate(page, 1.0)
    assert np.abs(grey[..., 0].astype(int) - grey[..., 2]).max() <= 1  # no colour left
    dark = pa.uneven_lighting(page, 0.6, 0.0, 0.0)  # light falls off from left to right
    assert dark[:, :20].mean() > dark[:, -20:].mean() + 50
    blurred = pa.blur(page, 2.0)
    assert (
        np.abs(np.diff(blurred.astype(int), axis=1)).mean() < np.abs(np.diff(page.astype(int), axis=1)).mean()
    )
    padded = pa.crop_pad(page, -0.1, 0.0, 0.0, 0.0, (10, 20, 30))
    assert tuple(padded[page.shape[0] // 2, 2]) == (10, 20, 30)  # the table shows on the left
    rotated = pa.rotate(page, 5.0, (10, 20, 30))
    assert tuple(rotated[0, 0]) == (10, 20, 30)  # a corner of the page left the frame
    warped = pa.perspective(page, np.full((4, 2), 0.05), (10, 20, 30))
    assert tuple(warped[0, 0]) == (10, 20, 30) and tuple(warped[-1, -1]) == (10, 20, 30)


def test_augment_photo_is_deterministic_per_seed(page):
    a = pa.augment_photo(page, np.random.default_rng(7))
    b = pa.augment_photo(page, np.random.default_rng(7))
    c = pa.augment_photo(page, np.random.default_rng(8))
    assert a.shape == page.shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_augment_photo_logs_and_respects_probabilities(page):
    seen = set()
    for seed in range(25):
        out, log = pa.augment_photo_logged(page, np.random.default_rng(seed))
        seen.update(log.applied)
        if log.applied:
            assert _diff(out, page) > 0.3
    assert seen == set(EFFECTS)
    out, log = pa.augment_photo_logged(page, np.random.default_rng(0), pa.PhotoAugmentConfig.none())
    assert log.applied == [] and np.array_equal(out, page)
    only_jpeg = pa.PhotoAugmentConfig.none().model_copy(update={"p_jpeg": 1.0})
    _, log = pa.augment_photo_logged(page, np.random.default_rng(0), only_jpeg)
    assert log.applied == ["jpeg"] and 25 <= log.params["jpeg.quality"] <= 90


def test_bad_input_and_config_are_refused(page):
    with pytest.raises(ValueError, match="uint8"):
        pa.blur(page.astype(np.float32), 1.0)
    with pytest.raises(ValueError, match="H x W x 3"):
        pa.jpeg(page[..., 0], 50)
    with pytest.raises(ValueError, match="leave nothing"):
        pa.crop_pad(page, 0.5, 0.0, 0.5, 0.0)
    with pytest.raises(ValueError, match="jpeg_quality"):
        pa.PhotoAugmentConfig(jpeg_quality=(1, 50))
    with pytest.raises(ValueError, match="low end"):
        pa.PhotoAugmentConfig(noise_sigma=(5.0, 1.0))
