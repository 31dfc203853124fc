"""``derive_store``: the embedding store of a subset KG, copied from its parent KG's store (nothing encoded).

A sub KG (e.g. from ``biobridge.kg.subset.subset_kg``) has its own node indices; its nodes are matched to the
parent KG's by (node_type, node_id). For every node type of the sub KG the derived store holds what
``encode_kg(sub_kg, out_dir, ...)`` with the parent's encoders would write (layout:
``biobridge.encoders.store``):

* rows: the parent's rows of the matched nodes, in sub-KG order, ``node_index`` re-indexed to the sub KG;
* failures: the parent's failures of the matched nodes (same reasons), re-indexed and sorted likewise;
* entry: the parent's ``encoder``, ``encoder_config``, ``spec``, ``modality`` and ``dim``; ``n_nodes``,
  ``n_encoded``, ``n_failures`` of the sub KG; ``input_hash`` computed from the sub KG's node ids and
  features, so a later ``encode_kg`` on the sub KG with the same encoders is a cache hit for every type;
  ``seconds`` / ``items_per_second`` / ``created`` of the copy, plus ``derived_from``: {``store``: the parent
  directory, ``input_hash``: the parent entry's}.

Errors (nothing is guessed): a sub-KG node type missing from the parent store; a parent entry whose
``input_hash`` does not match ``parent_kg`` (the store was encoded from another KG); a sub-KG node missing
from the parent KG or whose feature differs from the parent's (the message names them); a parent node that
is neither a row nor a failure of its entry. A type already current in ``out_dir`` is left alone.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biobridge.encoders.shard_merge import remove_stale_shards
from biobridge.encoders.store import (
    EmbeddingStore,
    compute_input_hash,
    current_entry,
    ensure_manifest,
    save_tensors,
    store_entry,
    tensor_file_name,
    write_entry,
)

log = logging.getLogger(__name__)

_FROM_PARENT = ("encoder", "encoder_config", "spec", "modality", "dim")


def derive_store(parent: EmbeddingStore, parent_kg, sub_kg, out_dir: str | Path) -> EmbeddingStore:
    """Write the embedding store of ``sub_kg`` to ``out_dir`` from ``parent`` (the store of ``parent_kg``).

    Types encoded by a stateful encoder (``Encoder.stateful``: fitted on all of the parent's items, e.g. the
    homology encoder's reference set) are not copied, since ``encode_kg`` would fit them on the sub KG's
    items instead: encode those with ``encode_kg`` (their spec is ``parent.entry(type)["spec"]``)."""
    out_dir = Path(out_dir)
    if out_dir.resolve() == Path(parent.directory).resolve():
        raise ValueError(f"derive_store would overwrite its parent store {str(out_dir)!r}: pick another dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    for node_type in sub_kg.node_types:
        if parent.entry(node_type).get("state"):
            log.info("%s: encoded by a stateful encoder, not copied (encode it on the sub KG)", node_type)
            continue
        _derive_type(parent, parent_kg, sub_kg, node_type, out_dir)
    ensure_manifest(out_dir)
    return EmbeddingStore.load(out_dir)


def _type_nodes(kg, node_type: str) -> tuple[np.ndarray, list[str], list]:
    """(node_index int64, node ids, features) of ``node_type`` in KG order, as ``encode_kg`` reads them."""
    nodes = kg.nodes
    rows = np.flatnonzero(nodes["node_type"].to_numpy() == node_type)
    index = nodes["node_index"].to_numpy()[rows].astype(np.int64)
    node_ids = nodes["node_id"].to_numpy()[rows].astype(str).tolist()
    return index, node_ids, nodes["feature"].to_numpy()[rows].tolist()


def _feature(value: Any) -> str | None:
    return value if isinstance(value, str) else None  # what compute_input_hash counts as missing


def _named(what: str, node_type: str, ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"{len(ids)} {node_type} node(s) of the sub KG {what}: {shown}"


def _match(parent_kg, sub_kg, node_type: str, entry: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(parent node_index, sub node_index) of every sub-KG node of ``node_type``, checked against the parent."""
    p_index, p_ids, p_features = _type_nodes(parent_kg, node_type)
    parent_hash = compute_input_hash(entry["encoder"], entry["encoder_config"], p_ids, p_features)
    if parent_hash != entry["input_hash"]:
        raise ValueError(
            f"{node_type}: the parent store entry was not encoded from parent_kg (input hash differs); "
            "pass the KG the parent store was encoded from"
        )
    s_index, s_ids, s_features = _type_nodes(sub_kg, node_type)
    pos = pd.Index(p_ids).get_indexer(s_ids)
    absent = [s_ids[k] for k in np.flatnonzero(pos < 0)]
    if absent:
        raise ValueError(_named("are missing from the parent KG", node_type, absent))
    differ = [s_ids[k] for k, p in enumerate(pos) if _feature(s_features[k]) != _feature(p_features[p])]
    if differ:
        raise ValueError(_named("have a feature that differs from the parent KG's", node_type, differ))
    return p_index[pos], s_index


def _derive_type(parent: EmbeddingStore, parent_kg, sub_kg, node_type: str, out_dir: Path) -> None:
    entry = parent.entry(node_type)
    if entry["modality"] != sub_kg.modalities[node_type]:
        raise ValueError(
            f"{node_type}: parent store modality {entry['modality']!r} != sub KG's "
            f"{sub_kg.modalities[node_type]!r}"
        )
    t0 = time.perf_counter()
    parent_of, s_index = _match(parent_kg, sub_kg, node_type, entry)
    _, s_ids, s_features = _type_nodes(sub_kg, node_type)
    input_hash = compute_input_hash(entry["encoder"], entry["encoder_config"], s_ids, s_features)
    if current_entry(out_dir, node_type, input_hash) is not None:
        log.info("%s: derived store already current, skipping", node_type)
        return
    rows, failures = _sub_rows(parent, parent_kg.num_nodes, node_type, parent_of, s_index, s_ids)
    _, emb = parent.get(node_type)
    emb = np.ascontiguousarray(emb[rows[rows >= 0]], dtype=np.float32)
    index = np.ascontiguousarray(s_index[rows >= 0], dtype=np.int64)
    file_name = tensor_file_name(node_type)
    metadata = {"input_hash": input_hash, "encoder": entry["encoder"], "node_type": node_type}
    save_tensors(out_dir / file_name, emb, index, metadata)
    common = {**{field: entry[field] for field in _FROM_PARENT}, "n_nodes": len(s_ids)}
    seconds = time.perf_counter() - t0
    new_entry = store_entry(common, len(index), failures, input_hash, file_name, seconds)
    new_entry["derived_from"] = {"store": str(parent.directory), "input_hash": entry["input_hash"]}
    write_entry(out_dir, node_type, new_entry)
    remove_stale_shards(out_dir, node_type, input_hash)
    log.info(
        "%s: derived %d x %d embeddings (%d failures) from %s",
        node_type,
        len(index),
        entry["dim"],
        len(failures),
        parent.directory,
    )


def _sub_rows(
    parent: EmbeddingStore,
    parent_num_nodes: int,
    node_type: str,
    parent_of: np.ndarray,
    s_index: np.ndarray,
    s_ids: list[str],
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Per sub node: its row in the parent's tensor (-1 for a failure); and the re-indexed failures."""
    p_rows, _ = parent.get(node_type)
    if len(p_rows) and (p_rows.min() < 0 or p_rows.max() >= parent_num_nodes):
        raise ValueError(f"{node_type}: parent store node_index outside 0..{parent_num_nodes - 1}: wrong KG?")
    row_of = np.full(parent_num_nodes, -1, dtype=np.int64)
    row_of[p_rows] = np.arange(len(p_rows))
    reasons = {int(f["node_index"]): f["reason"] for f in parent.failures(node_type)}
    rows = row_of[parent_of]
    failures = []
    lost = []
    for k in np.flatnonzero(rows < 0):
        reason = reasons.get(int(parent_of[k]))
        if reason is None:
            lost.append(s_ids[k])
        else:
            failures.append({"node_index": int(s_index[k]), "node_id": s_ids[k], "reason": reason})
    if lost:
        raise ValueError(_named("are neither rows nor failures of the parent store", node_type, lost))
    return rows, failures
