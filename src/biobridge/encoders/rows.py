"""The rows of one node type for an encoding run: their inputs, their validation and their encoding.

Shared by the unsharded path (``biobridge.encoders.encode``) and the sharded one
(``biobridge.encoders.shard_merge``). Every node that cannot be encoded becomes a failure record
``{node_index, node_id, reason}``, never a silently dropped row: a missing feature (``"node has no feature
(missing value)"``), a feature the encoder's ``invalid_reason`` rejects, or an item the model itself fails on
(``Encoder.encode_with_failures``, e.g. UniMol conformer generation). Failures are sorted by node index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from biobridge.encoders.base import Encoder
from biobridge.encoders.store import compute_input_hash

log = logging.getLogger(__name__)

MISSING_FEATURE = "node has no feature (missing value)"


@dataclass(frozen=True)
class TypeInputs:
    """What one node type hands to its encoder, in KG order, and the hash that identifies it."""

    node_type: str
    encoder: Any  # an Encoder, or any object with name, dim, config(), invalid_reason() and encode()
    node_index: np.ndarray  # int64 KG rows of the type's nodes
    node_ids: list[str]
    features: list
    input_hash: str
    common: dict[str, Any]  # the manifest fields encoder, encoder_config, spec, modality, dim, n_nodes


def type_inputs(kg, node_type: str, encoder, spec: str | None) -> TypeInputs:
    """The nodes of ``node_type`` in ``kg`` as ``TypeInputs`` for ``encoder`` (``spec``: how it was named)."""
    nodes = kg.nodes
    rows = np.flatnonzero(nodes["node_type"].to_numpy() == node_type)
    node_index = nodes["node_index"].to_numpy()[rows].astype(np.int64)
    node_ids = nodes["node_id"].to_numpy()[rows].astype(str).tolist()
    features = nodes["feature"].to_numpy()[rows].tolist()
    enc_config = encoder.config()
    common = {
        "encoder": encoder.name,
        "encoder_config": enc_config,
        "spec": spec,
        "modality": kg.modalities[node_type],
        "dim": int(encoder.dim),
        "n_nodes": len(features),
    }
    input_hash = compute_input_hash(encoder.name, enc_config, node_ids, features)
    return TypeInputs(node_type, encoder, node_index, node_ids, features, input_hash, common)


def failure(inputs: TypeInputs, k: int, reason: str) -> dict[str, Any]:
    """The failure record of the node at position ``k`` of ``inputs``."""
    return {"node_index": int(inputs.node_index[k]), "node_id": inputs.node_ids[k], "reason": reason}


def validate_rows(inputs: TypeInputs) -> tuple[list[int], list[tuple[int, dict[str, Any]]]]:
    """Positions of the valid features, and (position, failure record) for the others, in order."""
    ok: list[int] = []
    failures: list[tuple[int, dict[str, Any]]] = []
    for k, feature in enumerate(inputs.features):
        if not isinstance(feature, str):
            reason = MISSING_FEATURE
        else:
            reason = inputs.encoder.invalid_reason(feature)
        if reason is None:
            ok.append(k)
        else:
            failures.append((k, failure(inputs, k, reason)))
    return ok, failures


def encode_rows(
    inputs: TypeInputs,
    label: str,
    ok: list[int],
    failures: list[dict[str, Any]],
    n_checked: int,
    batch_size: int | None,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Encode the rows at positions ``ok``: (embeddings, their node indices, all failures sorted).

    ``failures`` holds the validation failures already found (of the ``n_checked`` rows this call covers);
    failures inside the model are added.
    """
    encoder = inputs.encoder
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
    valid = [inputs.features[k] for k in ok]
    log.info("%s: encoding %d nodes with %s", label, len(valid), encoder.name)
    emb, model_failures = _run_encoder(encoder, valid, batch_size, progress)
    if model_failures:
        emb, ok = _drop_model_failures(inputs, label, emb, ok, model_failures, failures)
    if not np.isfinite(emb).all():
        raise RuntimeError(f"{encoder.name} produced non-finite embeddings for {label}")
    return emb, np.ascontiguousarray(inputs.node_index[ok], dtype=np.int64), failures


def _run_encoder(
    encoder, valid: list[str], batch_size: int | None, progress: bool
) -> tuple[np.ndarray, dict[int, str]]:
    """(float32 (len(valid), dim), {position in valid: reason} of items that failed inside the model)."""
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
    return emb, model_failures


def _drop_model_failures(
    inputs: TypeInputs,
    label: str,
    emb: np.ndarray,
    ok: list[int],
    model_failures: dict[int, str],
    failures: list[dict[str, Any]],
) -> tuple[np.ndarray, list[int]]:
    """Remove the rows that failed inside the model; their records are added to ``failures`` (sorted)."""
    for j, reason in sorted(model_failures.items()):
        failures.append(failure(inputs, ok[j], reason))
    log.warning(
        "%s: %d nodes failed inside %s and are recorded as failures",
        label,
        len(model_failures),
        inputs.encoder.name,
    )
    keep = np.asarray([j not in model_failures for j in range(len(ok))], dtype=bool)
    failures.sort(key=lambda f: f["node_index"])
    return np.ascontiguousarray(emb[keep]), [k for j, k in enumerate(ok) if keep[j]]
