"""Build an ECGInstruct-style data set folder: rendered (and photo-augmented) ECG images with
question/answer pairs.

    summary = build_dataset("data/vlm", n_synthetic=2000, seed=0,
                            real_records_dir="../shared/data/ecg12_cinc2021", augment=True)

Layout of ``out_dir``:

- ``images/``: one JPEG (or PNG) per image; ``syn-000123.jpg`` from the synthetic generator,
  ``cinc-E07500-v3.jpg`` for the 4th rendering of a real record;
- ``images.jsonl``: one line per image: ``image`` (path relative to ``out_dir``), ``source``, ``group``
  (the record, the unit of cross-validation: all renderings of a real record share it), ``facts``
  (``EcgFacts``), ``synth_labels`` (synthetic only), ``render`` and ``augmentation`` (what was done);
- ``qa.jsonl``: one line per question: ``image``, ``question``, ``answer``, ``question_type``,
  ``labels`` (the facts), ``target`` (for scoring), ``template``, ``source``, ``group``;
- ``manifest.json``: the configuration, counts per source and question type, and timing.

Every image is a pure function of ``(seed, its index)`` (``numpy.random.default_rng([seed, kind,
index])``), so a data set is reproducible and the same with any number of worker processes.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from cardioagent.models.vlm.instruct import (
    EcgFacts,
    facts_from_cinc,
    facts_from_synth,
    read_cinc_labels,
    sample_pairs,
)
from cardioagent.models.vlm.photo_augment import PhotoAugmentConfig, augment_photo_logged
from cardioagent.models.vlm.synth import generate
from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.augment import add_baseline_wander, add_noise
from cardioagent.tools.signal.recording import Recording

FORMAT_VERSION = 1
_SYN, _REAL = 1, 2  # stream ids inside the seed sequence


class RenderConfig(BaseModel):
    dpi: int = Field(80, ge=40, le=300, description="80 dpi draws a page about 850 px wide")
    papers: tuple[str, ...] = ("compact", "standard")
    p_header: float = Field(0.3, ge=0, le=1, description="share of pages with the header band")
    image_format: Literal["jpg", "png"] = "jpg"
    jpeg_quality: int = Field(92, ge=50, le=100)


class DatasetConfig(BaseModel):
    n_synthetic: int = Field(ge=0)
    seed: int = 0
    augment: bool = True
    qa_per_image: int = Field(4, ge=1, le=30)
    real_variants: int = Field(8, ge=1, le=200, description="renderings per real record")
    render: RenderConfig = Field(default_factory=RenderConfig)
    photo: PhotoAugmentConfig = Field(default_factory=PhotoAugmentConfig)
    real_records_dir: str | None = None


class DatasetSummary(BaseModel):
    out_dir: str
    n_images: int
    n_questions: int
    images_by_source: dict[str, int]
    questions_by_type: dict[str, int]
    real_records: list[str]
    seconds: float
    images_per_s: float


def _render(
    rec: Recording, rng: np.random.Generator, cfg: DatasetConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    from cardioagent.tools.signal.render.paper import render_12lead

    paper = str(rng.choice(list(cfg.render.papers)))
    header = bool(rng.random() < cfg.render.p_header)
    img = render_12lead(rec, dpi=cfg.render.dpi, paper=paper, show_header=header).image
    info: dict[str, Any] = {"paper": paper, "dpi": cfg.render.dpi, "header": header}
    aug = None
    if cfg.augment:
        img, log = augment_photo_logged(img, rng, cfg.photo)
        aug = log.model_dump()
    info["augmentation"] = aug
    return img, info


def _save(img: np.ndarray, path: Path, cfg: RenderConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if cfg.image_format == "jpg":
        Image.fromarray(img).save(path, format="JPEG", quality=cfg.jpeg_quality)
    else:
        Image.fromarray(img).save(path, format="PNG", compress_level=1)


def _qa_lines(
    facts: EcgFacts, image: str, source: str, group: str, rng: np.random.Generator, n: int
) -> list[dict]:
    labels = facts.model_dump(mode="json")
    return [
        {
            "image": image,
            "question": p.question,
            "answer": p.answer,
            "question_type": p.question_type,
            "labels": labels,
            "target": p.target.model_dump(mode="json"),
            "template": p.template,
            "source": source,
            "group": group,
        }
        for p in sample_pairs(facts, rng, n)
    ]


def _synthetic_item(args: tuple[int, DatasetConfig, str]) -> tuple[dict, list[dict]]:
    index, cfg, out_dir = args
    rng = np.random.default_rng([cfg.seed, _SYN, index])
    name = f"syn-{index:06d}"
    rec, labels = generate(rng, name=name)
    img, info = _render(rec, rng, cfg)
    rel = f"images/{name}.{cfg.render.image_format}"
    _save(img, Path(out_dir) / rel, cfg.render)
    facts = facts_from_synth(labels, name)
    line = {
        "image": rel,
        "source": "synthetic",
        "group": name,
        "facts": facts.model_dump(mode="json"),
        "synth_labels": labels.model_dump(mode="json"),
        "render": info,
        "size": list(img.shape[:2]),
    }
    return line, _qa_lines(facts, rel, "synthetic", name, rng, cfg.qa_per_image)


def _real_item(args: tuple[int, int, Recording, EcgFacts, DatasetConfig, str]) -> tuple[dict, list[dict]]:
    rec_index, variant, rec, facts, cfg, out_dir = args
    rng = np.random.default_rng([cfg.seed, _REAL, rec_index, variant])
    sig = rec.signal
    if sig is None:  # the loaders give every real record its samples; without them there is nothing to draw
        raise ValueError(f"{rec.name}: no signal samples to draw")
    if cfg.augment and variant > 0:
        # mild signal variation before drawing; no time warp, which would change the labelled rate
        fs = float(rec.sampling_rate_hz or 500.0)
        sig = add_baseline_wander(sig, fs, float(rng.uniform(0.0, 0.15)), float(rng.uniform(0.1, 0.4)), rng)
        sig = add_noise(sig, float(rng.uniform(22.0, 40.0)), rng)
    shown = rec.model_copy(update={"signal": sig})
    img, info = _render(shown, rng, cfg)
    name = f"cinc-{rec.name}-v{variant}"
    rel = f"images/{name}.{cfg.render.image_format}"
    _save(img, Path(out_dir) / rel, cfg.render)
    line = {
        "image": rel,
        "source": "cinc2021",
        "group": rec.name,
        "facts": facts.model_dump(mode="json"),
        "render": info,
        "size": list(img.shape[:2]),
    }
    return line, _qa_lines(facts, rel, "cinc2021", rec.name, rng, cfg.qa_per_image)


def load_real_records(records_dir: str | Path) -> list[tuple[Recording, EcgFacts]]:
    """The CinC records of ``records_dir`` (``labels.csv`` beside ``.hea``/``.mat``) with their facts;
    the heart rate is measured by the project's classical ``heart_rate``."""
    from cardioagent.tools.analysis import heart_rate
    from cardioagent.tools.signal.loaders import load_files

    folder = Path(records_dir)
    labels_csv = folder / "labels.csv"
    if not labels_csv.is_file():
        raise InputError(
            str(folder), "has no labels.csv", "a CinC-2021 style folder with labels.csv and WFDB records"
        )
    out = []
    for name, lab in sorted(read_cinc_labels(labels_csv).items()):
        files = [folder / f"{name}.hea", folder / f"{name}.mat"]
        if not all(f.is_file() for f in files):
            continue
        rec = load_files(files)[0]
        hr = heart_rate(rec).heart_rate.value
        out.append((rec, facts_from_cinc(lab.codes, name, hr)))
    return out


