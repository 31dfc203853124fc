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

Sharded encoding (``encode_kg(..., shard=(i, n))``, ``biobridge encode --shard i/n``, or one shard per
``torchrun`` rank with ``shard="auto"``) writes ``shards/<node_type>.<i>-of-<n>.safetensors`` plus a
per-shard entry ``shards/<node_type>.<i>-of-<n>.json`` (see ``biobridge.encoders.sharding``); finished
shards are skipped on a rerun. ``merge_shards`` (run automatically once every shard of a type exists)
writes the ordinary file and manifest entry: same ``input_hash`` and rows as an unsharded run, failures of
all shards, plus a ``shards`` record (count, seconds and rows per shard).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.artifacts import atomic_write, hash_strings, read_json, write_json
from biobridge.encoders.base import Encoder
from biobridge.encoders.registry import DEFAULT_ENCODER_SPECS, build_encoder
from biobridge.encoders.sharding import (
    SHARD_FORMAT,
    Shard,
    bind_local_device,
    list_shard_entries,
    resolve_shard,
    shard_dir,
    shard_paths,
    shard_positions,
)

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


def _shard_hash(input_hash: str, shard: Shard) -> str:
    return hash_strings([input_hash, f"shard={shard.index}/{shard.count}"])


@contextmanager
def _shard_lock(store_dir: Path):
    """Exclusive lock (POSIX ``flock``) around manifest updates made while merging shards.

    Several ranks may finish the last shards of a node type at the same moment and both merge it; the lock
    keeps their read-modify-write of ``manifest.json`` from interleaving. Where ``fcntl`` is missing it is a
    no-op (merges then write identical content anyway).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock_dir = shard_dir(store_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / ".manifest.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_cache_hit(store_dir: Path, node_type: str, input_hash: str) -> dict[str, Any] | None:
    """The manifest entry of ``node_type`` when it and its file match ``input_hash``, else None."""
    entry = _read_manifest(store_dir)["node_types"].get(node_type)
    path = store_dir / _file_name(node_type)
    if (
        entry is not None
        and entry.get("input_hash") == input_hash
        and path.exists()
        and _file_hash(path) == input_hash
    ):
        return entry
    return None


def _validate(
    encoder, features: list, node_index: np.ndarray, node_ids: list[str]
) -> tuple[list[int], list[tuple[int, dict[str, Any]]]]:
    """Positions of the valid features, and (position, failure record) for the others, in order."""
    ok: list[int] = []
    failures: list[tuple[int, dict[str, Any]]] = []
    for k, feature in enumerate(features):
        if not isinstance(feature, str):
            reason = "node has no feature (missing value)"
        else:
            reason = encoder.invalid_reason(feature)
        if reason is None:
            ok.append(k)
        else:
            failures.append((k, {"node_index": int(node_index[k]), "node_id": node_ids[k], "reason": reason}))
    return ok, failures


def _encode_rows(
    encoder,
    label: str,
    features: list,
    node_index: np.ndarray,
    node_ids: list[str],
    ok: list[int],
    failures: list[dict[str, Any]],
    n_checked: int,
    batch_size: int | None,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Encode the rows at positions ``ok``: (embeddings, their node indices, all failures sorted).

    ``failures`` holds the validation failures already found; failures inside the model are added.
    """
    failures = list(failures)
    if failures:
        shown = "; ".join(f"{f['node_id']}: {f['reason']}" for f in failures[:3])
        log.warning(
            "%s: %d of %d nodes cannot be encoded by %s and are recorded as failures (e.g. %s)",
            label,
            len(failures),
            n_checked,
            encoder.name,
            shown,
        )
    valid = [features[k] for k in ok]
    log.info("%s: encoding %d nodes with %s", label, len(valid), encoder.name)
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
            label,
            len(model_failures),
            encoder.name,
        )
        keep = np.asarray([j not in model_failures for j in range(len(valid))], dtype=bool)
        emb = np.ascontiguousarray(emb[keep])
        ok = [k for j, k in enumerate(ok) if keep[j]]
        failures.sort(key=lambda f: f["node_index"])
    if not np.isfinite(emb).all():
        raise RuntimeError(f"{encoder.name} produced non-finite embeddings for {label}")
    return emb, np.ascontiguousarray(node_index[ok], dtype=np.int64), failures


def _save_tensors(path: Path, emb: np.ndarray, index: np.ndarray, metadata: dict[str, str]) -> None:
    from safetensors.numpy import save_file

    tensors = {"embeddings": emb, "node_index": index}
    atomic_write(path, lambda p, t=tensors, m=metadata: save_file(t, str(p), m))


