"""Candidate smoothing: a query's scores spread to each candidate's most similar candidates.

Many tails come in families whose members share their heads' evidence: numbered subtypes of one disease
("Parkinson disease 2", "... 4"), neighbouring GO terms, paralogous targets, analogous drugs. A vote that
finds one member of a family says little about the others, as each has few training edges of its own. With
``s(q, .)`` a query's scores over the candidate pool (one part's z-scores, as the fusion mixes them):

    spread(q, c) = sum over the k candidates c' most similar to c of  cos(e_c, e_c')_+ * (s(q, c') - min s(q, .))
    s'(q, c) = s(q, c) + alpha * z(spread(q, .))(c)

with ``e`` the candidates' frozen encoder embeddings (text for diseases and GO terms, the protein encoder's
vector, the molecule encoder's), ``z`` the per-query standardisation (mean 0, standard deviation 1) and
``alpha`` chosen per task on validation heads by the tuned fusion (0: no smoothing). Candidates without an
embedding neither spread nor receive. Only candidates are compared, never queries, so the step is the same for
KG nodes and new items and uses no test edge.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from biobridge.baselines.tuned_fusion import standardise_rows

__all__ = ["CandidateSmoothing"]


class CandidateSmoothing:
    """The ``k``-nearest-candidate graph of each pool (cosine of frozen embeddings from ``table``), kept once
    built, and the spread of scores over it (see the module docstring)."""

    def __init__(self, table, k: int = 10, block: int = 2048) -> None:
        if k < 1:
            raise ValueError(f"smoothing needs k >= 1 neighbours, got {k}")
        self.table = table
        self.k = int(k)
        self.block = int(block)
        self._graphs: dict[tuple[str, bytes], sp.csr_matrix] = {}

    @property
    def settings(self) -> dict:
        return {"k": self.k, "similarity": "cosine of the candidates' frozen embeddings, clipped at 0"}

    def graph(self, node_type: str, candidate_nodes: np.ndarray) -> sp.csr_matrix:
        """``(C, C)`` csr: row ``c`` holds the clipped cosines of its ``k`` most similar other candidates."""
        nodes = np.ascontiguousarray(candidate_nodes, dtype=np.int64)
        key = (node_type, nodes.tobytes())
        if key not in self._graphs:  # k entries per candidate: every pool of a KG's tasks fits
            self._graphs[key] = self._build(node_type, nodes)
        return self._graphs[key]

    def _build(self, node_type: str, nodes: np.ndarray) -> sp.csr_matrix:
        n = len(nodes)
        embedded = np.flatnonzero(self.table.has_embedding(nodes))
        k = min(self.k, len(embedded) - 1)
        if k < 1:
            return sp.csr_matrix((n, n), dtype=np.float32)
        vectors = torch.nn.functional.normalize(self.table.raw(node_type, nodes[embedded]).float(), dim=1)
        rows, cols, values = [], [], []
        with torch.inference_mode():
            for start in range(0, len(embedded), self.block):
                sims = vectors[start : start + self.block] @ vectors.T
                own = torch.arange(start, start + len(sims))
                sims[torch.arange(len(sims)), own] = -float("inf")  # never its own neighbour
                top, where = torch.topk(sims, k, dim=1)
                rows.append(np.repeat(embedded[start : start + len(sims)], k))
                cols.append(embedded[where.numpy().ravel()])
                values.append(top.clamp(min=0).numpy().ravel())
        values = np.concatenate(values).astype(np.float32)
        keep = values > 0
        return sp.csr_matrix(
            (values[keep], (np.concatenate(rows)[keep], np.concatenate(cols)[keep])), shape=(n, n)
        )

    def spread(self, scores: np.ndarray, node_type: str, candidate_nodes: np.ndarray) -> np.ndarray:
        """``z(spread(q, .))`` for each row of ``scores`` ``(queries, C)`` over ``candidate_nodes``."""
        scores = np.asarray(scores, dtype=np.float32)
        shifted = scores - scores.min(axis=1, keepdims=True)
        spread = np.asarray(self.graph(node_type, candidate_nodes) @ shifted.T).T
        return standardise_rows(spread)

    def smooth(
        self, scores: np.ndarray, alpha: float, node_type: str, candidate_nodes: np.ndarray
    ) -> np.ndarray:
        """``scores + alpha * spread`` (``scores`` itself when ``alpha`` is 0)."""
        if not alpha:
            return scores
        return scores + np.float32(alpha) * self.spread(scores, node_type, candidate_nodes)
