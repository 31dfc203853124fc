"""Graph-context transfer on the tiny hand-made KG: hand-computed contexts and votes."""

import numpy as np
import pytest

from biobridge.baselines.graph_context import GraphContextScorer
from biobridge.evaluation.tasks import Task
from tests.tiny_kg import BP0, BP1, BP2, BP3, D0, D1, P0, P1, P2, P3, FakeSplit, make_kg

PROT2BP = Task("Prot2BP", "protein", "interacts_with", "biological_process")


def test_context_excludes_the_task_relation_and_weights_rare_neighbours(tiny_kg, tiny_split):
    gc = GraphContextScorer(tiny_kg, tiny_split)
    ctx = gc.context(PROT2BP).toarray()
    # training edges of other relations: rev_target P0 -> D0, P1 -> D1 (D1 -> P2 is test)
    assert ctx[P0, D0] == pytest.approx(1.0) and ctx[P1, D1] == pytest.approx(1.0)
    assert ctx[P0, BP0] == 0 and ctx[P1, BP1] == 0  # interacts_with (and its reverse) are left out
    assert np.all(ctx[P3] == 0)  # P3 has no training edge of another relation
    rows = np.linalg.norm(ctx, axis=1)
    assert np.allclose(rows[rows > 0], 1.0)


def test_votes_follow_the_most_similar_context():
    # proteins P0..P3, terms B0..B2, drugs D0, D1. P0 and P1 share drug D0, P2 has drug D1.
    nodes = [("protein", f"P{i}") for i in range(4)] + [("biological_process", f"B{i}") for i in range(3)]
    nodes += [("drug", "D0"), ("drug", "D1")]
    p, b, d = [0, 1, 2, 3], [4, 5, 6], [7, 8]
    edges = [
        (p[1], "interacts_with", b[0]),
        (p[2], "interacts_with", b[1]),
        (p[0], "interacts_with", b[2]),  # the test edge of query P0
        (d[0], "target", p[0]),
        (d[0], "target", p[1]),
        (d[1], "target", p[2]),
        (d[1], "target", p[3]),
    ]
    kg = make_kg(nodes, edges)
    part = np.zeros(len(kg.triples), np.int8)
    part[2] = 1  # P0 -> B2 is test; its reverse (row 7 + 2) is excluded
    part[len(edges) + 2] = 2
    gc = GraphContextScorer(kg, FakeSplit(part), k=1, popularity_weight=0.0)
    scores = gc.score(PROT2BP, np.array([p[0], p[3]]), np.array(b))
    # P0's only neighbour context is D0, shared with P1 (cosine 1) -> B0; P3's is D1, shared with P2 -> B1
    np.testing.assert_allclose(scores, [[1, 0, 0], [0, 1, 0]], atol=1e-6)
    sims, heads = gc.neighbours(PROT2BP, np.array([p[0]]))
    assert heads.tolist() == [[p[1]]]


def test_query_without_context_gets_zero_votes(tiny_kg, tiny_split):
    gc = GraphContextScorer(tiny_kg, tiny_split, popularity_weight=0.0)
    s = gc.score(PROT2BP, np.array([P3]), np.array([BP0, BP1, BP2, BP3]))
    assert np.all(s == 0)
    assert D0 != D1 and P0 != P2  # (fixture sanity)


def test_context_uses_edges_where_the_node_is_the_tail():
    # the paper protocol's held-out node: its own triples are test, the reverse triples pointing at it train
    nodes = [("protein", "P0"), ("protein", "P1"), ("biological_process", "B0"), ("drug", "D0")]
    edges = [(1, "interacts_with", 2), (3, "target", 0), (3, "target", 1)]
    kg = make_kg(nodes, edges)
    part = np.zeros(len(kg.triples), np.int8)
    part[len(edges) + 1] = 1  # (P0, rev_target, D0) is test; (D0, target, P0) stays in training
    gc = GraphContextScorer(kg, FakeSplit(part), k=1, popularity_weight=0.0)
    assert gc.context(PROT2BP)[0, 3] > 0
    np.testing.assert_allclose(gc.score(PROT2BP, np.array([0]), np.array([2])), [[1.0]], atol=1e-6)
