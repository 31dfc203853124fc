"""Reciprocal-rank fusion: hand-computed scores."""

import numpy as np
import pytest

from biobridge.baselines.rank_fusion import RankFusionScorer
from biobridge.evaluation.scorer import NotApplicableError
from biobridge.evaluation.tasks import Task

TASK = Task("Prot2BP", "protein", "interacts_with", "biological_process")


class Fixed:
    def __init__(self, rows, name):
        self.rows = np.asarray(rows, dtype=np.float32)
        self.name = name

    def score(self, task, query_nodes, candidate_nodes):
        return self.rows


class Never:
    name = "never"

    def score(self, task, query_nodes, candidate_nodes):
        raise NotApplicableError("no")


def test_reciprocal_rank_fusion_by_hand():
    a = Fixed([[0.9, 0.5, 0.1]], "a")  # ranks 1 2 3
    b = Fixed([[0.0, 2.0, 2.0]], "b")  # ranks 3 1.5 1.5 (ties share their mean rank)
    fused = RankFusionScorer([a, b], k=1.0)
    s = fused.score(TASK, np.array([0]), np.array([4, 5, 6]))
    np.testing.assert_allclose(s, [[1 / 2 + 1 / 4, 1 / 3 + 1 / 2.5, 1 / 4 + 1 / 2.5]], rtol=1e-6)
    assert fused.name == "a+b" and s.dtype == np.float32
    weighted = RankFusionScorer([a, b], weights=[2.0, 0.0], k=1.0).score(TASK, np.array([0]), np.arange(3))
    np.testing.assert_allclose(weighted, [[1.0, 2 / 3, 0.5]], rtol=1e-6)


def test_not_applicable_part_makes_the_fusion_not_applicable():
    with pytest.raises(NotApplicableError):
        RankFusionScorer([Fixed([[1.0]], "a"), Never()]).score(TASK, np.array([0]), np.array([1]))
    with pytest.raises(ValueError):
        RankFusionScorer([Fixed([[1.0]], "a")], weights=[1.0, 2.0])
