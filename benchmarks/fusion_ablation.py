"""Ablation of the hybrid's weight tuning on the full-KG benchmark splits: test MRR per task and mean, and the
number of tasks won against feature-kNN, reusing the benchmark's cpu-bridge checkpoints.

    python benchmarks/fusion_ablation.py WORKDIR BENCHMARK_OUT inductive-seed42 transductive-seed42

Strategies: A per-task grid (step 0.2); B grid + hill-climb (what `tune_fusion_weights` ships); C per-task grid
step 0.1; D one weight vector pooled over tasks; E per task with >= 200 validation queries, else pooled; fixed
mixes: feature-kNN alone, bridge alone, half bridge / half kNN. Parts: bridge, feature-kNN, graph-context,
popularity, standardised per query. Validation: up to 2000 queries of the 5 % validation heads.
"""

import sys
from pathlib import Path

import numpy as np
import torch

from biobridge.baselines.feature_knn import FeatureKNNScorer
from biobridge.baselines.graph_context import GraphContextScorer
from biobridge.baselines.popularity import PopularityScorer
from biobridge.baselines.tuned_fusion import _mixed_mrr, _refine, simplex_grid, standardise_rows
from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.run import TrainedRun
from biobridge.encoders import EmbeddingStore
from biobridge.evaluation.queries import build_task_queries
from biobridge.evaluation.tasks import PAPER_TASKS, discover_tasks
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.split import Split, validation_split
from biobridge.retrieval.scorer import BridgeScorer


def part_scores(kg, split, table, model, tasks, scorable, max_queries=None):
    parts = [
        BridgeScorer(model, table, name="bridge"),
        FeatureKNNScorer(kg, split, table),
        GraphContextScorer(kg, split, table),
        PopularityScorer(kg, split),
    ]
    out = {}
    for t in tasks:
        q = build_task_queries(kg, split, t, "relation", scorable)
        rows = np.arange(q.n_queries)
        if max_queries and len(rows) > max_queries:
            rows = np.sort(np.random.default_rng(0).choice(rows, max_queries, replace=False))
        gold = q.gold_mask(0, q.n_queries)[rows]
        out[t.name] = (
            [standardise_rows(p.score(t, q.query_nodes[rows], q.candidate_nodes)) for p in parts],
            gold,
        )
    return out


def best_on_grid(grid, parts, gold):
    scores = [_mixed_mrr(parts, w, gold) for w in grid]
    i = int(np.argmax(scores))
    return grid[i], scores[i]


def main(workdir: Path, bench_out: Path, split_names: list[str]) -> None:
    torch.set_num_threads(1)
    kg = KnowledgeGraph.load(workdir / "kg")
    table = EmbeddingTable.from_store(EmbeddingStore.load(workdir / "embeddings"), kg.num_nodes)
    scorable = table.has_embedding(np.arange(kg.num_nodes))
    names = {t.name for t in PAPER_TASKS}
    tasks = [t for t in discover_tasks(kg) if t.name in names]
    grid2, grid1 = simplex_grid(4, 0.2), simplex_grid(4, 0.1)
    for name in split_names:
        split = Split.load(workdir / "splits" / name)
        model = TrainedRun.open(bench_out / "models" / name / "biobridge-cpu").load_model()
        val = part_scores(kg, validation_split(kg, split, 0.05), table, model, tasks, scorable, 2000)
        test = part_scores(kg, split, table, model, tasks, scorable)
        totals = sum(np.array([_mixed_mrr(p, w, g) for w in grid1]) for p, g in val.values())
        pooled = grid1[int(np.argmax(totals))]
        print(name, "pooled weights", pooled)
        results = {}
        for t in tasks:
            parts, gold = val[t.name]
            w2, m2 = best_on_grid(grid2, parts, gold)
            w1, _ = best_on_grid(grid1, parts, gold)
            wr, _ = _refine(w2, m2, lambda w, p=parts, g=gold: _mixed_mrr(p, w, g), [True] * 4, 0.1)
            strategies = {
                "A_g2": w2,
                "B_refine": wr,
                "C_g1": w1,
                "D_pooled": pooled,
                "E_shrink": w1 if gold.shape[0] >= 200 else pooled,
                "knn": (0, 1, 0, 0),
                "bridge": (1, 0, 0, 0),
                "half": (0.5, 0.5, 0, 0),
            }
            tp, tg = test[t.name]
            results[t.name] = {k: _mixed_mrr(tp, w, tg) for k, w in strategies.items()}
            print(t.name, gold.shape[0], {k: round(v, 3) for k, v in results[t.name].items()}, flush=True)
        keys = list(next(iter(results.values())))
        print(name, "MEAN", {k: round(float(np.mean([results[t][k] for t in results])), 4) for k in keys})
        print(name, "WINS vs knn", {k: sum(results[t][k] > results[t]["knn"] for t in results) for k in keys})


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
