"""Score fusion with validation-tuned weights: the grid, the row standardisation, the choice of weights."""

import numpy as np
import pytest

from biobridge.baselines.tuned_fusion import (
    TunedScoreFusion,
    _bagged_weights,
    _neighbourhood,
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


class _Gate(MatrixScorer):
    """A noise part that is silent for the even-numbered queries."""

    def silent(self, task, query_nodes):
        return np.asarray(query_nodes) % 2 == 0


def _kg_and_gold():
    """A tiny KG with 120 proteins, its split and the (node, node) matrix of its edges."""
    kg, split = random_kg(0, n_prot=120)
    gold = np.zeros((kg.num_nodes, kg.num_nodes), np.float32)
    gold[kg.triples["head"].to_numpy(), kg.triples["tail"].to_numpy()] = 1.0
    return kg, split, gold


def test_a_gated_task_gets_fallback_weights_for_the_queries_the_gate_is_silent_for():
    kg, split, gold = _kg_and_gold()
    n, rng = kg.num_nodes, np.random.default_rng(0)
    even = (np.arange(n) % 2 == 0)[:, None]
    # "odd" knows the answers of odd queries only, "even" of even ones; the gate is noise
    good = gold + 0.01 * rng.random((n, n))
    odd_part = MatrixScorer(np.where(even, rng.random((n, n)), good), "odd")
    even_part = MatrixScorer(np.where(even, good, rng.random((n, n))), "even")
    gate = _Gate(rng.random((n, n)), "gate")
    tuned = tune_fusion_weights(
        kg, split, [odd_part, even_part, gate], [PROT2BP], step=0.5, gate="gate", min_group=3
    )
    entry = tuned["Prot2BP"]
    assert entry["weights"] == [1.0, 0.0, 0.0]
    assert entry["fallback"]["weights"] == [0.0, 1.0, 0.0]
    assert entry["n_queries"] + entry["fallback"]["n_queries"] > 6
    assert entry["validation_mrr_both"] == pytest.approx(1.0)
    check = entry["fallback_check"]
    assert check["adopted"] and check["held_out_mrr_fallback"] > check["held_out_mrr_main"]
    # one weight vector cannot do both
    single = tune_fusion_weights(kg, split, [odd_part, even_part, gate], [PROT2BP], step=0.5)["Prot2BP"]
    assert "fallback" not in single and single["validation_mrr"] < entry["validation_mrr_both"]

    fused = TunedScoreFusion(
        [odd_part, even_part, gate],
        {"Prot2BP": entry["weights"]},
        name="mix",
        fallback={"Prot2BP": entry["fallback"]["weights"]},
        gate="gate",
    )
    q, c = np.array([0, 1, 2, 3]), np.arange(120, 160)
    scores = fused.score(PROT2BP, q, c)
    np.testing.assert_allclose(scores[1::2], standardise_rows(odd_part.score(PROT2BP, q[1::2], c)), atol=1e-6)
    np.testing.assert_allclose(scores[::2], standardise_rows(even_part.score(PROT2BP, q[::2], c)), atol=1e-6)
    assert fused.settings["gate"] == "gate" and fused.settings["fallback_weights"] == {"Prot2BP": [0, 1, 0]}
    with pytest.raises(ValueError, match="need a gate"):
        TunedScoreFusion([odd_part, gate], {}, name="m", fallback={"Prot2BP": [0, 1]}, gate="absent")


def test_no_fallback_when_a_group_is_too_small():
    kg, split = random_kg(0)
    rng = np.random.default_rng(1)
    n = kg.num_nodes
    parts = [MatrixScorer(rng.random((n, n)), "a"), _Gate(rng.random((n, n)), "gate")]
    entry = tune_fusion_weights(kg, split, parts, [PROT2BP], step=0.5, gate="gate", min_group=1000)["Prot2BP"]
    assert "fallback" not in entry


def test_a_fallback_that_does_not_help_on_held_out_silent_queries_is_rejected():
    kg, split, gold = _kg_and_gold()
    n, rng = kg.num_nodes, np.random.default_rng(0)
    # one part knows every query's answers: the silent queries need no weights of their own
    parts = [
        MatrixScorer(rng.random((n, n)), "noise"),
        MatrixScorer(gold + 0.01 * rng.random((n, n)), "oracle"),
        _Gate(rng.random((n, n)), "gate"),
    ]
    entry = tune_fusion_weights(kg, split, parts, [PROT2BP], step=0.5, gate="gate", min_group=3)["Prot2BP"]
    check = entry["fallback_check"]
    assert not check["adopted"] and check["held_out_mrr_fallback"] == pytest.approx(
        check["held_out_mrr_main"]
    )
    assert "fallback" not in entry and entry["weights"] == [0.0, 1.0, 0.0]
    ungated = tune_fusion_weights(kg, split, parts, [PROT2BP], step=0.5)["Prot2BP"]
    assert entry["n_queries"] == ungated["n_queries"] and entry["validation_mrr"] == ungated["validation_mrr"]


def test_bagged_weights_are_the_mean_of_the_bootstrap_winners():
    # two grid points, five queries with one gold pair each (query 4 has two): "a" ranks queries 0-2 first,
    # "b" queries 3-4; each bootstrap resample picks the point with the higher MRR over its draws
    usable = [(1.0, 0.0), (0.0, 1.0)]
    query_of = np.array([0, 1, 2, 3, 4, 4])
    ranks_a = np.array([1.0, 1.0, 1.0, 4.0, 4.0, 8.0])
    ranks_b = np.array([3.0, 3.0, 3.0, 1.0, 1.0, 1.0])
    reciprocal = [1.0 / ranks_a, 1.0 / ranks_b]
    weights = _bagged_weights(reciprocal, query_of, usable, 5, bagging=40, seed=3)
    draws = np.random.default_rng(3).integers(0, 5, size=(40, 5))
    wins_b = 0
    for draw in draws:
        pairs = np.concatenate([np.flatnonzero(query_of == q) for q in draw])
        mrr = [np.mean(1.0 / r[pairs]) for r in (ranks_a, ranks_b)]
        wins_b += int(mrr[1] > mrr[0])
    assert 0 < wins_b < 40  # the resamples disagree, so the mean lies inside the segment
    assert weights == pytest.approx((1 - wins_b / 40, wins_b / 40), abs=1e-6)
    assert _bagged_weights(reciprocal, query_of, usable, 5, bagging=40, seed=3) == weights  # seeded


def test_the_neighbourhood_of_a_grid_point_holds_the_finer_points_around_it():
    # moves of 0.25 from (1, 0, 0), the third part not applicable: never given weight
    near = _neighbourhood((1.0, 0.0, 0.0), [True, True, False], 0.25, known={(0.5, 0.5, 0.0)})
    assert near == [(0.75, 0.25, 0.0)]
    near = _neighbourhood((0.5, 0.5, 0.0), [True, True, True], 0.25, known=set())
    assert (0.75, 0.25, 0.0) in near and (0.25, 0.5, 0.25) in near and (0.5, 0.0, 0.5) in near
    assert (0.5, 0.5, 0.0) not in near and len(near) == len(set(near))
    assert all(abs(sum(w) - 1) < 1e-9 and min(w) >= 0 for w in near)


def test_bagging_shares_the_weight_between_equally_good_parts_and_keeps_it_off_noise():
    kg, split, gold = _kg_and_gold()
    n, rng = kg.num_nodes, np.random.default_rng(0)
    # two equally informative parts with independent noise (neither alone ranks every gold first), and noise
    parts = [
        MatrixScorer(gold + 3 * rng.random((n, n)), "one"),
        MatrixScorer(gold + 3 * rng.random((n, n)), "other"),
        MatrixScorer(rng.random((n, n)), "noise"),
    ]
    single = tune_fusion_weights(kg, split, parts, [PROT2BP], step=0.5)["Prot2BP"]
    bagged = tune_fusion_weights(kg, split, parts, [PROT2BP], step=0.5, bagging=50)["Prot2BP"]
    w = bagged["weights"]
    assert sum(w) == pytest.approx(1.0) and w[2] < 0.1 and min(w[0], w[1]) > 0.2
    assert bagged["validation_mrr"] > max(single["validation_mrr_alone"].values())
    assert bagged["validation_mrr_grid"] == pytest.approx(single["validation_mrr_grid"])
