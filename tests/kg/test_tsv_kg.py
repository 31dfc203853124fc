from __future__ import annotations

import re

import pytest

from biobridge.kg.graph import KGFormatError
from biobridge.kg.tsv_kg import load_tsv_kg

MODALITIES = {"protein": "protein", "drug": "molecule", "disease": "text"}
NODES = [
    "node_type\tnode_id\tname\tfeature",
    "protein\tP1\tKinase A\tMKTAYIAK",
    "protein\tP2\t\tMSSHHH",
    "drug\tD1\taspirin\tCC(=O)Oc1ccccc1C(=O)O",
    "disease\tX1\tfever\tName: fever.",
]
EDGES = [
    "head_type\thead_id\trelation\ttail_type\ttail_id",
    "drug\tD1\ttarget\tprotein\tP1",
    "drug\tD1\ttarget\tprotein\tP2",
    "protein\tP1\trev_target\tdrug\tD1",  # the reverse of the first edge, listed explicitly
    "drug\tD1\tindication\tdisease\tX1",
    "drug\tD1\ttarget\tprotein\tP1",  # duplicate
    "",
]


def _write(tmp_path, nodes=NODES, edges=EDGES):
    n, e = tmp_path / "nodes.tsv", tmp_path / "edges.tsv"
    n.write_text("\n".join(nodes) + "\n")
    e.write_text("\n".join(edges) + "\n")
    return n, e


def test_happy_path(tmp_path):
    kg = load_tsv_kg(*_write(tmp_path), MODALITIES)
    assert kg.nodes[["node_type", "node_id"]].values.tolist() == [
        ["disease", "X1"],
        ["drug", "D1"],
        ["protein", "P1"],
        ["protein", "P2"],
    ]
    assert kg.nodes.loc[3, "name"] == "P2"  # empty name falls back to the id
    triples = set(map(tuple, kg.triples[["head", "relation", "tail"]].values.tolist()))
    assert triples == {
        (1, "indication", 0),
        (0, "rev_indication", 1),
        (1, "target", 2),
        (1, "target", 3),
        (2, "rev_target", 1),
        (3, "rev_target", 1),
    }
    assert kg.reverse_relations == {
        "indication": "rev_indication",
        "rev_indication": "indication",
        "target": "rev_target",
        "rev_target": "target",
    }
    assert kg.provenance["merged_duplicates"]["triples"] == 10 - 6


def test_columns_in_any_order(tmp_path):
    nodes = ["\t".join(reversed(line.split("\t"))) for line in NODES]
    kg = load_tsv_kg(*_write(tmp_path, nodes=nodes), MODALITIES)
    assert kg.nodes.loc[kg.lookup("drug", "D1"), "feature"] == "CC(=O)Oc1ccccc1C(=O)O"


@pytest.mark.parametrize(
    ("which", "line_no", "bad_line", "problem"),
    [
        ("nodes", 3, "protein\tP2\tMSSHHH", "3 fields, expected 4"),
        ("nodes", 3, "protein\t\tname\tMSSHHH", "empty node_id"),
        ("nodes", 3, "protein\tP2\tname\t", "empty feature"),
        ("nodes", 3, "gene\tG1\tname\tACGT", "unknown node type 'gene'"),
        ("nodes", 3, "protein\tP1\tdup\tMKT", "duplicate node ('protein', 'P1') (first on line 2)"),
        ("edges", 4, "drug\tD1\ttarget\tprotein\tP9", "edge to an unknown node: tail protein 'P9'"),
        ("edges", 4, "drug\tD1\ttarget\tprotein", "4 fields, expected 5"),
        ("edges", 4, "drug\tD1\t\tprotein\tP1", "empty relation"),
        ("edges", 4, "drug\tD1\ttarget\tenzyme\tP1", "unknown tail node type 'enzyme'"),
        ("edges", 4, "drug\tD1\tx\tprotein\tP1\textra", "6 fields, expected 5"),
    ],
)
def test_malformed_rows(tmp_path, which, line_no, bad_line, problem):
    nodes, edges = list(NODES), list(EDGES)
    target = nodes if which == "nodes" else edges
    target[line_no - 1] = bad_line
    n, e = _write(tmp_path, nodes, edges)
    path = n if which == "nodes" else e
    with pytest.raises(KGFormatError, match=re.escape(f"{path}:{line_no}: ") + ".*" + re.escape(problem)):
        load_tsv_kg(n, e, MODALITIES)


def test_bad_header_and_empty_file(tmp_path):
    n, e = _write(tmp_path, nodes=["type\tid\tname\tfeature", *NODES[1:]])
    with pytest.raises(KGFormatError, match=re.escape(f"{n}:1: header")):
        load_tsv_kg(n, e, MODALITIES)
    n.write_text("")
    with pytest.raises(KGFormatError, match="empty file"):
        load_tsv_kg(n, e, MODALITIES)


def test_unknown_modality(tmp_path):
    with pytest.raises(KGFormatError, match="unknown modalities"):
        load_tsv_kg(*_write(tmp_path), {**MODALITIES, "drug": "smiles"})
