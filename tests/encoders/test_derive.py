import json

import numpy as np
import pandas as pd
import pytest

from biobridge.encoders import derive_store, encode_kg
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.subset import subset_kg

from .conftest import make_kg
from .test_sharding import DRUGS, PROTEINS, TEXTS, encoders
from .test_store import FakeText

VOLATILE = ("seconds", "items_per_second", "created")


def linked_kg() -> KnowledgeGraph:
    """The sharding tests' nodes (invalid features included) with protein-drug and protein-GO edges."""
    proteins = [p for p in PROTEINS if p[1] is not None]  # the KG content hash needs string features
    base = make_kg(proteins=proteins, drugs=DRUGS, texts=TEXTS)
    nodes = base.nodes
    of_type = {t: nodes.index[nodes["node_type"] == t].to_numpy() for t in ("protein", "drug", "go")}
    heads, rels, tails = [], [], []
    for k, p in enumerate(of_type["protein"]):
        for rel, rev, other in (("binds", "bound_by", "drug"), ("annotated", "annotates", "go")):
            for j in (k, k + 3):
                o = of_type[other][j % len(of_type[other])]
                heads += [p, o]
                rels += [rel, rev]
                tails += [o, p]
    triples = pd.DataFrame({"head": np.asarray(heads, np.int64), "relation": rels, "tail": np.asarray(tails)})
    reverse = {"binds": "bound_by", "bound_by": "binds", "annotated": "annotates", "annotates": "annotated"}
    return KnowledgeGraph(
        nodes=nodes, triples=triples, modalities=dict(base.modalities), reverse_relations=reverse
    )


def keyed(kg, node_type, index):
    ids = kg.nodes["node_id"].to_numpy()
    assert (kg.nodes["node_type"].to_numpy()[index] == node_type).all()
    return ids[index].tolist()


def mtimes(directory):
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}


def test_derived_store_copies_parent_rows_and_is_a_cache_hit(tmp_path):
    kg = linked_kg()
    sub = subset_kg(kg, max_nodes_per_type=4, seed=0)
    assert 0 < sub.num_nodes < kg.num_nodes
    parent = encode_kg(kg, tmp_path / "parent", encoders=encoders(), progress=False)
    derived = derive_store(parent, kg, sub, tmp_path / "sub")
    assert derived.node_types == parent.node_types == sub.node_types

    for t in sub.node_types:
        d_index, d_emb = derived.get(t)
        p_index, p_emb = parent.get(t)
        parent_row = dict(zip(keyed(kg, t, p_index), range(len(p_index)), strict=True))
        sub_ids = keyed(sub, t, d_index)  # re-indexed to the sub KG: the ids name the same nodes
        np.testing.assert_array_equal(d_emb, p_emb[[parent_row[i] for i in sub_ids]])
        assert np.all(np.diff(d_index) > 0)
        for f in derived.failures(t):
            assert sub.nodes["node_id"].iat[f["node_index"]] == f["node_id"]
    assert sum(len(derived.failures(t)) for t in sub.node_types) > 0  # the subset keeps invalid nodes

    # entries are what encoding the sub KG writes (timings aside), arrays too
    fresh = encode_kg(sub, tmp_path / "fresh", encoders=encoders(), progress=False)
    for t in sub.node_types:
        d, f = dict(derived.manifest[t]), dict(fresh.manifest[t])
        assert d.pop("derived_from") == {
            "store": str(tmp_path / "parent"),
            "input_hash": parent.manifest[t]["input_hash"],
        }
        assert list(d) == list(f)
        assert {k: v for k, v in d.items() if k not in VOLATILE} == {
            k: v for k, v in f.items() if k not in VOLATILE
        }
        for a, b in zip(derived.get(t), fresh.get(t), strict=True):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()

    # encoding the sub KG into the derived store afterwards encodes nothing and touches nothing
    before = mtimes(tmp_path / "sub")
    encs = encoders()
    again = encode_kg(sub, tmp_path / "sub", encoders=encs, progress=False)
    assert encs["protein"].calls == encs["molecule"].calls == encs["text"].calls == 0
    assert mtimes(tmp_path / "sub") == before
    assert again.manifest == derived.manifest
    # deriving again is a no-op as well
    derive_store(parent, kg, sub, tmp_path / "sub")
    assert mtimes(tmp_path / "sub") == before


def test_derived_store_from_spec_encoders_is_a_cache_hit(tmp_path, monkeypatch):
    kg = linked_kg()
    sub = subset_kg(kg, max_nodes_per_type=3, seed=1)
    specs = {"protein": "composition"}
    parent = encode_kg(
        kg, tmp_path / "parent", encoder_specs=specs, encoders={"text": FakeText()}, progress=False
    )
    derive_store(parent, kg, sub, tmp_path / "sub")
    manifest = json.loads((tmp_path / "sub" / "manifest.json").read_text())["node_types"]
    assert manifest["protein"]["spec"] == "composition" and manifest["drug"]["spec"] == "morgan"

    from biobridge.encoders import base

    def boom(self, *a, **k):
        raise AssertionError(f"{self.name} encoded on a cache hit")

    monkeypatch.setattr(base.Encoder, "encode_prevalidated", boom)
    encode_kg(sub, tmp_path / "sub", encoder_specs=specs, encoders={"text": FakeText()}, progress=False)


def test_stateful_types_are_not_derived(tmp_path):
    """A homology-encoded type was fitted on the parent's proteins: the subset's store leaves it out, so that
    ``encode_kg`` fits it on the subset's own."""
    kg = linked_kg()
    sub = subset_kg(kg, max_nodes_per_type=3, seed=1)
    parent = encode_kg(kg, tmp_path / "parent", encoders={"text": FakeText()}, progress=False)
    assert parent.entry("protein")["state"] == "protein.state"
    derived = derive_store(parent, kg, sub, tmp_path / "sub")
    assert "protein" not in derived.node_types and "drug" in derived.node_types


def test_derive_refuses_nodes_it_cannot_copy(tmp_path):
    kg = linked_kg()
    parent = encode_kg(kg, tmp_path / "parent", encoders=encoders(), progress=False)
    proteins = [("P1", PROTEINS[0][1]), ("P99", "MKTAYIAK")]
    with pytest.raises(ValueError, match=r"missing from the parent KG: 'P99'"):
        derive_store(parent, kg, make_kg(proteins=proteins, drugs=DRUGS[:2], texts=TEXTS[:1]), tmp_path / "a")
    proteins = [("P1", "MMMMMMMMKK"), ("P2", PROTEINS[1][1])]
    with pytest.raises(ValueError, match=r"feature that differs from the parent KG's: 'P1'"):
        derive_store(parent, kg, make_kg(proteins=proteins, drugs=DRUGS[:2], texts=TEXTS[:1]), tmp_path / "b")
    with pytest.raises(ValueError, match="not encoded from parent_kg"):
        derive_store(parent, make_kg(), make_kg(), tmp_path / "c")
    with pytest.raises(ValueError, match="overwrite its parent"):
        derive_store(parent, kg, kg, tmp_path / "parent")
    partial = encode_kg(kg, tmp_path / "partial", encoders=encoders(), node_types=["drug"], progress=False)
    with pytest.raises(KeyError, match="'go' is not in the embedding store"):
        derive_store(partial, kg, kg, tmp_path / "d")