def _remove_stale_shards(store_dir: Path, node_type: str, input_hash: str) -> None:
    """Delete shards of ``node_type`` made from inputs other than ``input_hash`` (never mergeable)."""
    for t, shard, entry_path in list_shard_entries(store_dir):
        if t != node_type:
            continue
        try:
            stale = read_json(entry_path).get("input_hash") != input_hash
        except (OSError, ValueError):
            stale = True
        if stale:
            tensor_path, _ = shard_paths(store_dir, node_type, shard)
            log.info("%s: removing stale shard %s (other inputs or encoder)", node_type, shard)
            entry_path.unlink(missing_ok=True)
            tensor_path.unlink(missing_ok=True)


def encode_kg(
    kg,
    store_dir: str | Path,
    encoder_specs: Mapping[str, str] | None = None,
    node_types: Iterable[str] | None = None,
    progress: bool = True,
    encoders: Mapping[str, Encoder] | None = None,
    batch_size: int | None = None,
    shard: str | tuple[int, int] | Shard | None = None,
    merge: bool = True,
) -> EmbeddingStore:
    """Encode every (or the selected) node type of ``kg`` into the store at ``store_dir``.

    ``encoder_specs``: modality -> spec, merged over ``DEFAULT_ENCODER_SPECS``. ``encoders``: modality ->
    ready Encoder object, taking precedence over specs (useful for custom or shared encoders).

    ``shard``: ``None`` encodes whole node types; ``(i, n)`` / ``"i/n"`` encodes only shard ``i`` of ``n``
    of every node type into ``<store>/shards/`` (see ``biobridge.encoders.sharding``); ``"auto"`` takes
    ``RANK``/``WORLD_SIZE`` from ``torchrun`` (unsharded when WORLD_SIZE is unset or 1). A shard whose file
    and entry exist for the same inputs is skipped, so an interrupted run resumes where it stopped. With
    ``merge`` (default), a node type is merged into the store as soon as all of its shards exist.
    """
    store_dir = Path(store_dir)
    store_dir.mkdir(parents=True, exist_ok=True)
    resolved = resolve_shard(shard)
    if resolved is not None and shard == "auto":
        bind_local_device()
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
        file_name = _file_name(node_type)

        entry = _is_cache_hit(store_dir, node_type, input_hash)
        if entry is not None:
            log.info(
                "%s: cache hit (%s, %d/%d encoded), skipping",
                node_type,
                encoder.name,
                entry["n_encoded"],
                entry["n_nodes"],
            )
            continue
        common = {
            "encoder": encoder.name,
            "encoder_config": enc_config,
            "spec": spec,
            "modality": modality,
            "dim": int(encoder.dim),
            "n_nodes": len(features),
        }
        if resolved is not None:
            _encode_shard(
                store_dir,
                node_type,
                resolved,
                encoder,
                features,
                node_index,
                node_ids,
                input_hash,
                common,
                batch_size,
                progress,
            )
            if merge:
                merge_shards(store_dir, [node_type], expected_hashes={node_type: input_hash}, strict=False)
            continue

        t0 = time.perf_counter()
        ok, checked = _validate(encoder, features, node_index, node_ids)
        emb, index_ok, failures = _encode_rows(
            encoder,
            node_type,
            features,
            node_index,
            node_ids,
            ok,
            [f for _, f in checked],
            len(features),
            batch_size,
            progress,
        )
        seconds = time.perf_counter() - t0
        metadata = {"input_hash": input_hash, "encoder": encoder.name, "node_type": node_type}
        _save_tensors(store_dir / file_name, emb, index_ok, metadata)

        manifest = _read_manifest(store_dir)  # re-read: keep entries written meanwhile
        manifest["node_types"][node_type] = {
            **common,
            "n_encoded": len(index_ok),
            "n_failures": len(failures),
            "failures": failures,
            "input_hash": input_hash,
            "file": file_name,
            "seconds": round(seconds, 4),
            "items_per_second": round(len(index_ok) / seconds, 2) if seconds > 0 else None,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_json(store_dir / MANIFEST, manifest)
        _remove_stale_shards(store_dir, node_type, input_hash)
        log.info(
            "%s: wrote %d x %d embeddings (%.1f items/s, %d failures)",
            node_type,
            len(index_ok),
            encoder.dim,
            len(index_ok) / seconds if seconds > 0 else float("inf"),
            len(failures),
        )
    if not (store_dir / MANIFEST).exists():
        write_json(store_dir / MANIFEST, _read_manifest(store_dir))
    return EmbeddingStore.load(store_dir)


def _encode_shard(
    store_dir: Path,
    node_type: str,
    shard: Shard,
    encoder,
    features: list,
    node_index: np.ndarray,
    node_ids: list[str],
    input_hash: str,
    common: dict[str, Any],
    batch_size: int | None,
    progress: bool,
) -> bool:
    """Encode one shard of one node type unless it is already on disk; True when it encoded something."""
    label = f"{node_type} [shard {shard}]"
    shard_hash = _shard_hash(input_hash, shard)
    tensor_path, entry_path = shard_paths(store_dir, node_type, shard)
    if entry_path.exists() and tensor_path.exists():
        try:
            done = read_json(entry_path).get("shard_hash") == shard_hash
        except (OSError, ValueError):
            done = False
        if done and _file_hash(tensor_path) == shard_hash:
            log.info("%s: already encoded, skipping", label)
            return False

    t0 = time.perf_counter()
    ok, checked = _validate(encoder, features, node_index, node_ids)
    # valid items round robin over shards (balanced); invalid rows by their row position
    mine = [ok[j] for j in shard_positions(len(ok), shard)]
    my_failures = [f for k, f in checked if k % shard.count == shard.index]
    emb, index_ok, failures = _encode_rows(
        encoder,
        label,
        features,
        node_index,
        node_ids,
        mine,
        my_failures,
        len(mine) + len(my_failures),
        batch_size,
        progress,
    )
    seconds = time.perf_counter() - t0
    metadata = {
        "input_hash": shard_hash,
        "type_input_hash": input_hash,
        "encoder": encoder.name,
        "node_type": node_type,
        "shard": str(shard),
    }
    _save_tensors(tensor_path, emb, index_ok, metadata)
    entry = {
        "format": SHARD_FORMAT,
        "version": STORE_VERSION,
        "node_type": node_type,
        "shard": shard.index,
        "n_shards": shard.count,
        **common,
        "n_encoded": len(index_ok),
        "n_failures": len(failures),
        "failures": failures,
        "input_hash": input_hash,
        "shard_hash": shard_hash,
        "file": tensor_path.name,
        "seconds": round(seconds, 4),
        "items_per_second": round(len(index_ok) / seconds, 2) if seconds > 0 else None,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(entry_path, entry)
    _remove_stale_shards(store_dir, node_type, input_hash)
    log.info("%s: wrote %d embeddings (%d failures) to %s", label, len(index_ok), len(failures), tensor_path)
    return True


def shard_status(store_dir: str | Path) -> dict[str, dict[str, Any]]:
    """node type -> {"n_shards", "done" (shard indices on disk), "missing", "input_hash"} per shard set."""
    store_dir = Path(store_dir)
    out: dict[str, dict[str, Any]] = {}
    for node_type, shard, entry_path in list_shard_entries(store_dir):
        try:
            entry = read_json(entry_path)
        except (OSError, ValueError):
            continue
        tensor_path, _ = shard_paths(store_dir, node_type, shard)
        if not tensor_path.exists():
            continue
        key = f"{node_type}@{shard.count}:{entry.get('input_hash', '')[:12]}"
        info = out.setdefault(
            key,
            {
                "node_type": node_type,
                "n_shards": shard.count,
                "input_hash": entry.get("input_hash"),
                "done": [],
            },
        )
        info["done"].append(shard.index)
    for info in out.values():
        info["missing"] = sorted(set(range(info["n_shards"])) - set(info["done"]))
    return out


def merge_shards(
    store_dir: str | Path,
    node_types: Iterable[str] | None = None,
    *,
    expected_hashes: Mapping[str, str] | None = None,
    strict: bool = True,
) -> EmbeddingStore:
    """Assemble complete shard sets in ``<store>/shards/`` into ``<node_type>.safetensors`` + manifest.

    The result is what an unsharded run writes: same ``input_hash``, same rows in KG order, the failures of
    every shard (sorted by node index). A type whose merged file is already current is left alone.
    ``expected_hashes`` (node type -> input hash) restricts merging to shards of those inputs. With ``strict``
    a selected node type without a complete shard set is an error (naming the missing shards); otherwise it
    is skipped. Shard files are kept (delete ``<store>/shards/`` once you no longer need them).
    """
    store_dir = Path(store_dir)
    expected = dict(expected_hashes or {})
    sets: dict[str, dict[tuple[str, int], dict[int, dict[str, Any]]]] = {}
    for node_type, shard, entry_path in list_shard_entries(store_dir):
        try:
            entry = read_json(entry_path)
        except (OSError, ValueError) as err:
            log.warning("unreadable shard entry %s (%s): ignored", entry_path, err)
            continue
        if entry.get("format") != SHARD_FORMAT:
            continue
        tensor_path, _ = shard_paths(store_dir, node_type, shard)
        if not tensor_path.exists():
            continue
        key = (entry["input_hash"], shard.count)
        sets.setdefault(node_type, {}).setdefault(key, {})[shard.index] = entry
    wanted = sorted(sets) if node_types is None else list(node_types)
    problems = []
    for node_type in wanted:
        groups = {
            key: members
            for key, members in sets.get(node_type, {}).items()
            if node_type not in expected or key[0] == expected[node_type]
        }
        complete = {key: m for key, m in groups.items() if len(m) == key[1]}
        if not complete:
            missing = [
                f"{key[1]} shards, missing {sorted(set(range(key[1])) - set(m))}" for key, m in groups.items()
            ]
            problems.append(f"{node_type}: " + ("; ".join(missing) if missing else "no shards"))
            continue
        hashes = {key[0] for key in complete}
        if len(hashes) > 1:
            raise ValueError(
                f"{node_type}: complete shard sets from different inputs ({sorted(h[:12] for h in hashes)}) "
                f"in {shard_dir(store_dir)}; delete the stale ones or re-encode"
            )
        key = min(complete, key=lambda k: k[1])
        _merge_one(store_dir, node_type, key[0], key[1], complete[key])
    if problems:
        message = "incomplete shard sets, not merged: " + " | ".join(problems)
        if strict:
            raise ValueError(message + "; run the missing shards (biobridge encode --shard i/n) first")
        log.info(message)
    if not (store_dir / MANIFEST).exists():
        write_json(store_dir / MANIFEST, _read_manifest(store_dir))
    return EmbeddingStore.load(store_dir)


def _merge_one(
    store_dir: Path, node_type: str, input_hash: str, count: int, entries: dict[int, dict[str, Any]]
) -> None:
    from safetensors.numpy import load_file

    first = entries[0]
    same = ("encoder", "encoder_config", "spec", "modality", "dim", "n_nodes")
    for i, entry in entries.items():
        for field in same:
            if entry.get(field) != first.get(field):
                raise ValueError(
                    f"{node_type}: shard {i}/{count} disagrees with shard 0/{count} on {field!r}"
                )
    indexes, embs, failures = [], [], []
    for i in range(count):
        tensor_path, _ = shard_paths(store_dir, node_type, Shard(i, count))
        if _file_hash(tensor_path) != entries[i]["shard_hash"]:
            raise ValueError(f"{tensor_path} does not match its shard entry: re-run shard {i}/{count}")
        tensors = load_file(str(tensor_path))
        idx, emb = tensors["node_index"].astype(np.int64), tensors["embeddings"].astype(np.float32)
        if emb.shape != (entries[i]["n_encoded"], first["dim"]) or idx.shape != (entries[i]["n_encoded"],):
            raise ValueError(f"{tensor_path}: shapes {emb.shape}/{idx.shape} do not match its entry")
        indexes.append(idx)
        embs.append(emb)
        failures.extend(entries[i]["failures"])
    index = np.concatenate(indexes)
    order = np.argsort(index, kind="stable")  # node_index is the KG row: this is the unsharded order
    index = np.ascontiguousarray(index[order])
    emb = np.ascontiguousarray(np.concatenate(embs)[order])
    failures.sort(key=lambda f: f["node_index"])
    covered = np.concatenate([index, np.asarray([f["node_index"] for f in failures], dtype=np.int64)])
    if len(covered) != first["n_nodes"] or len(np.unique(covered)) != len(covered):
        raise ValueError(
            f"{node_type}: the {count} shards cover {len(np.unique(covered))} distinct of {first['n_nodes']} "
            f"nodes ({len(covered)} rows): shards from different runs?"
        )
    file_name = _file_name(node_type)
    metadata = {"input_hash": input_hash, "encoder": first["encoder"], "node_type": node_type}
    seconds = [float(entries[i]["seconds"]) for i in range(count)]
    with _shard_lock(store_dir):
        if _is_cache_hit(store_dir, node_type, input_hash) is not None:  # another rank merged it meanwhile
            log.info("%s: merged embeddings already current", node_type)
            return
        _save_tensors(store_dir / file_name, emb, index, metadata)
        manifest = _read_manifest(store_dir)
        manifest["node_types"][node_type] = {
            **{field: first[field] for field in same},
            "n_encoded": len(index),
            "n_failures": len(failures),
            "failures": failures,
            "input_hash": input_hash,
            "file": file_name,
            "seconds": round(sum(seconds), 4),
            "items_per_second": round(len(index) / sum(seconds), 2) if sum(seconds) > 0 else None,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "shards": {
                "count": count,
                "seconds": seconds,
                "n_encoded": [entries[i]["n_encoded"] for i in range(count)],
            },
        }
        write_json(store_dir / MANIFEST, manifest)
    log.info("%s: merged %d shards into %d x %d embeddings", node_type, count, len(index), first["dim"])
