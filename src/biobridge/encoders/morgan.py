"""RDKit Morgan fingerprints (ECFP-like), radius 2, 2048 bits, as float32 0/1 vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from biobridge.encoders.base import Encoder, not_a_string_reason


def _parse(smiles: str):
    """(mol, None) or (None, reason); RDKit's log output is captured, not printed."""
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():  # silence RDKit's stderr noise for this parse
        try:
            mol = Chem.MolFromSmiles(smiles)
            error = None
        except Exception as exc:  # pragma: no cover - RDKit normally returns None instead of raising
            mol, error = None, str(exc)
    if mol is None:
        return None, error or _rdkit_reason(smiles)
    return mol, None


def _rdkit_reason(smiles: str) -> str:
    """Re-parse with RDKit's log routed through Python's ``sys.stderr`` and captured, to get its message.

    Side effect: RDKit logging goes through Python's ``sys.stderr`` from then on (same text, same
    destination).
    """
    import contextlib
    import io

    from rdkit import Chem, rdBase

    stream = io.StringIO()
    try:
        rdBase.LogToPythonStderr()
        with contextlib.redirect_stderr(stream):
            Chem.MolFromSmiles(smiles)
    except Exception:  # pragma: no cover - message capture is best effort
        pass
    lines = [ln.strip() for ln in stream.getvalue().splitlines() if ln.strip()]
    msg = "; ".join(ln.split("] ", 1)[-1] if "] " in ln else ln for ln in lines[:3])
    return f"RDKit cannot parse SMILES {smiles[:80]!r}" + (f": {msg}" if msg else "")


class MorganEncoder(Encoder):
    modality = "molecule"
    batch_invariant = True

    def __init__(self, radius: int = 2, n_bits: int = 2048) -> None:
        self.radius = int(radius)
        self.n_bits = int(n_bits)
        self.dim = self.n_bits
        self.name = f"morgan-r{self.radius}-{self.n_bits}"
        self._generator = None

    def config(self) -> dict[str, Any]:
        from rdkit import rdBase

        return {
            **super().config(),
            "radius": self.radius,
            "n_bits": self.n_bits,
            "rdkit": rdBase.rdkitVersion,
        }

    def invalid_reason(self, item: str) -> str | None:
        reason = not_a_string_reason(item)
        if reason:
            return reason
        if not item.strip():
            return "empty SMILES"
        _, reason = _parse(item)
        return reason

    def _gen(self):
        if self._generator is None:
            from rdkit.Chem import rdFingerprintGenerator

            self._generator = rdFingerprintGenerator.GetMorganGenerator(
                radius=self.radius, fpSize=self.n_bits
            )
        return self._generator

    def fingerprints(self, items: list) -> tuple[np.ndarray, np.ndarray]:
        """``(bits, valid)``: float32 (n, n_bits) fingerprints of the items RDKit parses (zero rows for the
        others) and the bool mask of those items; one parse per item, where ``invalid_reason`` followed by
        ``encode`` parses each twice."""
        gen = self._gen()
        bits = np.zeros((len(items), self.n_bits), dtype=np.float32)
        valid = np.zeros(len(items), dtype=bool)
        for i, smiles in enumerate(items):
            if not isinstance(smiles, str) or not smiles.strip():
                continue
            mol, _ = _parse(smiles)
            if mol is not None:
                bits[i] = gen.GetFingerprintAsNumPy(mol)
                valid[i] = True
        return bits, valid

    def _encode_valid(self, items: list[str], batch_size: int | None, progress: bool) -> np.ndarray:
        gen = self._gen()
        out = np.zeros((len(items), self.n_bits), dtype=np.float32)
        iterator = enumerate(items)
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, total=len(items), desc=f"encode {self.name}", unit="mol")
        for i, smiles in iterator:
            mol, reason = _parse(smiles)
            if mol is None:  # validated already; kept for safety
                from biobridge.encoders.base import InvalidInputError

                raise InvalidInputError(i, reason or "unparsable SMILES")
            out[i] = gen.GetFingerprintAsNumPy(mol)
        return out
