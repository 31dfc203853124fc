from __future__ import annotations

import numpy as np
import pandas as pd

from biobridge.kg.subset import subset_kg


def _families(kg):
    types = kg.node_type_array()
    t = kg.triples
    return set(zip(t["relation"], types[t["head"]], types[t["tail"]], strict=True))


def test_subset_keeps_every_relation_family(default_kg, small_kg):
    assert _families(small_kg) == _families(default_kg)
    assert set(small_kg.triples["relation"]) == set(default_kg.triples["relation"])
    counts = small_kg.nodes["node_type"].value_counts()
    assert counts.max() <= 300
    assert set(counts.index) == set(default_kg.node_types)
    per_rel = small_kg.triples["relation"].value_counts()
    assert per_rel.min() >= 50  # every relation keeps a usable number of edges
    assert small_kg.provenance["subset"]["families_without_edges"] == []
    assert small_kg.provenance["subset"]["parent_kg_hash"] == default_kg.content_hash()


def test_subset_is_induced_and_renumbered(default_kg, small_kg):
    assert np.array_equal(small_kg.nodes["node_index"].to_numpy(), np.arange(small_kg.num_nodes))
    # map back to the parent by (type, id) and check every triple among kept nodes is present
    key = default_kg.nodes["node_type"] + "\t" + default_kg.nodes["node_id"]
    parent_of = pd.Series(np.arange(default_kg.num_nodes), index=key)
    sub_key = small_kg.nodes["node_type"] + "\t" + small_kg.nodes["node_id"]
    parent_idx = parent_of.loc[sub_key].to_numpy()
    assert np.all(np.diff(parent_idx) > 0)  # original order kept
    kept = np.zeros(default_kg.num_nodes, bool)
    kept[parent_idx] = True
    t = default_kg.triples
    induced = t[kept[t["head"]] & kept[t["tail"]]]
    sub = small_kg.triples
    mapped = pd.DataFrame(
        {
            "head": parent_idx[sub["head"]],
            "relation": sub["relation"].to_numpy(),
            "tail": parent_idx[sub["tail"]],
        }
    )
    assert len(mapped) == len(induced)
    assert set(map(tuple, mapped.values.tolist())) == set(map(tuple, induced.values.tolist()))
    degree = np.bincount(sub["head"], minlength=small_kg.num_nodes)
    assert (degree > 0).mean() > 0.95  # almost every kept node is connected


def test_subset_is_seeded(default_kg, small_kg):
    again = subset_kg(default_kg, max_nodes_per_type=300, seed=0)
    assert again.content_hash() == small_kg.content_hash()
    other = subset_kg(default_kg, max_nodes_per_type=300, seed=1)
    assert other.content_hash() != small_kg.content_hash()
    tiny = subset_kg(default_kg, max_nodes_per_type=40, seed=0)
    assert tiny.nodes["node_type"].value_counts().max() <= 40
    assert set(tiny.triples["relation"]) == set(default_kg.triples["relation"])
