"""Benchmark items in the ECG-QA JSON format, and where their recordings and allowed answers come from.

A benchmark file is either ECG-QA's own list of items or an object ``{"items": [...], ...}`` (what
``cardioagent bench build`` writes, with its vocabulary and templates beside the items). An item has ECG-QA's
fields (``question_id``, ``sample_id``, ``template_id``, ``question_type``, ``attribute_type``, ``question``,
``answer`` (list), ``ecg_id`` (list), ``attribute``) and two optional extensions:

- ``files``: the recording files, relative to the benchmark file (or absolute);
- ``options``: the allowed answers. Without it, the options of the item's template are read from
  ``options_by_template`` in the benchmark object, else from ECG-QA's ``answers_for_each_template.csv``
  (given, or found beside the benchmark file or up to three folders above it, as in ECG-QA's layout).

Without ``files``, ``ecg_id`` is resolved to PTB-XL records under a data root (PTB-XL's ``records500`` layout,
``records500/03000/03076_hr.hea``, else ``records100`` with ``_lr``).

An item is identified by ``sample_id`` when it has one (in ECG-QA, ``question_id`` is shared by every sample of
one template question), else by ``question_id``.
"""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cardioagent.tools.errors import InputError

ANSWERS_CSV = "answers_for_each_template.csv"


class BenchmarkError(InputError):
    """The benchmark file cannot be used as it is."""


class BenchItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    question_id: int | str
    sample_id: int | str | None = None
    template_id: int | str | None = None
    question_type: str = "unknown"
    attribute_type: str = "unknown"
    question: str
    answer: list[str]
    ecg_id: list[int | str] = Field(default_factory=list)
    attribute: list[str] | None = None
    files: list[str] = Field(default_factory=list, description="extension: recording files")
    options: list[str] | None = Field(default=None, description="extension: allowed answers")

    @property
    def key(self) -> str:
        return str(self.sample_id if self.sample_id is not None else self.question_id)


class Benchmark(BaseModel):
    path: Path
    items: list[BenchItem]
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem


def load_benchmark(path: str | Path, answers_csv: str | Path | None = None) -> Benchmark:
    """Read a benchmark and give every item its allowed options. Raises BenchmarkError with the reason."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchmarkError(str(path), "no such file", "an ECG-QA JSON file") from None
    except json.JSONDecodeError as exc:
        raise BenchmarkError(str(path), f"not valid JSON ({exc})", "an ECG-QA JSON file") from None
    meta: dict[str, Any] = {}
    if isinstance(raw, dict):
        meta = {k: v for k, v in raw.items() if k != "items"}
        raw = raw.get("items")
    if not isinstance(raw, list):
        raise BenchmarkError(
            str(path),
            "holds neither a list of items nor an object with 'items'",
            "ECG-QA's list of items, or {'items': [...]}",
        )
    items = []
    for i, obj in enumerate(raw):
        try:
            items.append(BenchItem.model_validate(obj))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise BenchmarkError(
                str(path), f"item {i}: {where}: {first['msg']}", "ECG-QA item fields"
            ) from None
    keys = [it.key for it in items]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise BenchmarkError(
            str(path), f"item id {dup} occurs more than once", "unique sample_id (or question_id)"
        )
    _attach_options(items, path, meta, answers_csv)
    return Benchmark(path=path, items=items, meta=meta)


def _attach_options(
    items: list[BenchItem], path: Path, meta: dict[str, Any], answers_csv: str | Path | None
) -> None:
    by_template = {str(k): list(v) for k, v in (meta.get("options_by_template") or {}).items()}
    if any(it.options is None and str(it.template_id) not in by_template for it in items):
        csv_path = Path(answers_csv) if answers_csv else find_answers_csv(path)
        if csv_path is not None:
            for k, v in read_answers_csv(csv_path).items():
                by_template.setdefault(k, v)
    missing = sorted(
        {str(it.template_id) for it in items if it.options is None and str(it.template_id) not in by_template}
    )
    if missing:
        raise BenchmarkError(
            str(path),
            f"no allowed answers for template(s) {', '.join(missing[:10])}",
            f"'options' in each item, 'options_by_template', or --answers-csv {ANSWERS_CSV}",
        )
    for it in items:
        if it.options is None:
            it.options = by_template[str(it.template_id)]


def find_answers_csv(benchmark: Path) -> Path | None:
    folder = benchmark.resolve().parent
    for candidate in [folder, *list(folder.parents)[:3]]:
        if (candidate / ANSWERS_CSV).is_file():
            return candidate / ANSWERS_CSV
    return None


def read_answers_csv(path: Path) -> dict[str, list[str]]:
    """ECG-QA's ``template_id,classes`` table; ``classes`` is a Python list literal."""
    out = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                out[str(row["template_id"]).strip()] = [str(c) for c in ast.literal_eval(row["classes"])]
            except (KeyError, ValueError, SyntaxError) as exc:
                raise BenchmarkError(
                    str(path), f"unreadable row {row} ({exc})", "template_id,classes"
                ) from None
    return out


def ptbxl_files(ecg_id: int, data_root: Path) -> list[Path] | None:
    """The header and data file of a PTB-XL record (500 Hz preferred), or None when absent."""
    folder = f"{int(ecg_id) // 1000 * 1000:05d}"
    for records, suffix in (("records500", "hr"), ("records100", "lr")):
        base = data_root / records / folder / f"{int(ecg_id):05d}_{suffix}"
        if base.with_suffix(".hea").is_file() and base.with_suffix(".dat").is_file():
            return [base.with_suffix(".hea"), base.with_suffix(".dat")]
    return None


def item_files(item: BenchItem, benchmark: Path, data_root: Path | None) -> tuple[list[Path], str | None]:
    """(files to attach, None) or ([], why they are missing)."""
    if item.files:
        files = [p if (p := Path(f)).is_absolute() else benchmark.resolve().parent / p for f in item.files]
        gone = [str(f) for f in files if not f.is_file()]
        if gone and data_root is not None:  # the same relative paths under the data root
            files = [data_root / f for f in item.files]
            gone = [str(f) for f in files if not f.is_file()]
        return (files, None) if not gone else ([], "missing: " + ", ".join(gone))
    if not item.ecg_id:
        return [], None  # a question about no recording
    if data_root is None:
        return [], "ecg_id given but no --data-root to find PTB-XL records under"
    files = []  # typed list[Path] by the branch above
    for ecg in item.ecg_id:
        try:
            found = ptbxl_files(int(ecg), data_root)
        except ValueError:
            found = None
        if found is None:
            return [], f"PTB-XL record {ecg} not found under {data_root}"
        files += found
    return files, None
