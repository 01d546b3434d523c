"""Training the ECG-image VLM in two stages (``cardioagent train vlm``).

Stage 1 — vision: the tower and its label head learn from images alone (findings as sigmoids, heart
rate / axis / intervals as regressions, and an "is an ECG page" logit trained against
``negatives.make_negative`` images). This is cheap on a CPU (no language model in the loop) and carries
most of the accuracy: the pooled token the head reads is also the first image token the language model
sees. Per-finding thresholds are then chosen on a validation split (balanced accuracy), never on test data.

Stage 2 — QLoRA: the language model (4-bit NF4) gets LoRA adapters on its attention/MLP projections
(``lm_head`` and ``embed_tokens`` excluded) and the projector is trained with them on question/answer
pairs; the tower is frozen so the label head the tool reports keeps meaning what stage 1 measured.

Both stages checkpoint (trainable weights, optimizer, step, data order) every ``checkpoint_every``
steps and resume from ``OUT/checkpoints`` when run again. The data come from ``dataset.build_dataset``
(images.jsonl + qa.jsonl); images are letterboxed once into a uint8 cache in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field

from cardioagent.models.vlm.checkpoint import VlmMeta, save_vision, save_vlm
from cardioagent.models.vlm.dataset import read_jsonl
from cardioagent.models.vlm.instruct import QAPair, Target, score_answer
from cardioagent.models.vlm.labels import FINDINGS
from cardioagent.models.vlm.model import (
    NUMERIC_TARGETS,
    EcgTraceConfig,
    EcgTraceProcessor,
    Tower,
    VlmSpec,
    add_lora,
    build_batch,
    image_processor_for,
    load_vlm,
    tower_for,
    trainable_parameter_names,
)
from cardioagent.models.vlm.negatives import make_negative

log = logging.getLogger(__name__)


class Stage1Config(BaseModel):
    epochs: float = Field(8.0, gt=0)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = 0.02
    negatives: int = Field(800, ge=0, description="non-ECG images generated for the page logit")
    validation_fraction: float = Field(0.06, ge=0.0, lt=0.5)
    number_loss_weight: float = 4.0


class Stage2Config(BaseModel):
    steps: int = Field(300, ge=0)
    batch_size: int = Field(4, ge=1)
    lr: float = Field(5e-4, gt=0)
    eval_questions: int = Field(
        90, ge=0, description="validation questions answered by generation for the report"
    )
    max_new_tokens: int = 80


class TrainConfig(BaseModel):
    data_dir: str
    out_dir: str
    spec: VlmSpec = Field(default_factory=VlmSpec)
    stage1: Stage1Config = Field(default_factory=Stage1Config)
    stage2: Stage2Config = Field(default_factory=Stage2Config)
    seed: int = 0
    threads: int | None = None
    checkpoint_every: int = 100
    exclude_groups: list[str] = Field(
        default_factory=list, description="records never to train on (cross-validation)"
    )
    extra_data_dirs: list[str] = Field(
        default_factory=list,
        description="more data sets for stage 1 (e.g. real records beside synthetic ones)",
    )
    init_vision: str | None = Field(
        None, description="weights folder whose tower stage 1 starts from (fine-tuning)"
    )


# ------------------------------------------------------------------------------------------- data


def _targets(facts: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Finding targets and mask, numeric targets (scaled) and mask, for one image (None: a negative)."""
    y = np.zeros(len(FINDINGS), np.float32)
    ym = np.zeros(len(FINDINGS), np.float32)
    n = np.zeros(len(NUMERIC_TARGETS), np.float32)
    nm = np.zeros(len(NUMERIC_TARGETS), np.float32)
    if facts is None:
        return y, ym, n, nm
    for i, f in enumerate(FINDINGS):
        if f in facts["assessed"]:
            ym[i] = 1.0
            y[i] = float(f in facts["findings"])
    values = {
        "heart_rate_bpm": facts.get("heart_rate_bpm"),
        "pr_ms": facts.get("pr_ms"),
        "qrs_ms": facts.get("qrs_ms"),
        "qtc_ms": facts.get("qtc_ms"),
    }
    if facts.get("axis_deg") is not None:
        a = math.radians(facts["axis_deg"])
        values.update(
            axis_sin=math.sin(a) * NUMERIC_TARGETS["axis_sin"],
            axis_cos=math.cos(a) * NUMERIC_TARGETS["axis_cos"],
        )
    for i, (k, scale) in enumerate(NUMERIC_TARGETS.items()):
        if (value := values.get(k)) is not None:
            n[i], nm[i] = float(value) / scale, 1.0
    return y, ym, n, nm


