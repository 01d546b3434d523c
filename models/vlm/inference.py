"""Reading ECG images with a trained VLM: the label head (fast) and generated answers (full VLM).

``EcgImageReader`` wraps one weights folder (``checkpoint.py`` layout). ``read`` / ``read_many`` run the
vision tower alone (about 0.03 s per image on CPU) and turn its label head into a ``LabelReading``:
finding probabilities and calls, heart rate, axis and intervals in their units, the rate category, the
rhythm, the ECG-page probability and the image's quality. ``answer`` loads the whole VLM (4-bit language
model + LoRA, seconds) the first time it is needed and generates a free-text answer greedily.

Importing this module imports neither torch nor transformers (the tool registry imports the tool, and
through it this module, at start-up); they are imported when weights are first loaded.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from cardioagent.models.vlm.instruct import REPORT_QUESTIONS, RHYTHM_FINDINGS, EcgFacts, report_text
from cardioagent.models.vlm.labels import Rhythm, axis_category, rate_category
from cardioagent.models.vlm.quality import ImageQuality, image_quality

# Same folder and file names as ``checkpoint.py`` (tests check they agree); repeated here so that
# finding out whether weights exist does not import transformers (several seconds at start-up).
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "adapters" / "ecg_vlm"
META_FILE = "vlm.json"
VISION_FILE = "vision.safetensors"
WEIGHTS_ENV = "CARDIOAGENT_ECG_VLM_DIR"  # a folder written by `cardioagent train vlm --out DIR`


def default_weights_dir() -> Path:
    """``$CARDIOAGENT_ECG_VLM_DIR`` when set, else the weights shipped in the package."""
    env = os.environ.get(WEIGHTS_ENV, "").strip()
    return Path(env).expanduser() if env else SHIPPED_DIR


def weights_problem(weights_dir: str | Path | None = None) -> str | None:
    """None when ``weights_dir`` holds a trained vision tower (stage 1 at least), else why not."""
    d = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    missing = [n for n in (META_FILE, VISION_FILE) if not (d / n).is_file()]
    if not missing:
        return None
    return (
        f"no trained ECG-image model in {d} (missing {', '.join(missing)}); "
        f"train one with `cardioagent train vlm` or point {WEIGHTS_ENV} at one"
    )


RateCategory = Literal["bradycardia", "normal", "tachycardia"]


class LabelReading(BaseModel):
    """What the vision tower's label head reads from one image."""

    is_ecg: bool = Field(description="page probability at or above the weights' page threshold")
    page_probability: float = Field(description="probability that the image is a 12-lead ECG page")
    probabilities: dict[str, float] = Field(description="per finding, in the weights' finding order")
    findings: list[str] = Field(description="findings whose probability reaches their threshold")
    heart_rate_bpm: float
    axis_deg: float = Field(description="frontal QRS axis, -180..180 degrees")
    pr_ms: float
    qrs_ms: float
    qtc_ms: float
    rate_category: RateCategory = Field(
        description="from heart_rate_bpm: < 60 bradycardia, > 100 tachycardia"
    )
    rhythm: Rhythm = Field(
        description="the most probable of sinus / AF / flutter; 'other' when none is called"
    )
    image_quality: ImageQuality | None = Field(
        None, description="None only where no pixels were at hand (training)"
    )

    def facts(self, record: str) -> EcgFacts:
        """The reading as ``EcgFacts``, so instruct's templates can phrase and score answers from it.

        Every finding counts as assessed (the head calls each one). PR is left out without an atrial
        rhythm to measure it on (AF, flutter), and QT is recovered from QTc and the rate by Bazett's
        formula, which is how QTc was defined in training."""
        rr_s = 60.0 / self.heart_rate_bpm if self.heart_rate_bpm > 0 else None
        return EcgFacts(
            source="synthetic",  # i.e. "every finding known", which is what a head's call gives
            record=record,
            findings=list(self.findings),
            assessed=list(self.probabilities),
            rhythm=self.rhythm,
            heart_rate_bpm=round(self.heart_rate_bpm, 1),
            axis_deg=round(self.axis_deg, 1),
            axis_category=axis_category(self.axis_deg),
            pr_ms=None if self.rhythm in ("atrial_fibrillation", "atrial_flutter") else round(self.pr_ms, 1),
            qrs_ms=round(self.qrs_ms, 1),
            qt_ms=None if rr_s is None else round(self.qtc_ms * math.sqrt(rr_s), 1),
            qtc_ms=round(self.qtc_ms, 1),
        )


