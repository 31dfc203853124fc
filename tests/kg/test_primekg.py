"""PrimeKG loader on a small hand-made fixture in PrimeKG's kg.csv format."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from biobridge.kg.graph import KGFormatError, KnowledgeGraph
from biobridge.kg.primekg import DEFAULT_TYPES, load_primekg
from biobridge.kg.primekg_names import identifier, is_symmetric_pairs, node_type_name, relation_name

# PrimeKG index -> (PrimeKG type, name)
NODES = {
    0: ("gene/protein", "TP53"),
    1: ("gene/protein", "BRCA1"),
    2: ("gene/protein", "EGFR"),
    3: ("gene/protein", "NOFEAT"),  # no row in protein.csv
    10: ("drug", "Aspirin"),
    11: ("drug", "Caffeine"),
    20: ("disease", "cancer, breast"),
    21: ("disease", "Disease B"),
    30: ("biological_process", "apoptosis"),
    31: ("biological_process", "cell death"),
    40: ("molecular_function", "kinase activity"),
    50: ("cellular_component", "nucleus"),
    60: ("anatomy", "liver"),
    70: ("effect/phenotype", "headache"),
}
# undirected edges (display_relation, x, y); the fixture writes both directions of each
EDGES = [
    ("ppi", 0, 1),
    ("ppi", 1, 2),
    ("ppi", 0, 3),
    ("interacts with", 0, 30),
    ("interacts with", 31, 1),
    ("interacts with", 40, 2),
    ("interacts with", 50, 0),
    ("parent-child", 30, 31),
    ("parent-child", 20, 21),
    ("target", 10, 0),
    ("target", 11, 3),
    ("enzyme", 2, 11),
    ("indication", 10, 20),
    ("contraindication", 21, 11),
    ("off-label use", 10, 21),
    ("synergistic interaction", 10, 11),
    ("associated with", 20, 1),
    ("associated with", 70, 0),
    ("expression present", 60, 1),
    ("side effect", 10, 70),
]


def _row(rel: str, x: int, y: int) -> dict:
    (xt, xn), (yt, yn) = NODES[x], NODES[y]
    return {
        "relation": rel.replace(" ", "_"),
        "display_relation": rel,
        "x_index": x,
        "x_id": f"ID{x}",
        "x_type": xt,
        "x_name": xn,
        "x_source": "SRC",
        "y_index": y,
        "y_id": f"ID{y}",
        "y_type": yt,
        "y_name": yn,
        "y_source": "SRC",
    }


def write_fixture(root: Path, edges=EDGES, extra_rows=()) -> tuple[Path, Path]:
    rows = [_row(r, x, y) for r, x, y in edges] + [_row(r, y, x) for r, x, y in edges]
    rows += [_row(*e) for e in extra_rows]
    rows.append(_row("indication", 10, 20))  # a repeated row
    kg_csv = root / "kg.csv"
    pd.DataFrame(rows).to_csv(kg_csv, index=False)
    feats = root / "features"
    feats.mkdir()
    pd.DataFrame(
        {"node_index": [0, 1, 2, 99], "sequence": ["MKTAYIAK", "MEEPQSD", "MRPSGTAG", "MAAA"]}
    ).to_csv(feats / "protein.csv", index=False)
    pd.DataFrame(
        {"node_index": [10, 11], "smiles": ["CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C"]}
    ).to_csv(feats / "drug.csv", index=False)
    pd.DataFrame(
        {
            "node_index": [20, 21],
            "name": ["cancer, breast", ""],
            "definition": ["A cancer of the breast.", ""],
        }
    ).to_csv(feats / "disease.csv", index=False)
    pd.DataFrame(
        {"node_index": [30, 31], "name": ["apoptosis", "cell death"], "definition": ["Programmed death.", ""]}
    ).to_csv(feats / "biological_process.csv", index=False)
    pd.DataFrame({"node_index": [40], "name": ["kinase activity"], "definition": ["Adds phosphate."]}).to_csv(
        feats / "molecular_function.csv", index=False
    )
    pd.DataFrame({"node_index": [50], "name": ["nucleus"], "definition": [""]}).to_csv(
        feats / "cellular_component.csv", index=False
    )
    return kg_csv, feats


@pytest.fixture()
def primekg(tmp_path) -> KnowledgeGraph:
    return load_primekg(*write_fixture(tmp_path))


def _edges(kg: KnowledgeGraph, relation: str) -> set[tuple[str, str]]:
    t = kg.triples[kg.triples["relation"] == relation]
    ids = kg.nodes["node_id"].to_numpy()
    return set(zip(ids[t["head"]], ids[t["tail"]], strict=True))


def test_naming_rules():
    assert relation_name("interacts with") == "interacts_with"
    assert relation_name("parent-child") == "parent_child"
    assert relation_name("off-label use") == "off_label_use"
    assert relation_name("synergistic interaction") == "synergistic_interaction"
    assert relation_name("ppi") == "ppi"
    assert node_type_name("gene/protein") == "protein"
    assert node_type_name("effect/phenotype") == "effect_phenotype"
    assert node_type_name("biological_process") == "biological_process"
    assert identifier("  A--b  c ") == "a_b_c"
    with pytest.raises(KGFormatError):
        relation_name("rev interaction")
    assert is_symmetric_pairs([("drug", "drug")]) and not is_symmetric_pairs([("drug", "disease")])


def test_nodes_types_and_features(primekg):
    kg = primekg
    counts = kg.nodes["node_type"].value_counts().to_dict()
    assert counts == {
        "protein": 3,
        "drug": 2,
        "disease": 2,
        "biological_process": 2,
        "molecular_function": 1,
        "cellular_component": 1,
    }
    assert set(kg.modalities) == set(DEFAULT_TYPES)
    assert kg.modalities["protein"] == "protein" and kg.modalities["drug"] == "molecule"
    assert kg.modalities["disease"] == "text"
    # keyed by PrimeKG index, sorted by (type, index)
    prot = kg.nodes[kg.nodes["node_type"] == "protein"]
    assert prot["node_id"].tolist() == ["0", "1", "2"] and prot["name"].tolist() == ["TP53", "BRCA1", "EGFR"]
    feat = dict(zip(kg.nodes["node_id"], kg.nodes["feature"], strict=True))
    assert feat["0"] == "MKTAYIAK" and feat["10"] == "CC(=O)Oc1ccccc1C(=O)O"
    assert feat["20"] == "Name: cancer, breast. Definition: A cancer of the breast."
    assert feat["21"] == "Name: Disease B."  # empty name in disease.csv falls back to PrimeKG's name
    assert feat["30"] == "Name: apoptosis. Definition: Programmed death."
    assert feat["31"] == "Name: cell death."
    assert feat["50"] == "Name: nucleus."
    assert "3" not in feat and "60" not in feat and "70" not in feat


def test_relations_directions_and_reverses(primekg):
    kg = primekg
    assert kg.reverse_relations == {
        "ppi": "ppi",
        "parent_child": "parent_child",
        "synergistic_interaction": "synergistic_interaction",
        **{r: f"rev_{r}" for r in ("interacts_with", "target", "enzyme", "indication", "contraindication")},
        **{f"rev_{r}": r for r in ("interacts_with", "target", "enzyme", "indication", "contraindication")},
        "off_label_use": "rev_off_label_use",
        "rev_off_label_use": "off_label_use",
        "associated_with": "rev_associated_with",
        "rev_associated_with": "associated_with",
    }
    # canonical forward directions match the default KG
    assert _edges(kg, "interacts_with") == {("0", "30"), ("1", "31"), ("2", "40"), ("0", "50")}
    assert _edges(kg, "rev_interacts_with") == {("30", "0"), ("31", "1"), ("40", "2"), ("50", "0")}
    assert _edges(kg, "target") == {("10", "0")}  # 11 -> 3 dropped: protein 3 has no features
    assert _edges(kg, "enzyme") == {("11", "2")}
    assert _edges(kg, "rev_enzyme") == {("2", "11")}
    assert _edges(kg, "indication") == {("10", "20")}
    assert _edges(kg, "contraindication") == {("11", "21")}
    assert _edges(kg, "off_label_use") == {("10", "21")}
    assert _edges(kg, "associated_with") == {("20", "1")}
    # symmetric relations: both orientations under the same name
    assert _edges(kg, "ppi") == {("0", "1"), ("1", "0"), ("1", "2"), ("2", "1")}
    assert _edges(kg, "parent_child") == {("30", "31"), ("31", "30"), ("20", "21"), ("21", "20")}
    assert _edges(kg, "synergistic_interaction") == {("10", "11"), ("11", "10")}
    assert len(kg.triples) == 30
    assert not kg.triples.duplicated().any()
    # every triple's reverse exists
    ids = set(zip(kg.triples["head"], kg.triples["relation"], kg.triples["tail"], strict=True))
    for h, r, t in ids:
        assert (t, kg.reverse_relations[r], h) in ids


def test_dropped_counts(primekg):
    prov = primekg.provenance
    assert prov["dropped_node_types"] == {"anatomy": {"nodes": 1}, "effect_phenotype": {"nodes": 1}}
    assert prov["rows_dropped_with_unkept_types"] == {
        "associated_with (effect_phenotype - protein)": 2,
        "expression_present (anatomy - protein)": 2,
        "side_effect (drug - effect_phenotype)": 2,
    }
    assert prov["nodes_without_features"] == {"protein": 1}
    assert prov["rows_dropped_without_features"] == {"ppi": 2, "target": 2}
    assert prov["feature_rows_unused"] == {"protein": 1}
    assert prov["rows_read"] == 2 * len(EDGES) + 1
    assert prov["symmetric_relations"] == ["parent_child", "ppi", "synergistic_interaction"]
    assert prov["relation_map"]["off-label use"] == "off_label_use"
    assert prov["node_type_map"]["gene/protein"] == "protein"


def test_one_sided_symmetric_edge_gets_mirror(tmp_path):
    kg = load_primekg(*write_fixture(tmp_path, extra_rows=[("ppi", 2, 0)]))
    assert ("0", "2") in _edges(kg, "ppi") and ("2", "0") in _edges(kg, "ppi")
    assert kg.provenance["reverse_triples_added"] == {"ppi": 1}


def test_relation_filter_and_extra_types(tmp_path):
    kg_csv, feats = write_fixture(tmp_path)
    kg = load_primekg(kg_csv, feats, relations=["target", "ppi"])
    assert sorted(kg.reverse_relations) == ["ppi", "rev_target", "target"]
    with pytest.raises(ValueError, match="side_effect"):
        load_primekg(kg_csv, feats, relations=["side_effect"])
    # keeping an extra type needs its feature table, and then keeps its relations
    with pytest.raises(FileNotFoundError, match="anatomy.csv"):
        load_primekg(kg_csv, feats, node_types=(*DEFAULT_TYPES, "anatomy"))
    pd.DataFrame({"node_index": [60], "name": ["liver"], "definition": [""]}).to_csv(
        feats / "anatomy.csv", index=False
    )
    kg = load_primekg(kg_csv, feats, node_types=(*DEFAULT_TYPES, "anatomy"))
    # protein comes before anatomy in the type priority
    assert _edges(kg, "expression_present") == {("1", "60")}
    assert kg.modalities["anatomy"] == "text"


def test_round_trip_and_errors(primekg, tmp_path):
    out = primekg.save(tmp_path / "kg")
    again = KnowledgeGraph.load(out)
    assert again.content_hash() == primekg.content_hash()
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"display_relation": ["ppi"], "x_index": [0]}).to_csv(bad, index=False)
    with pytest.raises(KGFormatError, match="missing columns"):
        load_primekg(bad, tmp_path)
    kg_csv, feats = write_fixture(tmp_path / "dup" if (tmp_path / "dup").mkdir() is None else tmp_path)
    pd.DataFrame({"node_index": [10, 10], "smiles": ["C", "CC"]}).to_csv(feats / "drug.csv", index=False)
    with pytest.raises(KGFormatError, match="repeated"):
        load_primekg(kg_csv, feats)