class ImageCache:
    """The tower's inputs for every training image, in memory, with their stage-1 targets: letterboxed
    uint8 pixels (pixel tower) or float16 row profiles (trace tower; digitized once per data folder and
    kept on disk beside it, see ``trace_features``)."""

    def __init__(self, spec: VlmSpec) -> None:
        self.config = spec.vision_config()
        self.proc = image_processor_for(self.config)
        self.trace = isinstance(self.config, EcgTraceConfig)
        self.inputs: list[torch.Tensor] = []
        self.rows: list[tuple[np.ndarray, ...]] = []
        self.page: list[float] = []
        self.groups: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, image: Any, facts: dict[str, Any] | None, group: str, key: str | None = None) -> None:
        self.add_input(self.proc.one(image), facts, group, key)

    def add_input(
        self, t: torch.Tensor, facts: dict[str, Any] | None, group: str, key: str | None = None
    ) -> None:
        if self.trace:
            self.inputs.append(t.to(torch.float16))
        else:  # [-1, 1] float -> uint8
            self.inputs.append(((t + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8))
        self.rows.append(_targets(facts))
        self.page.append(0.0 if facts is None else 1.0)
        self.groups.append(group)
        if key is not None:
            self.index[key] = len(self.inputs) - 1

    def __len__(self) -> int:
        return len(self.inputs)

    def batch(self, idx: list[int], jitter: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        if self.trace:
            x = torch.stack([self.inputs[i] for i in idx]).float()
            if jitter is not None:
                # a page is never framed or scaled the same way twice: shift the columns a little and
                # scale the voltages by a few per cent (the digitizer's mm-per-pixel is an estimate)
                x = torch.roll(x, shifts=int(jitter.integers(-12, 13)), dims=2)
                c = self.config
                gain = torch.from_numpy(jitter.uniform(0.95, 1.05, len(idx)).astype(np.float32)).view(
                    -1, 1, 1, 1
                )
                rows = x[:, : c.n_rows * c.n_features].view(len(idx), c.n_rows, c.n_features, -1)
                rows[:, :, :3] *= gain  # centroid, top, bottom (in place, through the view)
        else:
            x = torch.stack([self.inputs[i] for i in idx]).float() / 127.5 - 1.0
            if jitter is not None:  # a few pixels of shift: the page is never framed the same way twice
                dy, dx = (int(v) for v in jitter.integers(-6, 7, 2))
                x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
        cols = list(zip(*[self.rows[i] for i in idx], strict=False))
        out = {"pixel_values": x, "page": torch.tensor([self.page[i] for i in idx])}
        for name, col in zip(("y", "ym", "n", "nm"), cols, strict=False):
            out[name] = torch.from_numpy(np.stack(col))
        return out


def image_lines(cfg: TrainConfig) -> list[tuple[Path, dict]]:
    """(data folder, images.jsonl line) of every image stage 1 may use, excluded records left out."""
    excluded = set(cfg.exclude_groups)
    out = []
    for d in [cfg.data_dir, *cfg.extra_data_dirs]:
        out += [(Path(d), ln) for ln in read_jsonl(Path(d) / "images.jsonl") if ln["group"] not in excluded]
    return out


def _digitize_one(args: tuple[Any, int]) -> np.ndarray:
    image, n_columns = args
    return EcgTraceProcessor(n_columns).one(image).numpy().astype(np.float16)


def _digitize_many(images: list[Any], n_columns: int, workers: int, desc: str, progress: bool) -> np.ndarray:
    """Tower inputs of images (paths or arrays), in order, on ``workers`` processes."""
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(im, n_columns) for im in images]
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 and len(jobs) > 8 else None
    try:
        it: Any = (
            pool.map(_digitize_one, jobs, chunksize=16) if pool is not None else map(_digitize_one, jobs)
        )
        if progress:
            from tqdm import tqdm

            it = tqdm(it, total=len(jobs), desc=desc, unit="img")
        return np.stack(list(it)) if jobs else np.zeros((0,), np.float16)
    finally:
        if pool is not None:
            pool.shutdown()


def trace_features(data_dir: Path, n_columns: int, workers: int = 2, progress: bool = True) -> np.ndarray:
    """Row profiles of every image of a data folder, in images.jsonl order, digitized once and kept as
    ``trace_features_{n_columns}_v{DIGITIZER_VERSION}.npy`` in the folder (digitizing is most of the cost)."""
    from cardioagent.models.vlm.digitize import DIGITIZER_VERSION

    lines = read_jsonl(data_dir / "images.jsonl")
    path = data_dir / f"trace_features_{n_columns}_v{DIGITIZER_VERSION}.npy"
    if path.is_file():
        arr = np.load(path, mmap_mode="r")
        if arr.shape[0] == len(lines):
            return arr
    arr = _digitize_many(
        [str(data_dir / ln["image"]) for ln in lines],
        n_columns,
        workers,
        f"digitizing {data_dir.name}",
        progress,
    )
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, arr)
    tmp.replace(path)
    return arr


