"""``ecg_image_interpret``: the ECG-image VLM as an agent tool (registered through the
``cardioagent.tools`` entry point ``ecg_image`` in pyproject.toml).

It runs by default for uploaded ECG images (photos, scans, screenshots, PDF pages) and reads the image's
pixels, never a signal. Steps:

1. image quality from the pixels (``quality.py``); an image nothing can be read from is refused;
2. the vision tower's label head: finding probabilities, heart rate, axis, intervals and the "is a
   12-lead ECG page" probability; an image below the page threshold is refused;
3. the user's question is matched to the question templates the model was trained on (``instruct``); the
   matched question, or a full-report request when nothing matches, goes to the language model;
4. without stage-2 weights (or without the embedded language model package) the answer is written from
   the label head with the same templates, and the result says so;
5. the generated answer is scored against the label head's own reading (``instruct.score_answer``), and
   a disagreement is reported rather than hidden.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from cardioagent.models.vlm.inference import LabelReading, default_weights_dir, shared_reader, weights_problem
from cardioagent.models.vlm.instruct import FINDING_TEXT, QAPair, all_pairs, report_pair, score_answer
from cardioagent.models.vlm.quality import ImageQuality
from cardioagent.tools.contract import Measurement, Quality, Tool, ToolContext, ToolRegistrar, ToolResult
from cardioagent.tools.errors import InputError

log = logging.getLogger(__name__)

ACCEPTED = "a photo, scan or screenshot of a paper 12-lead ECG, the whole page in view, sharp and evenly lit"
REPORT = "report.full"

# User wording -> the instruct template whose question the model was trained on. First match wins, so
# specific phrasings come before general ones ("is the rate normal" before "rate").
QUESTION_TEMPLATES: tuple[tuple[str, str], ...] = (
    (r"\b(long|prolong\w*)\s+QTc?\b|\bQTc?\b.*\b(long|prolong\w*)\b", "intervals.long_qt"),
    (r"\bQTc?\b", "intervals.qtc"),
    (
        (
            r"\b(first|1st)[- ]degree\b|\bAV[- ]block\b|\bheart[- ]block\b|\bPR\b.*\b(long|prolong\w*)\b|"
            r"\b(long|prolong\w*)\s+PR\b"
        ),
        "conduction.avb",
    ),
    (r"\bPR\b", "intervals.pr"),
    (
        r"\bbundle[- ]branch\b|\b[RL]?BBB\b|\b(wide|broad)\w*\s+QRS\b|\bQRS\b.*\b(wide|broad|widen\w*)\b",
        "conduction.wide_qrs",
    ),
    (r"\blow\b.*\bvoltage\b|\bvoltage\b.*\blow\b|\bsmall\s+(QRS|complex\w*)\b", "morphology.low_voltage"),
    (r"\bQRS\b", "intervals.qrs"),
    (
        r"\bST[- ]?(segments?\s+)?elevat\w*|\belevat\w*\s+ST\b|\bSTEMI\b|\bST\b.*\belevated\b",
        "morphology.st_elevation",
    ),
    (
        r"\bST[- ]?(segments?\s+)?depress\w*|\bdepress\w*\s+ST\b|\bST\b.*\bdepressed\b",
        "morphology.st_depression",
    ),
    (
        r"\binvert\w*\s+T\b|\bT[- ]?waves?\b.*\binver\w*|\bT[- ]wave inversion\b|\bT inversion\b",
        "morphology.t_wave_inversion",
    ),
    (r"\bflutter\w*", "rhythm.atrial_flutter"),
    (r"\bfibrillat\w*|\ba-?fib\b|\bAF\b", "rhythm.atrial_fibrillation"),
    (
        r"\bPVCs?\b|\bVPBs?\b|\bpremature ventricular\b|\bventricular (ectop\w*|extrasystol\w*|premature)",
        "rhythm.premature_ventricular_beats",
    ),
    (
        r"\bPACs?\b|\bAPBs?\b|\bpremature atrial\b|\batrial (ectop\w*|extrasystol\w*|premature)",
        "rhythm.premature_atrial_beats",
    ),
    (r"\b(ir)?regular\w*|\b(extra|skipped|missed|ectopic|premature)\s+beats?\b|\bectop\w*", "rhythm.regular"),
    (r"\bbrady\w*", "rate.bradycardia"),
    (r"\btachy\w*", "rate.tachycardia"),
    (r"\bsinus\b", "rhythm.is_sinus"),
    (
        (
            r"\b(rate|pulse)\b.*\b(slow|normal|fast|high|low|ok(ay)?)\b|"
            r"\b(slow|normal|fast|high|low)\s+(heart\s*)?(rate|pulse)\b|\b(too|very)\s+(fast|slow)\b"
        ),
        "rate.category",
    ),
    (
        r"\bheart\s*rate\b|\bpulse\b|\bbpm\b|\bbeats?\s+(per|a)\s+minute\b|\bhow fast\b|\brate\b",
        "rate.number",
    ),
    (r"\brhythm\b", "rhythm.what"),
    (r"\baxis\b", "morphology.axis"),
)


# Requests for the whole picture: answered with the full report, no note needed.
GENERAL_REQUEST = re.compile(
    r"\b(interpret\w*|describe|descri\w*|report|read|analy[sz]\w*|summar\w*|overview|show\w*|"
    r"see|look\w*|review|check|normal|abnormal\w*|anything|findings?)\b",
    re.IGNORECASE,
)


def match_template(question: str | None) -> str:
    """The instruct template a question asks for, or ``report.full`` (no question, a request for an
    interpretation, or nothing the model was trained to answer)."""
    for pattern, template in QUESTION_TEMPLATES:
        if question and re.search(pattern, question, flags=re.IGNORECASE):
            return template
    return REPORT


def pair_for(template: str, facts_pairs: list[QAPair], report: QAPair) -> QAPair:
    """The question/answer pair of ``template`` written from the label head's facts."""
    if template == REPORT:
        return report
    by_template = {p.template: p for p in facts_pairs}
    if template == "intervals.pr" and template not in by_template:
        template = "intervals.pr_none"  # AF/flutter: no P waves, the template says so
    return by_template.get(template, report)


