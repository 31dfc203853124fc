"""``encode_kg``: encode a KG's node features into an embedding store (layout: ``biobridge.encoders.store``).

Per node type, in the order asked for:

1. The encoder is the ready object given for the type's modality, else the one built from its spec
   (``encoder_specs`` merged over ``DEFAULT_ENCODER_SPECS``). Building is cheap: encoders load weights only
   when they first encode, and each modality's encoder is built once per call.
2. ``input_hash`` = hash of the encoder name, its config and the type's ordered (node_id, feature) pairs
   (``compute_input_hash``). If the manifest entry has that hash and its file is present and carries it too,
   this is a cache hit: nothing is encoded, no model is loaded, no file is touched.
3. Otherwise every feature is validated, failures are recorded (never dropped silently; see
   ``biobridge.encoders.rows``), a stateful encoder (``Encoder.stateful``) is fitted on the valid ones and
   its state written to ``<store>/<type>.state/`` (the entry's ``state``), the valid ones are encoded, the tensor file is written atomically and then
   the manifest entry is updated atomically (re-reading the manifest), so an interrupted run keeps every node
   type it finished. Shards of the type left from other inputs are then deleted.

With ``shard`` set, step 3 encodes only that shard into ``<store>/shards/`` and, with ``merge``, merges the
type once all of its shards exist (``biobridge.encoders.shard_merge``); a finished shard is skipped. A
stateful encoder's type is encoded whole, by shard 0 alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from biobridge.artifacts import atomic_directory
from biobridge.encoders.base import Encoder
from biobridge.encoders.registry import DEFAULT_ENCODER_SPECS, build_encoder
from biobridge.encoders.rows import TypeInputs, encode_rows, type_inputs, validate_rows
from biobridge.encoders.shard_merge import encode_shard, merge_shards, remove_stale_shards
from biobridge.encoders.sharding import Shard, bind_local_device, resolve_shard
from biobridge.encoders.store import (
    EmbeddingStore,
    current_entry,
    ensure_manifest,
    save_tensors,
    state_dir_name,
    store_entry,
    tensor_file_name,
    write_entry,
)

log = logging.getLogger(__name__)


class _Encoders:
    """modality -> encoder for one ``encode_kg`` call: given objects first, else built once from specs."""

    def __init__(self, encoder_specs: Mapping[str, str] | None, encoders: Mapping[str, Encoder] | None):
        self.specs = {**DEFAULT_ENCODER_SPECS, **(encoder_specs or {})}
        self.given = dict(encoders or {})
        self.built: dict[str, Encoder] = {}

    def get(self, modality: str):
        if modality in self.given:
            return self.given[modality]
        if modality not in self.built:
            if modality not in self.specs:
                raise KeyError(f"no encoder spec for modality {modality!r}")
            self.built[modality] = build_encoder(self.specs[modality])  # cheap: weights load on first encode
        return self.built[modality]

    def spec(self, modality: str, encoder) -> str | None:
        """The spec recorded in the manifest: the spec string, or ``object:<class>`` for a given encoder."""
        if modality in self.given:
            return f"object:{type(encoder).__name__}"
        return self.specs.get(modality)


def _selected_types(kg, node_types: Iterable[str] | None) -> list[str]:
    selected = kg.node_types if node_types is None else list(node_types)
    for node_type in selected:
        if node_type not in kg.modalities:
            raise KeyError(f"unknown node type {node_type!r}; KG types: {kg.node_types}")
    return selected


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
    chosen = _Encoders(encoder_specs, encoders)
    for node_type in _selected_types(kg, node_types):
        modality = kg.modalities[node_type]
        encoder = chosen.get(modality)
        inputs = type_inputs(kg, node_type, encoder, chosen.spec(modality, encoder))
        if _cache_hit(store_dir, inputs):
            continue
        if resolved is None:
            _encode_type(store_dir, inputs, batch_size, progress)
            continue
        if getattr(encoder, "stateful", False):
            # fitted on all of the type's items: encoded whole, by shard 0 only
            if resolved.index == 0:
                log.info(
                    "%s: %s is fitted on all the type's items, encoded whole by shard 0",
                    node_type,
                    encoder.name,
                )
                _encode_type(store_dir, inputs, batch_size, progress)
            continue
        encode_shard(store_dir, inputs, resolved, batch_size, progress)
        if merge:
            merge_shards(store_dir, [node_type], expected_hashes={node_type: inputs.input_hash}, strict=False)
    ensure_manifest(store_dir)
    return EmbeddingStore.load(store_dir)


def _cache_hit(store_dir: Path, inputs: TypeInputs) -> bool:
    entry = current_entry(store_dir, inputs.node_type, inputs.input_hash)
    if entry is None:
        return False
    log.info(
        "%s: cache hit (%s, %d/%d encoded), skipping",
        inputs.node_type,
        inputs.encoder.name,
        entry["n_encoded"],
        entry["n_nodes"],
    )
    return True


def _encode_type(store_dir: Path, inputs: TypeInputs, batch_size: int | None, progress: bool) -> None:
    """Encode all rows of one node type, write its tensor file, then its manifest entry."""
    node_type, encoder, input_hash = inputs.node_type, inputs.encoder, inputs.input_hash
    t0 = time.perf_counter()
    ok, checked = validate_rows(inputs)
    failures = [f for _, f in checked]
    state = None
    if getattr(encoder, "stateful", False):
        encoder.fit([inputs.features[k] for k in ok])
        state = state_dir_name(node_type)
    emb, index_ok, failures = encode_rows(
        inputs, node_type, ok, failures, len(inputs.features), batch_size, progress
    )
    if state is not None:
        atomic_directory(store_dir / state, encoder.save_state)
    seconds = time.perf_counter() - t0
    file_name = tensor_file_name(node_type)
    metadata = {"input_hash": input_hash, "encoder": encoder.name, "node_type": node_type}
    save_tensors(store_dir / file_name, emb, index_ok, metadata)
    entry = store_entry(inputs.common, len(index_ok), failures, input_hash, file_name, seconds)
    if state is not None:
        entry["state"] = state
    write_entry(store_dir, node_type, entry)
    remove_stale_shards(store_dir, node_type, input_hash)
    log.info(
        "%s: wrote %d x %d embeddings (%.1f items/s, %d failures)",
        node_type,
        len(index_ok),
        encoder.dim,
        len(index_ok) / seconds if seconds > 0 else float("inf"),
        len(failures),
    )
