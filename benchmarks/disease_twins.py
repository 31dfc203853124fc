"""How much do same-name disease twins (one disease as an OMIM and an Orphanet node) flatter Disease2Prot?

    python benchmarks/disease_twins.py WORKDIR BENCH_OUT [--protocol inductive] [--seed 42 43 44]

For each seed: the Disease2Prot MRR of the shipped retriever, feature-kNN and homology-kNN (with the votes the
run chose on its validation heads), over the test diseases that have a training disease of the same name
(case-folded) and over the others. WORKDIR and BENCH_OUT are those of ``biobridge benchmark`` (its runs
``models/<protocol>-seed<seed>/biobridge-cpu``).
"""

import argparse
import json
from pathlib import Path

import numpy as np

from biobridge.baselines import build_baseline
from biobridge.benchmark.data import load_benchmark_data
from biobridge.bridge.run import TrainedRun
from biobridge.evaluation import evaluate
from biobridge.evaluation.metrics import mrr_by_group
from biobridge.evaluation.queries import TRAIN_PART, KGIndex, split_parts
from biobridge.evaluation.tasks import discover_tasks
from biobridge.retrieval.retriever import build_retriever, part_votes


def main() -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/disease_twins.py")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("bench_out", type=Path)
    parser.add_argument("--protocol", default="inductive")
    parser.add_argument("--seed", type=int, nargs="+", default=[42, 43, 44])
    args = parser.parse_args()
    data = load_benchmark_data(args.workdir, None, progress=False)
    kg, table, store = data.kg, data.table, data.store
    task = next(t for t in discover_tasks(kg) if t.name == "Disease2Prot")
    names = kg.nodes["name"].fillna("").str.strip().str.casefold().to_numpy()
    index = KGIndex(kg)
    out = {}
    for seed in args.seed:
        split, _ = data.split(args.protocol, seed, 0.1)
        run = TrainedRun.open(args.bench_out / "models" / f"{args.protocol}-seed{seed}" / "biobridge-cpu")
        hits = data.protein_hits()
        scorers = [
            build_retriever(run, run.load_model(), kg, split, table, store),
            build_baseline(
                "feature-knn", kg, split, table, per_task=part_votes(run.retriever, "feature-knn")
            ),
            build_baseline(
                "homology-knn",
                kg,
                split,
                table,
                hits=hits,
                per_task=part_votes(run.retriever, "homology-knn"),
            ),
        ]
        result = evaluate(
            kg, split, scorers, tasks=[task], scorable=table.has_embedding(np.arange(kg.num_nodes))
        )
        train = split_parts(kg, split) == TRAIN_PART
        trained_diseases = np.unique(index.head[train & index.task_mask(task)])
        trained_names = set(names[trained_diseases])
        queries = np.unique(result.ranks[(task.name, scorers[0].name)].query_nodes)
        group_of = {int(q): "twin in training" if names[q] in trained_names else "no twin" for q in queries}
        out[seed] = {
            s.name: mrr_by_group(
                result.ranks[(task.name, s.name)].query_nodes,
                result.ranks[(task.name, s.name)].rank,
                group_of,
            )
            for s in scorers
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