def reading_prompt(reading: LabelReading) -> str:
    """The label head's reading as the text the language model is prompted with, before the question.

    As in CKEPE (label descriptions put into the prompt), the small language model answers from named
    findings and measured numbers that the vision tower produced from this image, in the report's own
    phrasing, rather than having to decode 49 image tokens by itself; it still sees the tokens. The
    reading never contains anything but the tower's outputs (no ground truth, in training either)."""
    return "Image reading:\n" + report_text(reading.facts("image"))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def reading_from_outputs(
    finding_logits: np.ndarray,
    numbers: np.ndarray,
    page_logit: float | None,
    meta: Any,
    quality: ImageQuality | None,
) -> LabelReading:
    """One image's head outputs (logits in ``meta.findings`` order, numbers divided by the scales of
    ``meta.numeric_targets``) as a ``LabelReading``. Pure."""
    probs = _sigmoid(np.asarray(finding_logits, dtype=np.float64))
    probabilities = {f: round(float(p), 4) for f, p in zip(meta.findings, probs, strict=False)}
    called = [f for f in meta.findings if probabilities[f] >= meta.threshold(f)]
    values = {
        name: float(v) * scale
        for (name, scale), v in zip(meta.numeric_targets.items(), numbers, strict=False)
    }
    hr = max(values["heart_rate_bpm"], 0.0)
    axis = math.degrees(math.atan2(values["axis_sin"], values["axis_cos"]))
    present = [f for f in RHYTHM_FINDINGS if f in probabilities and probabilities[f] >= meta.threshold(f)]
    rhythm: Rhythm = max(present, key=probabilities.__getitem__) if present else "other"
    page_p = 1.0 if page_logit is None else float(_sigmoid(np.asarray(page_logit, dtype=np.float64)))
    return LabelReading(
        is_ecg=page_p >= meta.page_threshold,
        page_probability=round(page_p, 4),
        probabilities=probabilities,
        findings=called,
        heart_rate_bpm=round(hr, 1),
        axis_deg=round(axis, 1),
        pr_ms=round(values["pr_ms"], 1),
        qrs_ms=round(values["qrs_ms"], 1),
        qtc_ms=round(values["qtc_ms"], 1),
        rate_category=rate_category(hr),
        rhythm=rhythm,
        image_quality=quality,
    )


def readings_from_output(output: Any, meta: Any, qualities: list[ImageQuality | None]) -> list[LabelReading]:
    """A tower's batched output (``EcgVisionOutput``) as one ``LabelReading`` per image."""
    logits = output.finding_logits.float().cpu().numpy()
    numbers = output.numbers.float().cpu().numpy()
    page = None if output.page_logit is None else output.page_logit.float().cpu().numpy()
    return [
        reading_from_outputs(logits[i], numbers[i], None if page is None else float(page[i]), meta, q)
        for i, q in enumerate(qualities)
    ]


