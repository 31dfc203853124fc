"""Sharded encoding on disk: encoding one shard, the status of shard sets, and merging them into the store.

``encode_kg(..., shard=(i, n))`` (``biobridge encode --shard i/n``, or one shard per ``torchrun`` rank with
``shard="auto"``) calls ``encode_shard`` per node type. It writes ``shards/<node_type>.<i>-of-<n>.safetensors``
(metadata ``input_hash`` = the shard hash, ``type_input_hash`` = the type's input hash) plus the shard's entry
``shards/<node_type>.<i>-of-<n>.json`` (format ``biobridge-embedding-shard``: the store entry's fields plus
``node_type``, ``shard``, ``n_shards`` and ``shard_hash``); which rows a shard takes and the paths are defined
in ``biobridge.encoders.sharding``. A shard whose entry and file carry the same shard hash is skipped on a
rerun; shards of the same type made from other inputs are deleted once newer inputs are encoded.

``merge_shards`` (run automatically once every shard of a type exists) writes the ordinary file and manifest
entry: same ``input_hash`` and rows as an unsharded run, failures of all shards, plus a ``shards`` record
(count, seconds and rows per shard). Manifest updates made while merging hold an exclusive ``flock`` on
``shards/.manifest.lock``, as several ranks may merge the same type at the same moment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.artifacts import hash_strings, read_json, write_json
from biobridge.encoders.rows import TypeInputs, encode_rows, validate_rows
from biobridge.encoders.sharding import (
    SHARD_FORMAT,
    Shard,
    list_shard_entries,
    shard_dir,
    shard_paths,
    shard_positions,
)
from biobridge.encoders.store import (
    STORE_VERSION,
    EmbeddingStore,
    current_entry,
    ensure_manifest,
    file_input_hash,
    now_iso,
    save_tensors,
    store_entry,
    tensor_file_name,
    write_entry,
)

log = logging.getLogger(__name__)

_SAME_IN_EVERY_SHARD = ("encoder", "encoder_config", "spec", "modality", "dim", "n_nodes")


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


def remove_stale_shards(store_dir: Path, node_type: str, input_hash: str) -> None:
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


def _shard_done(tensor_path: Path, entry_path: Path, shard_hash: str) -> bool:
    if not (entry_path.exists() and tensor_path.exists()):
        return False
    try:
        done = read_json(entry_path).get("shard_hash") == shard_hash
    except (OSError, ValueError):
        done = False
    return done and file_input_hash(tensor_path) == shard_hash


def encode_shard(
    store_dir: Path, inputs: TypeInputs, shard: Shard, batch_size: int | None, progress: bool
) -> bool:
    """Encode one shard of one node type unless it is already on disk; True when it encoded something."""
    node_type, input_hash = inputs.node_type, inputs.input_hash
    label = f"{node_type} [shard {shard}]"
    shard_hash = _shard_hash(input_hash, shard)
    tensor_path, entry_path = shard_paths(store_dir, node_type, shard)
    if _shard_done(tensor_path, entry_path, shard_hash):
        log.info("%s: already encoded, skipping", label)
        return False

    t0 = time.perf_counter()
    ok, checked = validate_rows(inputs)
    # valid items round robin over shards (balanced); invalid rows by their row position
    mine = [ok[j] for j in shard_positions(len(ok), shard)]
    my_failures = [f for k, f in checked if k % shard.count == shard.index]
    n_checked = len(mine) + len(my_failures)
    emb, index_ok, failures = encode_rows(inputs, label, mine, my_failures, n_checked, batch_size, progress)
    seconds = time.perf_counter() - t0
    metadata = {
        "input_hash": shard_hash,
        "type_input_hash": input_hash,
        "encoder": inputs.encoder.name,
        "node_type": node_type,
        "shard": str(shard),
    }
    save_tensors(tensor_path, emb, index_ok, metadata)
    entry = {
        "format": SHARD_FORMAT,
        "version": STORE_VERSION,
        "node_type": node_type,
        "shard": shard.index,
        "n_shards": shard.count,
        **inputs.common,
        "n_encoded": len(index_ok),
        "n_failures": len(failures),
        "failures": failures,
        "input_hash": input_hash,
        "shard_hash": shard_hash,
        "file": tensor_path.name,
        "seconds": round(seconds, 4),
        "items_per_second": round(len(index_ok) / seconds, 2) if seconds > 0 else None,
        "created": now_iso(),
    }
    write_json(entry_path, entry)
    remove_stale_shards(store_dir, node_type, input_hash)
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


# shard sets on disk: node type -> (input_hash, shard count) -> shard index -> shard entry
_ShardSets = dict[str, dict[tuple[str, int], dict[int, dict[str, Any]]]]


def _shard_sets(store_dir: Path) -> _ShardSets:
    """Every readable shard entry whose tensor file exists, grouped by node type and shard set."""
    sets: _ShardSets = {}
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
    return sets


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
    sets = _shard_sets(store_dir)
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
    ensure_manifest(store_dir)
    return EmbeddingStore.load(store_dir)


def _load_shard_rows(
    store_dir: Path, node_type: str, count: int, entries: dict[int, dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """(node_index, embeddings, failures) of all shards, rows in KG order and failures by node index."""
    from safetensors.numpy import load_file

    dim = entries[0]["dim"]
    indexes, embs, failures = [], [], []
    for i in range(count):
        tensor_path, _ = shard_paths(store_dir, node_type, Shard(i, count))
        if file_input_hash(tensor_path) != entries[i]["shard_hash"]:
            raise ValueError(f"{tensor_path} does not match its shard entry: re-run shard {i}/{count}")
        tensors = load_file(str(tensor_path))
        idx, emb = tensors["node_index"].astype(np.int64), tensors["embeddings"].astype(np.float32)
        if emb.shape != (entries[i]["n_encoded"], dim) or idx.shape != (entries[i]["n_encoded"],):
            raise ValueError(f"{tensor_path}: shapes {emb.shape}/{idx.shape} do not match its entry")
        indexes.append(idx)
        embs.append(emb)
        failures.extend(entries[i]["failures"])
    index = np.concatenate(indexes)
    order = np.argsort(index, kind="stable")  # node_index is the KG row: this is the unsharded order
    failures.sort(key=lambda f: f["node_index"])
    return np.ascontiguousarray(index[order]), np.ascontiguousarray(np.concatenate(embs)[order]), failures


def _merge_one(
    store_dir: Path, node_type: str, input_hash: str, count: int, entries: dict[int, dict[str, Any]]
) -> None:
    first = entries[0]
    for i, entry in entries.items():
        for field in _SAME_IN_EVERY_SHARD:
            if entry.get(field) != first.get(field):
                raise ValueError(
                    f"{node_type}: shard {i}/{count} disagrees with shard 0/{count} on {field!r}"
                )
    index, emb, failures = _load_shard_rows(store_dir, node_type, count, entries)
    covered = np.concatenate([index, np.asarray([f["node_index"] for f in failures], dtype=np.int64)])
    if len(covered) != first["n_nodes"] or len(np.unique(covered)) != len(covered):
        raise ValueError(
            f"{node_type}: the {count} shards cover {len(np.unique(covered))} distinct of {first['n_nodes']} "
            f"nodes ({len(covered)} rows): shards from different runs?"
        )
    file_name = tensor_file_name(node_type)
    metadata = {"input_hash": input_hash, "encoder": first["encoder"], "node_type": node_type}
    seconds = [float(entries[i]["seconds"]) for i in range(count)]
    with _shard_lock(store_dir):
        if current_entry(store_dir, node_type, input_hash) is not None:  # another rank merged it meanwhile
            log.info("%s: merged embeddings already current", node_type)
            return
        save_tensors(store_dir / file_name, emb, index, metadata)
        common = {field: first[field] for field in _SAME_IN_EVERY_SHARD}
        entry = store_entry(common, len(index), failures, input_hash, file_name, sum(seconds))
        entry["shards"] = {
            "count": count,
            "seconds": seconds,
            "n_encoded": [entries[i]["n_encoded"] for i in range(count)],
        }
        write_entry(store_dir, node_type, entry)
    log.info("%s: merged %d shards into %d x %d embeddings", node_type, count, len(index), first["dim"])
