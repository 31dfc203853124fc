import math

import numpy as np
import pytest

from biobridge.evaluation.metrics import (
    CANDIDATE_POLICIES,
    DEFINITIONS,
    per_query_recall_precision_at_k,
    precision_at_k,
    rank_metrics,
    recall_at_k,
    top_k_gold_hits,
    top_k_indices,
)


def test_rank_metrics_hand_computed():
    ranks = np.array([1.0, 2.5, 4.0, 10.0, 11.0])
    m = rank_metrics(ranks)
    assert m["mrr"] == pytest.approx((1 + 1 / 2.5 + 1 / 4 + 1 / 10 + 1 / 11) / 5)
    assert m["hits@1"] == pytest.approx(1 / 5)
    assert m["hits@3"] == pytest.approx(2 / 5)  # 2.5 <= 3
    assert m["hits@10"] == pytest.approx(4 / 5)  # 10 <= 10, 11 is not
    assert set(m) == {"mrr", "hits@1", "hits@3", "hits@10"}


def test_rank_metrics_empty_and_invalid():
    m = rank_metrics(np.array([]))
    assert all(math.isnan(v) for v in m.values())
    with pytest.raises(ValueError):
        rank_metrics(np.array([0.5]))


def test_top_k_is_stable_by_candidate_order():
    scores = np.array([[0.2, 0.9, 0.2, 0.9, 0.1]])
    assert top_k_indices(scores, 3).tolist() == [[1, 3, 0]]
    assert top_k_indices(scores, 10).tolist() == [[1, 3, 0, 2, 4]]


def test_recall_and_precision_hand_computed():
    scores = np.array(
        [
            [0.9, 0.8, 0.7, 0.6],  # top-2 = {0, 1}
            [0.1, 0.5, 0.5, 0.9],  # top-2 = {3, 1} (tie 1/2 broken by candidate order)
        ]
    )
    gold = np.array([[True, False, True, False], [False, False, True, False]])
    recall, precision = per_query_recall_precision_at_k(scores, gold, 2)
    assert recall.tolist() == [0.5, 0.0]
    assert precision.tolist() == [0.5, 0.0]
    assert recall_at_k(scores, gold, 2) == pytest.approx(0.25)
    assert precision_at_k(scores, gold, 2) == pytest.approx(0.25)
    assert recall_at_k(scores, gold, 3) == pytest.approx(1.0)
    assert precision_at_k(scores, gold, 3) == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_queries_without_gold_are_ignored_in_means():
    scores = np.array([[0.9, 0.1], [0.9, 0.1]])
    gold = np.array([[True, False], [False, False]])
    recall, _ = per_query_recall_precision_at_k(scores, gold, 1)
    assert recall[0] == 1.0 and math.isnan(recall[1])
    assert recall_at_k(scores, gold, 1) == 1.0
    assert precision_at_k(scores, gold, 1) == 1.0


def test_definitions_are_text():
    for key in ("filtered_realistic_rank", "mrr", "hits@k", "recall@k", "precision@k", "tie_policy"):
        assert isinstance(DEFINITIONS[key], str) and len(DEFINITIONS[key]) > 20
    assert set(CANDIDATE_POLICIES) == {"relation", "all"}


@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_fast_top_k_hits_equal_the_sorted_definition(k):
    rng = np.random.default_rng(k)
    scores = np.round(rng.normal(size=(30, 40)), 1)  # heavy ties
    scores[0] = 0.0  # a row that is one big tie
    gold = rng.random((30, 40)) < 0.3
    expected = np.take_along_axis(gold, top_k_indices(scores, k), axis=1).sum(axis=1)
    np.testing.assert_array_equal(top_k_gold_hits(scores, gold, k), expected)


def test_mrr_by_group_by_hand():
    from biobridge.evaluation.metrics import mrr_by_group

    queries = np.array([1, 1, 2, 3])
    ranks = np.array([1.0, 4.0, 2.0, 5.0])
    out = mrr_by_group(queries, ranks, {1: "a", 2: "b", 3: "a", 9: "c"})
    assert out["a"] == {"mrr": pytest.approx((1 + 0.25 + 0.2) / 3), "n_queries": 2, "n_pairs": 3}
    assert out["b"]["mrr"] == 0.5 and out["c"] == {"mrr": None, "n_queries": 0, "n_pairs": 0}
