"""Is the shipped hybrid's gain over its best single part on the validation heads real, and does it hold on test?

    python benchmarks/fusion_gap.py WORKDIR RUN_DIR SPLIT_DIR TASK [--part feature-knn]

For one trained run with a hybrid retriever (``RUN_DIR/retriever.json``) and one task: the MRR of the tuned mix
and of ``--part`` alone, and their paired difference with a standard error clustered by query (MRR averages
over (query, gold) pairs, the pairs of one query are not independent), on the validation heads the weights were
tuned on and on the test heads of ``SPLIT_DIR`` (the outer split the run is evaluated on). Baselines are fitted
on each split's own training triples, as the tuning and the evaluation fit them; the bridge is the run's.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from biobridge.baselines.registry import build_baseline
from biobridge.baselines.tuned_fusion import standardise_rows
from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.run import TrainedRun
from biobridge.encoders import EmbeddingStore
from biobridge.evaluation.queries import KGIndex, build_task_queries
from biobridge.evaluation.ranks import filtered_realistic_ranks
from biobridge.evaluation.tasks import discover_tasks
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.split import Split
from biobridge.retrieval.retriever import BRIDGE_NAME, protein_hits
from biobridge.retrieval.scorer import BridgeScorer


def paired_gap(query_idx: np.ndarray, rr_a: np.ndarray, rr_b: np.ndarray) -> tuple[float, float]:
    """MRR(a) - MRR(b) over (query, gold) pairs and its standard error clustered by query."""
    counts = np.bincount(query_idx)
    used = counts > 0
    weight = counts[used] / counts.sum()
    per_query = np.bincount(query_idx, weights=rr_a - rr_b)[used] / counts[used]
    gap = float((weight * per_query).sum())
    n = len(per_query)
    return gap, float(np.sqrt(((weight * (per_query - gap)) ** 2).sum() * n / max(n - 1, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/fusion_gap.py")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("split_dir", type=Path)
    parser.add_argument("task")
    parser.add_argument("--part", default="feature-knn")
    args = parser.parse_args()

    kg = KnowledgeGraph.load(args.workdir / "kg")
    store = EmbeddingStore.load(args.workdir / "embeddings")
    table = EmbeddingTable.from_store(store, kg.num_nodes)
    record = json.loads((args.run_dir / "retriever.json").read_text())
    parts, weights = record["parts"], record["weights"][args.task]
    task = next(t for t in discover_tasks(kg) if t.name == args.task)
    bridge = BridgeScorer(TrainedRun.open(args.run_dir).load_model(), table, name=BRIDGE_NAME)
    hits = protein_hits(kg, store, parts[1:])
    scorable = table.has_embedding(np.arange(kg.num_nodes))
    index = KGIndex(kg)
    splits = {
        "validation": Split.load((args.run_dir / record["validation"]["split_dir"]).resolve()),
        "test": Split.load(args.split_dir),
    }
    report = {"task": args.task, "parts": parts, "weights": weights, "compared_with": args.part}
    for label, split in splits.items():
        scorers = {BRIDGE_NAME: bridge}
        for name, w in zip(parts[1:], weights[1:], strict=True):
            if w or name == args.part:
                scorers[name] = build_baseline(name, kg, split, table, record["k"], hits)
        q = build_task_queries(kg, split, task, "relation", scorable, index=index)
        gold = q.gold_mask(0, q.n_queries)
        z = {
            name: standardise_rows(s.score(task, q.query_nodes, q.candidate_nodes))
            for name, s in scorers.items()
        }
        mix = sum(np.float32(w) * z[name] for name, w in zip(parts, weights, strict=True) if w)
        query_idx, rank_mix = filtered_realistic_ranks(mix, gold)
        _, rank_part = filtered_realistic_ranks(z[args.part], gold)
        gap, se = paired_gap(query_idx, 1 / rank_mix, 1 / rank_part)
        report[label] = {
            "n_queries": int(q.n_queries),
            "mrr_mix": float(np.mean(1 / rank_mix)),
            f"mrr_{args.part}": float(np.mean(1 / rank_part)),
            "gap": gap,
            "gap_se_clustered_by_query": se,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
