import numpy as np
import pytest

from biobridge.evaluation import ranks as ranks_module
from biobridge.evaluation.metrics import top_k_gold_hits
from biobridge.evaluation.ranks import (
    GoldCells,
    filtered_rank_bounds,
    filtered_realistic_ranks,
    gold_rank_statistics,
)


def brute_force(scores, gold):
    q_idx, opt, pess = [], [], []
    for i in range(scores.shape[0]):
        non_gold = scores[i][~gold[i]]
        for j in np.flatnonzero(gold[i]):
            q_idx.append(i)
            opt.append(1 + int((non_gold > scores[i, j]).sum()))
            pess.append(1 + int((non_gold >= scores[i, j]).sum()))
    return np.array(q_idx), np.array(opt), np.array(pess)


def test_tie_example_from_the_brief():
    scores = np.array([[0.9, 0.5, 0.5, 0.1]])
    gold = np.array([[False, True, False, False]])
    q, opt, pess = filtered_rank_bounds(scores, gold)
    assert q.tolist() == [0] and opt.tolist() == [2] and pess.tolist() == [3]
    q, rank = filtered_realistic_ranks(scores, gold)
    assert rank.tolist() == [2.5]
    assert rank.dtype == np.float64 and q.dtype == np.int64


def test_other_golds_are_filtered():
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
    gold = np.array([[True, False, True, False, True]])
    q, rank = filtered_realistic_ranks(scores, gold)
    # gold 0.9: nothing above -> 1; gold 0.7: only 0.8 (non-gold) above -> 2; gold 0.5: 0.8, 0.6 above -> 3
    assert q.tolist() == [0, 0, 0]
    assert rank.tolist() == [1.0, 2.0, 3.0]


def test_tied_golds_do_not_count_against_each_other():
    scores = np.array([[0.5, 0.5, 0.5, 0.2]])
    gold = np.array([[True, True, False, False]])
    _, opt, pess = filtered_rank_bounds(scores, gold)
    assert opt.tolist() == [1, 1] and pess.tolist() == [2, 2]


def test_several_queries_and_row_order():
    scores = np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]])
    gold = np.array([[True, False, False], [False, True, True]])
    q, rank = filtered_realistic_ranks(scores, gold)
    assert q.tolist() == [0, 1, 1]
    assert rank.tolist() == [3.0, 2.0, 2.0]


def test_infinite_scores_and_all_equal():
    scores = np.array([[-np.inf, -np.inf, -np.inf, 1.0], [np.inf, np.inf, 0.0, 0.0]])
    gold = np.array([[True, False, True, False], [False, True, False, True]])
    _, opt, pess = filtered_rank_bounds(scores, gold)
    assert opt.tolist() == [2, 2, 1, 2]
    assert pess.tolist() == [3, 3, 2, 3]
    same = np.zeros((1, 5))
    _, rank = filtered_realistic_ranks(same, np.array([[False, False, True, False, False]]))
    assert rank.tolist() == [3.0]  # (1 + 5) / 2: expected position among 5 tied candidates


def test_nan_raises_and_shapes_checked():
    with pytest.raises(ValueError, match="NaN"):
        filtered_realistic_ranks(np.array([[0.1, np.nan]]), np.array([[True, False]]))
    with pytest.raises(ValueError):
        filtered_realistic_ranks(np.zeros((2, 3)), np.zeros((2, 2), dtype=bool))
    with pytest.raises(ValueError):
        filtered_realistic_ranks(np.zeros((2, 3)), np.zeros((2, 3), dtype=int))


def test_no_gold_gives_empty():
    q, rank = filtered_realistic_ranks(np.zeros((3, 4)), np.zeros((3, 4), dtype=bool))
    assert len(q) == 0 and len(rank) == 0


@pytest.mark.parametrize("block_cells", [1, 7, 1 << 22])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_brute_force_with_ties(monkeypatch, block_cells, dtype):
    monkeypatch.setattr(ranks_module, "_MAX_BLOCK_CELLS", block_cells)
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=(37, 23)), 1).astype(dtype)  # many ties
    scores[0, :5] = np.inf
    scores[1, :5] = -np.inf
    scores[2, :4] = [0.0, -0.0, 0.0, -0.0]  # signed zeros compare equal
    gold = rng.random((37, 23)) < 0.2
    gold[3] = True  # a row of golds only
    q, opt, pess = filtered_rank_bounds(scores, gold)
    q2, opt2, pess2 = brute_force(scores, gold)
    np.testing.assert_array_equal(q, q2)
    np.testing.assert_array_equal(opt, opt2)
    np.testing.assert_array_equal(pess, pess2)


@pytest.mark.parametrize("block_cells", [7, 1 << 22])
def test_gold_cells_located_once_rank_many_score_matrices_alike(monkeypatch, block_cells):
    monkeypatch.setattr(ranks_module, "_MAX_BLOCK_CELLS", block_cells)
    rng = np.random.default_rng(5)
    gold = rng.random((29, 17)) < 0.2
    gold[4] = False  # a row without gold
    cells = GoldCells.of(gold)
    for _ in range(3):
        scores = np.round(rng.normal(size=gold.shape), 1).astype(np.float32)
        want = gold_rank_statistics(scores, gold, ks=(1, 5))
        got = gold_rank_statistics(scores, cells, ks=(1, 5))
        for a, b in zip(
            (want.query_idx, want.gold_col, want.optimistic, want.pessimistic),
            (got.query_idx, got.gold_col, got.optimistic, got.pessimistic),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
        assert all(np.array_equal(want.top_k_hits[k], got.top_k_hits[k]) for k in (1, 5))
        np.testing.assert_array_equal(brute_force(scores, gold)[1], got.optimistic)
    with pytest.raises(ValueError, match="one shape"):
        filtered_realistic_ranks(np.zeros((29, 16)), cells)
    with pytest.raises(ValueError, match="boolean"):
        GoldCells.of(np.zeros((2, 3), dtype=int))


@pytest.mark.parametrize("seed", range(20))
def test_top_k_hits_match_the_stable_top_k_list(monkeypatch, seed):
    """The top-k gold counts from the rank pass equal those of the stably sorted top-k list."""
    rng = np.random.default_rng(seed)
    monkeypatch.setattr(ranks_module, "_MAX_BLOCK_CELLS", int(rng.choice([5, 1 << 22])))
    q, c = int(rng.integers(1, 30)), int(rng.integers(1, 40))
    scores = np.round(rng.normal(size=(q, c)), int(rng.choice([0, 1, 6])))  # from tie-heavy to tie-free
    scores[rng.random((q, c)) < 0.05] = np.inf
    scores[rng.random((q, c)) < 0.05] = -np.inf
    gold = rng.random((q, c)) < rng.choice([0.05, 0.3, 0.9])
    stats = gold_rank_statistics(scores, gold, ks=(1, 3, 10))
    np.testing.assert_array_equal(stats.gold_col, np.nonzero(gold)[1])
    np.testing.assert_array_equal(stats.realistic, filtered_realistic_ranks(scores, gold)[1])
    for k in (1, 3, 10):
        np.testing.assert_array_equal(stats.top_k_hits[k], top_k_gold_hits(scores, gold, k))
