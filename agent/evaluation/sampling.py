"""``--limit N``: a seeded sample of N items stratified by question type.

The first N items of a benchmark are usually one or two question types (benchmarks are grouped by
template), so a quick run would say nothing about the others. Here each question type is shuffled with
``random.Random(seed)`` and its j-th item of s gets the key j / s: sorting all items by key and taking the
first N gives every type one item first (all keys 0) and then each type in proportion to its size
(systematic stratified sampling). Two properties follow that a person relies on:

* the same command samples the same items (seeded), in the benchmark's order;
* samples are nested: the items of ``--limit 50`` are among those of ``--limit 200``, so a run resumed with
  a larger limit asks only the new ones (the trace already holds the others).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol, TypeVar


class _Typed(Protocol):
    question_type: str


T = TypeVar("T", bound=_Typed)


def stratified_sample(items: Sequence[T], n: int, seed: int = 0) -> list[T]:
    """``n`` items, stratified by ``question_type``, in benchmark order."""
    if n >= len(items):
        return list(items)
    rng = random.Random(seed)
    by_type: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_type[str(item.question_type)].append(i)
    types = sorted(by_type)  # sorted: the draw does not depend on the order types first appear in
    tie = {t: r for r, t in enumerate(rng.sample(types, len(types)))}  # which type goes first at equal keys
    keyed: list[tuple[float, int, int]] = []
    for t in types:
        members = by_type[t][:]
        rng.shuffle(members)
        keyed += [(j / len(members), tie[t], i) for j, i in enumerate(members)]
    keyed.sort()
    return [items[i] for i in sorted(i for _, _, i in keyed[:n])]


def counts_by_type(items: Sequence[T]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for item in items:
        out[str(item.question_type)] += 1
    return dict(out)
