"""Embedding store: one safetensors file per node type plus ``manifest.json``.

Layout of a store directory::

    <node_type>.safetensors  tensors ``embeddings`` float32 (n_encoded, dim) and ``node_index`` int64
                             (n_encoded,); file metadata repeats ``input_hash`` and the encoder name
    manifest.json            {"format": "biobridge-embedding-store", "version": 1,
                              "node_types": {<node_type>: {encoder, encoder_config, spec, modality, dim,
                              n_nodes, n_encoded, n_failures, failures: [{node_index, node_id, reason}],
                              input_hash, file, seconds, items_per_second, created}}}

``EmbeddingStore.manifest`` returns the ``node_types`` mapping (node type -> entry).

``encode_kg`` computes, per node type, ``input_hash`` = hash of the encoder name, its config and the
ordered (node_id, feature) pairs. An entry with the same hash and its file present is a cache hit: nothing
is encoded and no model is loaded (encoders only load weights when they first encode). Otherwise every
feature is validated, failures are recorded (never dropped silently), the valid ones are encoded, the file
is written atomically and then the manifest is updated atomically, so an interrupted run keeps every node
type it finished.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.artifacts import atomic_write, hash_strings, read_json, write_json
from biobridge.encoders.base import Encoder
from biobridge.encoders.registry import DEFAULT_ENCODER_SPECS, build_encoder

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STORE_FORMAT = "biobridge-embedding-store"
STORE_VERSION = 1


def _file_name(node_type: str) -> str:
    if not node_type or "/" in node_type or "\\" in node_type or node_type.startswith("."):
        raise ValueError(f"node type {node_type!r} cannot be used as a file name")
    return f"{node_type}.safetensors"


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.exists():
        return {"format": STORE_FORMAT, "version": STORE_VERSION, "node_types": {}}
    data = read_json(path)
    if data.get("format") != STORE_FORMAT or "node_types" not in data:
        raise ValueError(f"{path} is not an embedding-store manifest")
    if int(data.get("version", 0)) > STORE_VERSION:
        raise ValueError(f"{path}: store version {data['version']} is newer than this code ({STORE_VERSION})")
    return data


def _file_hash(path: Path) -> str | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return (f.metadata() or {}).get("input_hash")
    except Exception:  # unreadable / truncated file = not a valid cache entry
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
        return cls(directory, _read_manifest(directory))

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
        path = self.directory / entry.get("file", _file_name(node_type))
        if not path.exists():
            raise KeyError(f"embedding file {str(path)!r} for node type {node_type!r} is missing")
        from safetensors.numpy import load_file

        tensors = load_file(str(path))
        index = tensors["node_index"].astype(np.int64, copy=False)
        emb = tensors["embeddings"].astype(np.float32, copy=False)
        if emb.shape != (entry["n_encoded"], entry["dim"]) or index.shape != (entry["n_encoded"],):
            raise ValueError(f"{path}: shapes {emb.shape}/{index.shape} do not match the manifest entry")
        self._cache[node_type] = (index, emb)
        return index, emb

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


def compute_input_hash(encoder_name: str, encoder_config: Mapping[str, Any], node_ids, features) -> str:
    cfg = json.dumps(encoder_config, sort_keys=True, default=str)
    head = [f"encoder={encoder_name}", f"config={cfg}", f"n={len(node_ids)}"]
    body = (
        f"{i}\t{f if isinstance(f, str) else '<missing>'}" for i, f in zip(node_ids, features, strict=True)
    )
    return hash_strings(_chain(head, body))


def _chain(*iterables: Iterable[str]):
    for it in iterables:
        yield from it


def encode_kg(
    kg,
    store_dir: str | Path,
    encoder_specs: Mapping[str, str] | None = None,
    node_types: Iterable[str] | None = None,
    progress: bool = True,
    encoders: Mapping[str, Encoder] | None = None,
    batch_size: int | None = None,
) -> EmbeddingStore:
    """Encode every (or the selected) node type of ``kg`` into the store at ``store_dir``.

    ``encoder_specs``: modality -> spec, merged over ``DEFAULT_ENCODER_SPECS``. ``encoders``: modality ->
    ready Encoder object, taking precedence over specs (useful for custom or shared encoders).
    """
    store_dir = Path(store_dir)
    store_dir.mkdir(parents=True, exist_ok=True)
    specs = {**DEFAULT_ENCODER_SPECS, **(encoder_specs or {})}
    given = dict(encoders or {})
    built: dict[str, Encoder] = {}

    def encoder_for(modality: str):
        if modality in given:
            return given[modality]
        if modality not in built:
            if modality not in specs:
                raise KeyError(f"no encoder spec for modality {modality!r}")
            built[modality] = build_encoder(specs[modality])  # cheap: weights load on first encode
        return built[modality]

    selected = kg.node_types if node_types is None else list(node_types)
    for node_type in selected:
        if node_type not in kg.modalities:
            raise KeyError(f"unknown node type {node_type!r}; KG types: {kg.node_types}")

    nodes = kg.nodes
    types = nodes["node_type"].to_numpy()
    for node_type in selected:
        modality = kg.modalities[node_type]
        encoder = encoder_for(modality)
        spec = specs.get(modality) if modality not in given else f"object:{type(encoder).__name__}"
        rows = np.flatnonzero(types == node_type)
        node_index = nodes["node_index"].to_numpy()[rows].astype(np.int64)
        node_ids = nodes["node_id"].to_numpy()[rows].astype(str).tolist()
        features = nodes["feature"].to_numpy()[rows].tolist()
        enc_config = encoder.config()
        input_hash = compute_input_hash(encoder.name, enc_config, node_ids, features)

        manifest = _read_manifest(store_dir)
        entry = manifest["node_types"].get(node_type)
        file_name = _file_name(node_type)
        path = store_dir / file_name
        if (
            entry is not None
            and entry.get("input_hash") == input_hash
            and path.exists()
            and _file_hash(path) == input_hash
        ):
            log.info(
                "%s: cache hit (%s, %d/%d encoded), skipping",
                node_type,
                encoder.name,
                entry["n_encoded"],
                entry["n_nodes"],
            )
            continue

        t0 = time.perf_counter()
        failures: list[dict[str, Any]] = []
        ok: list[int] = []
        for k, feature in enumerate(features):
            if not isinstance(feature, str):
                reason = "node has no feature (missing value)"
            else:
                reason = encoder.invalid_reason(feature)
            if reason is None:
                ok.append(k)
            else:
                failures.append({"node_index": int(node_index[k]), "node_id": node_ids[k], "reason": reason})
        if failures:
            shown = "; ".join(f"{f['node_id']}: {f['reason']}" for f in failures[:3])
            log.warning(
                "%s: %d of %d nodes cannot be encoded by %s and are recorded as failures (e.g. %s)",
                node_type,
                len(failures),
                len(features),
                encoder.name,
                shown,
            )
        valid = [features[k] for k in ok]
        log.info("%s: encoding %d nodes with %s", node_type, len(valid), encoder.name)
        model_failures: dict[int, str] = {}
        if valid:
            if isinstance(encoder, Encoder):
                emb, model_failures = encoder.encode_with_failures(
                    valid, batch_size=batch_size, progress=progress
                )
            else:
                emb = encoder.encode(valid, batch_size=batch_size, progress=progress)
        else:
            emb = np.zeros((0, int(encoder.dim)), dtype=np.float32)
        emb = np.ascontiguousarray(emb, dtype=np.float32)
        if emb.shape != (len(valid), int(encoder.dim)):
            raise RuntimeError(f"{encoder.name} returned shape {emb.shape} for {len(valid)} items")
        if model_failures:
            for j, reason in sorted(model_failures.items()):
                k = ok[j]
                failures.append({"node_index": int(node_index[k]), "node_id": node_ids[k], "reason": reason})
            log.warning(
                "%s: %d nodes failed inside %s and are recorded as failures",
                node_type,
                len(model_failures),
                encoder.name,
            )
            keep = np.asarray([j not in model_failures for j in range(len(valid))], dtype=bool)
            emb = np.ascontiguousarray(emb[keep])
            ok = [k for j, k in enumerate(ok) if keep[j]]
            valid = [v for j, v in enumerate(valid) if keep[j]]
            failures.sort(key=lambda f: f["node_index"])
        if not np.isfinite(emb).all():
            raise RuntimeError(f"{encoder.name} produced non-finite embeddings for node type {node_type!r}")
        seconds = time.perf_counter() - t0
        index_ok = np.ascontiguousarray(node_index[ok], dtype=np.int64)

        from safetensors.numpy import save_file

        metadata = {"input_hash": input_hash, "encoder": encoder.name, "node_type": node_type}
        tensors = {"embeddings": emb, "node_index": index_ok}
        atomic_write(path, lambda p, t=tensors, m=metadata: save_file(t, str(p), m))

        manifest = _read_manifest(store_dir)  # re-read: keep entries written meanwhile
        manifest["node_types"][node_type] = {
            "encoder": encoder.name,
            "encoder_config": enc_config,
            "spec": spec,
            "modality": modality,
            "dim": int(encoder.dim),
            "n_nodes": len(features),
            "n_encoded": len(valid),
            "n_failures": len(failures),
            "failures": failures,
            "input_hash": input_hash,
            "file": file_name,
            "seconds": round(seconds, 4),
            "items_per_second": round(len(valid) / seconds, 2) if seconds > 0 else None,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_json(store_dir / MANIFEST, manifest)
        log.info(
            "%s: wrote %d x %d embeddings (%.1f items/s, %d failures)",
            node_type,
            len(valid),
            encoder.dim,
            len(valid) / seconds if seconds > 0 else float("inf"),
            len(failures),
        )
    if not (store_dir / MANIFEST).exists():
        write_json(store_dir / MANIFEST, _read_manifest(store_dir))
    return EmbeddingStore.load(store_dir)
