"""Multi-hop bridging: path parsing, one hop equals retrieval, hop scores explain the path score."""

import numpy as np
import pytest

from biobridge.applications.multihop import (
    Hop,
    HopScorer,
    MultiHopScorer,
    multi_hop,
    parse_path,
    search_paths,
)
from biobridge.evaluation import Task

PATH = "disease:associated_with:protein,protein:rev_target:drug"


def test_parse_path():
    hops = parse_path(PATH)
    assert hops == [Hop("disease", "associated_with", "protein"), Hop("protein", "rev_target", "drug")]
    assert parse_path([("drug", "target", "protein")]) == [Hop("drug", "target", "protein")]
    with pytest.raises(ValueError, match="do not chain"):
        parse_path("disease:associated_with:protein,drug:indication:disease")
    with pytest.raises(ValueError, match="HEAD_TYPE:RELATION:TAIL_TYPE"):
        parse_path("disease:protein")


def test_single_hop_equals_retrieve(tiny_bridge):
    query = "Name: hypertension."
    res = multi_hop(tiny_bridge, query, "disease:associated_with:protein", k=5)
    ref = tiny_bridge.retrieve(query, "disease", "protein", relation="associated_with", k=5)
    assert list(res["node_id"]) == list(ref["node_id"])
    np.testing.assert_allclose(res["score"], ref["score"], atol=1e-5)


@pytest.mark.parametrize("aggregate", ["mean", "min"])
def test_two_hops_scores_are_explained_by_hop_scores(tiny_bridge, aggregate):
    res = multi_hop(tiny_bridge, "Name: Marfan syndrome.", PATH, k=6, beam=4, aggregate=aggregate)
    assert len(res) == 6 and list(res["rank"]) == list(range(1, 7))
    assert np.all(np.diff(res["score"]) <= 1e-9)
    for row in res.itertuples():
        assert row.path.startswith("protein:")  # one intermediate node
        expected = np.mean(row.hop_scores) if aggregate == "mean" else np.min(row.hop_scores)
        assert row.score == pytest.approx(expected, abs=2e-4)


def test_beam_and_pool(tiny_bridge):
    kg, scorer = tiny_bridge.kg, HopScorer.of(tiny_bridge)
    items = tiny_bridge.query_items(["Name: Marfan syndrome.", "Name: asthma."], "disease")
    hops = parse_path(PATH)
    narrow = search_paths(scorer, kg, items, hops, beam=1)
    wide = search_paths(scorer, kg, items, hops, beam=10)
    assert narrow.scores.shape == wide.scores.shape == (2, len(wide.candidates))
    # a wider beam can only find better best paths
    assert np.all(wide.scores.numpy() >= narrow.scores.numpy() - 1e-6)
    soft = search_paths(scorer, kg, items, hops, beam=10, pool="softmax")
    assert np.all(soft.scores.numpy() >= wide.scores.numpy() - 1e-6)  # logsumexp >= max


def test_scorer_matches_search(tiny_bridge):
    kg, hops = tiny_bridge.kg, HopScorer.of(tiny_bridge)
    drugs = kg.nodes_of_type("drug")[:5]
    diseases = kg.nodes_of_type("disease")[:30]
    path = "drug:target:protein,protein:rev_associated_with:disease"
    scorer = MultiHopScorer(hops, kg, path, beam=3, query_batch=2)
    scores = scorer.score(Task("Drug2Disease", "drug", "indication", "disease"), drugs, diseases)
    assert scores.shape == (5, 30) and scores.dtype == np.float32
    ref = search_paths(hops, kg, drugs, parse_path(path), beam=3, last_candidates=diseases)
    np.testing.assert_allclose(scores, ref.scores.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="does not answer"):
        scorer.score(Task("Prot2Drug", "protein", "rev_target", "drug"), drugs, diseases)


def test_similarity_hop(tiny_bridge):
    """``t:~:t`` compares projections: a similarity hop from a KG disease finds that disease first."""
    kg = tiny_bridge.kg
    disease = int(kg.triples.loc[kg.triples["relation"] == "associated_with", "head"].iloc[0])
    res = multi_hop(tiny_bridge, kg.nodes.at[disease, "node_id"], "disease:~:disease", k=3)
    assert res.at[0, "node_id"] == kg.nodes.at[disease, "node_id"]
    assert res.at[0, "score"] == pytest.approx(1.0, abs=1e-5)
    path = "disease:associated_with:protein,protein:rev_associated_with:disease,disease:~:disease"
    res = multi_hop(tiny_bridge, "Name: Marfan syndrome.", path, k=4, beam=3)
    for row in res.itertuples():
        assert row.path.count(" -> ") == 1  # protein -> disease intermediate nodes
        assert row.score == pytest.approx(np.mean(row.hop_scores), abs=2e-4)
    with pytest.raises(ValueError, match="similarity hop"):
        multi_hop(tiny_bridge, "x", "disease:~:protein", k=2)


def test_known_edge_hops_rank_recorded_edges_first_in_the_retrievers_order(tiny_bridge):
    kg = tiny_bridge.kg
    t = kg.triples[kg.triples["relation"] == "rev_target"]
    protein = int(t["head"].value_counts().index[0])
    known = set(t.loc[t["head"] == protein, "tail"])
    pid = kg.nodes.at[protein, "node_id"]
    k = len(known) + 3
    plain = multi_hop(tiny_bridge, pid, "protein:rev_target:drug", k=k, known_edges=False)
    ref = tiny_bridge.retrieve(pid, "protein", "drug", relation="rev_target", k=k)
    assert list(plain["node_id"]) == list(ref["node_id"])  # off: the retriever's ranking
    lifted = multi_hop(tiny_bridge, pid, "protein:rev_target:drug", k=k, known_edges=True)
    ids = set(kg.nodes.loc[sorted(known), "node_id"])
    top = list(lifted["node_id"][: len(known)])
    assert set(top) == ids  # every recorded edge first
    full = tiny_bridge.retrieve(pid, "protein", "drug", relation="rev_target", k=len(kg.nodes))
    order = [n for n in full["node_id"] if n in ids]
    assert top == order  # in the order the retriever itself ranks them
    assert lifted["score"].iloc[len(known) - 1] > lifted["score"].iloc[len(known)]


def test_known_edges_leave_new_items_alone(tiny_bridge):
    scorer = HopScorer.of(tiny_bridge, known_edges=True)
    hop = Hop("disease", "associated_with", "protein")
    items = tiny_bridge.query_items(["Name: asthma."], "disease")
    cands = np.sort(tiny_bridge.candidate_nodes("protein", "associated_with"))
    plain = HopScorer.of(tiny_bridge).from_items(hop, items, cands)
    assert np.array_equal(scorer.from_items(hop, items, cands).numpy(), plain.numpy())
