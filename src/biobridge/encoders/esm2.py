"""ESM2 protein language model (Hugging Face format, local directory) with mean pooling over residues.

Pooling: the mean of the last hidden layer over residue tokens only (BOS/CLS, EOS and padding excluded),
computed in float32 or better.

Batching: sequences are sorted by length and packed so that ``batch_size x longest_tokens`` stays within
``max_tokens_per_batch`` (a single sequence longer than the budget runs alone). Results do not depend on the
batching (up to float rounding) and are returned in input order.

Letters: input is upper-cased; the 20 standard residues and the non-standard X, B, Z, U, O (all in ESM's
vocabulary) are passed to the tokenizer; any other character or an empty sequence is invalid.

Long sequences (more than ``max_residues`` = ``max_position_embeddings - 2`` of the config, capped at 1022):
  * ``"error"`` (default): the sequence is invalid (recorded as a failure by the embedding store);
  * ``"truncate"``: only the first ``max_residues`` residues are encoded;
  * ``"window"``: overlapping windows of ``max_residues`` residues with stride ``window_stride`` (default
    ``max_residues // 2``; the last window is aligned to the sequence end) are encoded; each residue's
    representation is averaged over the windows that contain it, then residues are averaged, so every residue
    counts once.
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

log = logging.getLogger(__name__)

ESM_LETTERS = frozenset("ACDEFGHIKLMNPQRSTVWYXBZUO")
LONG_SEQUENCE_POLICIES = ("error", "truncate", "window")
ESM2_MAX_RESIDUES = 1022


def window_starts(n: int, window: int, stride: int) -> list[int]:
    """Start offsets of overlapping windows covering 0..n-1 (last window aligned to the end)."""
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] != n - window:
        starts.append(n - window)
    return starts


class ESM2Encoder(Encoder):
    modality = "protein"

    def __init__(
        self,
        model_dir: str | Path,
        max_tokens_per_batch: int = 8192,
        long_sequence_policy: str = "error",
        window_stride: int | None = None,
        max_residues: int | None = None,
        device: str = "auto",
        dtype: str | None = None,
        name: str | None = None,
    ) -> None:
        self.model_dir = require_local_model_dir(model_dir)
        if long_sequence_policy not in LONG_SEQUENCE_POLICIES:
            raise ValueError(
                f"long_sequence_policy must be one of {LONG_SEQUENCE_POLICIES}, got {long_sequence_policy!r}"
            )
        self.long_sequence_policy = long_sequence_policy
        self.max_tokens_per_batch = int(max_tokens_per_batch)
        self.device = resolve_device(device)
        self._torch_dtype = resolve_dtype(dtype, self.device)
        self.dtype = str(self._torch_dtype).replace("torch.", "")
        cfg = json.loads((self.model_dir / "config.json").read_text())
        self.dim = int(cfg["hidden_size"])
        limit = ESM2_MAX_RESIDUES
        if cfg.get("max_position_embeddings"):
            limit = min(limit, int(cfg["max_position_embeddings"]) - 2)
        if max_residues is not None:
            if int(max_residues) > limit:
                raise ValueError(f"max_residues={max_residues} exceeds the model limit of {limit} residues")
            limit = int(max_residues)
        self.max_residues = limit
        self.window_stride = int(window_stride) if window_stride else max(1, limit // 2)
        if not 0 < self.window_stride <= limit:
            raise ValueError(f"window_stride must be in 1..{limit}, got {window_stride}")
        if self.max_tokens_per_batch < 1:
            raise ValueError("max_tokens_per_batch must be positive")
        policy = long_sequence_policy
        if policy == "window":
            policy += f"{limit}s{self.window_stride}"
        elif policy == "truncate":
            policy += str(limit)
        else:
            policy += str(limit)
        self.name = name or f"esm2:{self.model_dir.name}:mean:{policy}"
        if self.dtype != "float32":
            self.name += f":{self.dtype}"
        self._tokenizer = None
        self._model = None

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "model_dir": str(self.model_dir),
            "pooling": "mean over residues (BOS/EOS/pad excluded)",
            "long_sequence_policy": self.long_sequence_policy,
            "max_residues": self.max_residues,
            "window_stride": self.window_stride if self.long_sequence_policy == "window" else None,
            "dtype": self.dtype,
        }

    def invalid_reason(self, item: str) -> str | None:
        reason = not_a_string_reason(item)
        if reason:
            return reason
        if not item:
            return "empty sequence"
        bad = set(item.upper()) - ESM_LETTERS
        if bad:
            shown = ", ".join(repr(c) for c in sorted(bad)[:5])
            return f"sequence contains characters outside ESM's amino-acid alphabet: {shown}"
        if len(item) > self.max_residues and self.long_sequence_policy == "error":
            return (
                f"sequence has {len(item)} residues, over the model limit of {self.max_residues} "
                "(long_sequence_policy='error'; use 'truncate' or 'window')"
            )
        return None

    # ---- model ----------------------------------------------------------------------------------
    def _load(self):
        if self._model is None:
            from transformers import EsmModel

            self._tokenizer, self._model = load_local_hf_model(
                self.model_dir, EsmModel, self.device, self._torch_dtype, "ESM", add_pooling_layer=False
            )
        return self._tokenizer, self._model

    def _chunks(self, items: list[str]) -> list[tuple[int, str, np.ndarray]]:
        """(item index, residues to run, per-residue pooling weights summing to 1 per item)."""
        chunks = []
        L = self.max_residues
        for i, raw in enumerate(items):
            seq = raw.upper()
            n = len(seq)
            if n <= L:
                chunks.append((i, seq, np.full(n, 1.0 / n)))
            elif self.long_sequence_policy == "truncate":
                chunks.append((i, seq[:L], np.full(L, 1.0 / L)))
            elif self.long_sequence_policy == "window":
                starts = window_starts(n, L, self.window_stride)
                coverage = np.zeros(n)
                for s in starts:
                    coverage[s : s + L] += 1
                for s in starts:
                    chunks.append((i, seq[s : s + L], 1.0 / (coverage[s : s + L] * n)))
            else:  # "error": validated already
                raise ValueError(f"item {i}: sequence of {n} residues over the limit {L}")
        return chunks

    def _batches(self, lengths: np.ndarray, budget: int) -> list[np.ndarray]:
        """Indices grouped so that len(batch) * max_tokens <= budget (tokens = residues + 2)."""
        order = np.argsort(-lengths, kind="stable")
        batches, current, longest = [], [], 0
        for j in order:
            tokens = int(lengths[j]) + 2
            longest_new = max(longest, tokens)
            if current and longest_new * (len(current) + 1) > budget:
                batches.append(np.asarray(current))
                current, longest_new = [], tokens
            current.append(j)
            longest = longest_new
        if current:
            batches.append(np.asarray(current))
        return batches

    def _encode_valid(self, items: list[str], batch_size: int | None, progress: bool) -> np.ndarray:
        import torch

        tokenizer, model = self._load()
        budget = (
            int(batch_size) if batch_size else self.max_tokens_per_batch
        )  # batch_size = token budget here
        chunks = self._chunks(items)
        lengths = np.asarray([len(c[1]) for c in chunks])
        out = np.zeros((len(items), self.dim), dtype=np.float64)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(items), desc=f"encode {self.model_dir.name}", unit="seq")
        done_items = 0
        try:
            with torch.inference_mode():
                for batch_idx in self._batches(lengths, budget):
                    seqs = [chunks[j][1] for j in batch_idx]
                    enc = tokenizer(seqs, padding=True, return_tensors="pt")
                    ids = enc["input_ids"]
                    n_res = torch.as_tensor([len(s) for s in seqs])
                    n_tok = enc["attention_mask"].sum(1)
                    if not torch.equal(n_tok, n_res + 2):
                        raise RuntimeError(
                            f"tokenizer in {self.model_dir} does not give one token per residue plus BOS/EOS "
                            f"(got {n_tok.tolist()} tokens for {n_res.tolist()} residues)"
                        )
                    hidden = model(
                        input_ids=ids.to(self.device), attention_mask=enc["attention_mask"].to(self.device)
                    ).last_hidden_state.float()
                    # per-token weights: residues are positions 1..n (BOS at 0, EOS at n+1, then padding)
                    weights = torch.zeros(ids.shape, dtype=torch.float64)
                    for row, j in enumerate(batch_idx):
                        w = chunks[j][2]
                        weights[row, 1 : 1 + len(w)] = torch.from_numpy(w)
                    pooled = (hidden.double() * weights.to(hidden.device).unsqueeze(-1)).sum(1).cpu().numpy()
                    for row, j in enumerate(batch_idx):
                        out[chunks[j][0]] += pooled[row]
                    if bar is not None:
                        finished = len({chunks[j][0] for j in batch_idx})
                        done_items = min(len(items), done_items + finished)
                        bar.n = done_items
                        bar.refresh()
        finally:
            if bar is not None:
                bar.close()
        return out.astype(np.float32)
