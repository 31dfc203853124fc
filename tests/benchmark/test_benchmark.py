"""``run_benchmark`` end to end on a tiny real subset (30 nodes per type of the default KG), its result cache,
the runs it trains, plus the aggregation and relative gains on hand-made numbers. PyKEEN (extra ``kge``) is
only needed by the tests marked so."""

import csv
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from biobridge.benchmark import BridgeVariant, load_benchmark_config, run_benchmark
from biobridge.benchmark.aggregate import aggregate, relative_gains

TINY = replace(
    load_benchmark_config("quick"),
    max_nodes_per_type=30,
    bridges=(
        BridgeVariant(
            "biobridge-cpu",
            "cpu",
            {"train.epochs": 1, "retriever.validation_fraction": 0.2, "retriever.k": 10},
            "cpu preset, 1 epoch (test)",
        ),
        BridgeVariant(
            "biobridge-paper",
            "paper",
            {
                "train.epochs": 1,
                "train.max_triples_per_epoch": 128,
                "train.batch_size": 128,
                "train.compile": False,
            },
            "paper preset REDUCED: 128 triples",
        ),
    ),
    kge_models=(),
)
TINY_KGE = replace(
    TINY,
    kge_models=("TransE", "DistMult"),
    kge={"embedding_dim": 16, "epochs": 1, "batch_size": 512, "lr": 1e-2, "num_negs_per_pos": 2},
    kge_search={"embedding_dim": [8, 16], "epochs": [1]},
    kge_search_samples=1,
)
NON_KGE = [
    "biobridge-cpu",
    "biobridge-paper",
    "biobridge-hybrid",
    "biobridge-cpu+knn",
    "popularity",
    "feature-knn",
    "graph-context",
    "homology-knn",
    "tanimoto-knn",
]
# the domain experts' first tries answer only the tasks with a protein end / a drug query
EXPERT_SCOPE = {"homology-knn": "protein", "tanimoto-knn": "drug"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bench")
    docs = workdir / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nhand-written intro\n\n## Performance\n\nkept\n", encoding="utf-8")
    summary = run_benchmark(workdir, config=TINY, docs_path=docs)
    return workdir, summary, docs


@pytest.fixture(scope="module")
def bench_kge(bench):
    """The same benchmark with two KGE models added (every other result is reused from ``bench``)."""
    pytest.importorskip("pykeen", reason="pykeen is not installed (optional extra 'kge')")
    workdir, _, _ = bench
    return workdir, run_benchmark(workdir, config=TINY_KGE, methods=["transe", "distmult"])


def test_tables_and_files(bench):
    workdir, summary, docs = bench
    out = workdir / "benchmark-quick"
    for protocol in ("paper", "transductive", "inductive"):
        for ext in ("md", "csv", "png"):
            assert (out / f"{protocol}.{ext}").stat().st_size > 0
        assert (workdir / "splits" / f"{protocol}-seed42" / "split.json").exists()
    assert (out / "benchmark.json").exists()
    assert summary["methods"] == NON_KGE
    assert summary["wall_seconds"] > 0
    md = (out / "paper.md").read_text()
    assert "paper preset REDUCED" in md and "best non-KGE" in md
    text = docs.read_text()
    assert "hand-written intro" in text and "## Performance" in text and "kept" in text
    assert "leak" in text and "### Protocol `transductive`" in text


def test_numbers_finite(bench):
    _, summary, _ = bench
    for protocol, agg in summary["protocols"].items():
        for name, task in agg["tasks"].items():
            if task["counts"]["n_queries"] == 0:
                continue
            for method, entry in task["methods"].items():
                scope = EXPERT_SCOPE.get(method)
                head, tail = name.split("2")[0], name.split("2")[1].split(".")[0]
                if scope == "protein" and "Prot" not in (head, tail) or scope == "drug" and head != "Drug":
                    assert entry["status"] == "not_applicable", (protocol, name, method)
                    continue
                assert entry["status"] == "ok", (protocol, name, method)
                assert 0 < entry["mrr"]["mean"] <= 1 and math.isfinite(entry["hits@10"]["mean"])


def test_kge_not_applicable_inductively_and_gains_from_the_table(bench_kge):
    workdir, summary = bench_kge
    assert summary["methods"] == NON_KGE[:4] + ["transe", "distmult"] + NON_KGE[4:]
    assert summary["versions"]["pykeen"]
    inductive = summary["protocols"]["inductive"]
    for name, task in inductive["tasks"].items():
        if task["counts"]["n_queries"]:
            assert task["methods"]["transe"]["status"] == "not_applicable", name
    assert inductive["averages"]["all"]["transe"]["status"] == "not_applicable"
    assert inductive["gains"]["biobridge-cpu"]["all"]["best_kge"] is None
    # each KGE model's settings were chosen on validation heads among its config and one grid point
    tuning = json.loads((workdir / "benchmark-quick" / "kge_tuning" / "transe.json").read_text())
    assert [t["settings"]["embedding_dim"] for t in tuning["tried"]] == [16, 8]
    record = json.loads((workdir / "benchmark-quick" / "runs" / "paper-seed42" / "transe.json").read_text())
    assert record["details"]["settings"]["embedding_dim"] == tuning["best"]["embedding_dim"]
    agg = summary["protocols"]["transductive"]
    avg = agg["averages"]["all"]
    best_kge = max(("transe", "distmult"), key=lambda m: avg[m]["mrr"]["mean"])
    best_base = max(("popularity", "feature-knn", "graph-context"), key=lambda m: avg[m]["mrr"]["mean"])
    g = agg["gains"]["biobridge-cpu"]["all"]
    b = avg["biobridge-cpu"]["mrr"]["mean"]
    assert g["best_kge"] == best_kge and g["best_non_kge"] == best_base
    assert g["gain_over_best_kge"] == pytest.approx(b / avg[best_kge]["mrr"]["mean"] - 1)
    assert g["gain_over_best_non_kge"] == pytest.approx(b / avg[best_base]["mrr"]["mean"] - 1)
    # the CSV holds the same averages
    rows = list(csv.DictReader((workdir / "benchmark-quick" / "transductive.csv").open()))
    row = next(r for r in rows if r["task"] == "mean (all tasks)" and r["method"] == "biobridge-cpu")
    assert float(row["mrr_mean"]) == pytest.approx(b, abs=1e-6)


def _records(out):
    return {p: p.read_bytes() for p in sorted((out / "runs").rglob("*.json"))}


def test_second_run_reuses_every_result_and_force_recomputes(bench):
    workdir, summary, _ = bench
    out = workdir / "benchmark-quick"
    before = _records(out)
    stamps = {p: p.stat().st_mtime_ns for p in before}
    again = run_benchmark(workdir, config=TINY, methods=["popularity", "feature-knn"], protocols=["paper"])
    # nothing recomputed: every record untouched, and the methods not selected this time still reported
    assert _records(out) == before and {p: p.stat().st_mtime_ns for p in before} == stamps
    assert again["methods"] == NON_KGE
    assert again["protocols"]["paper"]["tasks"] == summary["protocols"]["paper"]["tasks"]
    forced = run_benchmark(workdir, config=TINY, methods=["popularity"], protocols=["paper"], force=True)
    path = out / "runs" / "paper-seed42" / "popularity.json"
    assert path.stat().st_mtime_ns != stamps[path]
    assert forced["protocols"]["paper"]["tasks"] == summary["protocols"]["paper"]["tasks"]
    # other settings are another result: a different k is not served from the cache
    changed = run_benchmark(
        workdir, config=replace(TINY, knn_k=3), methods=["feature-knn"], protocols=["paper"]
    )
    # (the fusion and the neighbour votes record k too: their cached results no longer match; the hybrid
    # takes its k from its run config)
    assert changed["methods"] == [
        "biobridge-cpu",
        "biobridge-paper",
        "biobridge-hybrid",
        "popularity",
        "feature-knn",
    ]
    assert json.loads((out / "runs" / "paper-seed42" / "feature-knn.json").read_text())["settings"]["k"] == 3


def test_a_benchmark_bridge_is_an_ordinary_run(bench):
    from biobridge.retrieval.bridge import Bridge

    workdir, _, _ = bench
    run_dir = workdir / "benchmark-quick" / "models" / "transductive-seed42" / "biobridge-cpu"
    bridge = Bridge.from_pretrained(run_dir)
    protein = bridge.kg.nodes.at[int(bridge.kg.nodes_of_type("protein")[0]), "node_id"]
    hits = bridge.retrieve(protein, "protein", "biological_process", k=3)
    assert len(hits) == 3 and np.isfinite(hits["score"]).all()
    config = json.loads((run_dir / "config.json").read_text())
    # evaluated on the benchmark's split; its bridge trained without the validation heads that tuned it
    assert config["split"]["protocol"] == "transductive"
    assert config["artifacts"]["split_dir"].endswith("transductive-seed42")
    retriever = json.loads((run_dir / "retriever.json").read_text())
    assert retriever["validation"]["split_dir"].endswith("transductive-seed42-validation0.2")
    assert config["trained_on"]["hash"] == retriever["validation"]["hash"]
    assert bridge.retriever.name == "biobridge-hybrid"


def _run(mrr_by_method, kinds, seed=42):
    return {
        m: {
            "fit_seconds": 1.0,
            "eval_seconds": 1.0,
            "evaluation": {
                "tasks": {
                    t: {
                        "counts": {"n_queries": 5, "n_candidates": 9},
                        "methods": {m: {"status": "ok", "mrr": v[t], "hits@10": v[t]}},
                    }
                    for t in v
                }
            },
        }
        for m, v in mrr_by_method.items()
    }


def test_aggregate_mean_std_and_gains_by_hand():
    methods = ["bridge", "transe", "popularity"]
    kinds = {"bridge": "bridge", "transe": "kge", "popularity": "baseline"}
    runs = {
        42: _run(
            {
                "bridge": {"Prot2BP": 0.4, "Prot2MF": 0.6},
                "transe": {"Prot2BP": 0.2, "Prot2MF": 0.3},
                "popularity": {"Prot2BP": 0.1, "Prot2MF": 0.5},
            },
            kinds,
        ),
        43: _run(
            {
                "bridge": {"Prot2BP": 0.6, "Prot2MF": 0.6},
                "transe": {"Prot2BP": 0.2, "Prot2MF": 0.3},
                "popularity": {"Prot2BP": 0.1, "Prot2MF": 0.5},
            },
            kinds,
        ),
    }
    agg = aggregate(runs, methods, kinds)
    e = agg["tasks"]["Prot2BP"]["methods"]["bridge"]["mrr"]
    assert e["mean"] == pytest.approx(0.5) and e["std"] == pytest.approx(math.sqrt(0.02))
    avg = agg["averages"]["paper"]["bridge"]["mrr"]
    assert avg["mean"] == pytest.approx(0.55)  # seeds: 0.5 and 0.6
    g = relative_gains(agg)["bridge"]["paper"]
    assert g["gain_over_best_kge"] == pytest.approx(0.55 / 0.25 - 1)
    assert g["gain_over_best_non_kge"] == pytest.approx(0.55 / 0.3 - 1)
    assert agg["gains"]["bridge"]["beats_non_kge_on"] == ["Prot2BP", "Prot2MF"]
    assert agg["gains"]["bridge"]["beats_knn_and_popularity_on"] == ["Prot2BP", "Prot2MF"]
    # Prot2MF: bridge 0.6 vs popularity 0.5 -> a win; raise popularity above it and it is a loss
    runs[42]["popularity"]["evaluation"]["tasks"]["Prot2MF"]["methods"]["popularity"]["mrr"] = 0.9
    runs[43]["popularity"]["evaluation"]["tasks"]["Prot2MF"]["methods"]["popularity"]["mrr"] = 0.9
    agg = aggregate(runs, methods, kinds)
    assert agg["gains"]["bridge"]["loses_to_knn_and_popularity_on"] == ["Prot2MF"]


def test_method_run_on_fewer_seeds_is_aggregated_over_its_own_seeds():
    kinds = {"bridge": "bridge", "big": "bridge", "popularity": "baseline"}
    runs = {
        42: _run({"bridge": {"Prot2BP": 0.4}, "big": {"Prot2BP": 0.9}, "popularity": {"Prot2BP": 0.1}}, None),
        43: _run({"bridge": {"Prot2BP": 0.6}, "popularity": {"Prot2BP": 0.3}}, None),
    }
    agg = aggregate(runs, ["bridge", "big", "popularity"], kinds)
    assert agg["seeds_per_method"]["big"] == [42]
    assert agg["tasks"]["Prot2BP"]["methods"]["big"]["mrr"] == {"mean": 0.9, "std": 0.0, "n": 1}
    assert agg["averages"]["paper"]["popularity"]["mrr"]["mean"] == pytest.approx(0.2)
    assert agg["gains"]["big"]["paper"]["gain_over_best_non_kge"] == pytest.approx(0.9 / 0.2 - 1)


def test_subset_of_a_larger_workdir_is_a_workdir_with_its_embeddings(bench):
    from biobridge.benchmark.data import load_benchmark_data
    from biobridge.bridge.embedding_table import EmbeddingTable
    from biobridge.encoders import EmbeddingStore
    from biobridge.kg.graph import KnowledgeGraph

    workdir, _, _ = bench
    parent = KnowledgeGraph.load(workdir / "kg")
    parent_table = EmbeddingTable.from_store(EmbeddingStore.load(workdir / "embeddings"), parent.num_nodes)
    data = load_benchmark_data(workdir, 15, progress=False)
    kg, table = data.kg, data.table
    assert data.info["subset"]["max_nodes_per_type"] == 15 and kg.num_nodes <= 6 * 15
    assert data.workdir.root == workdir / "subset15"
    assert KnowledgeGraph.load(data.workdir.kg).content_hash() == kg.content_hash()
    _, split_dir = data.split("paper", 42, 0.1)
    assert split_dir == workdir / "subset15" / "splits" / "paper-seed42"
    # the homology encoder is fitted on its node type's items: refitted on the subset's proteins
    assert (
        data.store.encoder("protein").reference
        == kg.nodes.loc[kg.nodes_of_type("protein"), "feature"].tolist()
    )
    for node_type in ("drug", "biological_process"):  # stateless encoders: the parent's rows, copied
        nodes = kg.nodes_of_type(node_type)
        ids = kg.nodes.loc[nodes, "node_id"].tolist()
        parent_nodes = np.array([parent.lookup(node_type, i) for i in ids])
        np.testing.assert_array_equal(
            table.raw(node_type, nodes).numpy(), parent_table.raw(node_type, parent_nodes).numpy()
        )


def test_hybrid_weights_are_tuned_on_a_validation_split(bench):
    workdir, _, _ = bench
    record = json.loads(
        (workdir / "benchmark-quick" / "runs" / "transductive-seed42" / "biobridge-hybrid.json").read_text()
    )
    details = record["details"]
    assert details["validation_split_hash"] != record["split_hash"]
    parts = ["biobridge", "homology-knn", "tanimoto-knn", "feature-knn", "graph-context", "popularity"]
    assert details["settings"]["parts"] == parts
    for name, entry in details["tuning"].items():
        assert sum(entry["weights"]) == pytest.approx(1.0), name
        assert details["settings"]["weights"][name] == entry["weights"]
    # the hybrid mixes the checkpoint of the bridge variant itself
    bridge = json.loads(
        (workdir / "benchmark-quick" / "runs" / "transductive-seed42" / "biobridge-cpu.json").read_text()
    )
    assert details["bridge_training"] == bridge["details"]["training"]


def test_interrupted_kge_search_resumes_from_its_finished_candidates(bench_kge):
    workdir, _ = bench_kge
    path = workdir / "benchmark-quick" / "kge_tuning" / "transe.json"
    full = json.loads(path.read_text())
    first = full["tried"][0]
    # as written after the first candidate of an interrupted search
    path.write_text(json.dumps({**full, "tried": [first], "best": None}))
    run_benchmark(workdir, config=TINY_KGE, methods=["transe"], force=True)
    resumed = json.loads(path.read_text())
    assert resumed["tried"][0] == first  # reused, not retrained (its timing would differ)
    assert [t["settings"] for t in resumed["tried"]] == [t["settings"] for t in full["tried"]]
    assert resumed["best"] in [t["settings"] for t in resumed["tried"]]


def test_a_model_left_out_of_the_kge_search_keeps_the_base_settings():
    from biobridge.benchmark.kge_tuning import search_candidates
    from biobridge.benchmark.methods import method_registry

    skipped = replace(TINY_KGE, kge_search_skip=("DistMult",))
    assert len(search_candidates(skipped, "TransE")) == 2
    assert search_candidates(skipped, "DistMult") == [TINY_KGE.kge]
    methods = method_registry(skipped)
    assert "search" in methods["transe"].settings and "search" not in methods["distmult"].settings
    with pytest.raises(ValueError, match="kge_search_skip"):
        replace(TINY_KGE, kge_search_skip=("RotatE",))
