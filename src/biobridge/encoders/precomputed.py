"""Text vectors computed ahead of time, looked up by the text itself.

Encoding the packaged default KG's 29k GO-term and disease texts with all-MiniLM-L6-v2 takes about half of
``biobridge demo`` on 2 CPU cores, and the result never changes for the same model and texts. So the vectors
are shipped as derived data (``data/biokg_offline_mini/text_vectors.safetensors``, written by
``benchmarks/text_vectors.py``), like the homology search. A file holds

    keys     uint8 (n, 16)       the first 16 bytes of each text's SHA-256 (UTF-8), sorted
    vectors  float32 (n, dim)    the model's output for that text, row for row

and in its metadata the encoder name, the fingerprint of the model files (``model_fingerprint``) and a
SHA-256 of both tensors. A text encoder uses the file only when the encoder name and the model files are
exactly those it was made with and it runs in float32; a text that is not in the file goes through the
model. The vectors equal a fresh encoding within 1e-5 (a padded batch's rounding; tests re-encode a sample),
and the encoder's config names the file's digest, so stores made with and without it are cached apart.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from biobridge.artifacts import atomic_write

__all__ = ["SHIPPED_TEXT_VECTORS", "PrecomputedVectors", "model_fingerprint", "text_keys", "write_vectors"]

log = logging.getLogger(__name__)

SHIPPED_TEXT_VECTORS = (
    Path(__file__).resolve().parent.parent / "data" / "biokg_offline_mini" / "text_vectors.safetensors"
)
KEY_BYTES = 16
# the files of a Hugging Face model directory that decide its outputs (weights, architecture, tokenizer)
MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "pytorch_model.bin",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def text_keys(texts: list[str]) -> np.ndarray:
    """uint8 (n, 16): the first 16 bytes of each text's SHA-256."""
    out = np.empty((len(texts), KEY_BYTES), dtype=np.uint8)
    for i, text in enumerate(texts):
        out[i] = np.frombuffer(hashlib.sha256(text.encode("utf-8")).digest()[:KEY_BYTES], dtype=np.uint8)
    return out


def model_fingerprint(model_dir: str | Path) -> str:
    """SHA-256 over the names and bytes of the model directory's output-deciding files (``MODEL_FILES``)."""
    model_dir = Path(model_dir).resolve()
    stats = []
    for name in MODEL_FILES:
        path = model_dir / name
        if path.is_file():
            st = path.stat()  # one stat per file
            stats.append((name, st.st_size, st.st_mtime_ns))
    return _fingerprint(str(model_dir), tuple(stats))


@lru_cache(maxsize=8)  # keyed by the files' sizes and mtimes: hashed again when one changes
def _fingerprint(model_dir: str, stats: tuple) -> str:
    h = hashlib.sha256()
    for name, _, _ in stats:
        h.update(name.encode() + b"\x00")
        with open(Path(model_dir) / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return f.metadata() or {}


def _digest(keys: np.ndarray, vectors: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(keys).tobytes())
    h.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return h.hexdigest()


def write_vectors(
    path: str | Path, texts: list[str], vectors: np.ndarray, encoder_name: str, fingerprint: str
) -> str:
    """Write the vectors of distinct ``texts`` (row i encodes ``texts[i]``); returns the file's digest."""
    from safetensors.numpy import save_file

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise ValueError(f"{len(texts)} texts but vectors of shape {vectors.shape}")
    if len(set(texts)) != len(texts):
        raise ValueError("texts must be distinct")
    keys = text_keys(texts)
    order = np.lexsort(keys.T[::-1])
    keys, vectors = np.ascontiguousarray(keys[order]), np.ascontiguousarray(vectors[order])
    if (keys[1:] == keys[:-1]).all(axis=1).any():  # pragma: no cover - a 128-bit collision
        raise ValueError("two texts share a 128-bit key")
    digest = _digest(keys, vectors)
    metadata = {"encoder": encoder_name, "model_fingerprint": fingerprint, "digest": digest}
    atomic_write(path, lambda p: save_file({"keys": keys, "vectors": vectors}, str(p), metadata))
    return digest


@dataclass(frozen=True)
class PrecomputedVectors:
    """A loaded vectors file: ``lookup`` gives each text's row (-1 when absent), ``vectors`` the rows."""

    path: Path
    encoder: str
    model_fingerprint: str
    digest: str
    index: dict[bytes, int]
    vectors: np.ndarray

    @classmethod
    def load(cls, path: str | Path) -> PrecomputedVectors:
        from safetensors.numpy import load_file

        path = Path(path)
        meta = _metadata(path)
        tensors = load_file(str(path))
        keys, vectors = tensors["keys"], tensors["vectors"]
        if _digest(keys, vectors) != meta.get("digest"):
            raise ValueError(f"{path}: contents do not match the digest in its metadata (damaged file)")
        index = {row.tobytes(): i for i, row in enumerate(keys)}
        return cls(path, meta["encoder"], meta["model_fingerprint"], meta["digest"], index, vectors)

    @classmethod
    def matching(
        cls, path: str | Path | None, encoder_name: str, model_dir: str | Path, dtype: str
    ) -> PrecomputedVectors | None:
        """The file at ``path`` when it was made by ``encoder_name`` from the same model files in float32."""
        if path is None or not Path(path).is_file() or dtype != "float32":
            return None
        try:
            meta = _metadata(Path(path))
            if meta.get("encoder") != encoder_name:
                return None
            if meta.get("model_fingerprint") != model_fingerprint(model_dir):
                log.info("%s: made from other model files than %s, not used", path, model_dir)
                return None
            stat = Path(path).stat()
            return _load_once(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
        except Exception as exc:  # a damaged file costs time (the model encodes), never the run
            log.warning("%s cannot be used (%s); the model encodes every text", path, exc)
            return None

    def __len__(self) -> int:
        return len(self.vectors)

    def lookup(self, texts: list[str]) -> np.ndarray:
        """int64 (n,): the row of each text, -1 for texts the file does not hold."""
        keys = text_keys(texts)
        return np.fromiter((self.index.get(k.tobytes(), -1) for k in keys), dtype=np.int64, count=len(texts))


@lru_cache(maxsize=4)  # one copy per file per process: every text node type's encoder shares it
def _load_once(path: str, size: int, mtime_ns: int) -> PrecomputedVectors:
    return PrecomputedVectors.load(path)
