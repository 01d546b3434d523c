"""``vitals_estimate``: the QLoRA LLM estimators as an agent tool (registered through the
``cardioagent.tools`` entry point ``vitals`` in pyproject.toml).

It is asked for explicitly (LLM / QLoRA / fine-tuned estimate, vascular age); the classical
``heart_rate`` tool stays the default for heart-rate questions. Its output carries the estimate, the
classical estimate beside it, an uncertainty and a quality flag per window, and it refuses windows of
poor quality whose two estimates disagree.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from cardioagent.models.vitals.estimator import WindowEstimate, shipped_adapter_problem
from cardioagent.tools.contract import Measurement, Quality, Tool, ToolContext, ToolRegistrar, ToolResult

SHIPPED = (("hr", "ppg"), ("hr", "ecg"))


class VitalsInput(BaseModel):
    recording_id: str = Field(description="id of an uploaded recording in the session store")
    task: Literal["hr"] = Field("hr", description="what to estimate: 'hr' (heart rate)")
    modality: Literal["ppg", "ecg"] | None = Field(
        None, description="signal to read; default: ECG if present, else PPG"
    )


class VitalsResult(ToolResult):
    recording: str
    task: str
    modality: str
    estimate: Measurement
    classical: Measurement = Field(description="the classical estimate on the same windows, for comparison")
    windows: list[WindowEstimate] = Field(default_factory=list)
    windows_total: int
    windows_refused: int
    adapter: str

    def summary(self) -> str:
        e, c = self.estimate, self.classical
        lines = [
            e.text(0)
            + ("" if e.quality == Quality.GOOD or e.value is None else f" ({e.quality.value} quality)"),
            c.text(0) + " (on the same windows)",
            (
                f"{len(self.windows)} of {self.windows_total} windows estimated, {self.windows_refused} refused"
                " for poor quality"
            ),
        ]
        lines += [f"note: {w}" for w in self.warnings]
        return "\n".join(lines)


class VitalsEstimateTool(Tool):
    name = "vitals_estimate"
    description = (
        "Estimate heart rate from a PPG or ECG recording with a QLoRA-fine-tuned LLM that reads robust signal "
        "features, with the classical estimate beside it, an uncertainty, and poor-quality windows refused."
    )
    modalities = ("ppg", "ecg", "mixed")
    input_model = VitalsInput
    output_model = VitalsResult
    timeout_s = 240.0  # the first call loads the 4-bit base model (about 10 s on a laptop CPU)
    isolation = "thread"  # keeps its loaded model between calls
    keywords = (
        r"\bQLoRA\b",
        r"\bLLM[- ](based )?(estimat\w*|heart ?rate)\b",
        r"\bfine-?tuned (model|LLM|estimat\w*)\b",
        r"\bvitals? estimat\w*",
    )
    examples = (
        "Estimate the heart rate with the fine-tuned LLM.",
        "What does the QLoRA vitals estimator say?",
    )

    def unavailable_reason(self) -> str | None:
        from cardioagent.models.llm.weights import embedded_model_available

        reason = embedded_model_available()
        if reason:
            return reason
        problems = [p for p in (shipped_adapter_problem(t, m) for t, m in SHIPPED) if p]
        return None if len(problems) < len(SHIPPED) else problems[0]

    def run(self, args: VitalsInput, ctx: ToolContext) -> VitalsResult:
        from cardioagent.models.vitals.estimator import estimate

        rec = ctx.get_recording(args.recording_id)
        est = estimate(rec, args.task, args.modality, ctx.demographics)
        quality = est.value.quality
        return VitalsResult(
            quality=quality,
            method=est.method,
            warnings=est.warnings,
            recording=rec.name,
            task=est.task,
            modality=est.modality,
            estimate=est.value,
            classical=est.classical,
            windows=est.windows,
            windows_total=est.windows_total,
            windows_refused=est.windows_refused,
            adapter=est.adapter,
        )


def register_tools(register: ToolRegistrar) -> None:
    register(VitalsEstimateTool)
