"""Embedding store: one safetensors file per node type plus ``manifest.json``.

Layout of a store directory::

    <node_type>.safetensors  tensors ``embeddings`` float32 (n_encoded, dim) and ``node_index`` int64
                             (n_encoded,); file metadata repeats ``input_hash`` and the encoder name
    manifest.json            {"format": "biobridge-embedding-store", "version": 1,
                              "node_types": {<node_type>: {encoder, encoder_config, spec, modality, dim,
                              n_nodes, n_encoded, n_failures, failures: [{node_index, node_id, reason}],
                              input_hash, file, seconds, items_per_second, created}}}
    shards/                  only after sharded runs (see ``biobridge.encoders.sharding``)

``EmbeddingStore.manifest`` returns the ``node_types`` mapping (node type -> entry). Rows are the type's
encoded nodes in KG order; ``node_index`` is the KG row. Every node of the type is either a row or one of
``failures`` (sorted by node index), so ``n_nodes == n_encoded + n_failures``.

``input_hash`` (``compute_input_hash``) is the hash of the encoder name, its config and the type's ordered
(node_id, feature) pairs. An entry is current for some inputs (``current_entry``) when its ``input_hash``
matches and its file exists and carries the same hash in its metadata: that is the cache rule of
``biobridge.encoders.encode.encode_kg``.

Entries are written by ``encode_kg`` (``biobridge.encoders.encode``), by ``merge_shards``
(``biobridge.encoders.shard_merge``; such entries add ``shards``: count, seconds and rows per shard) and by
``derive_store`` (``biobridge.encoders.derive``; such entries add ``derived_from``: the parent store and its
``input_hash``; ``seconds`` is then the copying time). Files are written atomically, the tensor file before
its manifest entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.artifacts import atomic_write, hash_strings, read_json, write_json
from biobridge.errors import InputError

MANIFEST = "manifest.json"
STORE_FORMAT = "biobridge-embedding-store"
STORE_VERSION = 1


def tensor_file_name(node_type: str) -> str:
    """``<node_type>.safetensors``; node types that are not plain file names are refused."""
    if not node_type or "/" in node_type or "\\" in node_type or node_type.startswith("."):
        raise ValueError(f"node type {node_type!r} cannot be used as a file name")
    return f"{node_type}.safetensors"


def state_dir_name(node_type: str) -> str:
    """``<node_type>.state``: the fitted state of a stateful encoder (``Encoder.stateful``)."""
    return tensor_file_name(node_type).removesuffix(".safetensors") + ".state"


def read_manifest(directory: Path) -> dict[str, Any]:
    """The whole manifest (an empty one when the file does not exist yet)."""
    path = directory / MANIFEST
    if not path.exists():
        return {"format": STORE_FORMAT, "version": STORE_VERSION, "node_types": {}}
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != STORE_FORMAT or "node_types" not in data:
        raise InputError(f"{path} is not an embedding-store manifest")
    version = data.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError(f"{path}: version must be an integer, found {version!r}")
    if version > STORE_VERSION:
        raise InputError(f"{path}: store version {version} is newer than this code ({STORE_VERSION})")
    types = data["node_types"]
    if not isinstance(types, dict):
        raise InputError(f"{path}: node_types must be a JSON object")
    for node_type, entry in types.items():
        if not isinstance(entry, dict):
            raise InputError(f"{path}: the entry of {node_type!r} is not a JSON object")
        for key, kind in _ENTRY_TYPES.items():
            if not isinstance(entry.get(key), kind) or isinstance(entry.get(key), bool):
                raise InputError(
                    f"{path}: {node_type}.{key} must be {kind.__name__}, found {entry.get(key)!r}"
                )
    return data


# fields of a manifest entry that readers index with, and their JSON types
_ENTRY_TYPES = {"encoder": str, "dim": int, "n_encoded": int, "failures": list}


def write_entry(store_dir: Path, node_type: str, entry: dict[str, Any]) -> None:
    """Set the manifest entry of ``node_type``, re-reading the manifest to keep entries written meanwhile."""
    manifest = read_manifest(store_dir)
    manifest["node_types"][node_type] = entry
    write_json(store_dir / MANIFEST, manifest)


def ensure_manifest(store_dir: Path) -> None:
    """Write an empty manifest when there is none, so that ``EmbeddingStore.load`` finds a store."""
    if not (store_dir / MANIFEST).exists():
        write_json(store_dir / MANIFEST, read_manifest(store_dir))


def store_entry(
    common: Mapping[str, Any],
    n_encoded: int,
    failures: list[dict[str, Any]],
    input_hash: str,
    file: str,
    seconds: float,
) -> dict[str, Any]:
    """A manifest entry in the field order of the layout above; ``common``: encoder ... n_nodes."""
    return {
        **common,
        "n_encoded": n_encoded,
        "n_failures": len(failures),
        "failures": failures,
        "input_hash": input_hash,
        "file": file,
        "seconds": round(seconds, 4),
        "items_per_second": round(n_encoded / seconds, 2) if seconds > 0 else None,
        "created": now_iso(),
    }


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def compute_input_hash(encoder_name: str, encoder_config: Mapping[str, Any], node_ids, features) -> str:
    """Hash of the encoder name, its config and the ordered (node_id, feature) pairs (non-strings count as
    missing features)."""
    cfg = json.dumps(encoder_config, sort_keys=True, default=str)
    head = [f"encoder={encoder_name}", f"config={cfg}", f"n={len(node_ids)}"]
    body = (
        f"{i}\t{f if isinstance(f, str) else '<missing>'}" for i, f in zip(node_ids, features, strict=True)
    )
    return hash_strings(_chain(head, body))


def _chain(*iterables: Iterable[str]):
    for it in iterables:
        yield from it


def file_input_hash(path: Path) -> str | None:
    """The ``input_hash`` in a tensor file's metadata; None when the file is unreadable or has none."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return (f.metadata() or {}).get("input_hash")
    except Exception:  # unreadable / truncated file = not a valid cache entry
        return None