def load_images(cfg: TrainConfig, progress: bool = True) -> tuple[ImageCache, list[dict]]:
    """The data sets' images (minus excluded groups) and ``cfg.stage1.negatives`` generated non-ECGs."""
    items = image_lines(cfg)
    cache = ImageCache(cfg.spec)
    rng = np.random.default_rng([cfg.seed, 99])
    negatives = [make_negative(rng)[0] for _ in range(cfg.stage1.negatives)]
    if cache.trace:
        n_cols = cache.config.n_columns
        workers = max(1, min(4, (cfg.threads or torch.get_num_threads())))
        feats = {
            str(d): trace_features(Path(d), n_cols, workers, progress)
            for d in dict.fromkeys(str(f) for f, _ in items)
        }
        positions = {
            str(d): {ln["image"]: k for k, ln in enumerate(read_jsonl(Path(d) / "images.jsonl"))}
            for d in feats
        }
        for folder, ln in items:
            arr = feats[str(folder)][positions[str(folder)][ln["image"]]]
            cache.add_input(
                torch.from_numpy(np.array(arr)), ln["facts"], ln["group"], key=str(folder / ln["image"])
            )
        neg = _digitize_many(negatives, n_cols, workers, "digitizing negatives", progress)
        for i, arr in enumerate(neg):
            cache.add_input(torch.from_numpy(np.array(arr)), None, f"negative-{i:05d}")
        return cache, [ln for _, ln in items]
    it: Any = items
    if progress:
        from tqdm import tqdm

        it = tqdm(items, desc="loading images", unit="img")
    for folder, ln in it:
        cache.add(folder / ln["image"], ln["facts"], ln["group"], key=str(folder / ln["image"]))
    for i, img in enumerate(negatives):
        cache.add(img, None, f"negative-{i:05d}")
    return cache, [ln for _, ln in items]


def is_validation_group(group: str, fraction: float, seed: int) -> bool:
    """A fixed, seeded share of records is validation: decided by a hash of the name, so stage 1 and
    stage 2 (which see different lists) agree on it."""
    h = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(h[:4], "big") / 2**32 < fraction