class NotAnEcgImageError(InputError):
    """The image does not look like a 12-lead ECG page."""


class UnreadableImageError(InputError):
    """The image is too small, dark, washed out or blurred to read anything from."""


class EcgImageInput(BaseModel):
    recording_id: str = Field(
        description="id of an uploaded ECG image (photo, scan, screenshot, PDF) in the session store"
    )
    question: str | None = Field(None, description="what to ask about the ECG; none: a full report")


class EcgImageResult(ToolResult):
    recording: str
    question: str | None = Field(description="the user's question")
    asked: str = Field(
        description="the trained question the model was asked (the user's question matched to it)"
    )
    answer: str
    answer_source: Literal["language_model", "label_head"] = Field(
        description="language_model: generated by the VLM; label_head: written from the head's reading with templates"
    )
    agrees_with_labels: bool | None = Field(
        None,
        description="whether the generated answer says what the label head read (None: nothing was generated)",
    )
    generated_answer: str | None = Field(
        None,
        description="the language model's own answer when it disagreed with the label head and was not used",
    )
    probabilities: dict[str, float] = Field(description="label head: probability of each finding")
    findings: list[str] = Field(description="findings the label head calls present")
    rhythm: str
    rate_category: str
    heart_rate: Measurement
    axis: Measurement
    pr_interval: Measurement | None = Field(None, description="absent without P waves (AF, flutter)")
    qrs_duration: Measurement
    qtc: Measurement
    page_probability: float = Field(description="probability that the image is a 12-lead ECG page")
    image_quality: ImageQuality
    weights: str

    def summary(self) -> str:
        if self.answer_source == "language_model":
            who = "generated by the ECG-image language model"
        elif self.generated_answer is not None:
            who = "written from the vision model's label head (the language model's answer disagreed with it)"
        else:
            who = "written from the vision model's label head (no trained language model here)"
        lines = [
            f'Read from an image of an ECG (its pixels, not a recorded signal); answer {who} to "{self.asked}":'
        ]
        lines += [ln for ln in self.answer.splitlines() if ln.strip()]
        called = ", ".join(FINDING_TEXT.get(f, f) for f in self.findings) or "none"
        nums = "; ".join(
            m.text(0) for m in (self.heart_rate, self.pr_interval, self.qrs_duration, self.qtc) if m
        )
        agree = {
            True: "; the answer agrees with it",
            None: "",
            False: f'; the language model\'s answer "{self.generated_answer}" DISAGREES with it',
        }[self.agrees_with_labels]
        lines.append(f"label head: {called}; {nums}{agree}")
        q = self.image_quality
        if q.reasons:  # the flag itself travels with the result; the reasons say what to improve
            lines.append(f"image quality {q.flag.value}: {', '.join(q.reasons)}")
        lines += [f"note: {w}" for w in self.warnings if not w.startswith("image quality")]
        return "\n".join(lines)


