"""Late fusion of retrieval methods by reciprocal rank (RRF, Cormack et al. 2009).

``score(q, c) = sum_i w_i / (k + rank_i(q, c))`` where ``rank_i`` is the rank (1 = best, ties get their mean
rank) of candidate ``c`` among the candidates of query ``q`` under method ``i``. Parameter-free apart from
``k`` (60, the usual value) and the weights (equal by default): nothing is tuned on test queries. Fusing the
bridge with feature-kNN keeps the result inductive when both parts are.

If a part raises ``NotApplicableError`` the fusion does too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biobridge.evaluation.tasks import Task

__all__ = ["RankFusionScorer"]


class RankFusionScorer:
    def __init__(
        self,
        scorers: Sequence,
        weights: Sequence[float] | None = None,
        k: float = 60.0,
        name: str | None = None,
    ) -> None:
        if not scorers:
            raise ValueError("at least one scorer is needed")
        self.scorers = list(scorers)
        self.weights = [1.0] * len(self.scorers) if weights is None else [float(w) for w in weights]
        if len(self.weights) != len(self.scorers):
            raise ValueError("one weight per scorer")
        if k <= 0:
            raise ValueError("k must be > 0")
        self.k = float(k)
        self.name = name or "+".join(s.name for s in self.scorers)

    @property
    def settings(self) -> dict:
        return {
            "fusion": "reciprocal rank",
            "k": self.k,
            "parts": [s.name for s in self.scorers],
            "weights": self.weights,
        }

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        from scipy.stats import rankdata  # imported here: scipy.stats costs every command ~1 s at start-up

        out = np.zeros((len(query_nodes), len(candidate_nodes)), dtype=np.float64)
        for scorer, w in zip(self.scorers, self.weights, strict=True):
            s = np.asarray(scorer.score(task, query_nodes, candidate_nodes), dtype=np.float64)
            ranks = rankdata(-s, method="average", axis=1)  # 1 = best
            out += w / (self.k + ranks)
        return out.astype(np.float32)
