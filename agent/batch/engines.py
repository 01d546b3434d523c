"""Where batch and evaluation work runs: this process, a local process pool, or Ray actors.

An engine maps a *worker* over items and yields ``(item, result, error)`` as items finish, in any order. A
worker is a picklable object with ``setup()`` — called once per worker process or Ray actor, so models and
caches load once, not per item — and ``__call__(item)``. The driver (the caller) consumes results as they come
and writes them; engines never write.

- ``serial``: in this process (``--engine local --workers 1``): the single-process baseline.
- ``local``: a process pool of ``workers`` processes (default: the cores this process may use), started with
  ``spawn`` so no lock or thread of the driver is copied into a worker. At most two items per worker are in
  flight, so a run of a million items does not queue a million futures. A worker that dies (segfault, OOM
  kill) breaks the pool: a new pool is started and the items that were in flight are tried once more; an
  item in flight at two crashes is yielded with a ``WorkerCrash`` error.
- ``ray``: ``workers`` actors (one CPU each) on a Ray cluster: ``address="auto"`` (or ``ray://...``) joins a
  running cluster, ``None`` starts a local one sized to ``workers`` with a small object store and no
  dashboard. Two items per actor are in flight; an actor that dies is restarted by Ray once.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from cardioagent.tools.errors import CardioAgentError

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from typing_extensions import Self  # typing.Self is 3.11+; the package supports 3.10

ENGINES = ("local", "ray")
RAY_OBJECT_STORE_BYTES = 200 * 1024**2  # results are small rows; the default (30% of RAM) is wasteful here
IN_FLIGHT_PER_WORKER = 2


ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")
_ItemT_contra = TypeVar("_ItemT_contra", contravariant=True)
_ResultT_co = TypeVar("_ResultT_co", covariant=True)


class Worker(Protocol[_ItemT_contra, _ResultT_co]):
    """What an engine maps: set up once per worker process or actor, then called once per item."""

    def setup(self) -> None: ...

    # Positional-only, so a worker may name its parameter after what it takes (``task``, ``job``).
    def __call__(self, item: _ItemT_contra, /) -> _ResultT_co: ...


# What an engine yields per item: ``(item, result, None)``, or ``(item, None, error)`` when it failed.
Outcome = tuple[ItemT, ResultT | None, BaseException | None]


class EngineError(CardioAgentError):
    """An engine cannot start (Ray missing, no cluster at the address)."""


class WorkerCrash(CardioAgentError):
    """The worker process running an item died (crash, out-of-memory kill) twice while it was in flight."""


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class Engine(ABC):
    name: str
    workers: int

    @abstractmethod
    def map_unordered(
        self, worker: Worker[ItemT, ResultT], items: Iterable[ItemT]
    ) -> Iterator[Outcome[ItemT, ResultT]]: ...

    def describe(self) -> str:
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def close(self) -> None:  # noqa: B027 — most engines hold nothing between maps
        """Release what the engine started (a local Ray cluster); pools are closed by map_unordered."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_engine(name: str = "local", workers: int | None = None, address: str | None = None) -> Engine:
    if name == "local":
        if address:
            raise EngineError("--address is for --engine ray; the local engine runs on this machine")
        n = workers or available_cores()
        return SerialEngine() if n == 1 else LocalEngine(n)
    if name == "ray":
        return RayEngine(workers, address)
    raise EngineError(f"unknown engine {name!r}; accepted: {', '.join(ENGINES)}")


class SerialEngine(Engine):
    name = "serial"
    workers = 1

    def map_unordered(
        self, worker: Worker[ItemT, ResultT], items: Iterable[ItemT]
    ) -> Iterator[Outcome[ItemT, ResultT]]:
        worker.setup()
        for item in items:
            try:
                yield item, worker(item), None
            except Exception as exc:  # noqa: BLE001 — handed to the caller, which turns it into a row
                yield item, None, exc


# -- local process pool -----------------------------------------------------------------------------------
_WORKER: Worker[Any, Any] | None = None  # the worker of this pool process, set up once by _init_worker


def _init_worker(worker: Worker[Any, Any]) -> None:
    global _WORKER
    worker.setup()
    _WORKER = worker


def _call(item: Any) -> Any:
    assert _WORKER is not None, "pool process was not initialised"
    return _WORKER(item)