def _mae(meta: object, name: str) -> float | None:
    """The validation mean absolute error that training measured for ``name``, if it did.

    ``train.py`` writes ``training['validation']['stage1']['number_mae'][name]`` (records held out of
    training by group); ``validation['mae'][name]`` and ``validation[name + '_mae']`` are read too."""
    validation = (getattr(meta, "training", None) or {}).get("validation") or {}
    value = ((validation.get("stage1") or {}).get("number_mae") or {}).get(name)
    if value is None:
        value = (validation.get("mae") or {}).get(name, validation.get(f"{name}_mae"))
    try:
        return None if value is None else round(float(value), 1)
    except (TypeError, ValueError):
        return None


# Values outside these ranges are beyond what the training data spans (synth.py's generator and the
# real records): the head extrapolates there, so such a number is shown but flagged poor.
PLAUSIBLE = {
    "heart_rate_bpm": (25.0, 250.0),
    "pr_ms": (60.0, 450.0),
    "qrs_ms": (50.0, 220.0),
    "qtc_ms": (280.0, 650.0),
}


class EcgImageInterpretTool(Tool):
    name = "ecg_image_interpret"
    description = (
        "Read a photo, scan or screenshot of a paper 12-lead ECG with the project's ECG-image vision-language "
        "model: answer a question about it (rhythm, rate, conduction, intervals, ST/T, axis) or write a full "
        "report, with the label probabilities the answer rests on, the numbers read from the image and an "
        "image-quality flag. Refuses images that are not ECGs or cannot be read."
    )
    modalities = ("ecg_image",)
    input_model = EcgImageInput
    output_model = EcgImageResult
    timeout_s = 300.0  # first call: load the 4-bit language model (and convert the GGUF once)
    isolation = "thread"  # keeps its loaded model between calls
    default_for = ("ecg_image",)
    keywords = (
        r"\b(ECG|EKG)\s+(image|photo|picture|scan|screenshot|printout|strip|tracing)s?\b",
        r"\bwhat does (this|the|my) (ECG|EKG|tracing|image|photo|scan) show\b",
        r"\bheart ?rate\b",
        r"\bbpm\b",
        r"\bpulse\b",
        r"\brhythm\w*",
        r"\b(ir)?regular\w*",
        r"\bsinus\b",
        r"\bbrady\w*",
        r"\btachy\w*",
        r"\bfibrillat\w*|\ba-?fib\b|\bAF\b",
        r"\bflutter\w*",
        r"\bP[AV]Cs?\b",
        r"\bpremature\b",
        r"\bectop\w*",
        r"\bAV[- ]block\b",
        r"\bbundle[- ]branch\b|\b[RL]?BBB\b",
        r"\bQRS\b",
        r"\bQTc?\b",
        r"\bPR\b",
        r"\bST\b",
        r"\bT[- ]?waves?\b",
        r"\bvoltage\b",
        r"\baxis\b",
        r"\binterval\w*",
    )
    examples = (
        "Interpret this ECG image.",
        "What does this ECG photo show?",
        "Read this scanned ECG printout.",
        "Is there atrial fibrillation on this ECG picture?",
        "What is the heart rate on this ECG?",
        "Is the QT interval prolonged on this printout?",
    )

    def unavailable_reason(self) -> str | None:
        return weights_problem()

    def run(self, args: EcgImageInput, ctx: ToolContext) -> EcgImageResult:
        rec = ctx.get_recording(args.recording_id)
        if rec.image is None:
            raise InputError(rec.name, "is not an image", "an uploaded PNG, JPEG or PDF of an ECG")
        reader = shared_reader()
        reading = reader.read(rec.image)
        image_quality = _refuse_if_unusable(rec.name, reading, rec.image)
        meta = reader.meta

        facts = reading.facts(rec.name)
        template = match_template(args.question)
        head_pair = pair_for(template, all_pairs(facts), report_pair(facts))
        warnings: list[str] = []
        answer = head_pair.answer
        source: Literal["language_model", "label_head"] = "label_head"
        if template == REPORT and args.question and not GENERAL_REQUEST.search(args.question):
            warnings.append(
                "the question was answered with a full report (it matched no specific question the "
                "model was trained on)"
            )
        lm_reason = _language_model_problem(reader)
        if lm_reason is None:
            try:
                answer, source = (
                    reader.answer(rec.image, head_pair.question, reading=reading),
                    "language_model",
                )
            except Exception as exc:  # noqa: BLE001 — the head's reading stands without the language model
                log.warning("ECG-image language model failed: %s", exc)
                warnings.append(
                    f"the language model could not answer ({type(exc).__name__}: {exc}); "
                    "answer written from the label head"
                )
        else:
            warnings.append(f"answer written from the label head: {lm_reason}")
        agrees = score_answer(head_pair, answer) if source == "language_model" else None
        generated = None
        if agrees is False:
            # The head is what the bench measures as the more accurate of the two (docs/vlm.md: 96.5 % vs
            # 71.4 % on yes/no questions): where they disagree the user gets the head's answer, and the
            # generated text is kept beside it rather than hidden.
            generated, answer, source = answer, head_pair.answer, "label_head"
            warnings.append(
                f'the language model answered "{generated}", which disagrees with the label head\'s '
                "reading; the answer given is the label head's: treat this finding with caution"
            )
        finding = head_pair.target.finding if head_pair.target.kind == "yes_no" else None
        if source == "label_head" and finding in reading.probabilities:
            answer += (
                f" (label-head probability of {FINDING_TEXT[finding]}: {reading.probabilities[finding]:.2f})"
            )
        if image_quality.flag != Quality.GOOD:
            warnings.append(
                "image quality " + image_quality.flag.value + ": " + ", ".join(image_quality.reasons)
            )

        flag = image_quality.flag

        def m(name: str, value: float, unit: str, key: str) -> Measurement:
            lo, hi = PLAUSIBLE.get(key, (-math.inf, math.inf))
            quality = flag
            if not lo <= value <= hi:
                quality = Quality.POOR
                warnings.append(
                    f"{name} {value:.0f} {unit} is outside what the model was trained on "
                    f"({lo:.0f}-{hi:.0f} {unit}): not to be trusted"
                )
            return Measurement(
                name=name, value=round(value), unit=unit, uncertainty=_mae(meta, key), quality=quality
            )

        no_p = reading.rhythm in ("atrial_fibrillation", "atrial_flutter")
        return EcgImageResult(
            quality=flag,
            method=(
                _tower_method(meta)
                + (
                    "; answer generated by the 4-bit VLM with LoRA"
                    if source == "language_model"
                    else "; answer phrased from the head's reading with the training templates"
                )
            ),
            warnings=warnings,
            recording=rec.name,
            question=args.question,
            asked=head_pair.question,
            answer=answer,
            answer_source=source,
            agrees_with_labels=agrees,
            generated_answer=generated,
            probabilities=reading.probabilities,
            findings=reading.findings,
            rhythm=reading.rhythm,
            rate_category=reading.rate_category,
            heart_rate=m("heart rate (read from the image)", reading.heart_rate_bpm, "bpm", "heart_rate_bpm"),
            axis=m("QRS axis", reading.axis_deg, "degrees", "axis_deg"),
            pr_interval=None if no_p else m("PR interval", reading.pr_ms, "ms", "pr_ms"),
            qrs_duration=m("QRS duration", reading.qrs_ms, "ms", "qrs_ms"),
            qtc=m("QTc (Bazett)", reading.qtc_ms, "ms", "qtc_ms"),
            page_probability=reading.page_probability,
            image_quality=image_quality,
            weights=str(reader.weights_dir),
        )


