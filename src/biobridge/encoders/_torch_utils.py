"""Device / dtype / thread helpers shared by the torch-based encoders."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


def resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} requested but CUDA is not available")
    return str(device)


def resolve_dtype(dtype: str | None, device: str):
    """torch dtype for the model weights: float16 only on GPU; bfloat16 also on CPU (fast where the CPU has
    AMX or AVX512-BF16, e.g. all-MiniLM about 2x on this project's machines, embeddings within ~3e-3)."""
    import torch

    if dtype is None:
        return torch.float32
    if not isinstance(dtype, str):
        dtype = str(dtype).replace("torch.", "")
    key = _DTYPES.get(dtype.lower())
    if key is None:
        raise ValueError(f"unknown dtype {dtype!r}; use float32, float16/fp16 or bfloat16/bf16")
    if key == "float16" and not device.startswith("cuda"):
        raise ValueError(
            f"dtype={dtype!r} needs a CUDA device (got device={device!r}); use float32 or bfloat16 on CPU"
        )
    return getattr(torch, key)


def configure_cpu_threads() -> None:
    """Use every core torch may use, unless the user set OMP/MKL thread counts or torch threads already."""
    import torch

    if os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def require_local_model_dir(model_dir: str | Path, required: tuple[str, ...] = ("config.json",)) -> Path:
    """The directory as a Path; FileNotFoundError naming what is missing. Never touches the network."""
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"model directory {str(path)!r} does not exist (models are loaded from local paths only; "
            "nothing is downloaded)"
        )
    missing = [f for f in required if not (path / f).exists()]
    if missing:
        raise FileNotFoundError(f"model directory {str(path)!r} lacks {', '.join(missing)}")
    weights = list(path.glob("*.safetensors")) + list(path.glob("*.bin"))
    if not weights:
        raise FileNotFoundError(
            f"model directory {str(path)!r} has no weights file (*.safetensors or pytorch_model.bin)"
        )
    return path


def refuse_remote_code(model_dir: Path) -> None:
    """Refuse a model directory that asks to run its own Python code (``auto_map`` in its config or tokenizer
    config, or any ``*.py`` file): biobridge never executes code shipped with weights."""
    from biobridge.errors import InputError

    for py in sorted(Path(model_dir).glob("*.py")):
        raise InputError(
            f"model directory {str(model_dir)!r} ships Python code ({py.name}); biobridge never runs code from "
            "a model directory (trust_remote_code is always off): remove the file or use a standard model"
        )
    for name in ("config.json", "tokenizer_config.json"):
        path = Path(model_dir) / name
        if not path.exists():
            continue
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable JSON file ({exc})") from None
        if isinstance(config, dict) and config.get("auto_map"):
            raise InputError(
                f"{path} maps the model to custom code (auto_map); biobridge never runs code from a model "
                "directory (trust_remote_code is always off)"
            )


def offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_local_hf_model(model_dir: Path, model_cls, device: str, torch_dtype, what: str, **model_kwargs):
    """(tokenizer, model in eval mode on ``device``) from a local Hugging Face directory; never downloads."""
    offline_env()
    refuse_remote_code(model_dir)
    from transformers import AutoTokenizer

    if device == "cpu":
        configure_cpu_threads()
    log.info("loading %s model from %s on %s (%s)", what, model_dir, device, torch_dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True, trust_remote_code=False)
    model = model_cls.from_pretrained(
        str(model_dir), local_files_only=True, trust_remote_code=False, dtype=torch_dtype, **model_kwargs
    )
    return tokenizer, model.to(device).eval()
