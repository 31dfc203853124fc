import numpy as np
import pytest
import torch

from biobridge.kg.graph import KnowledgeGraph
from biobridge.retrieval.bridge import Bridge
from biobridge.retrieval.index import CandidateIndex


def test_exact_search_matches_brute_force_and_chunks():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(500, 16)).astype(np.float32)
    q = rng.normal(size=(37, 16)).astype(np.float32)
    index = CandidateIndex(vecs, np.arange(1000, 1500))
    scores, nodes = index.search(torch.from_numpy(q), k=7, chunk=5)
    full = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (
        vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    ).T
    expected = np.argsort(-full, axis=1)[:, :7] + 1000
    assert np.array_equal(nodes, expected)
    assert np.allclose(scores, np.take_along_axis(full, expected - 1000, axis=1), atol=1e-5)


def test_single_query_path_matches_the_batch_and_breaks_ties_by_candidate_order():
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(300, 16)).astype(np.float32)
    index = CandidateIndex(vecs, np.arange(300) * 2)
    q = rng.normal(size=(5, 16)).astype(np.float32)
    batch_scores, batch_nodes = index.search(torch.from_numpy(q), k=9)
    for i in range(5):
        scores, nodes = index.search(torch.from_numpy(q[i : i + 1]), k=9)
        assert np.array_equal(nodes[0], batch_nodes[i])
        assert np.allclose(scores[0], batch_scores[i], atol=1e-6)
    tied = CandidateIndex(
        np.array([[1.0, 0], [0, 1], [1, 0], [1, 0], [0.5, 0.5]]), np.array([10, 11, 12, 13, 14])
    )
    scores, nodes = tied.search(torch.tensor([[1.0, 0.0]]), k=2)
    assert nodes.tolist() == [[10, 12]] and scores.shape == (1, 2)  # three tied at 1.0: the lowest two
    assert tied.search(torch.tensor([[1.0, 0.0]]), k=50)[1].tolist() == [[10, 12, 13, 14, 11]]
    # one score above the k-th, three tied at it: the best, then the first two ties in candidate order
    above = CandidateIndex(np.array([[0.6, 0.8], [1, 0], [0.6, 0.8], [0.6, 0.8]]), np.array([20, 21, 22, 23]))
    scores, nodes = above.search(np.array([[2.0, 0.0]], dtype=np.float32), k=3)  # numpy input, unnormalised
    assert nodes.tolist() == [[21, 20, 22]]
    np.testing.assert_allclose(scores, [[1.0, 0.6, 0.6]], rtol=1e-6)


@pytest.mark.parametrize("k", [1, 3, 10, 70])
def test_batch_search_over_tiles_breaks_ties_by_candidate_order(k):
    # half the candidates share a few directions: many queries meet exactly tied candidates, within and
    # across tiles, among distinct ones
    rng = np.random.default_rng(k)
    directions = rng.normal(size=(6, 8)).astype(np.float32)
    vecs = np.concatenate([directions[rng.integers(0, 6, size=200)], rng.normal(size=(200, 8))])
    vecs = vecs[rng.permutation(400)].astype(np.float32)
    q = np.concatenate([directions[rng.integers(0, 6, size=20)], rng.normal(size=(20, 8)).astype(np.float32)])
    index = CandidateIndex(vecs, np.arange(400) + 7)
    scores, nodes = index.search(torch.from_numpy(q), k=k, chunk=16, tile=32)
    full = (index.vectors @ torch.nn.functional.normalize(torch.from_numpy(q), dim=1).T).T.numpy()
    for row in range(len(q)):
        # exact: the k-th score is the true k-th, every kept score is the candidate's own, and the list is
        # best first with ties in candidate order
        kth = np.sort(full[row])[::-1][k - 1]
        pos = nodes[row] - 7
        np.testing.assert_allclose(scores[row], full[row, pos], atol=1e-6)
        assert scores[row, -1] == pytest.approx(kth, abs=1e-6)
        order = sorted(range(400), key=lambda c: (-round(float(full[row, c]), 5), c))
        assert pos.tolist() == order[:k]
        assert np.array_equal(nodes[row], index.search(torch.from_numpy(q[row : row + 1]), k=k)[1][0])


@pytest.fixture(scope="module")
def bridge(tiny_run):
    return Bridge.from_pretrained(tiny_run / "model")


def test_retrieve_a_kg_protein_marks_its_known_edges(bridge):
    kg = bridge.kg
    t = kg.triples[kg.triples["relation"] == "interacts_with"]
    prot = int(t["head"].value_counts().index[0])
    pid = kg.nodes.at[prot, "node_id"]
    by_id = bridge.retrieve(pid, "protein", "biological_process", k=20)
    by_seq = bridge.retrieve(kg.nodes.at[prot, "feature"], "protein", "biological_process", k=20)
    assert by_id.equals(by_seq)
    assert list(by_id.columns) == ["rank", "node_id", "name", "score", "known_edge"]
    assert (np.diff(by_id["score"].to_numpy()) <= 1e-9).all()
    gold = set(kg.nodes.loc[t.loc[t["head"] == prot, "tail"], "node_id"])
    assert by_id["known_edge"].tolist() == [n in gold for n in by_id["node_id"]]
    assert by_id["known_edge"].any()  # a well-trained-on protein finds some of its own terms


def test_retrieve_new_entities_of_each_modality(bridge):
    seq = bridge.retrieve(
        "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEK", "protein", "molecular_function", k=3
    )
    mol = bridge.retrieve("CC(=O)Oc1ccccc1C(=O)O", "drug", "protein", k=3)
    txt = bridge.retrieve("Name: a made-up neuromuscular disorder.", "disease", "protein", k=3)
    for res in (seq, mol, txt):
        assert len(res) == 3 and not res["known_edge"].any()
        assert np.isfinite(res["score"]).all()


def test_project_and_transform_shapes_and_norms(bridge):
    z = bridge.project(["Name: apoptotic process."], "biological_process")
    o = bridge.transform(["MKTAYIAKQR"], "protein", "interacts_with", "biological_process")
    h = bridge.model.config.hidden_dim
    assert z.shape == (1, h) and o.shape == (1, h)
    assert np.allclose(np.linalg.norm(o, axis=1), 1.0, atol=1e-5)


def test_bad_queries_give_clear_errors(bridge):
    with pytest.raises(ValueError, match="cannot be encoded"):
        bridge.retrieve("MKT4YIA", "protein", "biological_process")
    with pytest.raises(ValueError, match="cannot be encoded"):
        bridge.retrieve("C1CC(", "drug", "protein")
    with pytest.raises(ValueError, match="cannot be encoded"):
        bridge.retrieve("   ", "disease", "protein")
    with pytest.raises(KeyError, match="node type"):
        bridge.retrieve("x", "cell_line", "protein")
    with pytest.raises(ValueError, match="no relation links"):
        bridge.retrieve("MKT", "protein", "protein")


def test_bridge_refuses_a_different_kg(tiny_run, tmp_path):
    kg = KnowledgeGraph.load(tiny_run / "kg")
    other = KnowledgeGraph(
        kg.nodes, kg.triples.iloc[:-2].reset_index(drop=True), kg.modalities, kg.reverse_relations
    )
    other.save(tmp_path / "kg")
    with pytest.raises(ValueError, match="hash mismatch"):
        Bridge.from_pretrained(tiny_run / "model", kg_dir=tmp_path / "kg")