def _tower_method(meta: object) -> str:
    spec = meta.spec  # type: ignore[attr-defined]
    if getattr(spec, "tower", "pixels") == "trace":
        return (
            "vision tower label head on the page's four trace rows (straightened and followed by the "
            f"digitizer, {spec.trace_columns} columns each)"
        )
    size = "x".join(map(str, meta.vision_config.get("image_size", [])))  # type: ignore[attr-defined]
    return f"vision tower label head on the image pixels (letterboxed to {size} px)"


def _refuse_if_unusable(name: str, reading: LabelReading, rgb: np.ndarray | None = None) -> ImageQuality:
    """The reading's image quality, after refusing an image that cannot be read or is not an ECG."""
    q = reading.image_quality
    if q is None:  # a reading made without pixels (training); the reader always measures the image
        raise UnreadableImageError(name, "no image quality was measured for this reading", ACCEPTED)
    if not q.readable:
        raise UnreadableImageError(
            name, f"this image cannot be read as an ECG: {', '.join(q.reasons)}", ACCEPTED
        )
    if not reading.is_ecg:
        paper = _ecg_paper(rgb)
        if paper is None:
            raise NotAnEcgImageError(
                name,
                f"this image does not look like a 12-lead ECG (page probability {reading.page_probability:.2f})",
                ACCEPTED,
            )
        # The model was trained on drawn pages and does not recognise every real photo; the digitizer's
        # evidence of ECG paper overrules it, and the reading is flagged instead of refused.
        q = q.model_copy(
            update={
                "flag": Quality.POOR,
                "reasons": [
                    *q.reasons,
                    f"the image model did not recognise the page (page probability "
                    f"{reading.page_probability:.2f}) but the digitizer found ECG paper ({paper}): its reading "
                    "of this photo is less reliable than the digitized measurements",
                ],
            }
        )
    return q


def _ecg_paper(rgb: np.ndarray | None) -> str | None:
    """What shows the image is ECG paper (trace rows with a grid or calibration pulses), or None."""
    if rgb is None:
        return None
    from cardioagent.tools.signal.digitize import NotAnEcgPageError, read_page

    try:
        return read_page(rgb).evidence
    except NotAnEcgPageError:
        return None


def _language_model_problem(reader: object) -> str | None:
    if not reader.has_language_model:  # type: ignore[attr-defined]
        return f"the stage-2 language-model weights are not in {reader.weights_dir}"  # type: ignore[attr-defined]
    from cardioagent.models.llm.weights import embedded_model_available

    meta = reader.meta  # type: ignore[attr-defined]
    if meta.spec.family == "embedded" and not meta.spec.base:
        return embedded_model_available()
    return None


def register_tools(register: ToolRegistrar) -> None:
    register(EcgImageInterpretTool)


__all__ = [
    "EcgImageInput",
    "EcgImageInterpretTool",
    "EcgImageResult",
    "default_weights_dir",
    "match_template",
]
