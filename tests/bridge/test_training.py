"""Training on a small real subset of the default KG: it must overfit, reproduce and resume nothing silently."""

import json
from pathlib import Path

import numpy as np
import pytest

from biobridge import pipeline
from biobridge.baselines.popularity import PopularityScorer
from biobridge.evaluation.evaluator import evaluate
from biobridge.kg.split import TEST, TRAIN
from biobridge.retrieval.scorer import BridgeScorer


def training_as_test(split):
    """The same split with its training triples marked as test: evaluates fit on the training edges."""
    part = np.where(split.triple_part == TRAIN, TEST, 2).astype(np.int8)
    return type(split)(
        split.protocol, split.seed, split.test_fraction, split.kg_hash, split.held_out_nodes, part
    )


def test_bridge_overfits_training_edges_far_above_popularity(tiny_run):
    loaded = pipeline.load_run(tiny_run)
    kg, split, table, model = loaded.kg, loaded.split, loaded.table, loaded.model
    fit_split = training_as_test(split)
    tasks = [
        t
        for t in __import__("biobridge.evaluation.tasks", fromlist=["x"]).discover_tasks(kg)
        if t.name in ("Prot2BP", "Prot2MF", "Prot2CC", "Disease2Prot")
    ]
    result = evaluate(
        kg,
        fit_split,
        [BridgeScorer(model, table), PopularityScorer(kg, fit_split)],
        tasks=tasks,
        scorable=table.has_embedding(np.arange(kg.num_nodes)),
    )
    for name, task in result.tasks.items():
        ours = task["methods"]["biobridge"]["mrr"]
        pop = task["methods"]["popularity"]["mrr"]
        assert ours > 2 * pop and ours > 0.3, (name, ours, pop)


def test_training_log_checkpoint_and_plot(tiny_run, tiny_config):
    model_dir = tiny_run / "model"
    config = json.loads((model_dir / "config.json").read_text())
    assert config["run_config"]["train"]["epochs"] == tiny_config.train.epochs
    assert config["split"]["protocol"] == "paper" and config["split"]["hash"]
    assert not Path(config["artifacts"]["split_dir"]).is_absolute()  # portable: relative to the run
    assert set(config["encoders"]) == set(config["schema"]["input_dims"])
    assert config["training"]["epochs_completed"] == tiny_config.train.epochs
    rows = [json.loads(line) for line in (model_dir / "train_log.jsonl").read_text().splitlines()]
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert (model_dir / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_same_seed_gives_identical_metrics(tiny_run, tiny_config, tmp_path):
    from biobridge.config import with_overrides

    short = with_overrides(tiny_config, {"train.epochs": 2})
    results = []
    for name in ("a", "b"):
        pipeline.train(tiny_run, short, out_dir=tmp_path / name, progress=False)
        res = pipeline.run_evaluation(tiny_run, tmp_path / name, tmp_path / f"eval_{name}")
        results.append(res.to_dict()["tasks"])
    assert results[0] == results[1]


def test_training_refuses_a_kg_without_trainable_triples(tiny_run, tiny_config, tmp_path):
    loaded = pipeline.load_run(tiny_run)
    kg, split, table = loaded.kg, loaded.split, loaded.table
    from biobridge.bridge.train import train_bridge

    empty = type(split)(
        split.protocol,
        split.seed,
        split.test_fraction,
        split.kg_hash,
        split.held_out_nodes,
        np.full_like(split.triple_part, 2),
    )
    with pytest.raises(ValueError, match="no training triples"):
        train_bridge(kg, empty, table, tiny_config, tmp_path / "x", progress=False)


def test_bf16_training_learns_and_keeps_float32_weights(tiny_run, tiny_config, tmp_path):
    from biobridge.config import TrainConfig, with_overrides

    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8")
    bf16 = with_overrides(tiny_config, {"train.epochs": 3, "train.precision": "bf16"})
    pipeline.train(tiny_run, bf16, out_dir=tmp_path / "bf16", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "bf16" / "train_log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in rows) and rows[-1]["loss"] < rows[0]["loss"]
    model = pipeline.load_run(tiny_run, tmp_path / "bf16").model
    assert {p.dtype for p in model.parameters()} == {__import__("torch").float32}