def save_tensors(path: Path, emb: np.ndarray, index: np.ndarray, metadata: dict[str, str]) -> None:
    """Write ``embeddings`` and ``node_index`` with ``metadata`` to ``path`` atomically."""
    from safetensors.numpy import save_file

    tensors = {"embeddings": emb, "node_index": index}
    atomic_write(path, lambda p, t=tensors, m=metadata: save_file(t, str(p), m))


def current_entry(store_dir: Path, node_type: str, input_hash: str) -> dict[str, Any] | None:
    """The manifest entry of ``node_type`` when it and its file match ``input_hash``, else None."""
    entry = read_manifest(store_dir)["node_types"].get(node_type)
    path = store_dir / tensor_file_name(node_type)
    if (
        entry is not None
        and entry.get("input_hash") == input_hash
        and path.exists()
        and file_input_hash(path) == input_hash
        and (not entry.get("state") or (store_dir / entry["state"]).is_dir())
    ):
        return entry
    return None


class EmbeddingStore:
    """Read access to an embedding-store directory (see module docstring for the layout)."""

    def __init__(self, directory: str | Path, manifest_data: dict[str, Any]) -> None:
        self.directory = Path(directory)
        self._data = manifest_data
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def load(cls, directory: str | Path) -> EmbeddingStore:
        directory = Path(directory)
        if not (directory / MANIFEST).exists():
            raise FileNotFoundError(f"{directory / MANIFEST} not found: run `biobridge encode` first")
        return cls(directory, read_manifest(directory))

    @property
    def manifest(self) -> dict[str, dict[str, Any]]:
        """node type -> manifest entry."""
        return self._data["node_types"]

    @property
    def node_types(self) -> list[str]:
        return sorted(self.manifest)

    def entry(self, node_type: str) -> dict[str, Any]:
        if node_type not in self.manifest:
            raise KeyError(
                f"node type {node_type!r} is not in the embedding store {str(self.directory)!r}; "
                f"stored types: {self.node_types}"
            )
        return self.manifest[node_type]

    def get(self, node_type: str) -> tuple[np.ndarray, np.ndarray]:
        """(node_index int64 (n,), embeddings float32 (n, dim)) of the encoded nodes of ``node_type``."""
        if node_type in self._cache:
            return self._cache[node_type]
        entry = self.entry(node_type)
        path = self.directory / entry.get("file", tensor_file_name(node_type))
        if not path.exists():
            raise InputError(
                f"embedding file {path} for node type {node_type!r} is missing; rerun `biobridge encode`"
            )
        from safetensors.numpy import load_file

        tensors = load_file(str(path))
        index = tensors["node_index"].astype(np.int64, copy=False)
        emb = tensors["embeddings"].astype(np.float32, copy=False)
        if emb.shape != (entry["n_encoded"], entry["dim"]) or index.shape != (entry["n_encoded"],):
            raise ValueError(f"{path}: shapes {emb.shape}/{index.shape} do not match the manifest entry")
        self._cache[node_type] = (index, emb)
        return index, emb

    def encoder(self, node_type: str):
        """The encoder that made ``node_type``'s embeddings, built from its spec, with its fitted state when
        it has one (e.g. the homology encoder's reference set), ready to encode new items the same way."""
        from biobridge.encoders.registry import build_encoder

        entry = self.entry(node_type)
        spec = entry.get("spec")
        if not spec or spec.startswith("object:"):
            raise ValueError(
                f"{node_type} was encoded by an encoder object given in code ({spec}): it has no spec"
            )
        encoder = build_encoder(spec)
        if encoder.name != entry["encoder"]:
            raise ValueError(
                f"spec {spec!r} now builds {encoder.name!r}, but {node_type} was encoded by {entry['encoder']!r}"
            )
        if entry.get("state"):
            encoder.load_state(self.directory / entry["state"])
        return encoder

    def dim(self, node_type: str) -> int:
        return int(self.entry(node_type)["dim"])

    def failures(self, node_type: str) -> list[dict[str, Any]]:
        return list(self.entry(node_type)["failures"])

    def has_embedding_mask(self, num_nodes: int) -> np.ndarray:
        """Boolean (num_nodes,): True where the node has a stored embedding (any node type)."""
        mask = np.zeros(int(num_nodes), dtype=bool)
        for node_type in self.node_types:
            index, _ = self.get(node_type)
            if len(index) and (index.min() < 0 or index.max() >= num_nodes):
                raise ValueError(f"store has {node_type} node_index outside 0..{num_nodes - 1}: wrong KG?")
            mask[index] = True
        return mask

    def summary(self) -> dict[str, dict[str, Any]]:
        keys = ("encoder", "dim", "n_nodes", "n_encoded", "n_failures", "items_per_second")
        return {t: {k: e.get(k) for k in keys} for t, e in sorted(self.manifest.items())}


# ---- transition: the writers moved out of this module ----------------------------------------------
