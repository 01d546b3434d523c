"""Training and prediction for the QLoRA vitals estimators.

``Trainer`` owns one ``VitalsLM`` and a list of ``Example``s. It computes each prompt's frozen lower-layer
states once (``cache``), then trains the LoRA adapters of the top layers (and the regression head) from
that cache with AdamW, Huber loss on the standardised residual (regression) or cross-entropy on the
answer tokens (text), checkpointing every ``checkpoint_every`` steps so an interrupted run resumes where it
stopped. Batches are drawn from ``numpy.random.default_rng([seed, step])`` and dropout is seeded per step,
so a resumed run takes exactly the steps an uninterrupted one would have taken.

With ``accelerate`` installed and CUDA present, the model is placed by ``VitalsLM`` on the process's GPU;
``accelerate launch`` then runs one copy per GPU and gradients are averaged by ``Accelerator``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field

from cardioagent.models.vitals.data import Example
from cardioagent.models.vitals.model import VitalsLM, VitalsModelConfig

if TYPE_CHECKING:  # torch is imported where it is used: importing this module stays light
    import torch

CHECKPOINT = "checkpoint.pt"
CACHE_FLUSH_S = 60.0  # how often encoded prompts are written to --cache-dir while encoding


class TrainConfig(BaseModel):
    task: Literal["hr", "vascular_age"] = "hr"
    modality: Literal["ppg", "ecg"] = "ppg"
    setting: Literal["signal", "context"] = "context"
    demographics: bool = False
    model: VitalsModelConfig = Field(default_factory=VitalsModelConfig)
    steps: int = 200
    batch_size: int = 8
    lr: float = 1e-3
    warmup_steps: int = 10
    weight_decay: float = 0.0
    huber_delta: float = 1.0
    seed: int = 0
    augment_copies: int = 0
    eval_fraction: float = 0.25
    checkpoint_every: int = 50

    def fingerprint(self) -> str:
        """What a checkpoint must match to be resumed (everything but the step budget)."""
        return json.dumps(self.model_dump(exclude={"steps", "checkpoint_every"}), sort_keys=True)


@dataclass
class Cached:
    lower: torch.Tensor  # (T, H), float32
    labels: torch.Tensor | None  # text head: (T,) with -100 outside the answer


def _quiet() -> None:
    # bitsandbytes' 4-bit matmul backpropagates correctly on CPU (tests/test_vitals_model.py checks the
    # gradient), but torch warns about its missing autograd registration once per process
    warnings.filterwarnings("ignore", message=".*bitsandbytes::gemv_4bit.*")
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")


class Trainer:
    def __init__(self, lm: VitalsLM, cfg: TrainConfig, examples: list[Example]) -> None:
        _quiet()
        self.lm = lm
        self.cfg = cfg
        self.examples = examples
        self.cached: list[Cached | None] = [None] * len(examples)
        self.initial_state = lm.trainable_state()
        self.accelerator = None

    # ------------------------------------------------------------------------------------------ cache

    def _ids(self, ex: Example) -> tuple[list[int], list[int] | None]:
        tok = self.lm.tokenizer
        ids = tok(ex.prompt, add_special_tokens=False).input_ids
        if self.lm.cfg.head != "text":
            return ids, None
        if ex.target is None:
            raise ValueError("text-head training needs a target for every example")
        answer = self.lm.answer_ids(self._format(ex.target))
        return ids + answer, [-100] * len(ids) + answer

    def _format(self, value: float) -> str:
        lo, hi = self.lm.cfg.value_range
        return f"{min(max(value, lo), hi):.{self.lm.cfg.value_decimals}f}"

    def cache(
        self, indices=None, batch_size: int = 8, progress: bool = False, store: Path | None = None
    ) -> None:
        """Compute the frozen lower-layer states of the given examples (all by default) once.

        With ``store`` (a folder), states are also kept on disk per prompt, keyed by the base model and the
        layer they enter, so a rerun, another fold or another command with the same prompts skips them.
        """
        import torch
        from tqdm.auto import tqdm

        todo = [
            i for i in (range(len(self.examples)) if indices is None else indices) if self.cached[i] is None
        ]
        if not self.lm.cacheable:
            for i in todo:
                ids, labels = self._ids(self.examples[i])
                self.cached[i] = Cached(torch.tensor(ids), None if labels is None else torch.tensor(labels))
            return
        disk: dict[str, Cached] = {}
        path: Path | None = None
        if store is not None and todo:
            path = Path(store) / f"lower-{self._model_key()}.pt"
            disk = torch.load(path, weights_only=False) if path.is_file() else {}
            for i in todo:
                hit = disk.get(self._example_key(i))
                if hit is not None:
                    self.cached[i] = hit
            todo = [i for i in todo if self.cached[i] is None]
        bar = tqdm(total=len(todo), desc="encoding prompts", unit="prompt", disable=not progress or not todo)
        self.lm.train(False)
        done: list[int] = []
        flushed = time.monotonic()

        def flush() -> None:
            # written as it goes (atomically), so a killed run keeps what it encoded and a rerun skips it
            if path is None or not done:
                return
            disk.update(
                {self._example_key(i): c for i in done if (c := self.cached[i]) is not None}
            )  # all are
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save(disk, tmp)
            os.replace(tmp, path)
            done.clear()

        for k in range(0, len(todo), batch_size):
            chunk = todo[k : k + batch_size]
            seqs = [self._ids(self.examples[i]) for i in chunk]
            width = max(len(s) for s, _ in seqs)
            pad = self.lm.tokenizer.pad_token_id
            padded = torch.tensor([s + [pad] * (width - len(s)) for s, _ in seqs], device=self.lm.device)
            mask = torch.tensor(
                [[1] * len(s) + [0] * (width - len(s)) for s, _ in seqs], device=self.lm.device
            )
            low = self.lm.lower_states(padded, mask).float().cpu()
            for j, i in enumerate(chunk):
                n = len(seqs[j][0])
                labels = seqs[j][1]
                self.cached[i] = Cached(low[j, :n].clone(), None if labels is None else torch.tensor(labels))
            done.extend(chunk)
            bar.update(len(chunk))
            if time.monotonic() - flushed > CACHE_FLUSH_S:
                flush()
                flushed = time.monotonic()
        bar.close()
        flush()

    def _model_key(self) -> str:
        m = self.lm.cfg
        key = json.dumps(
            [m.base, m.quantize_4bit, self.lm.split, self.lm.model.config.model_type, str(self.lm.device)]
        )
        return hashlib.sha1(key.encode()).hexdigest()[:16]

    def _example_key(self, i: int) -> str:
        ids, labels = self._ids(self.examples[i])
        return hashlib.sha1(json.dumps([ids, labels]).encode()).hexdigest()

    def _batch(self, idx: list[int]):
        """Padded (lower or ids, mask, labels) for examples ``idx``."""
        import torch

        items: list[Cached] = []
        for i in idx:
            c = self.cached[i]
            if c is None:
                raise RuntimeError(f"example {i} has no cached states: call cache() before batching it")
            items.append(c)
        width = max(c.lower.shape[0] for c in items)
        mask = torch.zeros(len(items), width, dtype=torch.long)
        labels = torch.full((len(items), width), -100, dtype=torch.long)
        if self.lm.cacheable:
            hidden = items[0].lower.shape[1]
            x = torch.zeros(len(items), width, hidden)
        else:
            x = torch.full((len(items), width), self.lm.tokenizer.pad_token_id, dtype=torch.long)
        for j, c in enumerate(items):
            n = c.lower.shape[0]
            x[j, :n] = c.lower
            mask[j, :n] = 1
            if c.labels is not None:
                labels[j, :n] = c.labels
        dev = self.lm.device
        return x.to(dev), mask.to(dev), labels.to(dev)

    def _final(self, x, mask):
        return self.lm.upper(x, mask) if self.lm.cacheable else self.lm.final_states(x, mask)

    def _base(self, idx: list[int]):
        import torch

        vals = [self.examples[i].anchor for i in idx]
        return torch.tensor(
            [self.lm.target_mean if v is None else float(v) for v in vals],
            dtype=torch.float32,
            device=self.lm.device,
        )

    # -------------------------------------------------------------------------------------------- fit

    def set_scaling(self, train_idx: list[int]) -> None:
        """Target mean and residual spread of the training examples (the head's units)."""
        y = np.array([self.examples[i].target for i in train_idx], dtype=float)
        self.lm.target_mean = float(np.mean(y))
        base = np.array(
            [
                self.lm.target_mean if self.examples[i].anchor is None else self.examples[i].anchor
                for i in train_idx
            ],
            dtype=float,
        )
        self.lm.target_scale = float(max(np.std(y - base), 1.0))

    def reset(self) -> None:
        """Back to the initial adapters and a zero head (the next fold of a cross-validation)."""
        self.lm.load_trainable_state(self.initial_state)

    def _loss(self, idx: list[int]):
        import torch
        import torch.nn.functional as F

        x, mask, labels = self._batch(idx)
        final = self._final(x, mask)
        if self.lm.cfg.head == "text":
            # logits only where an answer token is predicted: the 49k-word output layer dominates otherwise
            target = labels[:, 1:]
            where = target != -100
            logits = self.lm.lm_logits(final[:, :-1][where]).float()
            return F.cross_entropy(logits, target[where])
        pred = self.lm.regress(final, mask, self._base(idx))
        y = torch.tensor([self.examples[i].target for i in idx], dtype=torch.float32, device=self.lm.device)
        return F.huber_loss(pred / self.lm.target_scale, y / self.lm.target_scale, delta=self.cfg.huber_delta)

    def fit(
        self,
        train_idx: list[int],
        steps: int | None = None,
        checkpoint_dir: Path | None = None,
        resume: bool = False,
        progress: bool = False,
        on_step=None,
        store: Path | None = None,
    ) -> dict:
        """Train on ``train_idx`` for ``steps`` (default ``cfg.steps``); returns a small log."""
        import torch
        from tqdm.auto import tqdm

        steps = self.cfg.steps if steps is None else steps
        train_idx = list(train_idx)
        if not train_idx:
            raise ValueError("no training examples")
        self.cache(train_idx, progress=progress, store=store)
        self.set_scaling(train_idx)
        params = self.lm.trainable_parameters()
        opt = torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        warm = max(1, self.cfg.warmup_steps)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt,
            lambda s: (
                min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1)))
            ),
        )
        start, losses = 0, []
        ckpt = Path(checkpoint_dir) / CHECKPOINT if checkpoint_dir else None
        if resume and ckpt is not None and ckpt.is_file():
            state = torch.load(ckpt, map_location=self.lm.device, weights_only=False)
            if state["fingerprint"] != self.cfg.fingerprint():
                raise ValueError(f"{ckpt} was written by a run with other settings; use a new --out folder")
            self.lm.load_trainable_state(state["trainable"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            start, losses = int(state["step"]), list(state["losses"])
        acc = _accelerator()
        rank, world = (acc.process_index, acc.num_processes) if acc is not None else (0, 1)
        main = rank == 0
        self.lm.train(True)
        bar = tqdm(total=steps, initial=start, desc="training", unit="step", disable=not (progress and main))
        for step in range(start, steps):
            rng = np.random.default_rng([self.cfg.seed, step, rank])
            torch.manual_seed(self.cfg.seed * 1_000_003 + step * 101 + rank)
            idx = [
                train_idx[i]
                for i in rng.choice(
                    len(train_idx), size=min(self.cfg.batch_size, len(train_idx)), replace=False
                )
            ]
            loss = self._loss(idx)
            if acc is not None:
                acc.backward(loss)
            else:
                loss.backward()
            if world > 1:  # one process per GPU: average the (LoRA and head) gradients
                for p in params:
                    if p.grad is not None:
                        p.grad = acc.reduce(p.grad, reduction="mean")
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if (
                main
                and ckpt is not None
                and ((step + 1) % self.cfg.checkpoint_every == 0 or step + 1 == steps)
            ):
                self._save_checkpoint(ckpt, opt, sched, step + 1, losses)
            if on_step is not None:
                on_step(step + 1, losses[-1])
        bar.close()
        self.lm.train(False)
        return {
            "steps": steps,
            "resumed_from": start,
            "final_loss": float(np.mean(losses[-20:])) if losses else None,
        }

    def _save_checkpoint(self, path: Path, opt, sched, step: int, losses: list[float]) -> None:
        import torch

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(
            {
                "fingerprint": self.cfg.fingerprint(),
                "trainable": self.lm.trainable_state(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "step": step,
                "losses": losses,
            },
            tmp,
        )
        os.replace(tmp, path)

    # ---------------------------------------------------------------------------------------- predict

    def predict(self, idx: list[int], batch_size: int = 16, store: Path | None = None) -> np.ndarray:
        """Estimates for examples ``idx`` (regression from the cache; text by constrained decoding)."""
        import torch

        self.lm.train(False)
        if self.lm.cfg.head == "text":
            return np.array(self.lm.generate_numbers([self.examples[i].prompt for i in idx]))
        self.cache(idx, store=store)
        out = []
        with torch.no_grad():
            for k in range(0, len(idx), batch_size):
                chunk = list(idx[k : k + batch_size])
                x, mask, _ = self._batch(chunk)
                out.append(self.lm.regress(self._final(x, mask), mask, self._base(chunk)).cpu().numpy())
        lo, hi = self.lm.cfg.value_range
        return np.clip(np.concatenate(out) if out else np.zeros(0), lo, hi)


def _accelerator():
    """An ``accelerate.Accelerator`` when training runs under ``accelerate launch`` or on a GPU, else None
    (a plain CPU run needs none of its machinery)."""
    import torch

    if not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    try:
        from accelerate import Accelerator
    except ImportError:  # pragma: no cover - accelerate is a dependency
        return None
    return Accelerator()


def split_by_recording(
    examples: list[Example], eval_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices of training and held-out examples, whole recordings held out (augmented copies of a
    held-out recording are dropped)."""
    names = sorted({e.recording for e in examples})
    rng = np.random.default_rng(seed)
    n_eval = (
        min(max(1, round(eval_fraction * len(names))), len(names) - 1)
        if len(names) > 1 and eval_fraction > 0
        else 0
    )
    held = set(rng.permutation(names)[:n_eval].tolist())
    train = [i for i, e in enumerate(examples) if e.recording not in held]
    evaluate = [i for i, e in enumerate(examples) if e.recording in held and not e.augmented]
    return train, evaluate
