"""One turn at a time per conversation, across processes.

LangGraph's SQLite checkpointer appends a turn's checkpoints after the latest one it read when the turn
started. Two processes (two app workers, the app and ``cardioagent chat``) answering on the same thread at
once would both start from the same checkpoint, and the later writer's history would silently drop the
other's turn. So a turn holds an exclusive lock on a per-thread lock file under the store for its whole
length: a second turn on the same thread waits for it, and after ``timeout_s`` fails loudly with
``ThreadBusyError`` instead of losing anything. Turns on different threads never wait for each other.

The lock is ``fcntl.flock`` (POSIX); it is released by the kernel if the process dies, so a crash never
leaves a conversation locked. Where ``fcntl`` is missing (Windows) only threads of one process are
serialized.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from cardioagent.tools.errors import CardioAgentError

DEFAULT_WAIT_S = 600.0  # longer than any turn should take; a turn that holds the lock longer is stuck
_POLL_S = 0.05
_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


class ThreadBusyError(CardioAgentError):
    """Another turn on the same conversation did not finish in time."""

    def __init__(self, thread_id: str, waited_s: float) -> None:
        self.thread_id = thread_id
        super().__init__(
            f"conversation {thread_id!r} is busy with another question (waited {waited_s:.0f} s); "
            "ask again when it has been answered"
        )


def lock_path(locks_dir: Path, thread_id: str) -> Path:
    """The lock file of a thread: named by a hash, so no thread id ever becomes a path."""
    digest = hashlib.sha256(str(thread_id).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return Path(locks_dir) / f"{digest}.lock"


@contextmanager
def thread_turn(locks_dir: Path, thread_id: str, timeout_s: float = DEFAULT_WAIT_S) -> Iterator[None]:
    """Hold the conversation ``thread_id`` for one turn (see the module docstring)."""
    path = lock_path(locks_dir, thread_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover - Windows: this process's threads only
        with _local_guard:
            lock = _local_locks.setdefault(path.name, threading.Lock())
        if not lock.acquire(timeout=timeout_s):
            raise ThreadBusyError(str(thread_id), timeout_s)
        try:
            yield
        finally:
            lock.release()
        return
    # Each turn opens the file itself: flock locks belong to the open file, so two turns of one process
    # exclude each other just as two processes do.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= timeout_s:
                    raise ThreadBusyError(str(thread_id), waited) from None
                time.sleep(_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
