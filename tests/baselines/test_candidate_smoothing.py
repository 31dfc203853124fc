"""Candidate smoothing: the nearest-candidate graph, the spread of scores over it, its tuning in the fusion."""

import numpy as np
import pytest
import torch

from biobridge.baselines.candidate_smoothing import CandidateSmoothing
from biobridge.baselines.tuned_fusion import TunedScoreFusion, standardise_rows, tune_fusion_weights
from biobridge.evaluation.tasks import Task
from tests.tiny_kg import FakeSplit, MatrixScorer, make_kg

PROT2BP = Task("Prot2BP", "protein", "interacts_with", "biological_process")


class _Table:
    """Embeddings of some nodes (a dict node -> vector), one type."""

    def __init__(self, vectors: dict[int, np.ndarray], num_nodes: int) -> None:
        self.vectors, self.num_nodes = vectors, num_nodes

    def has_embedding(self, nodes):
        return np.array([int(n) in self.vectors for n in nodes], dtype=bool)

    def raw(self, node_type, nodes):
        return torch.tensor(np.stack([self.vectors[int(n)] for n in nodes]), dtype=torch.float32)


def test_the_graph_links_each_candidate_to_its_nearest_others_only():
    table = _Table({0: np.array([1.0, 0]), 1: np.array([2.0, 0.0]), 2: np.array([0, 1.0])}, 4)
    graph = CandidateSmoothing(table, k=1).graph("disease", np.array([0, 1, 2, 3])).toarray()
    assert graph[0, 1] == pytest.approx(1.0) and graph[1, 0] == graph[0, 1]
    assert np.all(np.diag(graph) == 0)  # never its own neighbour
    assert graph[3].sum() == 0 and graph[:, 3].sum() == 0  # no embedding: neither spreads nor receives
    assert graph[2, :2].max() == 0  # orthogonal: a clipped cosine of 0 is no edge


def test_spread_lifts_the_neighbours_of_a_well_scored_candidate():
    table = _Table(
        {0: np.array([1.0, 0]), 1: np.array([0.99, 0.1]), 2: np.array([0, 1.0]), 3: np.array([0.1, 1.0])}, 4
    )
    smoother = CandidateSmoothing(table, k=1)
    scores = standardise_rows(np.array([[3.0, 0.0, 0.5, 0.4]]))
    smoothed = smoother.smooth(scores, 1.0, "disease", np.arange(4))
    assert smoothed[0, 1] > smoothed[0, 3]  # candidate 1 is candidate 0's twin; it overtakes 3
    assert smoother.smooth(scores, 0.0, "disease", np.arange(4)) is scores
    with pytest.raises(ValueError, match="k >= 1"):
        CandidateSmoothing(table, k=0)


def _family_kg(seed: int = 0, n_prot: int = 80, n_pairs: int = 20):
    """Proteins each linked to both members of two of ``n_pairs`` pairs of BP terms (families); a fifth of the
    proteins held out (their triples are the test part)."""
    rng = np.random.default_rng(seed)
    nodes = [("protein", f"P{i}") for i in range(n_prot)] + [
        ("biological_process", f"GO:{i}") for i in range(2 * n_pairs)
    ]
    edges = set()
    for p in range(n_prot):
        for pair in rng.choice(n_pairs, size=2, replace=False):
            edges.update(
                {(p, "interacts_with", n_prot + 2 * pair), (p, "interacts_with", n_prot + 2 * pair + 1)}
            )
    kg = make_kg(nodes, sorted(edges))
    held = rng.random(len(nodes)) < 0.2
    return kg, FakeSplit(np.where(held[kg.triples["head"].to_numpy()], 1, 0).astype(np.int8))


