"""Zero-shot candidate scoring and the hidden-relation split."""

import numpy as np
import pytest

from biobridge.applications.unseen_relation import split_without_relation
from biobridge.applications.zero_shot import read_candidates, score_candidates
from biobridge.kg.split import EXCLUDED, TEST, TRAIN, Split


def test_read_candidates(tmp_path):
    plain = tmp_path / "plain.tsv"
    plain.write_text("fever\n\nheadache\n")
    frame = read_candidates(plain)
    assert list(frame["feature"]) == ["fever", "headache"] and list(frame["id"]) == ["cand1", "cand2"]
    table = tmp_path / "table.tsv"
    table.write_text("id\tname\tsmiles\nm1\taspirin\tCC(=O)Oc1ccccc1C(=O)O\nm2\tethanol\tCCO\n")
    frame = read_candidates(table)
    assert list(frame["id"]) == ["m1", "m2"] and frame.at[1, "feature"] == "CCO"


def test_candidates_read_as_existing_type_match_retrieval(tiny_bridge):
    """KG proteins given as raw sequences score exactly as the bridge alone scores them in retrieval (user
    candidates are not KG nodes, so the hybrid's votes cannot rank them: zero-shot is the bridge's)."""
    from biobridge.retrieval.bridge import Bridge

    query = "CC(=O)Oc1ccccc1C(=O)O"
    b = tiny_bridge
    bridge_alone = Bridge(b.model, b.kg, b.table, b.store, b.split)
    ref = bridge_alone.retrieve(query, "drug", "protein", relation="target", k=5)
    seqs = [tiny_bridge.resolve_query(i, "protein").feature for i in ref["node_id"]]
    shuffled = [seqs[i] for i in (3, 0, 4, 1, 2)]
    res = score_candidates(tiny_bridge, query, "drug", shuffled, as_type="protein", relation="target")
    assert list(res["feature"]) == seqs  # same order as the retrieval
    np.testing.assert_allclose(res["score"], ref["score"], atol=1e-5)


def test_new_modality_texts_as_disease(tiny_bridge, tmp_path):
    path = tmp_path / "phenotypes.tsv"
    path.write_text("id\ttext\nhp1\tHigh blood pressure\nhp2\tSeizures\nhp3\tShort stature\n")
    res = score_candidates(tiny_bridge, "CC(=O)Oc1ccccc1C(=O)O", "drug", path, as_type="disease", k=2)
    assert len(res) == 2 and set(res["id"]) <= {"hp1", "hp2", "hp3"}
    assert res.at[0, "score"] >= res.at[1, "score"]
    with pytest.raises(ValueError, match="cannot be encoded"):
        score_candidates(
            tiny_bridge,
            "CC(=O)Oc1ccccc1C(=O)O",
            "drug",
            ["C1CC"],
            as_type="drug",
            relation="indication",
            tail_type="disease",
        )


def test_split_without_relation(tiny_run, tiny_bridge):
    kg = tiny_bridge.kg
    split = Split.load(tiny_run / "splits" / "paper-seed42")
    hidden = split_without_relation(kg, split, "indication")
    rel = kg.triples["relation"].to_numpy()
    ind = np.isin(rel, ["indication", "rev_indication"])
    assert not np.any(hidden.triple_part[ind] == TRAIN)
    assert np.array_equal(hidden.triple_part[ind] == TEST, split.triple_part[ind] == TEST)
    assert np.array_equal(hidden.triple_part[~ind], split.triple_part[~ind])
    assert np.sum(hidden.triple_part == EXCLUDED) == np.sum(split.triple_part == EXCLUDED) + np.sum(
        ind & (split.triple_part == TRAIN)
    )
    assert hidden.protocol == "paper-minus-indication" and hidden.content_hash() != split.content_hash()