class LocalEngine(Engine):
    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def _pool(self, worker: Worker[Any, Any]) -> ProcessPoolExecutor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(worker,),
        )

    def map_unordered(
        self, worker: Worker[ItemT, ResultT], items: Iterable[ItemT]
    ) -> Iterator[Outcome[ItemT, ResultT]]:
        # One math thread per worker, as Ray gives its one-CPU actors (OMP_NUM_THREADS=1), so the two
        # engines run the same per-worker code and N workers with N BLAS/OpenMP threads each cannot
        # oversubscribe the cores (a precaution: on the loaded 2-core test machine an A/B of 40 records showed
        # no measurable difference). The pool spawns its processes on demand, so the variables stay set
        # (where the user has not set them) for the whole map; the driver itself does no math meanwhile.
        added = [k for k in _MATH_THREAD_VARS if k not in os.environ]
        os.environ.update({k: "1" for k in added})
        try:
            yield from self._map(worker, items)
        finally:
            for k in added:
                os.environ.pop(k, None)

    def _map(
        self, worker: Worker[ItemT, ResultT], items: Iterable[ItemT]
    ) -> Iterator[Outcome[ItemT, ResultT]]:
        from concurrent.futures import FIRST_COMPLETED, Future, wait
        from concurrent.futures.process import BrokenProcessPool

        source = iter(items)
        retry: deque[tuple[ItemT, int]] = deque()
        generation = served = 0  # served: items finished by any pool of this run
        pool = self._pool(worker)
        inflight: dict[Future[ResultT], tuple[ItemT, int, int]] = {}  # future -> (item, attempt, generation)
        try:
            while True:
                while len(inflight) < IN_FLIGHT_PER_WORKER * self.workers:
                    if retry:
                        item, attempt = retry.popleft()
                    else:
                        nxt = next(source, _END)
                        if isinstance(nxt, _End):
                            break
                        item, attempt = nxt, 0
                    inflight[pool.submit(_call, item)] = (item, attempt, generation)
                if not inflight:
                    return
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in done:
                    item, attempt, gen = inflight.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool as exc:
                        if gen == generation:  # the current pool broke: replace it once
                            if (
                                not served and generation >= 1
                            ):  # two pools and no item ever served: setup fails
                                raise EngineError(
                                    f"the worker processes could not start or keep running ({exc}); "
                                    "try --workers 1 to see the error"
                                ) from exc
                            pool.shutdown(wait=False, cancel_futures=True)
                            generation += 1
                            pool = self._pool(worker)
                        if attempt == 0:
                            retry.append((item, 1))
                        else:
                            yield (
                                item,
                                None,
                                WorkerCrash("the worker process died twice while running this item"),
                            )
                        continue
                    except Exception as exc:  # noqa: BLE001 — handed to the caller
                        yield item, None, exc
                        continue
                    served += 1
                    yield item, result, None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class _End:
    """The end of the items (a class of its own, so that ``isinstance`` tells it from any item)."""


_END = _End()
_MATH_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


# -- Ray --------------------------------------------------------------------------------------------------
def _import_ray() -> Any:  # the ray module: used dynamically (an optional dependency, may be absent)
    try:
        import ray
    except ImportError as exc:
        raise EngineError(
            "--engine ray needs Ray, which is not installed: pip install 'cardioagent[ray]'"
        ) from exc
    return ray


class _RayWorker:
    """A Ray actor holding one set-up worker (models loaded once), serving items one call each."""

    def __init__(self, worker: Worker[Any, Any]) -> None:
        worker.setup()
        self.worker = worker

    def run(self, item: Any) -> Any:
        return self.worker(item)


class RayEngine(Engine):
    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self._ray = _import_ray()
        self.address = address
        self._started = False
        if not self._ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "ignore_reinit_error": True,
            }
            if address:
                kwargs["address"] = address
            else:
                kwargs.update(
                    num_cpus=workers or available_cores(), object_store_memory=RAY_OBJECT_STORE_BYTES
                )
            try:
                self._ray.init(**kwargs)
            except ConnectionError as exc:
                raise EngineError(
                    f"no Ray cluster at {address!r} ({exc}); start one with 'ray start --head' or "
                    "leave out --address to start a local one"
                ) from exc
            self._started = True
        cpus = int(self._ray.cluster_resources().get("CPU", 1))
        self.workers = workers or cpus

    def map_unordered(
        self, worker: Worker[ItemT, ResultT], items: Iterable[ItemT]
    ) -> Iterator[Outcome[ItemT, ResultT]]:
        ray = self._ray
        actor_cls = ray.remote(num_cpus=1, max_restarts=1, max_task_retries=1)(_RayWorker)
        actors = [actor_cls.remote(worker) for _ in range(self.workers)]
        free = deque(a for a in actors for _ in range(IN_FLIGHT_PER_WORKER))
        source = iter(items)
        inflight: dict[Any, tuple[ItemT, Any]] = {}  # object ref -> (item, actor)
        try:
            while True:
                while free:
                    nxt = next(source, _END)
                    if isinstance(nxt, _End):
                        break
                    item, actor = nxt, free.popleft()
                    inflight[actor.run.remote(item)] = (item, actor)
                if not inflight:
                    return
                ready, _ = ray.wait(list(inflight), num_returns=1)
                for ref in ready:
                    item, actor = inflight.pop(ref)
                    free.append(actor)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayActorError as exc:
                        yield item, None, WorkerCrash(f"the Ray actor running this item died: {exc}")
                        continue
                    except ray.exceptions.RayTaskError as exc:
                        yield item, None, exc.as_instanceof_cause()
                        continue
                    yield item, result, None
        finally:
            for a in actors:
                ray.kill(a)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False
