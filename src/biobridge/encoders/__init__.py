"""Encoders: one interface (``Encoder``), default offline encoders, paper encoders from local paths, and the
embedding store (one safetensors file per node type + manifest) with the functions that write it.

Modules: ``base`` (the interface), ``registry`` (specs -> encoders), ``store`` (store layout and reader),
``encode`` (``encode_kg``), ``rows`` (validating and encoding one type's rows), ``sharding`` (shard value type
and paths), ``shard_merge`` (encoding one shard, ``shard_status``, ``merge_shards``), ``derive``
(``derive_store``: the store of a subset KG from its parent's).
"""

from biobridge.encoders.base import Encoder, InvalidInputError
from biobridge.encoders.derive import derive_store
from biobridge.encoders.encode import encode_kg
from biobridge.encoders.registry import DEFAULT_ENCODER_SPECS, UnknownEncoderSpecError, build_encoder
from biobridge.encoders.shard_merge import merge_shards, shard_status
from biobridge.encoders.store import EmbeddingStore

__all__ = [
    "DEFAULT_ENCODER_SPECS",
    "EmbeddingStore",
    "Encoder",
    "InvalidInputError",
    "UnknownEncoderSpecError",
    "build_encoder",
    "derive_store",
    "encode_kg",
    "merge_shards",
    "shard_status",
]