def test_tuning_adopts_smoothing_where_families_share_tails_and_the_fusion_scores_with_it():
    kg, split = _family_kg()
    n, n_prot = kg.num_nodes, 80
    rng = np.random.default_rng(1)
    gold = np.zeros((n, n), np.float32)
    gold[kg.triples["head"].to_numpy(), kg.triples["tail"].to_numpy()] = 1.0
    # the part finds only the even member of each gold pair; the odd one is noise to it
    seen = gold.copy()
    seen[:, n_prot + 1 :: 2] = 0
    part = MatrixScorer(seen + 0.5 * rng.random((n, n)), "half")
    noise = MatrixScorer(rng.random((n, n)), "noise")
    twins = {n_prot + i: np.array([1.0, 0.05 * (i % 2)]) @ _rotation(i // 2) for i in range(40)}
    smoother = CandidateSmoothing(_Table(twins, n), k=1)
    grid = (0.0, 0.5, 1.0)
    tuned = tune_fusion_weights(
        kg, split, [part, noise], [PROT2BP], step=0.5, smoother=smoother, smoothing_grid=grid, bagging=20
    )["Prot2BP"]
    record = tuned["smoothing"]
    assert record["alpha"] > 0 and record["support"] >= 0.9
    assert record["validation_mrr_grid"][str(record["alpha"])] > record["validation_mrr_grid"]["0.0"]

    # the same part, candidates embedded at random: nothing to share, no smoothing
    scattered = {i: v for i, v in zip(twins, np.random.default_rng(2).normal(size=(40, 32)), strict=True)}
    unrelated = tune_fusion_weights(
        kg,
        split,
        [part, noise],
        [PROT2BP],
        step=0.5,
        smoother=CandidateSmoothing(_Table(scattered, n), k=1),
        smoothing_grid=grid,
        bagging=20,
    )["Prot2BP"]
    assert unrelated["smoothing"]["alpha"] == 0.0

    fused = TunedScoreFusion(
        [part, noise],
        {"Prot2BP": tuned["weights"]},
        name="mix",
        smoothing={"Prot2BP": record["alpha"]},
        smoother=smoother,
    )
    q, c = np.arange(10), np.arange(n_prot, n)
    want = sum(
        w
        * smoother.smooth(standardise_rows(s.score(PROT2BP, q, c)), record["alpha"], "biological_process", c)
        for s, w in zip([part, noise], tuned["weights"], strict=True)
        if w
    )
    np.testing.assert_allclose(fused.score(PROT2BP, q, c), want, atol=1e-5)
    assert fused.settings["smoothing"]["alpha"] == {"Prot2BP": record["alpha"]}
    with pytest.raises(ValueError, match="need a smoother"):
        TunedScoreFusion([part], {}, name="m", smoothing={"Prot2BP": 0.5})


def _rotation(i: int) -> np.ndarray:
    """A 2-d rotation by one of 20 angles spread over a half turn (the pairs' directions)."""
    a = np.pi * i / 20
    return np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])


def test_saved_graphs_are_read_back_and_rebuilt_when_their_pool_changed(tmp_path, monkeypatch, caplog):
    vectors = {i: np.array([np.cos(i / 3), np.sin(i / 3), 0.1 * i]) for i in range(6)}
    pool = np.arange(7)  # node 6 has no embedding
    built = CandidateSmoothing(_Table(vectors, 7), k=2)
    graph = built.graph("disease", pool)
    built.graph("protein", pool)
    built.save(tmp_path / "graphs.safetensors", ["disease"])

    def no_build(*args):
        raise AssertionError("built again")

    read = CandidateSmoothing(_Table(vectors, 7), k=2, saved=tmp_path / "graphs.safetensors")
    monkeypatch.setattr(read, "_build", no_build)
    again = read.graph("disease", pool)
    assert (again != graph).nnz == 0 and np.array_equal(again.indices, graph.indices)
    with pytest.raises(AssertionError, match="built again"):
        read.graph("protein", pool)  # not saved
    with pytest.raises(AssertionError, match="built again"):
        read.graph("disease", pool[:-1])  # another pool
    # embeddings changed, another k, or an unreadable file: the graph is built anew
    moved = {**vectors, 2: np.array([0.0, 0.0, 1.0])}
    for smoother in (
        CandidateSmoothing(_Table(moved, 7), k=2, saved=tmp_path / "graphs.safetensors"),
        CandidateSmoothing(_Table(vectors, 7), k=3, saved=tmp_path / "graphs.safetensors"),
    ):
        fresh = CandidateSmoothing(smoother.table, k=smoother.k).graph("disease", pool)
        assert (fresh != graph).nnz > 0 and (smoother.graph("disease", pool) != fresh).nnz == 0
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    unreadable = CandidateSmoothing(_Table(vectors, 7), k=2, saved=tmp_path / "bad.safetensors")
    assert (unreadable.graph("disease", pool) != graph).nnz == 0
    assert "ignoring the smoothing graphs" in caplog.text
