import json

import numpy as np
import pytest

from biobridge.baselines.popularity import PopularityScorer
from biobridge.evaluation.evaluator import evaluate
from biobridge.evaluation.result import EvaluationResult
from biobridge.evaluation.scorer import NotApplicableError
from tests.tiny_kg import MatrixScorer, random_kg


def test_chunked_equals_unchunked():
    kg, split = random_kg(1)
    rng = np.random.default_rng(5)
    matrix = np.round(rng.normal(size=(kg.num_nodes, kg.num_nodes)), 1)  # ties included
    scorers = [MatrixScorer(matrix), PopularityScorer(kg, split)]
    whole = evaluate(kg, split, scorers, query_chunk=10_000)
    chunked_scorer = MatrixScorer(matrix)
    chunked = evaluate(kg, split, [chunked_scorer, PopularityScorer(kg, split)], query_chunk=3)
    assert whole.tasks == chunked.tasks  # timings are kept apart, so the task sections are identical
    assert set(whole.timings) == set(whole.tasks)
    assert max(q for q, _ in chunked_scorer.calls) <= 3
    for key, r in whole.ranks.items():
        np.testing.assert_array_equal(r.rank, chunked.ranks[key].rank)
        np.testing.assert_array_equal(r.query_nodes, chunked.ranks[key].query_nodes)
    assert whole.tasks["Prot2BP"]["counts"]["n_queries"] > 3


def test_metrics_json_layout_and_roundtrip(tmp_path):
    kg, split = random_kg(2)
    matrix = np.random.default_rng(0).normal(size=(kg.num_nodes, kg.num_nodes))
    result = evaluate(kg, split, [MatrixScorer(matrix, "random"), PopularityScorer(kg, split)])
    path = result.to_json(tmp_path / "metrics.json")
    data = json.loads(path.read_text())
    assert data["protocol"] == "paper" and data["seed"] == 42 and data["split_hash"] == split.content_hash()
    for key in ("filtered_realistic_rank", "mrr", "candidate_policy", "tie_policy", "recall@k"):
        assert isinstance(data["definitions"][key], str)
    assert data["settings"]["candidate_policy"] == "relation"
    assert list(data["tasks"])[:3] == ["Prot2BP", "Drug2Prot", "Prot2Drug"]
    for task in data["tasks"].values():
        assert {"head_type", "relation", "tail_type", "counts", "methods"} <= set(task)
        for method in ("random", "popularity"):
            m = task["methods"][method]
            for key in ("mrr", "hits@1", "hits@3", "hits@10", "recall@10", "precision@10"):
                assert 0.0 <= m[key] <= 1.0
            assert m["n_queries"] > 0 and m["n_candidates"] > 0 and m["n_gold_pairs"] >= m["n_queries"]
    assert data["summary"]["random"]["n_tasks"] == len(data["tasks"])
    assert data["summary"]["random"]["n_paper_tasks"] == 3
    paper_mrr = [data["tasks"][n]["methods"]["random"]["mrr"] for n in ("Prot2BP", "Drug2Prot", "Prot2Drug")]
    assert data["summary"]["random"]["mean_mrr_paper_tasks"] == pytest.approx(np.mean(paper_mrr))
    assert set(data["timings_s"]) == set(data["tasks"])
    rerun = evaluate(kg, split, [MatrixScorer(matrix, "random"), PopularityScorer(kg, split)])
    assert rerun.to_dict()["tasks"] == result.to_dict()["tasks"]  # deterministic
    again = EvaluationResult.from_json(path)
    assert again.to_dict() == json.loads(json.dumps(result.to_dict()))

    table = result.format_table()
    assert "Prot2BP" in table and "popularity" in table and "MRR" in table and "H@10" in table
    mrr = data["tasks"]["Prot2BP"]["methods"]["popularity"]["mrr"]
    assert f"{mrr:.4f}" in table
    md = result.to_markdown()
    assert "| Prot2BP |" in md and "popularity MRR" in md
    txt, mdp = result.write_tables(tmp_path)
    assert txt.read_text() == table and mdp.exists()


