"""Approximate cosine top-k with FAISS (optional extra: ``pip install 'biobridge[faiss]'``).

``FaissIndex`` has the interface of ``biobridge.retrieval.index.CandidateIndex``: built from candidate
vectors and the node indices they stand for, ``search(queries, k) -> (scores, node_indices)`` best first,
``len()``. Vectors and queries are L2-normalised, so the inner product FAISS computes is the cosine.

Kinds:

- ``"flat"``: exact (``IndexFlatIP``); the same results as ``CandidateIndex`` up to float rounding and ties.
- ``"hnsw"``: graph search (``IndexHNSWFlat``). Parameters ``M`` (32), ``ef_construction`` (200) and
  ``ef_search`` (128, raised to ``k`` when smaller): larger = better recall, slower.
- ``"ivf"``: inverted lists (``IndexIVFFlat``) over ``nlist`` k-means cells (default ``4 * sqrt(n)``,
  at most ``n / 39`` so every cell gets enough training points), searching ``nprobe`` of them (default
  ``max(16, nlist // 4)``), trained on at most ``train_size`` (100k) vectors with ``seed``. A query whose
  probed cells hold fewer than ``k`` candidates is searched again over every cell, so results are never
  short.

``recall_at_k_vs_exact`` measures how many of the exact top-k an approximate index returns.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

KINDS = ("flat", "hnsw", "ivf")


def _import_faiss():
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - exercised only without faiss
        raise ImportError(
            "FaissIndex needs the optional FAISS package: pip install 'biobridge[faiss]' (faiss-cpu), "
            "or use the exact biobridge.retrieval.index.CandidateIndex"
        ) from err
    return faiss


def _normalised(x) -> np.ndarray:
    """float32 C-contiguous copy with unit rows (zero rows stay zero), from numpy or torch."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.array(x, dtype=np.float32, copy=True, order="C")
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"expected a (n, dim) matrix, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, np.maximum(norms, 1e-12), out=x)
    return x


class FaissIndex:
    """Candidate vectors in a FAISS index; cosine scores; the ``CandidateIndex`` search interface."""

    def __init__(self, vectors, node_index: np.ndarray, kind: str = "hnsw", **params: Any) -> None:
        faiss = _import_faiss()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        vecs = _normalised(vectors)
        self.node_index = np.asarray(node_index, dtype=np.int64)
        if vecs.shape[0] != len(self.node_index):
            raise ValueError("vectors must be (n_candidates, dim) aligned with node_index")
        if len(self.node_index) == 0:
            raise ValueError("a FaissIndex needs at least one candidate")
        n, dim = vecs.shape
        self.kind = kind
        self.dim = dim
        known = {
            "flat": set(),
            "hnsw": {"M", "ef_construction", "ef_search"},
            "ivf": {"nlist", "nprobe", "train_size", "seed"},
        }[kind]
        unknown = set(params) - known
        if unknown:
            raise TypeError(
                f"unknown parameters for kind={kind!r}: {sorted(unknown)}; known: {sorted(known)}"
            )
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
            index.add(vecs)
            self.params: dict[str, Any] = {}
        elif kind == "hnsw":
            m = int(params.get("M", 32))
            index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = int(params.get("ef_construction", 200))
            index.hnsw.efSearch = int(params.get("ef_search", 128))
            index.add(vecs)
            self.params = {
                "M": m,
                "ef_construction": index.hnsw.efConstruction,
                "ef_search": index.hnsw.efSearch,
            }
        else:
            nlist = int(params.get("nlist", max(1, min(round(4 * math.sqrt(n)), n // 39))))
            nlist = max(1, min(nlist, n))
            nprobe = max(1, min(int(params.get("nprobe", max(16, nlist // 4))), nlist))
            train_size = int(params.get("train_size", 100_000))
            seed = int(params.get("seed", 0))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = seed
            train = vecs
            if n > train_size:
                train = vecs[np.sort(np.random.default_rng(seed).choice(n, train_size, replace=False))]
            index.train(train)
            index.add(vecs)
            index.nprobe = nprobe
            self._quantizer = quantizer  # keep alive alongside the index
            self.params = {"nlist": nlist, "nprobe": nprobe, "train_size": train_size, "seed": seed}
        self.index = index

    def __len__(self) -> int:
        return len(self.node_index)

    def __repr__(self) -> str:
        return f"FaissIndex(kind={self.kind!r}, n={len(self)}, dim={self.dim}, params={self.params})"

    def search(self, queries, k: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (cosine scores float32 (q, k), node indices int64 (q, k)) per query, best first."""
        k = min(int(k), len(self))
        if k <= 0:
            raise ValueError("k must be >= 1")
        q = _normalised(queries)
        if q.shape[1] != self.dim:
            raise ValueError(f"queries have dim {q.shape[1]}, the index {self.dim}")
        if self.kind == "hnsw" and self.index.hnsw.efSearch < k:
            self.index.hnsw.efSearch = k
        scores = np.empty((len(q), k), dtype=np.float32)
        pos = np.empty((len(q), k), dtype=np.int64)
        for start in range(0, len(q), chunk):
            s, p = self.index.search(q[start : start + chunk], k)
            scores[start : start + chunk], pos[start : start + chunk] = s, p
        short = np.flatnonzero((pos < 0).any(axis=1))
        if len(short):  # IVF probed too few cells (or HNSW found too few): search those queries exhaustively
            scores[short], pos[short] = self._exhaustive(q[short], k)
        return scores, self.node_index[pos]

    def _exhaustive(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "ivf":
            saved = self.index.nprobe
            self.index.nprobe = self.index.nlist
            try:
                return self.index.search(q, k)
            finally:
                self.index.nprobe = saved
        faiss = _import_faiss()
        flat = faiss.IndexFlatIP(self.dim)
        flat.add(self.index.reconstruct_n(0, len(self)))
        return flat.search(q, k)


def recall_at_k_vs_exact(approx_index, exact_index, queries, k: int = 10) -> float:
    """Mean over queries of |approx top-k ∩ exact top-k| / k (node indices), for any two indexes with
    ``search(queries, k) -> (scores, node_indices)``."""
    _, approx = approx_index.search(queries, k)
    _, exact = exact_index.search(queries, k)
    if approx.shape != exact.shape:
        raise ValueError(f"result shapes differ: {approx.shape} vs {exact.shape}")
    hits = [len(np.intersect1d(a, e, assume_unique=True)) for a, e in zip(approx, exact, strict=True)]
    return float(np.mean(hits) / exact.shape[1]) if len(hits) else float("nan")


def make_index(vectors, node_index: np.ndarray, kind: str = "exact", **params: Any):
    """``CandidateIndex`` for ``kind="exact"``, else ``FaissIndex(vectors, node_index, kind, **params)``."""
    if kind == "exact":
        from biobridge.retrieval.index import CandidateIndex

        if params:
            raise TypeError(f"the exact index takes no parameters, got {sorted(params)}")
        return CandidateIndex(vectors, node_index)
    return FaissIndex(vectors, node_index, kind=kind, **params)