def _items(
    cfg: DatasetConfig, out_dir: str, real: list[tuple[Recording, EcgFacts]]
) -> Iterator[tuple[Any, tuple]]:
    for i in range(cfg.n_synthetic):
        yield _synthetic_item, (i, cfg, out_dir)
    for r, (rec, facts) in enumerate(real):
        for v in range(cfg.real_variants):
            yield _real_item, (r, v, rec, facts, cfg, out_dir)


def _run(job: tuple[Any, tuple]) -> tuple[dict, list[dict]]:
    fn, args = job
    return fn(args)


def build_dataset(
    out_dir: str | Path,
    n_synthetic: int,
    seed: int = 0,
    real_records_dir: str | Path | None = None,
    augment: bool = True,
    *,
    config: DatasetConfig | None = None,
    workers: int = 1,
    progress: bool = False,
) -> DatasetSummary:
    """Write the data set (see the module docstring) and return what was written. ``config`` overrides
    the defaults (its ``n_synthetic``, ``seed``, ``augment`` and ``real_records_dir`` are replaced by
    the arguments)."""
    cfg = (config or DatasetConfig(n_synthetic=0)).model_copy(
        update={
            "n_synthetic": n_synthetic,
            "seed": seed,
            "augment": augment,
            "real_records_dir": None if real_records_dir is None else str(real_records_dir),
        }
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    real = load_real_records(real_records_dir) if real_records_dir is not None else []
    jobs = list(_items(cfg, str(out), real))
    results: Iterator[tuple[dict, list[dict]]]
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        results = pool.map(_run, jobs, chunksize=8) if pool is not None else map(_run, jobs)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(jobs), desc="images", unit="img")
        n_img = n_q = 0
        by_source: Counter[str] = Counter()
        by_type: Counter[str] = Counter()
        with open(out / "images.jsonl", "w") as fi, open(out / "qa.jsonl", "w") as fq:
            for line, qa in results:
                fi.write(json.dumps(line) + "\n")
                for q in qa:
                    fq.write(json.dumps(q) + "\n")
                    by_type[q["question_type"]] += 1
                n_img += 1
                n_q += len(qa)
                by_source[line["source"]] += 1
    finally:
        if pool is not None:
            pool.shutdown()
    seconds = time.perf_counter() - t0
    summary = DatasetSummary(
        out_dir=str(out),
        n_images=n_img,
        n_questions=n_q,
        images_by_source=dict(by_source),
        questions_by_type=dict(by_type),
        real_records=[f.record for _, f in real],
        seconds=round(seconds, 2),
        images_per_s=round(n_img / seconds, 2) if seconds > 0 else 0.0,
    )
    manifest = {
        "format_version": FORMAT_VERSION,
        "config": cfg.model_dump(mode="json"),
        "summary": summary.model_dump(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return summary


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]
