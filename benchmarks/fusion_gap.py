"""Is the shipped hybrid's gain over its best single part on the validation heads real, and does it hold on test?

    python benchmarks/fusion_gap.py WORKDIR RUN_DIR SPLIT_DIR [TASK ...]

For one trained run with a hybrid retriever (``RUN_DIR/retriever.json``) and each task (default: the paper's
8): the MRR of the tuned mix and of every part alone, on the validation heads the weights were tuned on and on
the test heads of ``SPLIT_DIR`` (the outer split the run is evaluated on); the part best alone on validation;
the paired difference of the mix and that part with a standard error clustered by query (MRR averages over
(query, gold) pairs, the pairs of one query are not independent); and what a "keep the best single part unless
the mix beats it by more than c SEs on validation" rule would ship, for c = 1 and 2, with its test MRR.
Baselines are fitted on each split's own training triples, with the votes' settings the run chose, as the
tuning and the evaluation fit them; the bridge is the run's.
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
from biobridge.evaluation import PAPER_TASKS
from biobridge.evaluation.queries import KGIndex, build_task_queries
from biobridge.evaluation.ranks import filtered_realistic_ranks
from biobridge.evaluation.scorer import NotApplicableError
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.split import Split
from biobridge.retrieval.retriever import BRIDGE_NAME, part_votes, protein_hits
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


def reciprocal_ranks(kg, split, task, scorers, weights, scorable, index) -> tuple[np.ndarray, dict]:
    """(query index per (query, gold) pair, {"mix": rr, part: rr, ...}) on ``split``'s test heads."""
    q = build_task_queries(kg, split, task, "relation", scorable, index=index)
    gold = q.gold_mask(0, q.n_queries)
    z = {}
    for name, scorer in scorers.items():
        try:
            z[name] = standardise_rows(scorer.score(task, q.query_nodes, q.candidate_nodes))
        except NotApplicableError:
            continue
    mix = sum(np.float32(w) * z[name] for name, w in weights.items() if w)
    query_idx, rank = filtered_realistic_ranks(mix, gold)
    rr = {"mix": 1 / rank}
    for name, scores in z.items():
        rr[name] = 1 / filtered_realistic_ranks(scores, gold)[1]
    return query_idx, rr


def main() -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/fusion_gap.py")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("split_dir", type=Path)
    parser.add_argument("tasks", nargs="*", default=[t.name for t in PAPER_TASKS])
    args = parser.parse_args()

    kg = KnowledgeGraph.load(args.workdir / "kg")
    store = EmbeddingStore.load(args.workdir / "embeddings")
    table = EmbeddingTable.from_store(store, kg.num_nodes)
    record = json.loads((args.run_dir / "retriever.json").read_text())
    parts = record["parts"]
    bridge = BridgeScorer(TrainedRun.open(args.run_dir).load_model(), table, name=BRIDGE_NAME)
    hits = protein_hits(kg, store, parts[1:])
    scorable = table.has_embedding(np.arange(kg.num_nodes))
    index = KGIndex(kg)
    splits = {
        "validation": Split.load((args.run_dir / record["validation"]["split_dir"]).resolve()),
        "test": Split.load(args.split_dir),
    }
    fitted = {}
    for label, split in splits.items():
        fitted[label] = {BRIDGE_NAME: bridge}
        for name in parts[1:]:
            votes = part_votes(record, name)
            fitted[label][name] = build_baseline(name, kg, split, table, record["k"], hits, per_task=votes)
    report = {"run": str(args.run_dir), "parts": parts, "tasks": {}}
    for task in (t for t in PAPER_TASKS if t.name in args.tasks):
        weights = dict(zip(parts, record["weights"][task.name], strict=True))
        entry = {"weights": weights}
        rrs = {}
        for label, split in splits.items():
            rrs[label] = reciprocal_ranks(kg, split, task, fitted[label], weights, scorable, index)
            entry[label] = {name: float(np.mean(rr)) for name, rr in rrs[label][1].items()}
        validation = entry["validation"]
        best = max((n for n in validation if n != "mix"), key=lambda n: validation[n])
        for label in splits:
            query_idx, rr = rrs[label]
            entry[f"{label}_gap_to_{best}"] = paired_gap(query_idx, rr["mix"], rr[best])
        gap, se = entry[f"validation_gap_to_{best}"]
        entry["best_alone_on_validation"] = best
        for c in (1, 2):
            ship = "mix" if gap > c * se else best
            entry[f"rule_{c}se"] = {"ships": ship, "test_mrr": entry["test"][ship]}
        report["tasks"][task.name] = entry
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
