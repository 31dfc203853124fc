from __future__ import annotations

import time

import numpy as np
import pytest

from biobridge.kg.negatives import NegativeSampler
from biobridge.kg.split import split_kg


@pytest.fixture(scope="module")
def setup(small_kg):
    split = split_kg(small_kg, "inductive", 0.1, seed=42)
    train = split.train_triples(small_kg)
    types = small_kg.node_type_array()
    sampler = NegativeSampler(
        types,
        train["head"].to_numpy(),
        train["relation"].to_numpy(),
        train["tail"].to_numpy(),
        split.train_nodes(small_kg),
    )
    return small_kg, split, train, sampler


def test_negatives_valid(setup):
    kg, split, train, sampler = setup
    heads = train["head"].to_numpy()
    tail_types = kg.node_type_array()[train["tail"].to_numpy()]
    neg = sampler.sample(heads, tail_types, k=5, pool_size=50, rng=np.random.default_rng(0))
    assert neg.shape == (len(train), 5) and neg.dtype == np.int64
    assert (kg.node_type_array()[neg] == tail_types[:, None]).all()
    linked = set(zip(train["head"], train["tail"], strict=True))
    assert not any((h, n) in linked for h, row in zip(heads, neg, strict=True) for n in row)
    assert not (neg == heads[:, None]).any()
    assert np.isin(neg, split.train_nodes(kg)).all()
    assert not np.isin(neg, split.held_out_nodes).any()
    srt = np.sort(neg, axis=1)
    assert (srt[:, 1:] != srt[:, :-1]).all()  # distinct within a row


def test_negatives_seeded(setup):
    kg, _, train, sampler = setup
    heads = train["head"].to_numpy()[:500]
    codes = sampler._as_codes(kg.node_type_array()[train["tail"].to_numpy()[:500]])
    a = sampler.sample(heads, codes, 5, 50, np.random.default_rng(1))
    b = sampler.sample(heads, codes, 5, 50, np.random.default_rng(1))
    c = sampler.sample(heads, codes, 5, 50, np.random.default_rng(2))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_uniform_over_valid_candidates():
    # head 0 (type a) is linked to nodes 1, 2 of type b; valid negatives: 3, 4, 5 (6 is not a training node)
    types = np.array(["a", "b", "b", "b", "b", "b", "b"])
    sampler = NegativeSampler(types, np.array([0, 0]), None, np.array([1, 2]), np.arange(6))
    neg = sampler.sample(np.zeros(30000, np.int64), np.full(30000, "b"), 1, 10, np.random.default_rng(0))
    values, counts = np.unique(neg, return_counts=True)
    assert values.tolist() == [3, 4, 5]
    assert np.allclose(counts / 30000, 1 / 3, atol=0.02)
    # fewer valid negatives than k: all of them, then repeats
    few = sampler.sample(np.array([0]), np.array(["b"]), 5, 10, np.random.default_rng(0))
    assert set(few[0]) == {3, 4, 5}
    assert sampler.num_valid(np.array([0, 1]), np.array([1, 1])).tolist() == [3, 4]


def test_no_valid_negative_raises():
    types = np.array(["a", "b", "b"])
    sampler = NegativeSampler(types, np.array([0, 0]), None, np.array([1, 2]), np.arange(3))
    with pytest.raises(ValueError, match="no valid negative of type 'b' for head 0"):
        sampler.sample(np.array([0]), np.array([1]), 1, 4, np.random.default_rng(0))
    with pytest.raises(KeyError, match="unknown node types"):
        sampler.sample(np.array([0]), np.array(["c"]), 1, 4, np.random.default_rng(0))


def test_million_rows_fast(default_kg):
    split = split_kg(default_kg, "paper", 0.1, seed=42)
    train = split.train_triples(default_kg)
    types = default_kg.node_type_array()
    sampler = NegativeSampler(
        types, train["head"].to_numpy(), None, train["tail"].to_numpy(), split.train_nodes(default_kg)
    )
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(train), 1_000_000)
    heads = train["head"].to_numpy()[rows]
    codes = sampler._as_codes(types[train["tail"].to_numpy()[rows]])
    t0 = time.perf_counter()
    neg = sampler.sample(heads, codes, 5, 100, rng)
    elapsed = time.perf_counter() - t0
    assert elapsed < 6, elapsed  # about 1 s on 2 cores; loose bound for busy CI machines
    assert (sampler.node_type_codes[neg] == codes[:, None]).all()
