"""The retriever a run ships: recorded by training, rebuilt on load, used by retrieval and evaluation alike."""

import json

import numpy as np

from biobridge import pipeline
from biobridge.baselines import TunedScoreFusion
from biobridge.retrieval.bridge import Bridge
from biobridge.retrieval.scorer import BridgeScorer


def test_training_records_a_hybrid_tuned_on_validation_heads(tiny_run):
    run_dir = tiny_run / "model"
    record = json.loads((run_dir / "retriever.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    assert record["kind"] == "hybrid" and record["parts"][0] == "biobridge"
    assert set(record["parts"][1:]) == set(config["run_config"]["retriever"]["parts"])
    assert record["validation"]["hash"] != config["split"]["hash"]  # tuned on heads held out of training
    assert not record["validation"]["split_dir"].startswith("/")
    for task, weights in record["weights"].items():
        assert len(weights) == len(record["parts"]) and abs(sum(weights) - 1) < 1e-6, task
    # every neighbour vote among the parts has its k and sharpness per task, chosen from the configured grid
    retriever_config = config["run_config"]["retriever"]
    assert {"feature-knn", "homology-knn"} <= set(record["votes"]) and "popularity" not in record["votes"]
    for part, chosen in record["votes"].items():
        for task, vote in chosen.items():
            assert (
                vote["k"] in retriever_config["vote_k"]
                and vote["sharpness"] in retriever_config["vote_sharpness"]
            )
            assert vote["validation_mrr"] == max(vote["grid_mrr"].values()), (part, task)
    # protein queries without a sequence hit get their own weights, tuned on the validation queries without one
    assert retriever_config["gate"] == "homology-knn"
    assert record["gate"] == ("homology-knn" if record["fallback_weights"] else None)
    for task, weights in record["fallback_weights"].items():
        tuned = record["tuning"][task]
        assert weights == tuned["fallback"]["weights"] and len(weights) == len(record["parts"]), task
        assert min(tuned["n_queries"], tuned["fallback"]["n_queries"]) >= 20, task
    # each task with validation queries tried the smoothing grid; the kept alphas are recorded for scoring
    assert record["smoothing_k"] == retriever_config["smoothing_k"]
    for task, tuned in record["tuning"].items():
        if tuned["n_queries"]:
            grid = tuned["smoothing"]["validation_mrr_grid"]
            assert set(grid) == {str(a) for a in retriever_config["smoothing"]}, task
            assert record["smoothing"].get(task, 0.0) == tuned["smoothing"]["alpha"], task


def test_the_rebuilt_hybrid_votes_as_tuned(tiny_run):
    loaded = pipeline.load_run(tiny_run)
    record = loaded.run.retriever
    retriever = Bridge.from_run(loaded).retriever
    assert retriever.fallback == record["fallback_weights"]
    parts = dict(zip(record["parts"][1:], retriever.scorers[1:], strict=True))
    for part, chosen in record["votes"].items():
        assert parts[part].per_task == {
            t: {"k": v["k"], "sharpness": v["sharpness"]} for t, v in chosen.items()
        }


def _no_build(*args):
    raise AssertionError("a graph was built again")


def test_the_rebuilt_hybrid_smooths_as_recorded(tiny_run, monkeypatch):
    import shutil

    from biobridge.baselines.candidate_smoothing import CandidateSmoothing
    from biobridge.bridge.run import TrainedRun
    from biobridge.retrieval.retriever import save_smoothing_graphs

    record = TrainedRun.open(tiny_run / "model").retriever
    assert (tiny_run / "model" / "smoothing_graphs.safetensors").exists() == bool(record["smoothing"])
    # a copy beside the run (its recorded paths are relative), its retriever.json given a smoothing alpha
    run_dir = shutil.copytree(tiny_run / "model", tiny_run / "model-smoothing-test")
    try:
        loaded = pipeline.load_run(tiny_run, run_dir)
        plain = Bridge.from_run(loaded)
        record = json.loads((run_dir / "retriever.json").read_text())
        record["smoothing"] = {"Prot2BP": 1.0}
        (run_dir / "retriever.json").write_text(json.dumps(record))
        smoothed = Bridge.from_run(pipeline.load_run(tiny_run, run_dir)).retriever
        assert smoothed.smoothing == {"Prot2BP": 1.0} and smoothed.smoother.k == record["smoothing_k"]
        task = plain.task("protein", "interacts_with", "biological_process")
        queries = np.flatnonzero(loaded.kg.nodes["node_type"].to_numpy() == "protein")[:5]
        pool = plain.candidate_nodes("biological_process", "interacts_with")
        assert task.name == "Prot2BP"
        scores = smoothed.score(task, queries, pool)
        assert not np.allclose(plain.retriever.score(task, queries, pool), scores)
        # the graphs kept in the run are read back, not built again, and score the same
        save_smoothing_graphs(smoothed, loaded.kg, TrainedRun.open(run_dir))
        monkeypatch.setattr(CandidateSmoothing, "_build", _no_build)
        reread = Bridge.from_run(pipeline.load_run(tiny_run, run_dir)).retriever
        np.testing.assert_array_equal(reread.score(task, queries, pool), scores)
    finally:
        shutil.rmtree(run_dir)


def test_retrieve_and_evaluate_use_the_shipped_retriever(tiny_run):
    loaded = pipeline.load_run(tiny_run)
    bridge = Bridge.from_run(loaded)
    assert isinstance(bridge.retriever, TunedScoreFusion) and bridge.retriever.name == "biobridge-hybrid"
    kg = bridge.kg
    t = kg.triples[kg.triples["relation"] == "interacts_with"]
    protein = int(t["head"].value_counts().index[0])
    hits = bridge.retrieve(kg.nodes.at[protein, "node_id"], "protein", "biological_process", k=5)
    pool = bridge.candidate_nodes("biological_process", "interacts_with")
    task = bridge.task("protein", "interacts_with", "biological_process")
    row = bridge.retriever.score(task, np.array([protein]), pool)[0]
    expected = kg.nodes.loc[pool[np.argsort(-row, kind="stable")[:5]], "node_id"].tolist()
    assert hits["node_id"].tolist() == expected
    metrics = pipeline.evaluate_run(loaded, tiny_run / "eval-retriever")
    assert {"biobridge-hybrid", "popularity", "homology-knn"} <= set(metrics.methods)


def test_a_run_that_ships_the_bridge_alone(tiny_run, tiny_config, tmp_path):
    from biobridge.config import with_overrides

    config = with_overrides(tiny_config, {"train.epochs": 1, "retriever.kind": "bridge"})
    run = pipeline.train(tiny_run, config, out_dir=tmp_path / "alone", progress=False)
    assert run.retriever is None and not (tmp_path / "alone" / "retriever.json").exists()
    assert isinstance(Bridge.from_pretrained(run.directory).retriever, BridgeScorer)


def test_a_reused_run_is_tuned_again_when_the_retriever_settings_change(tiny_run, tiny_config, tmp_path):
    from biobridge.config import with_overrides

    out = tmp_path / "model"
    pipeline.train(tiny_run, tiny_config, protocol="paper", out_dir=out, progress=False)
    first = json.loads((out / "retriever.json").read_text())
    assert first["config"]["vote_k"] == list(tiny_config.retriever.vote_k)
    narrower = with_overrides(tiny_config, {"retriever.vote_k": [5], "retriever.vote_sharpness": [4.0]})
    pipeline.train(tiny_run, narrower, protocol="paper", out_dir=out, progress=False, reuse=True)
    again = json.loads((out / "retriever.json").read_text())
    assert again["config"]["vote_k"] == [5]
    chosen = [vote for part in again["votes"].values() for vote in part.values()]
    assert chosen and all(v["k"] == 5 and v["sharpness"] == 4.0 for v in chosen)


def test_evaluation_scores_homology_knn_with_the_hybrids_own_part():
    class Part:
        def __init__(self, name, settings):
            self.name, self.settings = name, settings

    class Retriever:
        scorers = [Part("bridge", {}), Part("homology-knn", {"k": 20})]

    same, other = Part("homology-knn", {"k": 20}), Part("homology-knn", {"k": 5})
    assert pipeline._own_part(Retriever(), same) is Retriever.scorers[1]  # fitted once, same scores
    assert pipeline._own_part(Retriever(), other) is other  # other settings: its own
    assert pipeline._own_part(Part("bridge", {}), same) is same  # a bridge-only run has no parts