def test_random_scores_mrr_near_expected():
    # a uniform random scorer ranks one gold among n non-gold candidates uniformly: E[1/rank] = H(n+1)/(n+1)
    kg, split = random_kg(3, n_prot=200, n_bp=30)
    rng = np.random.default_rng(1)
    matrix = rng.random((kg.num_nodes, kg.num_nodes))
    result = evaluate(kg, split, [MatrixScorer(matrix)], tasks=None)
    m = result.tasks["Prot2BP"]["methods"]["matrix"]
    assert 0.05 < m["mrr"] < 0.35
    assert m["hits@10"] > m["hits@3"] > m["hits@1"]


class NotApplicableScorer:
    name = "kge"

    def score(self, task, query_nodes, candidate_nodes):
        raise NotApplicableError("held-out heads have no KG embedding (inductive protocol)")


class NaNScorer:
    name = "nan"

    def score(self, task, query_nodes, candidate_nodes):
        return np.full((len(query_nodes), len(candidate_nodes)), np.nan, dtype=np.float32)


class WrongShapeScorer:
    name = "shape"

    def score(self, task, query_nodes, candidate_nodes):
        return np.zeros((len(query_nodes), len(candidate_nodes) + 1), dtype=np.float32)


def test_not_applicable_is_reported(tiny_kg, tiny_split, tmp_path):
    result = evaluate(tiny_kg, tiny_split, [NotApplicableScorer(), PopularityScorer(tiny_kg, tiny_split)])
    m = result.tasks["Prot2BP"]["methods"]["kge"]
    assert m["status"] == "not_applicable" and "inductive" in m["reason"]
    assert "mrr" not in m and m["n_queries"] == 2
    assert "n/a" in result.format_table()
    assert result.summary()["kge"]["n_tasks"] == 0
    json.loads(result.to_json(tmp_path / "m.json").read_text())


class ProteinQueriesOnly(PopularityScorer):
    def __init__(self, kg, split):
        super().__init__(kg, split)
        self.name = "proteins-only"

    def score(self, task, query_nodes, candidate_nodes):
        if task.head_type != "protein":
            raise NotApplicableError("protein queries only")
        return super().score(task, query_nodes, candidate_nodes)


def test_a_mean_over_fewer_tasks_than_the_table_is_not_shown(tiny_kg, tiny_split):
    result = evaluate(
        tiny_kg, tiny_split, [PopularityScorer(tiny_kg, tiny_split), ProteinQueriesOnly(tiny_kg, tiny_split)]
    )
    summary = result.summary()
    assert summary["proteins-only"]["n_tasks"] < summary["popularity"]["n_tasks"]
    assert summary["proteins-only"]["mean_mrr"] is not None  # metrics.json keeps it, with its task count
    mean_row = next(line for line in result.format_table().splitlines() if line.startswith("mean"))
    cells = [c.split() for c in mean_row.split("|")[1:]]
    assert cells[0][0] != "n/a" and cells[1] == ["n/a", "n/a"]


def test_tasks_without_queries_are_listed(tiny_kg, tiny_split):
    result = evaluate(tiny_kg, tiny_split, [PopularityScorer(tiny_kg, tiny_split)])
    # BP2Prot and Prot2Drug have no test triple (all reverse triples are train)
    for name in ("BP2Prot", "Prot2Drug"):
        assert result.tasks[name]["counts"]["n_queries"] == 0
        assert result.tasks[name]["methods"]["popularity"]["status"] == "no_queries"
    assert result.summary()["popularity"]["n_tasks"] == 2
    assert "-" in result.format_table()


def test_bad_scorers_raise(tiny_kg, tiny_split):
    with pytest.raises(ValueError, match="NaN"):
        evaluate(tiny_kg, tiny_split, [NaNScorer()])
    with pytest.raises(ValueError, match="shape"):
        evaluate(tiny_kg, tiny_split, [WrongShapeScorer()])
    pop = PopularityScorer(tiny_kg, tiny_split)
    with pytest.raises(ValueError, match="unique"):
        evaluate(tiny_kg, tiny_split, [pop, pop])


def test_scorable_mask_is_recorded(tiny_kg, tiny_split):
    scorable = np.ones(tiny_kg.num_nodes, dtype=bool)
    scorable[0] = False  # P0
    result = evaluate(tiny_kg, tiny_split, [PopularityScorer(tiny_kg, tiny_split)], scorable=scorable)
    m = result.tasks["Prot2BP"]["methods"]["popularity"]
    assert m["n_queries"] == 1 and m["n_queries_excluded"] == 1
    assert result.settings["n_scorable_nodes"] == tiny_kg.num_nodes - 1
