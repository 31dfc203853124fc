"""KnowledgeGraph views on a hand-built tiny KG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biobridge.kg.graph import KnowledgeGraph


@pytest.fixture()
def tiny_kg() -> KnowledgeGraph:
    nodes = pd.DataFrame(
        {
            "node_index": np.arange(6, dtype=np.int64),
            "node_type": ["protein", "protein", "protein", "drug", "drug", "disease"],
            "node_id": ["P1", "P2", "P3", "D1", "D2", "X1"],
            "name": ["P1", "P2", "P3", "D1", "D2", "X1"],
            "feature": ["MK", "MA", "MS", "C", "CC", "Name: X1."],
        }
    )
    # deliberately unsorted; ppi is symmetric (its own reverse)
    triples = pd.DataFrame(
        [
            (4, "target", 0),
            (3, "target", 2),
            (0, "rev_target", 4),
            (2, "rev_target", 3),
            (1, "ppi", 0),
            (0, "ppi", 1),
            (3, "indication", 5),
            (5, "rev_indication", 3),
        ],
        columns=["head", "relation", "tail"],
    )
    return KnowledgeGraph(
        nodes=nodes,
        triples=triples,
        modalities={"protein": "protein", "drug": "molecule", "disease": "text"},
        reverse_relations={
            "target": "rev_target",
            "rev_target": "target",
            "indication": "rev_indication",
            "rev_indication": "indication",
            "ppi": "ppi",
        },
    )


@pytest.mark.parametrize(
    ("node_type", "relation", "expected"),
    [
        ("protein", "target", [0, 2]),
        ("protein", "rev_target", [0, 2]),  # the reverse name gives the same nodes
        ("drug", "target", [3, 4]),
        ("drug", "rev_target", [3, 4]),
        ("protein", "ppi", [0, 1]),  # symmetric relation
        ("drug", "ppi", []),
        ("drug", "indication", [3]),
        ("disease", "rev_indication", [5]),
        ("protein", "indication", []),
        ("protein", "no_such_relation", []),
    ],
)
def test_nodes_in_relation(tiny_kg, node_type, relation, expected):
    got = tiny_kg.nodes_in_relation(node_type, relation)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.asarray(expected, dtype=np.int64))


def test_nodes_in_relation_unknown_type_is_the_nodes_of_type_error(tiny_kg):
    with pytest.raises(KeyError) as expected:
        tiny_kg.nodes_of_type("gene")
    with pytest.raises(KeyError) as got:
        tiny_kg.nodes_in_relation("gene", "target")
    assert got.value.args == expected.value.args


def test_nodes_in_relation_matches_a_brute_force_scan(small_kg):
    types = small_kg.node_type_array()
    for relation in small_kg.relations:
        pair = {relation, small_kg.reverse_relations[relation]}
        t = small_kg.triples[small_kg.triples["relation"].isin(sorted(pair))]
        ends = set(t["head"]) | set(t["tail"])
        for node_type in small_kg.node_types:
            want = sorted(i for i in ends if types[i] == node_type)
            assert small_kg.nodes_in_relation(node_type, relation).tolist() == want
