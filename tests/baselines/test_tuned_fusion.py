"""Score fusion with validation-tuned weights: the grid, the row standardisation, the choice of weights."""

import numpy as np
import pytest

from biobridge.baselines.tuned_fusion import (
    TunedScoreFusion,
    simplex_grid,
    standardise_rows,
    tune_fusion_weights,
)
from biobridge.evaluation import evaluate
from biobridge.evaluation.scorer import NotApplicableError
from biobridge.evaluation.tasks import Task
from tests.tiny_kg import MatrixScorer, random_kg

PROT2BP = Task("Prot2BP", "protein", "interacts_with", "biological_process")


def test_simplex_grid():
    grid = simplex_grid(3, 0.5)
    assert grid[0] == (1.0, 0.0, 0.0)
    assert sorted(grid) == sorted(
        [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
    )
    assert len(simplex_grid(4, 0.2)) == 56
    with pytest.raises(ValueError):
        simplex_grid(2, 0.3)


def test_standardise_rows():
    z = standardise_rows(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    np.testing.assert_allclose(z[0], [-1.2247449, 0, 1.2247449], atol=1e-6)
    assert np.all(z[1] == 0)


class _NotApplicable:
    name = "n/a"

    def score(self, task, query_nodes, candidate_nodes):
        raise NotApplicableError("never")


def test_tuning_puts_the_weight_on_the_informative_part_and_the_fusion_scores_with_it():
    kg, split = random_kg(0)
    n = kg.num_nodes
    gold = np.zeros((n, n), np.float32)
    h, t = kg.triples["head"].to_numpy(), kg.triples["tail"].to_numpy()
    gold[h, t] = 1.0
    rng = np.random.default_rng(0)
    oracle = MatrixScorer(gold + 0.01 * rng.random((n, n)), "oracle")
    noise = MatrixScorer(rng.random((n, n)), "noise")
    tuned = tune_fusion_weights(kg, split, [noise, oracle, _NotApplicable()], [PROT2BP], step=0.5)
    entry = tuned["Prot2BP"]
    assert entry["weights"] == [0.0, 1.0, 0.0]
    assert entry["validation_mrr"] == pytest.approx(entry["validation_mrr_alone"]["oracle"])
    assert entry["validation_mrr_alone"]["n/a"] is None
    assert entry["validation_mrr"] > entry["validation_mrr_alone"]["noise"]

    fused = TunedScoreFusion([noise, oracle], {"Prot2BP": [0.25, 0.75]}, name="mix")
    q, c = np.array([0, 1, 2]), np.array([60, 61, 62, 63])
    want = 0.25 * standardise_rows(noise.score(PROT2BP, q, c)) + 0.75 * standardise_rows(
        oracle.score(PROT2BP, q, c)
    )
    np.testing.assert_allclose(fused.score(PROT2BP, q, c), want, atol=1e-6)
    # a task without tuned weights falls back to the first part
    other = Task("Drug2Prot", "drug", "target", "protein")
    np.testing.assert_allclose(
        fused.score(other, q, c), standardise_rows(noise.score(other, q, c)), atol=1e-6
    )
    result = evaluate(kg, split, [fused], tasks=[PROT2BP])
    assert result.tasks["Prot2BP"]["methods"]["mix"]["status"] == "ok"
