"""Amino-acid + dipeptide composition features (420-d), numpy only.

Layout: columns 0..19 are the frequencies of the 20 standard residues (alphabet ``ACDEFGHIKLMNPQRSTVWY``) over
the counted residues; columns 20..419 are the frequencies of the 400 ordered dipeptides ``a b`` (index
``20 + 20 * a + b``) over the counted adjacent pairs.

Letter policy: input is upper-cased. The non-standard / ambiguous letters X, B, Z, U, O are accepted but not
counted, and a dipeptide is counted only when both residues are standard and adjacent in the original sequence
(a pair spanning a skipped letter is not counted). Any other character (digits, ``*``, ``-``, whitespace, ...)
or an empty sequence makes the item invalid. A sequence with no standard residue gives zeros for the residue
part; a sequence with no standard adjacent pair gives zeros for the dipeptide part.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biobridge.encoders.base import Encoder, not_a_string_reason

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
NONSTANDARD = "XBZUO"

_SKIP = 20  # code for allowed but uncounted letters
_BAD = 255  # code for forbidden characters

_LUT = np.full(256, _BAD, dtype=np.uint8)
for _i, _a in enumerate(AMINO_ACIDS):
    _LUT[ord(_a)] = _i
    _LUT[ord(_a.lower())] = _i
for _a in NONSTANDARD:
    _LUT[ord(_a)] = _SKIP
    _LUT[ord(_a.lower())] = _SKIP


def _codes(seq: str) -> np.ndarray | None:
    try:
        raw = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None
    return _LUT[raw]


class ProteinCompositionEncoder(Encoder):
    modality = "protein"
    dim = 420
    batch_invariant = True

    def __init__(self) -> None:
        self.name = "protein-composition-v1"

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "alphabet": AMINO_ACIDS,
            "skipped_letters": NONSTANDARD,
            "features": "aa_freq(20) + dipeptide_freq(400)",
        }

    def invalid_reason(self, item: str) -> str | None:
        reason = not_a_string_reason(item)
        if reason:
            return reason
        if len(item) == 0:
            return "empty sequence"
        codes = _codes(item)
        if codes is None or (codes == _BAD).any():
            bad = sorted({c for c in item if not c.isascii() or _LUT[ord(c)] == _BAD})
            shown = ", ".join(repr(c) for c in bad[:5])
            return (
                f"sequence contains characters that are not amino-acid letters: {shown} "
                f"(allowed: {AMINO_ACIDS} plus {NONSTANDARD}, case-insensitive)"
            )
        return None

    def _encode_valid(self, items: list[str], batch_size: int | None, progress: bool) -> np.ndarray:
        step = batch_size or 4096  # bounds the (chunk, 420) count matrices; results do not depend on it
        parts = [self._encode_chunk(items[i : i + step]) for i in range(0, len(items), step)]
        return np.concatenate(parts, axis=0)

    @staticmethod
    def _encode_chunk(items: list[str]) -> np.ndarray:
        # Concatenate every sequence, mark boundaries so pairs never span two sequences.
        n = len(items)
        lengths = np.fromiter((len(s) for s in items), dtype=np.int64, count=n)
        codes = _LUT[np.frombuffer("".join(items).encode("ascii"), dtype=np.uint8)].astype(np.int64)
        seq_id = np.repeat(np.arange(n, dtype=np.int64), lengths)

        counted = codes < 20
        aa = np.bincount(seq_id[counted] * 20 + codes[counted], minlength=n * 20).reshape(n, 20)

        first, second = codes[:-1], codes[1:]
        pair_ok = (first < 20) & (second < 20) & (seq_id[:-1] == seq_id[1:])
        di = np.bincount(
            seq_id[:-1][pair_ok] * 400 + first[pair_ok] * 20 + second[pair_ok], minlength=n * 400
        ).reshape(n, 400)

        out = np.zeros((n, 420), dtype=np.float64)
        aa_tot = aa.sum(1, keepdims=True)
        di_tot = di.sum(1, keepdims=True)
        np.divide(aa, aa_tot, out=out[:, :20], where=aa_tot > 0)
        np.divide(di, di_tot, out=out[:, 20:], where=di_tot > 0)
        return out.astype(np.float32)
