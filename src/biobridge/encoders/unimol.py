"""UniMol molecule encoder through ``unimol_tools`` (optional extra: ``pip install 'biobridge[unimol]'``).

Weights are read from a local directory only: the ``weights_dir`` argument or the ``UNIMOL_WEIGHT_DIR``
environment variable. It must contain the UniMol v1 molecule checkpoint (``mol_pre_all_h_220816.pt``, or
``mol_pre_no_h_220816.pt`` with ``remove_hs=True``) and ``mol.dict.txt``; missing files are a clear error
before ``unimol_tools`` is imported, so it never tries to download them.

Output: the 512-d CLS representation (``cls_repr``) per molecule. SMILES that RDKit cannot parse are invalid
(``invalid_reason``); molecules for which ``unimol_tools`` returns no usable vector (missing row, non-finite
values) become per-item failures recorded by the embedding store.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.encoders.base import Encoder
from biobridge.encoders.morgan import MorganEncoder

log = logging.getLogger(__name__)

UNIMOL_DIM = 512
INSTALL_HINT = "pip install 'biobridge[unimol]'"  # the extra installs unimol_tools


def unimol_weight_files(remove_hs: bool) -> tuple[str, str]:
    return ("mol_pre_no_h_220816.pt" if remove_hs else "mol_pre_all_h_220816.pt", "mol.dict.txt")


def _import_unimol_tools():
    try:
        import unimol_tools  # noqa: F401
        from unimol_tools import UniMolRepr
    except ImportError as exc:
        raise ImportError(
            f"the UniMol encoder needs the optional 'unimol_tools' package: {INSTALL_HINT} ({exc})"
        ) from exc
    return UniMolRepr


class UniMolEncoder(Encoder):
    modality = "molecule"
    dim = UNIMOL_DIM

    def __init__(
        self,
        weights_dir: str | Path | None = None,
        remove_hs: bool = False,
        batch_size: int = 32,
        device: str = "auto",
        name: str | None = None,
    ) -> None:
        if weights_dir in (None, ""):
            weights_dir = os.environ.get("UNIMOL_WEIGHT_DIR")
            if not weights_dir:
                raise FileNotFoundError(
                    "UniMol weights directory not given: pass 'unimol:<dir>' or set UNIMOL_WEIGHT_DIR "
                    "(weights are never downloaded)"
                )
        self.weights_dir = Path(weights_dir).expanduser()
        self.remove_hs = bool(remove_hs)
        self.batch_size = int(batch_size)
        self.device = device
        if not self.weights_dir.is_dir():
            raise FileNotFoundError(f"UniMol weights directory {str(self.weights_dir)!r} does not exist")
        missing = [f for f in unimol_weight_files(self.remove_hs) if not (self.weights_dir / f).exists()]
        if missing:
            raise FileNotFoundError(
                f"UniMol weights directory {str(self.weights_dir)!r} lacks {', '.join(missing)}"
            )
        self.name = name or f"unimol-v1:{'no_h' if self.remove_hs else 'all_h'}:cls"
        self._smiles_check = MorganEncoder()
        self._model = None

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "weights_dir": str(self.weights_dir),
            "weights": unimol_weight_files(self.remove_hs)[0],
            "remove_hs": self.remove_hs,
            "representation": "cls_repr",
        }

    def invalid_reason(self, item: str) -> str | None:
        return self._smiles_check.invalid_reason(item)

    def _load(self):
        if self._model is None:
            # unimol_tools reads UNIMOL_WEIGHT_DIR at import time: point it at our directory (also in modules
            # imported earlier), and keep the hub off.
            os.environ["UNIMOL_WEIGHT_DIR"] = str(self.weights_dir)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            UniMolRepr = _import_unimol_tools()
            import sys

            for mod_name, mod in list(sys.modules.items()):
                if mod_name.startswith("unimol_tools") and hasattr(mod, "WEIGHT_DIR"):
                    mod.WEIGHT_DIR = str(self.weights_dir)
            from biobridge.encoders._torch_utils import resolve_device

            use_gpu = resolve_device(self.device).startswith("cuda")
            try:
                self._model = UniMolRepr(
                    data_type="molecule",
                    remove_hs=self.remove_hs,
                    use_gpu=use_gpu,
                    batch_size=self.batch_size,
                )
            except TypeError:  # older unimol_tools without batch_size
                self._model = UniMolRepr(data_type="molecule", remove_hs=self.remove_hs, use_gpu=use_gpu)
        return self._model

    def _encode_valid(self, items: list[str], batch_size: int | None, progress: bool) -> np.ndarray:
        out, failures = self.encode_with_failures(items, batch_size, progress)
        if failures:
            from biobridge.encoders.base import InvalidInputError

            j, reason = min(failures.items())
            raise InvalidInputError(j, reason)
        return out

    def encode_with_failures(
        self, items, batch_size: int | None = None, progress: bool = False
    ) -> tuple[np.ndarray, dict[int, str]]:
        items = list(items)
        model = self._load()
        raw = model.get_repr(items, return_atomic_reprs=False)
        return parse_unimol_output(raw, len(items), self.dim)


def parse_unimol_output(raw: Any, n: int, dim: int) -> tuple[np.ndarray, dict[int, str]]:
    """unimol_tools' ``get_repr`` output -> (float32 (n, dim), {index: reason}).

    Accepts a dict with ``cls_repr`` (list of vectors / array / tensor) or the array itself. Rows that are
    missing (``None``), of the wrong size or non-finite are failures; a different number of rows than inputs
    is an error because the rows could not be matched to molecules.
    """
    if isinstance(raw, dict):
        if "cls_repr" not in raw:
            raise RuntimeError(f"unimol_tools output has no 'cls_repr' (keys: {sorted(raw)})")
        raw = raw["cls_repr"]
    if hasattr(raw, "detach"):
        raw = raw.detach().cpu().numpy()
    rows = list(raw)
    if len(rows) != n:
        raise RuntimeError(
            f"unimol_tools returned {len(rows)} representations for {n} molecules; "
            "cannot match them to inputs"
        )
    out = np.zeros((n, dim), dtype=np.float32)
    failures: dict[int, str] = {}
    for i, row in enumerate(rows):
        if row is None:
            failures[i] = "UniMol produced no representation (conformer generation failed?)"
            continue
        vec = np.asarray(row.detach().cpu().numpy() if hasattr(row, "detach") else row, dtype=np.float32)
        if vec.shape != (dim,):
            failures[i] = f"UniMol representation has shape {vec.shape}, expected ({dim},)"
        elif not np.isfinite(vec).all():
            failures[i] = "UniMol representation contains non-finite values"
        else:
            out[i] = vec
    return out, failures
