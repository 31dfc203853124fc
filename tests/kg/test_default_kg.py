from __future__ import annotations

import numpy as np
import pandas as pd

from biobridge.kg.default_kg import FORWARD_RELATIONS
from biobridge.kg.drug_salts import largest_fragment

GO_TYPES = {"biological_process", "molecular_function", "cellular_component"}


def _node(kg, node_type, node_id):
    return kg.nodes.loc[kg.lookup(node_type, node_id)]


def test_build_is_fast(default_kg_timed):
    _, seconds = default_kg_timed
    assert seconds < 30


def test_node_counts(default_kg):
    counts = default_kg.nodes["node_type"].value_counts().to_dict()
    assert counts == {
        "protein": 17459 + 71,
        "biological_process": 12441,
        "molecular_function": 4496,
        "cellular_component": 1819,
        "drug": 1516,
        "disease": 8691 + 1847,
    }
    assert default_kg.modalities["protein"] == "protein"
    assert default_kg.modalities["drug"] == "molecule"
    assert {default_kg.modalities[t] for t in GO_TYPES | {"disease"}} == {"text"}


def test_triple_counts_and_reverses(default_kg):
    t = default_kg.triples
    counts = t["relation"].value_counts().to_dict()
    assert counts["interacts_with"] == 283987  # 330,033 annotations minus 46,046 evidence duplicates
    assert counts["target"] == 3112 - 152 - 183  # minus duplicate rows, minus targets without sequence
    assert counts["indication"] == 9296
    assert counts["associated_with"] == 12064
    assert counts["parent_child"] == 28915
    for rel in FORWARD_RELATIONS:
        assert counts[f"rev_{rel}"] == counts[rel]
    assert not t.duplicated().any()
    rev = t.assign(relation=t["relation"].map(default_kg.reverse_relations)).rename(
        columns={"head": "tail", "tail": "head"}
    )
    both = t.merge(rev, on=["head", "relation", "tail"], how="left", indicator=True)
    assert (both["_merge"] == "both").all()


def test_relation_endpoint_types(default_kg):
    types = default_kg.node_type_array()
    t = default_kg.triples
    expect = {
        "interacts_with": ({"protein"}, GO_TYPES),
        "parent_child": (GO_TYPES, GO_TYPES),
        "target": ({"drug"}, {"protein"}),
        "indication": ({"drug"}, {"disease"}),
        "associated_with": ({"disease"}, {"protein"}),
    }
    for rel, (heads, tails) in expect.items():
        sub = t[t["relation"] == rel]
        assert set(types[sub["head"]]) == heads, rel
        assert set(types[sub["tail"]]) == tails, rel
    pc = t[t["relation"] == "parent_child"]
    assert (types[pc["head"]] == types[pc["tail"]]).all()  # GO is_a/part_of never crosses aspects here


def test_nodes_sorted_and_features(default_kg):
    nodes = default_kg.nodes
    key = nodes["node_type"] + "\t" + nodes["node_id"]
    assert key.is_monotonic_increasing
    assert (nodes["feature"] != "").all()
    assert _node(default_kg, "protein", "P20309")["name"] == "CHRM3"
    assert _node(default_kg, "protein", "O09800")["name"] == "Envelope glycoprotein"  # extra target
    assert _node(default_kg, "biological_process", "GO:0000002")["feature"] == (
        "Name: mitochondrial genome maintenance. Definition: The maintenance of the structure and integrity "
        "of the mitochondrial genome; includes replication and segregation of the mitochondrial chromosome."
    )
    assert _node(default_kg, "cellular_component", "GO:0120199")["feature"] == (
        "Name: cone photoreceptor outer segment."
    )
    assert _node(default_kg, "disease", "OMIM:100100")["feature"] == "Name: Prune belly syndrome."
    assert default_kg.provenance["go_terms_without_definition"] == 2980
    assert default_kg.provenance["hpo_release"] == "2025-01-16"


def test_go_terms_all_annotated(default_kg):
    types = default_kg.node_type_array()
    go_nodes = np.flatnonzero(np.isin(types, list(GO_TYPES)))
    t = default_kg.triples
    annotated = t.loc[t["relation"] == "interacts_with", "tail"].unique()
    assert set(go_nodes) == set(annotated)


def test_indication_ids_and_names(default_kg):
    angina = _node(default_kg, "disease", "UMLS:C0002962")
    # three names share this CUI; the most frequent one wins
    assert angina["name"] == "Chronic Angina Pectoris"
    multi = default_kg.provenance["indication_cui_names"]
    assert len(multi) == 69
    assert multi["C0002962"]["others"] == ["Acute Angina Pectoris", "Angina"]
    no_cui = _node(default_kg, "disease", "INDICATION:Acute Thromboembolic Stroke")
    assert no_cui["feature"] == "Name: Acute Thromboembolic Stroke."
    assert default_kg.provenance["indication_nodes_without_cui"] == 783


def test_salts_reduced_and_recorded(default_kg):
    drug = _node(default_kg, "drug", "4")
    assert drug["name"] == "levobupivacaine"
    assert drug["feature"] == "CCCCN1CCCC[C@H]1C(=O)Nc1c(C)cccc1C"
    prov = default_kg.provenance
    assert prov["smiles_reduced_count"] == len(prov["smiles_reduced"]) == 515
    assert ["4", "CCCCN1CCCC[C@H]1C(=O)Nc1c(C)cccc1C.Cl", "CCCCN1CCCC[C@H]1C(=O)Nc1c(C)cccc1C"] in prov[
        "smiles_reduced"
    ]
    kept_whole = set(prov["smiles_multi_fragment_kept_whole"]["inorganic"])
    drugs = default_kg.nodes[default_kg.nodes["node_type"] == "drug"]
    dotted = set(drugs.loc[drugs["feature"].str.contains(".", regex=False), "node_id"])
    assert dotted == kept_whole and len(kept_whole) == 18
    assert _node(default_kg, "drug", "4243")["feature"] == "[F-].[Na+]"  # sodium fluoride stays whole


def test_largest_fragment_rules():
    assert largest_fragment("CCO") == ("CCO", "single", False)
    assert largest_fragment("CCCCO.Cl") == ("CCCCO", "reduced", False)
    assert largest_fragment("[K+].[I-]") == ("[K+].[I-]", "inorganic", False)
    assert largest_fragment("C1CC.Cl")[1] == "unparsable"
    smiles, status, tie = largest_fragment("CCN.CCO")
    assert status == "reduced" and tie and smiles == "CCN"  # equal size: alphabetically first


def test_dropped_edges_counted(default_kg):
    dropped = default_kg.provenance["dropped"]
    assert dropped["drug_protein: target without sequence"]["count"] == 183
    assert dropped["go_parents: not annotated"]["count"] == 85713 - 28915
    assert all(v["count"] > 0 and v["reason"] for v in dropped.values())
    merged = default_kg.provenance["merged_duplicates"]
    assert merged["drug_protein (same drug and target, other action/source)"] == 152


def test_save_load_round_trip(default_kg, tmp_path, small_kg):
    small_kg.save(tmp_path / "kg")
    from biobridge.kg.graph import KnowledgeGraph

    back = KnowledgeGraph.load(tmp_path / "kg")
    assert back.content_hash() == small_kg.content_hash()
    pd.testing.assert_frame_equal(back.nodes, small_kg.nodes)
