"""The retrieval-augmented bridge's neighbour context: computed by hand on a few nodes, read by the model."""

import numpy as np
import pytest
import torch

from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.model import BridgeModel, BridgeSchema
from biobridge.bridge.neighbour_context import NeighbourContext
from biobridge.config import ModelConfig
from biobridge.retrieval.scorer import BridgeScorer

# nodes 0-3 proteins (2-d features), 4-6 processes (3-d features)
PROTEINS = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]], dtype=np.float32)
PROCESSES = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 4.0]], dtype=np.float32)
# training triples: protein 1 -> {4, 5}, protein 2 -> {6}, protein 3 -> {4}
HEADS = np.array([1, 1, 2, 3])
RELATIONS = np.array(["go"] * 4)
TAILS = np.array([4, 5, 6, 4])


def table() -> EmbeddingTable:
    return EmbeddingTable(
        {"protein": PROTEINS, "process": PROCESSES}, {"protein": np.arange(4), "process": np.arange(4, 7)}, 7
    )


def context(k=2, sharpness=1.0) -> NeighbourContext:
    return NeighbourContext(table(), HEADS, RELATIONS, TAILS, k=k, sharpness=sharpness)


def test_context_is_the_weighted_mean_of_the_neighbours_tail_means_by_hand():
    # protein 0: cos to heads 1, 2, 3 = 0.8, 0, -1 -> k=2 keeps 1 (0.8) and 2 (0 -> weight 0)
    got = context(k=2).of_nodes("protein", "go", "process", np.array([0]))
    np.testing.assert_allclose(got[0].numpy(), (PROCESSES[0] + PROCESSES[1]) / 2, atol=1e-6)
    # protein 1 is never its own neighbour: 2 (cos 0.6) and 3 (cos -0.8 -> 0): protein 2's tail alone
    got = context(k=2).of_nodes("protein", "go", "process", np.array([1]))
    np.testing.assert_allclose(got[0].numpy(), PROCESSES[2], atol=1e-6)


def test_sharpness_weighs_neighbours_relative_to_the_best():
    # a new item at 45 degrees: cos to heads 1, 2 = 0.9899, 0.7071; weights (s / best) ** 2
    item = torch.tensor([[1.0, 1.0]])
    got = context(k=2, sharpness=2.0).of_embeddings("protein", "go", "process", item)
    s1, s2 = 1.4 / np.sqrt(2), 1 / np.sqrt(2)
    w = np.array([1.0, (s2 / s1) ** 2])
    w /= w.sum()
    want = w[0] * (PROCESSES[0] + PROCESSES[1]) / 2 + w[1] * PROCESSES[2]
    np.testing.assert_allclose(got[0].numpy(), want, atol=1e-5)


def test_no_positive_neighbour_or_no_training_edges_gives_a_zero_context():
    ctx = context(k=1)
    # opposite of every training head but 3, which is excluded as itself
    got = ctx.of_nodes("protein", "go", "process", np.array([3]))
    # nearest other head: 2 (cos 0) -> no positive similarity
    np.testing.assert_array_equal(got.numpy(), np.zeros((1, 3), dtype=np.float32))
    unknown = ctx.of_embeddings("protein", "other", "process", torch.ones(2, 2))
    assert unknown.shape == (2, 3) and not unknown.any()


def test_triple_contexts_match_the_per_node_contexts():
    ctx = context(k=2)
    rows = ctx.of_triples(HEADS, RELATIONS, TAILS)
    per_node = ctx.of_nodes("protein", "go", "process", HEADS)
    np.testing.assert_allclose(rows.matrices["process"][rows.rows].numpy(), per_node.numpy(), atol=1e-6)


def model(context_k: int) -> BridgeModel:
    schema = BridgeSchema({"protein": 2, "process": 3}, ("go",))
    cfg = ModelConfig(hidden_dim=8, n_layers=1, n_heads=2, ff_dim=16, context_k=context_k)
    return BridgeModel(schema, cfg).eval()


def test_the_model_reads_the_context_and_refuses_to_run_without_it():
    torch.manual_seed(0)
    m, raw = model(2), torch.from_numpy(PROTEINS)
    ctx = context(k=2).of_nodes("protein", "go", "process", np.arange(4))
    out = m.transform_named(raw, "protein", "go", "process", ctx)
    other = m.transform_named(raw, "protein", "go", "process", torch.zeros_like(ctx))
    assert out.shape == (4, 8) and not torch.allclose(out, other)  # the context token changes the output
    with pytest.raises(ValueError, match="reads a neighbour context"):
        m.transform_named(raw, "protein", "go", "process")
    with pytest.raises(ValueError, match="no neighbour context"):
        model(0).transform_named(raw, "protein", "go", "process", ctx)
    with pytest.raises(ValueError, match="needs its neighbour context"):
        BridgeScorer(m, table())
    with pytest.raises(ValueError, match="n_layers"):
        ModelConfig(n_layers=0, context_k=5)


def test_scoring_a_node_and_the_same_node_as_an_item_agree():
    from biobridge.evaluation.scorer import QueryItems
    from biobridge.evaluation.tasks import Task

    torch.manual_seed(0)
    scorer = BridgeScorer(model(2), table(), context=context(k=2))
    task = Task("P2P", "protein", "go", "process")
    nodes, pool = np.array([1, 2]), np.arange(4, 7)
    by_node = scorer.score(task, nodes, pool)
    items = QueryItems(["a", "b"], PROTEINS[nodes], nodes)
    np.testing.assert_allclose(scorer.score_items(task, items, pool), by_node, atol=1e-6)
    # as new items (no node), protein 1 is its own nearest neighbour: a different context
    new = QueryItems(["a", "b"], PROTEINS[nodes], np.array([-1, -1]))
    assert not np.allclose(scorer.score_items(task, new, pool)[0], by_node[0])


def test_a_retrieval_augmented_run_trains_evaluates_and_retrieves_end_to_end(tiny_run, tiny_config, tmp_path):
    from biobridge import pipeline
    from biobridge.config import with_overrides
    from biobridge.retrieval.bridge import Bridge

    config = with_overrides(tiny_config, {"model.context_k": 5, "train.epochs": 3})
    out = tmp_path / "ctx"
    pipeline.train(tiny_run, config, protocol="paper", out_dir=out, progress=False)
    loaded = pipeline.load_run(tiny_run, out)
    assert loaded.model.reads_context
    result = pipeline.evaluate_run(loaded, tmp_path / "eval", baselines=False)
    mrrs = [t["methods"]["biobridge-hybrid"].get("mrr") for t in result.tasks.values()]
    answered = [m for m in mrrs if m is not None]
    assert answered and np.isfinite(answered).all()
    bridge = Bridge.from_pretrained(out)
    kg = bridge.kg
    go = kg.triples[kg.triples["relation"] == "interacts_with"]
    prot = int(go["head"].value_counts().index[0])
    # a KG protein by id and by its sequence is the same query (never its own neighbour) ...
    by_id = bridge.retrieve(kg.nodes.at[prot, "node_id"], "protein", "biological_process", k=5)
    by_seq = bridge.retrieve(kg.nodes.at[prot, "feature"], "protein", "biological_process", k=5)
    assert by_id.equals(by_seq)
    # ... and a new sequence gets its context from one similarity search
    new = bridge.retrieve("MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEK", "protein", "drug", k=3)
    assert len(new) == 3 and np.isfinite(new["score"]).all()
