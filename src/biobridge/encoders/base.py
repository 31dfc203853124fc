"""The one interface every encoder implements.

An encoder turns raw node features (amino-acid sequences, SMILES strings, texts) into a float32 matrix.
``name`` identifies the encoder *and every setting that changes its outputs*; it is part of the embedding
store's input hash, so two encoders with the same name must produce the same vectors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class InvalidInputError(ValueError):
    """An item handed to ``Encoder.encode`` cannot be encoded."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = int(index)
        self.reason = reason
        super().__init__(f"item {index}: {reason}")


class Encoder(ABC):
    """Abstract base: ``name``, ``modality``, ``dim``, ``invalid_reason``, ``encode``, ``config``."""

    name: str
    modality: str  # "protein" | "molecule" | "text"
    dim: int
    # A stateful encoder is fitted on its node type's valid items before it encodes them (the homology
    # encoder fixes its reference set that way); its state is saved beside the embeddings and loaded with them.
    stateful: bool = False
    # True when an item's vector does not depend on the items encoded with it (per-item computations). A
    # padded neural batch changes rounding, so a server that batches queries encodes those one by one.
    batch_invariant: bool = False

    @abstractmethod
    def invalid_reason(self, item: str) -> str | None:
        """Why ``item`` cannot be encoded, or ``None`` when it can."""

    @abstractmethod
    def _encode_valid(self, items: list[str], batch_size: int | None, progress: bool) -> np.ndarray:
        """Encode items already checked by ``invalid_reason``; returns float32 (n, dim) in input order."""

    def fit(self, items: list[str]) -> None:
        """Stateful encoders: learn the state from the node type's valid items."""
        raise NotImplementedError(f"{self.name} is not a stateful encoder")

    def save_state(self, directory: Path) -> None:
        raise NotImplementedError(f"{self.name} is not a stateful encoder")

    def load_state(self, directory: Path) -> None:
        raise NotImplementedError(f"{self.name} is not a stateful encoder")

    def config(self) -> dict[str, Any]:
        """JSON-able settings recorded in manifests (subclasses extend)."""
        return {"name": self.name, "modality": self.modality, "dim": self.dim}

    def check(self, items: Sequence[str]) -> None:
        """Raise ``InvalidInputError`` for the first invalid item."""
        for i, item in enumerate(items):
            reason = self.invalid_reason(item)
            if reason is not None:
                raise InvalidInputError(i, reason)

    def encode(
        self, items: Sequence[str], batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        """float32 array (len(items), dim), row i encoding ``items[i]``.

        Raises ``InvalidInputError(index, reason)`` if any item is invalid (nothing is dropped).
        """
        items = list(items)
        self.check(items)
        return self.encode_prevalidated(items, batch_size=batch_size, progress=progress)

    def encode_prevalidated(
        self, items: Sequence[str], batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        """``encode`` for items the caller already checked with ``invalid_reason`` (skips re-validation)."""
        items = list(items)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.asarray(self._encode_valid(items, batch_size, progress), dtype=np.float32)
        if out.shape != (len(items), self.dim):
            raise RuntimeError(f"{self.name}: produced shape {out.shape}, expected {(len(items), self.dim)}")
        return out

    def encode_with_failures(
        self, items: Sequence[str], batch_size: int | None = None, progress: bool = False
    ) -> tuple[np.ndarray, dict[int, str]]:
        """For pre-validated items: (embeddings (n, dim), {index: reason} for items that failed in the model).

        Rows of failed items are undefined (zeros). Encoders whose model can fail per item (e.g. UniMol
        conformer generation) override this; the embedding store records those as failures.
        """
        return self.encode_prevalidated(items, batch_size=batch_size, progress=progress), {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"


def not_a_string_reason(item: object) -> str | None:
    if not isinstance(item, str):
        return f"expected a string, got {type(item).__name__}"
    return None
