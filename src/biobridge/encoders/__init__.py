"""Encoders: one interface (``Encoder``), default offline encoders, paper encoders from local paths, and the
embedding store (one safetensors file per node type + manifest)."""

from biobridge.encoders.base import Encoder, InvalidInputError
from biobridge.encoders.registry import DEFAULT_ENCODER_SPECS, UnknownEncoderSpecError, build_encoder
from biobridge.encoders.store import EmbeddingStore, encode_kg

__all__ = [
    "DEFAULT_ENCODER_SPECS",
    "EmbeddingStore",
    "Encoder",
    "InvalidInputError",
    "UnknownEncoderSpecError",
    "build_encoder",
    "encode_kg",
]
