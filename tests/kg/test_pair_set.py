import numpy as np

from biobridge.kg.pair_set import PairSet


def test_contains_matches_a_python_set_on_random_pairs():
    rng = np.random.default_rng(0)
    n = 5_000
    a, b = rng.integers(0, n, 20_000), rng.integers(0, n, 20_000)
    pairs = PairSet(a, b, n)
    truth = set(zip(a.tolist(), b.tolist(), strict=True))
    assert len(pairs) == len(truth)
    # queries: every stored pair, its reverse, and fresh random pairs (mostly absent)
    qa = np.concatenate([a, b, rng.integers(0, n, 50_000)])
    qb = np.concatenate([b, a, rng.integers(0, n, 50_000)])
    got = pairs.contains(qa, qb)
    expected = np.array([(x, y) in truth for x, y in zip(qa.tolist(), qb.tolist(), strict=True)])
    np.testing.assert_array_equal(got, expected)
    assert got[: len(a)].all() and not expected.all()


def test_contains_broadcasts_and_keeps_the_shape():
    pairs = PairSet(np.array([0, 1, 2]), np.array([5, 6, 7]), num_nodes=10)
    got = pairs.contains(np.array([[0], [1]]), np.array([[5, 6, 7]]))
    np.testing.assert_array_equal(got, [[True, False, False], [False, True, False]])


def test_an_empty_set_contains_nothing():
    pairs = PairSet(np.array([], np.int64), np.array([], np.int64), num_nodes=10)
    assert len(pairs) == 0
    assert not pairs.contains(np.arange(10), np.arange(10)).any()


def test_block_answers_every_pair_of_two_lists_like_contains():
    rng = np.random.default_rng(1)
    n = 300
    a, b = rng.integers(0, n, 4_000), rng.integers(0, n, 4_000)
    pairs = PairSet(a, b, n)
    # repeated nodes on both sides, as in a training batch; stored pairs among them
    first = np.concatenate([a[:50], rng.integers(0, n, 30), a[:5]])
    second = np.concatenate([b[:50], rng.integers(0, n, 40)])
    got = pairs.block(first, second)
    assert got.shape == (len(first), len(second)) and got.dtype == bool
    np.testing.assert_array_equal(got, pairs.contains(first[:, None], second[None, :]))
    assert got[np.arange(50), np.arange(50)].all()
    empty = PairSet(np.array([], np.int64), np.array([], np.int64), num_nodes=10)
    assert not empty.block(np.arange(10), np.arange(3)).any()
