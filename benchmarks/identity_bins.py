"""Where the bridge earns its keep: MRR per protein task with the queries binned by their best sequence identity
to any training protein (MMseqs2 hits; none, < 30 %, 30-50 %, 50-90 %, > 90 %), for homology-kNN, feature-kNN,
the bridge alone and the shipped retriever, on a benchmark's split and its trained run.

    python benchmarks/identity_bins.py WORKDIR BENCH_OUT [--protocol inductive] [--seed 42] [--json OUT.json]
        [--also graph-context ...]

WORKDIR and BENCH_OUT are those of ``biobridge benchmark`` (its run ``models/<protocol>-seed<seed>/biobridge-cpu``).
"""

import argparse
import json
from pathlib import Path

import numpy as np

from biobridge.baselines import build_baseline
from biobridge.benchmark.data import load_benchmark_data
from biobridge.bridge.run import TrainedRun
from biobridge.evaluation import PAPER_TASKS, evaluate
from biobridge.evaluation.metrics import mrr_by_group
from biobridge.evaluation.queries import TRAIN_PART, KGIndex, split_parts
from biobridge.retrieval.retriever import build_retriever, part_votes
from biobridge.retrieval.scorer import BridgeScorer

BINS = (
    ("none", -1.0, 0.0),
    ("< 30 %", 0.0, 0.3),
    ("30-50 %", 0.3, 0.5),
    ("50-90 %", 0.5, 0.9),
    ("> 90 %", 0.9, 1.01),
)


def identity_bin(identity: float) -> str:
    if identity < 0:
        return "none"
    return next(name for name, lo, hi in BINS[1:] if lo <= identity < hi)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/identity_bins.py")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("bench_out", type=Path)
    parser.add_argument("--protocol", default="inductive")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bridge", default="biobridge-cpu")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--also", action="append", default=[], help="another baseline to bin (repeatable)")
    args = parser.parse_args()
    data = load_benchmark_data(args.workdir, None, progress=False)
    kg, table, store = data.kg, data.table, data.store
    split, _ = data.split(args.protocol, args.seed, 0.1)
    run = TrainedRun.open(args.bench_out / "models" / f"{args.protocol}-seed{args.seed}" / args.bridge)
    model = run.load_model()
    hits = data.protein_hits()

    def votes(name: str) -> dict:  # the votes' settings chosen on the validation heads, as the benchmark's
        return part_votes(run.retriever, name)

    scorers = [
        build_retriever(run, model, kg, split, table, store),
        BridgeScorer.of(model, kg, split, table, name="bridge alone"),
        build_baseline("homology-knn", kg, split, table, k=20, hits=hits, per_task=votes("homology-knn")),
        build_baseline("feature-knn", kg, split, table, k=50, per_task=votes("feature-knn")),
    ] + [build_baseline(name, kg, split, table, k=50, hits=hits, per_task=votes(name)) for name in args.also]
    tasks = [t for t in PAPER_TASKS if t.head_type == "protein"]
    result = evaluate(kg, split, scorers, tasks=tasks, scorable=table.has_embedding(np.arange(kg.num_nodes)))
    index = KGIndex(kg)
    train = split_parts(kg, split) == TRAIN_PART
    ends = np.union1d(index.head[train], index.tail[train])
    pool = ends[kg.node_type_array()[ends] == "protein"]
    out = {"protocol": args.protocol, "seed": args.seed, "run": str(run.directory), "tasks": {}}
    for task in tasks:
        queries = np.unique(result.ranks[(task.name, scorers[0].name)].query_nodes)
        best = hits.best_identity(queries, pool)
        group_of = {int(q): identity_bin(float(b)) for q, b in zip(queries, best, strict=True)}
        ordered = {name: [] for name, _, _ in BINS}
        for q, g in group_of.items():
            ordered[g].append(q)
        group_of = {q: g for g, qs in ordered.items() for q in qs}
        out["tasks"][task.name] = {
            s.name: mrr_by_group(
                result.ranks[(task.name, s.name)].query_nodes,
                result.ranks[(task.name, s.name)].rank,
                group_of,
            )
            for s in scorers
        }
    print(markdown(out, [s.name for s in scorers]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


def markdown(out: dict, methods: list[str]) -> str:
    lines = [
        f"Protocol `{out['protocol']}`, seed {out['seed']}: MRR per best-identity bin of the query to the training "
        "proteins (queries in the bin).",
        "",
        "| task | bin | queries | " + " | ".join(methods) + " |",
        "|---|---|---:|" + "---:|" * len(methods),
    ]
    for task, by_method in out["tasks"].items():
        for name, _, _ in BINS:
            entries = [by_method[m][name] for m in methods]
            if not entries[0]["n_queries"]:
                continue
            vals = [e["mrr"] for e in entries]
            best = max(vals)
            cells = [f"**{v:.3f}**" if v == best else f"{v:.3f}" for v in vals]
            lines.append(f"| {task} | {name} | {entries[0]['n_queries']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