class EcgImageReader:
    """One trained VLM folder: the label head at once, the language model when first asked for."""

    def __init__(self, weights_dir: str | Path | None = None) -> None:
        self.weights_dir = Path(weights_dir) if weights_dir is not None else default_weights_dir()
        self._lock = threading.Lock()
        self._tower: Any = None
        self._processor: Any = None
        self._meta: Any = None
        self._bundle: Any = None
        self._vlm_error: str | None = None
        self._inputs: dict[bytes, Any] = {}

    # -- loading -----------------------------------------------------------------------------------------
    def _load_tower(self) -> None:
        if self._tower is not None:
            return
        with self._lock:
            if self._tower is None:
                from cardioagent.models.vlm.checkpoint import load_vision

                tower, processor, meta = load_vision(self.weights_dir)
                self._processor, self._meta = processor, meta
                self._tower = tower  # last: other threads test it without the lock

    def _load_vlm(self) -> Any:
        if self._bundle is None:
            with self._lock:
                if self._vlm_error is not None:  # loading takes seconds: fail fast the next times
                    raise RuntimeError(f"the VLM in {self.weights_dir} failed to load: {self._vlm_error}")
                if self._bundle is None:
                    from cardioagent.models.vlm.checkpoint import load_trained_vlm

                    try:
                        self._bundle, _ = load_trained_vlm(self.weights_dir)
                    except Exception as exc:
                        self._vlm_error = f"{type(exc).__name__}: {exc}"
                        raise
        return self._bundle

    def load_language_model(self) -> None:
        """Load the whole VLM now rather than on the first ``answer`` (to time it, or to warm up)."""
        self._load_vlm()

    @property
    def meta(self) -> Any:
        self._load_tower()
        return self._meta

    @property
    def has_language_model(self) -> bool:
        """Whether stage-2 parts (projector + LoRA adapter) exist; loads nothing."""
        from cardioagent.models.vlm.checkpoint import has_language_parts

        return has_language_parts(self.weights_dir)

    # -- the label head ------------------------------------------------------------------------------------
    def read(self, image: Any) -> LabelReading:
        return self.read_many([image])[0]

    def read_many(self, images: list[Any], batch_size: int = 16) -> list[LabelReading]:
        """Label-head readings of images given as paths, PIL images or H x W x 3 uint8 arrays."""
        import torch

        from cardioagent.models.vlm.model import to_rgb_array

        self._load_tower()
        out: list[LabelReading] = []
        for start in range(0, len(images), max(1, batch_size)):
            arrays = [to_rgb_array(im) for im in images[start : start + batch_size]]
            with torch.no_grad():
                res = self._tower(torch.stack([self._input(rgb) for rgb in arrays]))
            out += readings_from_output(res, self._meta, [image_quality(rgb) for rgb in arrays])
        return out

    def _input(self, rgb: np.ndarray) -> Any:
        """The tower's input for an image, kept for the last few images: the tool reads an image and then
        asks the language model about it, and digitizing a page is the costly step of both."""
        import hashlib

        key = hashlib.blake2b(rgb.tobytes(), digest_size=16).digest() + repr(rgb.shape).encode()
        with self._lock:
            if key in self._inputs:
                return self._inputs[key]
        x = self._processor.one(rgb)
        with self._lock:
            self._inputs[key] = x
            while len(self._inputs) > 8:
                self._inputs.pop(next(iter(self._inputs)))
        return x

    # -- the whole VLM -------------------------------------------------------------------------------------
    def answer(
        self,
        image: Any,
        question: str | None = None,
        max_new_tokens: int = 96,
        reading: LabelReading | None = None,
    ) -> str:
        """The VLM's greedy answer to ``question`` about ``image`` (None: a full report). Needs stage-2
        weights (``has_language_model``) and the embedded language model package. ``reading``: this
        image's label-head reading when the caller has it already (it is put in the prompt of models
        trained with ``prompt_reading``)."""
        import torch

        from cardioagent.models.vlm.model import build_batch, to_rgb_array

        bundle = self._load_vlm()
        model = bundle.model
        rgb = to_rgb_array(image)
        readings = [reading_prompt(reading or self.read(rgb))] if bundle.spec.prompt_reading else None
        # a trace tower's processor takes the digitized page back, so the page is digitized once
        trace = bundle.spec.family == "embedded" and bundle.spec.tower == "trace"
        batch = build_batch(
            bundle, [self._input(rgb) if trace else rgb], [question or REPORT_QUESTIONS[0]], readings=readings
        )
        device = next(model.parameters()).device
        batch = {k: v.to(device) for k, v in batch.items()}
        tok = bundle.processor.tokenizer
        with torch.no_grad():
            generated = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            )
        new = generated[0, batch["input_ids"].shape[1] :]
        return tok.decode(new, skip_special_tokens=True).strip()


_READERS: dict[str, EcgImageReader] = {}
_READERS_LOCK = threading.Lock()


def shared_reader(weights_dir: str | Path | None = None) -> EcgImageReader:
    """One reader per weights folder for the whole process, so models are loaded once."""
    d = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    key = str(d.resolve())
    with _READERS_LOCK:
        if key not in _READERS:
            _READERS[key] = EcgImageReader(d)
        return _READERS[key]