def split_groups(groups: list[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Train/validation indices split by group (a record's renderings never straddle the split)."""
    val = [i for i, g in enumerate(groups) if is_validation_group(g, fraction, seed)]
    chosen = set(val)
    return [i for i in range(len(groups)) if i not in chosen], val


# ----------------------------------------------------------------------------------------- stage 1


def stage1_loss(
    out: Any, b: dict[str, torch.Tensor], number_weight: float
) -> tuple[torch.Tensor, dict[str, float]]:
    fl = F.binary_cross_entropy_with_logits(out.finding_logits, b["y"], reduction="none")
    find = (fl * b["ym"]).sum() / b["ym"].sum().clamp(min=1.0)
    nl = F.smooth_l1_loss(out.numbers, b["n"], reduction="none", beta=0.05)
    num = (nl * b["nm"]).sum() / b["nm"].sum().clamp(min=1.0)
    page = F.binary_cross_entropy_with_logits(out.page_logit, b["page"])
    total = find + number_weight * num + page
    return total, {"findings": find.item(), "numbers": num.item(), "page": page.item()}


@torch.no_grad()
def predict_vision(
    tower: torch.nn.Module, cache: ImageCache, idx: list[int], batch_size: int = 32
) -> dict[str, np.ndarray]:
    tower.eval()
    probs, nums, page = [], [], []
    for s in range(0, len(idx), batch_size):
        b = cache.batch(idx[s : s + batch_size])
        o = tower(b["pixel_values"])
        probs.append(torch.sigmoid(o.finding_logits).numpy())
        nums.append(o.numbers.numpy())
        page.append(torch.sigmoid(o.page_logit).numpy())
    return {"p": np.concatenate(probs), "n": np.concatenate(nums), "page": np.concatenate(page)}


def balanced_accuracy(p: np.ndarray, y: np.ndarray, threshold: float) -> float:
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        return float("nan")
    return 0.5 * (float((p[pos] >= threshold).mean()) + float((p[neg] < threshold).mean()))


def choose_thresholds(p: np.ndarray, y: np.ndarray, m: np.ndarray) -> dict[str, float]:
    """Per finding, the threshold in [0.2, 0.8] with the best balanced accuracy on validation images
    (0.5 where a finding has no positives or no negatives there)."""
    grid = np.round(np.arange(0.2, 0.81, 0.05), 2)
    out = {}
    for j, f in enumerate(FINDINGS):
        keep = m[:, j] == 1
        scores = [balanced_accuracy(p[keep, j], y[keep, j], t) for t in grid]
        out[f] = 0.5 if all(np.isnan(scores)) else float(grid[int(np.nanargmax(scores))])
    return out


def vision_metrics(
    pred: dict[str, np.ndarray], cache: ImageCache, idx: list[int], thresholds: dict[str, float]
) -> dict[str, Any]:
    y = np.stack([cache.rows[i][0] for i in idx])
    m = np.stack([cache.rows[i][1] for i in idx])
    n = np.stack([cache.rows[i][2] for i in idx])
    nm = np.stack([cache.rows[i][3] for i in idx])
    page = np.array([cache.page[i] for i in idx])
    per = {}
    for j, f in enumerate(FINDINGS):
        keep = m[:, j] == 1
        ba = balanced_accuracy(pred["p"][keep, j], y[keep, j], thresholds[f])
        per[f] = None if math.isnan(ba) else round(ba, 4)  # None: no positives or no negatives among them
    mae = {}
    for j, (k, scale) in enumerate(NUMERIC_TARGETS.items()):
        keep = nm[:, j] == 1
        if keep.any() and not k.startswith("axis"):
            mae[k] = round(float(np.abs(pred["n"][keep, j] - n[keep, j]).mean() * scale), 2)
    ax_keep = (nm[:, 1] == 1) & (nm[:, 2] == 1)
    if ax_keep.any():
        pa = np.degrees(np.arctan2(pred["n"][ax_keep, 1], pred["n"][ax_keep, 2]))
        ta = np.degrees(np.arctan2(n[ax_keep, 1], n[ax_keep, 2]))
        mae["axis_deg"] = round(float(np.abs((pa - ta + 180) % 360 - 180).mean()), 2)
    valid = [v for v in per.values() if v is not None]
    return {
        "images": len(idx),
        "balanced_accuracy": per,
        "balanced_accuracy_mean": round(float(np.mean(valid)), 4) if valid else None,
        "number_mae": mae,
        "page_accuracy": round(float(((pred["page"] >= 0.5) == (page == 1)).mean()), 4),
    }


def _ckpt(out: Path, stage: str) -> Path:
    return out / "checkpoints" / f"stage{stage}.pt"


def train_stage1(cfg: TrainConfig, cache: ImageCache, progress: bool = True) -> tuple[Tower, dict[str, Any]]:
    s1 = cfg.stage1
    out = Path(cfg.out_dir)
    torch.manual_seed(cfg.seed)
    tower = tower_for(cfg.spec.vision_config())
    if cfg.init_vision:
        from cardioagent.models.vlm.checkpoint import load_vision

        tower.load_state_dict(load_vision(cfg.init_vision)[0].state_dict())
    train_idx, val_idx = split_groups(cache.groups, s1.validation_fraction, cfg.seed)
    steps_per_epoch = max(1, len(train_idx) // s1.batch_size)
    total = math.ceil(s1.epochs * steps_per_epoch)
    opt = torch.optim.AdamW(tower.parameters(), lr=s1.lr, weight_decay=s1.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s1.lr, total_steps=total, pct_start=0.08)
    step, history = 0, []
    ck = _ckpt(out, "1")
    if ck.is_file():
        state = torch.load(ck, weights_only=False)
        tower.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, history = state["step"], state["history"]
        log.info("stage 1: resumed at step %d of %d", step, total)
    rng = np.random.default_rng([cfg.seed, 11])
    orders = [rng.permutation(train_idx).tolist() for _ in range(math.ceil(s1.epochs) + 1)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=step, desc="stage 1 (vision)", unit="step")
    t0 = time.perf_counter()
    jitter = np.random.default_rng([cfg.seed, 12, step])
    tower.train()
    while step < total:
        epoch, pos = divmod(step, steps_per_epoch)
        idx = orders[epoch][pos * s1.batch_size : (pos + 1) * s1.batch_size]
        b = cache.batch(idx, jitter)
        o = tower(b["pixel_values"])
        loss, parts = stage1_loss(o, b, s1.number_loss_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tower.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        if step % 20 == 0:
            history.append(
                {"step": step, "loss": round(loss.item(), 4), **{k: round(v, 4) for k, v in parts.items()}}
            )
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % cfg.checkpoint_every == 0 or step == total:
            ck.parent.mkdir(parents=True, exist_ok=True)
            torch.save(
                {
                    "model": tower.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "step": step,
                    "history": history,
                },
                ck,
            )
            tower.train()
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    pred = predict_vision(tower, cache, val_idx)
    ecg_val = [k for k, i in enumerate(val_idx) if cache.page[i] == 1]
    y = np.stack([cache.rows[val_idx[k]][0] for k in ecg_val])
    m = np.stack([cache.rows[val_idx[k]][1] for k in ecg_val])
    thresholds = choose_thresholds(pred["p"][ecg_val], y, m)
    report = {
        "steps": total,
        "epochs": s1.epochs,
        "batch_size": s1.batch_size,
        "lr": s1.lr,
        "train_images": len(train_idx),
        "validation_images": len(val_idx),
        "seconds_this_run": round(seconds, 1),
        "history": history,
        "thresholds": thresholds,
        "validation": vision_metrics(pred, cache, val_idx, thresholds),
    }
    tower.eval()
    return tower, report


# ----------------------------------------------------------------------------------------- stage 2


def _pair(q: dict) -> QAPair:
    return QAPair(
        question=q["question"],
        answer=q["answer"],
        question_type=q["question_type"],
        target=Target.model_validate(q["target"]),
        template=q["template"],
    )


@torch.no_grad()
def readings_for(
    tower: torch.nn.Module | None, meta: Any, bundle: Any, images: list[Any]
) -> tuple[list[Any], list[str] | None]:
    """The images as the tower's inputs (digitized once) and, when the spec prompts with it, the label
    head's reading of each as text (``inference.reading_prompt``): the tower's outputs only."""
    from cardioagent.models.vlm.inference import reading_prompt, readings_from_output

    if tower is None or not bundle.spec.prompt_reading:
        return images, None
    proc = bundle.processor.image_processor
    inputs = [proc.one(im) for im in images]
    was_training = tower.training
    tower.eval()
    o = tower(torch.stack(inputs).to(next(tower.parameters()).device))
    tower.train(was_training)
    texts = [reading_prompt(r) for r in readings_from_output(o, meta, [None] * len(inputs))]
    # a pixel tower's processor cannot take its own output back: hand build_batch the images again
    return (inputs if isinstance(proc, EcgTraceProcessor) else images), texts


@torch.no_grad()
def generate_answers(
    bundle: Any,
    images: list[Any],
    questions: list[str],
    max_new_tokens: int = 80,
    tower: torch.nn.Module | None = None,
    meta: Any = None,
) -> list[str]:
    """Greedy answers, one image at a time (batched generation pads on the right here)."""
    model = bundle.model
    model.eval()
    tok = bundle.processor.tokenizer
    out = []
    for img, q in zip(images, questions, strict=False):
        ims, readings = readings_for(tower, meta, bundle, [img])
        enc = build_batch(bundle, ims, [q], readings=readings)
        ids = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id or tok.eos_token_id,
        )
        out.append(tok.decode(ids[0, enc["input_ids"].shape[1] :], skip_special_tokens=True).strip())
    return out


def evaluate_answers(
    bundle: Any,
    data_dir: Path,
    qa: list[dict],
    max_new_tokens: int,
    tower: torch.nn.Module | None = None,
    meta: Any = None,
) -> dict[str, Any]:
    images = [data_dir / q["image"] for q in qa]
    answers = generate_answers(bundle, images, [q["question"] for q in qa], max_new_tokens, tower, meta)
    by_type: dict[str, list[bool]] = defaultdict(list)
    examples: list[dict[str, str | bool]] = []
    for q, a in zip(qa, answers, strict=False):
        ok = score_answer(_pair(q), a)
        by_type[q["question_type"]].append(ok)
        if len(examples) < 12:
            examples.append({"question": q["question"], "expected": q["answer"], "answer": a, "correct": ok})
    return {
        "questions": len(qa),
        "accuracy": round(float(np.mean([v for vs in by_type.values() for v in vs])), 4) if qa else None,
        "by_question_type": {
            k: {"n": len(v), "accuracy": round(float(np.mean(v)), 4)} for k, v in sorted(by_type.items())
        },
        "examples": examples,
    }


def _stage2_bundle(cfg: TrainConfig, tower: torch.nn.Module | None) -> Any:
    """The VLM with LoRA adapters on its language model (and a trainable projector for the embedded one)."""
    bundle = load_vlm(cfg.spec)
    if tower is not None:  # embedded family: the stage-1 tower; Mllama brings its own pretrained vision model
        bundle.model.model.vision_tower.load_state_dict(tower.state_dict())
    bundle = add_lora(bundle, train_vision=False)
    if cfg.spec.family == "embedded":
        for (
            name,
            p,
        ) in (
            bundle.model.named_parameters()
        ):  # the projector learns with the adapters; the tower stays as stage 1 left it
            if ".multi_modal_projector." in name:
                p.requires_grad_(True)
    return bundle


def _resume(ck: Path, model: torch.nn.Module, opt: Any, sched: Any) -> tuple[int, list]:
    """Load a stage-2 checkpoint into the model, optimizer and scheduler; returns (step, loss history)."""
    state = torch.load(ck, weights_only=False)
    current = dict(model.named_parameters())
    for k, v in state["trainable"].items():
        current[k].data.copy_(v)
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    return state["step"], state["history"]


def train_stage2(
    cfg: TrainConfig,
    tower: torch.nn.Module | None,
    qa: list[dict],
    val_qa: list[dict],
    progress: bool = True,
    meta: Any = None,
) -> tuple[Any, dict[str, Any]]:
    from PIL import Image

    s2 = cfg.stage2
    out = Path(cfg.out_dir)
    data = Path(cfg.data_dir)
    bundle = _stage2_bundle(cfg, tower)
    model = bundle.model
    names = trainable_parameter_names(model)
    params = [p for n, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=s2.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=s2.lr, total_steps=max(1, s2.steps), pct_start=0.1
    )
    step = 0
    history: list[dict[str, float]] = []
    ck = _ckpt(out, "2")
    if ck.is_file():
        step, history = _resume(ck, model, opt, sched)
        log.info("stage 2: resumed at step %d of %d", step, s2.steps)
    rng = np.random.default_rng([cfg.seed, 21])
    order = rng.permutation(len(qa)).tolist()
    while len(order) < s2.steps * s2.batch_size:
        order += rng.permutation(len(qa)).tolist()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=s2.steps, initial=step, desc="stage 2 (QLoRA)", unit="step")
    t0 = time.perf_counter()
    model.train()
    if tower is not None:  # frozen, and its BatchNorm statistics must stay those stage 1 measured
        model.get_base_model().model.vision_tower.eval()
    # the trace tower's inputs were digitized for stage 1 already: reuse them rather than digitize again
    feats, where = None, {}
    if isinstance(bundle.processor.image_processor, EcgTraceProcessor):
        feats = trace_features(data, bundle.processor.image_processor.n_columns, progress=progress)
        where = {ln["image"]: k for k, ln in enumerate(read_jsonl(data / "images.jsonl"))}
    while step < s2.steps:
        items = [qa[i] for i in order[step * s2.batch_size : (step + 1) * s2.batch_size]]
        images = [
            torch.from_numpy(np.array(feats[where[q["image"]]]))
            if feats is not None
            else Image.open(data / q["image"]).convert("RGB")
            for q in items
        ]
        images, readings = readings_for(tower, meta, bundle, images)
        enc = build_batch(
            bundle, images, [q["question"] for q in items], [q["answer"] for q in items], readings
        )
        loss = model(**enc).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        step += 1
        if step % 10 == 0:
            history.append({"step": step, "loss": round(loss.item(), 4)})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % cfg.checkpoint_every == 0 or step == s2.steps:
            ck.parent.mkdir(parents=True, exist_ok=True)
            torch.save(
                {
                    "trainable": {
                        n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad
                    },
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "step": step,
                    "history": history,
                },
                ck,
            )
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    evaluation = evaluate_answers(bundle, data, val_qa, s2.max_new_tokens, tower, meta) if val_qa else {}
    report = {
        "steps": s2.steps,
        "batch_size": s2.batch_size,
        "lr": s2.lr,
        "train_pairs": len(qa),
        "trainable_parameters": int(sum(p.numel() for p in params)),
        "trainable_tensors": len(names),
        "seconds_this_run": round(seconds, 1),
        "eval_seconds": round(time.perf_counter() - t1, 1),
        "history": history,
        "validation": evaluation,
    }
    return bundle, report


# ------------------------------------------------------------------------------------------ driver


def _meta(
    cfg: TrainConfig, tower: Tower, report: dict[str, Any], stages: list[str], lines: list[dict]
) -> VlmMeta:
    real = sorted({ln["group"] for ln in lines if ln["source"] != "synthetic"})
    s1 = report.get("stage1", {})
    return VlmMeta(
        spec=cfg.spec,
        vision_config=tower.config.to_dict(),
        finding_thresholds=s1.get("thresholds", {}),
        stages=stages,
        training={
            "data_dir": cfg.data_dir,
            "images": len(lines),
            "real_records": real,
            "seed": cfg.seed,
            "validation": {
                "stage1": s1.get("validation"),
                "stage2": report.get("stage2", {}).get("validation"),
            },
        },
    )


def _sample_val_qa(qa: list[dict], val_groups: set[str], n: int, seed: int) -> list[dict]:
    """Validation questions spread over question types (the report's per-type accuracy needs each)."""
    pool = [q for q in qa if q["group"] in val_groups]
    by_type: dict[str, list[dict]] = defaultdict(list)
    for q in pool:
        by_type[q["question_type"]].append(q)
    rng = np.random.default_rng([seed, 31])
    per = max(1, n // max(1, len(by_type)))
    out = []
    for t in sorted(by_type):
        items = by_type[t]
        out += [items[i] for i in rng.permutation(len(items))[:per]]
    return out


def write_report(out: Path, report: dict[str, Any]) -> None:
    (out / "report.json").write_text(json.dumps(report, indent=1))
    lines = [
        "# ECG-image VLM training report",
        "",
        f"Data: `{report['data_dir']}`; seed {report['seed']}.",
        "",
    ]
    s1 = report.get("stage1")
    if s1:
        v = s1["validation"]
        lines += [
            "## Stage 1 (vision tower + label head)",
            "",
            f"{s1['steps']} steps, batch {s1['batch_size']}, {s1['train_images']} training images, "
            f"{s1['validation_images']} validation images (split by record), {s1['seconds_this_run']} s.",
            "",
            "| finding | balanced accuracy (validation) | threshold |",
            "|---|---|---|",
        ]
        lines += [f"| {f} | {a} | {s1['thresholds'][f]} |" for f, a in v["balanced_accuracy"].items()]
        lines += [
            "",
            f"Mean balanced accuracy: {v['balanced_accuracy_mean']}; ECG-page accuracy: {v['page_accuracy']}.",
            "",
            "Numbers read from the image, mean absolute error: "
            + ", ".join(f"{k} {val}" for k, val in v["number_mae"].items()),
            "",
        ]
    s2 = report.get("stage2")
    if s2:
        v = s2.get("validation") or {}
        lines += [
            "## Stage 2 (QLoRA on question/answer pairs)",
            "",
            f"{s2['steps']} steps, batch {s2['batch_size']}, {s2['trainable_parameters']:,} trainable parameters "
            f"(LoRA + projector), {s2['seconds_this_run']} s.",
            "",
        ]
        if v:
            lines += [
                f"Generated answers on {v['questions']} validation questions: accuracy {v['accuracy']}.",
                "",
                "| question type | n | accuracy |",
                "|---|---|---|",
            ]
            lines += [f"| {t} | {d['n']} | {d['accuracy']} |" for t, d in v["by_question_type"].items()]
            lines += ["", "Examples:", ""]
            lines += [
                f"- Q: {e['question']} — expected: {e['expected']!r} — got: {e['answer']!r} "
                f"({'ok' if e['correct'] else 'wrong'})"
                for e in v["examples"]
            ]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def train_vlm(
    cfg: TrainConfig, stages: tuple[str, ...] = ("1", "2"), progress: bool = True
) -> dict[str, Any]:
    """Run the requested stages; write the weights (``checkpoint`` layout) and the report to
    ``cfg.out_dir``. Stage 2 alone reuses the stage-1 tower found in ``cfg.out_dir``."""
    from cardioagent.models.vlm.checkpoint import load_vision

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prev = out / "report.json"
    report: dict[str, Any] = json.loads(prev.read_text()) if prev.is_file() else {}
    report.update({"data_dir": cfg.data_dir, "seed": cfg.seed, "config": cfg.model_dump(mode="json")})
    t0 = time.perf_counter()
    lines = [ln for _, ln in image_lines(cfg)]
    if cfg.spec.family == "mllama":
        stages = tuple(s for s in stages if s != "1")  # its vision model is pretrained: QLoRA only
        tower = None
    elif "1" in stages:
        cache, lines = load_images(cfg, progress)
        tower, report["stage1"] = train_stage1(cfg, cache, progress)
        del cache
        save_vision(tower, out, _meta(cfg, tower, report, ["1"], lines))
        write_report(out, report)
    else:
        tower, _, _ = load_vision(out)
    if "2" in stages and cfg.stage2.steps > 0:
        qa = [
            q
            for q in read_jsonl(Path(cfg.data_dir) / "qa.jsonl")
            if q["group"] not in set(cfg.exclude_groups)
        ]
        val_groups = {
            q["group"]
            for q in qa
            if is_validation_group(q["group"], cfg.stage1.validation_fraction, cfg.seed)
        }
        train_qa = [q for q in qa if q["group"] not in val_groups]
        val_qa = _sample_val_qa(qa, val_groups, cfg.stage2.eval_questions, cfg.seed)
        meta = _meta(cfg, tower, report, ["1"], lines) if tower is not None else None
        bundle, report["stage2"] = train_stage2(cfg, tower, train_qa, val_qa, progress, meta)
        if tower is not None:
            save_vlm(bundle, out, _meta(cfg, tower, report, ["1", "2"], lines))
        else:
            bundle.model.save_pretrained(str(out / "lora"))
    report["seconds_total_this_run"] = round(time.perf_counter() - t0, 1)
    counts = Counter(ln["source"] for ln in lines)
    report["images_by_source"] = dict(counts)
    write_report(out, report)
    return report
