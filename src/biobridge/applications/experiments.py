"""Measured experiments of issue 5 that need a trained bridge on a working directory.

- :func:`train_without_relation` + :func:`unseen_relation_experiment`: hide one relation (both directions)
  from training and answer its task by composition of other relations (zero-shot relation).
- :func:`heldout_design_experiment`: guided vs unguided generation for indication diseases whose drugs are
  held out from the generator's seeds.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.kg.split import EXCLUDED, TRAIN, Split

log = logging.getLogger(__name__)


def split_without_relation(kg, split: Split, relation: str) -> Split:
    """A copy of ``split`` in which every TRAIN triple of ``relation`` or its reverse is EXCLUDED.

    TEST triples stay TEST, so the task keeps its queries; its protocol is ``<protocol>-minus-<relation>``."""
    reverse = kg.reverse_relations.get(relation)
    if reverse is None:
        raise KeyError(f"unknown relation {relation!r}; known: {kg.relations}")
    rel = kg.triples["relation"].to_numpy()
    hide = np.isin(rel, [relation, reverse]) & (split.triple_part == TRAIN)
    part = split.triple_part.copy()
    part[hide] = EXCLUDED
    per_relation = dict(split.per_relation)
    return dataclasses.replace(
        split, protocol=f"{split.protocol}-minus-{relation}", triple_part=part, per_relation=per_relation
    )


def train_without_relation(
    workdir,
    config,
    relation: str = "indication",
    protocol: str = "paper",
    seed: int = 42,
    out_dir=None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a bridge on ``protocol``'s split minus ``relation`` (both directions); the split is written to
    ``WORKDIR/splits/<protocol>-minus-<relation>-seed<seed>`` so ``pipeline.load_trained`` finds it."""
    from biobridge import pipeline
    from biobridge.bridge.embedding_table import EmbeddingTable
    from biobridge.bridge.train import train_bridge
    from biobridge.encoders.store import EmbeddingStore
    from biobridge.kg.graph import KnowledgeGraph
    from biobridge.kg.split import load_or_create_split
    from biobridge.retrieval.bridge import ArtifactPaths

    wd = pipeline.Workdir(workdir)
    kg = KnowledgeGraph.load(wd.kg)
    base = load_or_create_split(kg, wd.split(protocol, seed), protocol, 0.1, seed)
    split = split_without_relation(kg, base, relation)
    split_dir = wd.split(split.protocol, seed)
    split.save(split_dir)
    store = EmbeddingStore.load(wd.embeddings)
    table = EmbeddingTable.from_store(store, kg.num_nodes)
    out_dir = Path(out_dir) if out_dir else wd.root / f"model_minus_{relation}"
    out_dir.mkdir(parents=True, exist_ok=True)
    metadata = {
        "artifacts": ArtifactPaths(wd.kg.resolve(), wd.embeddings.resolve()).to_relative(out_dir.resolve())
        | {"split_dir": str(split_dir.resolve())},
        "kg_hash": kg.content_hash(),
        "split": {
            "protocol": split.protocol,
            "seed": split.seed,
            "test_fraction": split.test_fraction,
            "hash": split.content_hash(),
        },
        "hidden_relation": relation,
    }
    return train_bridge(kg, split, table, config, out_dir, metadata=metadata, progress=progress)


DEFAULT_COMPOSITIONS = (
    # (label, path, aggregate, pool, beam)
    (
        "compose target>rev_associated_with (mean, max, beam 10)",
        "drug:target:protein,protein:rev_associated_with:disease",
        "mean",
        "max",
        10,
    ),
    (
        "compose target>rev_associated_with (mean, softmax, beam 10)",
        "drug:target:protein,protein:rev_associated_with:disease",
        "mean",
        "softmax",
        10,
    ),
    (
        "compose target>rev_associated_with>~ (mean, softmax, beam 10)",
        "drug:target:protein,protein:rev_associated_with:disease,disease:~:disease",
        "mean",
        "softmax",
        10,
    ),
)


def unseen_relation_experiment(
    workdir,
    model_dir,
    supervised_model_dir=None,
    task_name: str = "Drug2Disease",
    compositions=DEFAULT_COMPOSITIONS,
    candidate_policy: str = "relation",
):
    """Evaluate the hidden relation's task with: the bridge's own (never trained) relation token, path
    compositions (``MultiHopScorer``), random (constant score), popularity from the *original* split's
    training edges (information the zero-shot model never saw) and, if given, the supervised bridge.

    Returns the ``EvaluationResult`` (same queries and candidates for every method)."""
    from biobridge import pipeline
    from biobridge.applications.multihop import MultiHopScorer
    from biobridge.bridge.checkpoint import load_checkpoint
    from biobridge.evaluation import PAPER_TASKS, PopularityScorer, evaluate
    from biobridge.kg.split import Split
    from biobridge.retrieval.scorer import BridgeScorer

    kg, split, table, model = pipeline.load_trained(workdir, model_dir)
    task = next(t for t in PAPER_TASKS if t.name == task_name)
    base_protocol = split.protocol.split("-minus-")[0]
    base_split = Split.load(pipeline.Workdir(workdir).split(base_protocol, split.seed))

    class Constant:
        name = "random (constant score)"

        def score(self, task, q, c):
            return np.zeros((len(q), len(c)), dtype=np.float32)

    scorers = [
        BridgeScorer(model, table, name="zero-shot relation token"),
        Constant(),
        PopularityScorer(kg, base_split, name="popularity (original training edges)"),
    ]
    for label, path, aggregate, pool, beam in compositions:
        scorers.append(
            MultiHopScorer(model, table, kg, path, beam=beam, aggregate=aggregate, pool=pool, name=label)
        )
    if supervised_model_dir is not None:
        scorers.append(BridgeScorer(load_checkpoint(supervised_model_dir), table, name="supervised bridge"))
    started = time.perf_counter()
    result = evaluate(
        kg,
        split,
        scorers,
        tasks=[task],
        candidate_policy=candidate_policy,
        scorable=table.has_embedding(np.arange(kg.num_nodes)),
    )
    log.info("unseen-relation evaluation took %.1f s", time.perf_counter() - started)
    return result


def heldout_design_experiment(
    bridge,
    n_diseases: int = 10,
    min_drugs: int = 5,
    n: int = 30,
    seed: int = 0,
    n_targets: int = 10,
    max_seeds: int = 30,
    **generation: Any,
) -> dict[str, Any]:
    """For ``n_diseases`` seeded indication diseases with at least ``min_drugs`` drugs: hold all their
    indication drugs out of the seeds, run guided design from the disease name and the unguided baseline
    (as many random seeds), and compare how close (max Tanimoto) each top-``n`` set lands to the held-out
    drugs. Use a bridge trained without ``indication`` edges so the hold-out is complete.
    """
    from biobridge.applications.design import (
        fingerprints,
        generate_candidates,
        max_tanimoto,
        unguided_candidates,
    )

    kg = bridge.kg
    t = kg.triples
    ind = t[t["relation"] == "rev_indication"]
    counts = ind.groupby("head")["tail"].nunique()
    eligible = np.sort(counts[counts >= min_drugs].index.to_numpy())
    rng = np.random.default_rng(seed)
    chosen = rng.choice(eligible, size=min(n_diseases, len(eligible)), replace=False)
    rows = []
    for d in chosen:
        held = set(ind.loc[ind["head"] == d, "tail"].astype(int).tolist())
        held_fps = fingerprints(kg.nodes.loc[sorted(held), "feature"].tolist())
        text = kg.nodes.at[d, "feature"]
        guided = generate_candidates(
            bridge,
            disease_text=text,
            n=n,
            seed=seed,
            n_targets=n_targets,
            max_seeds=max_seeds,
            exclude_drugs=held,
            **generation,
        )
        unguided = unguided_candidates(
            bridge, guided.targets, len(guided.seeds), n=n, seed=seed, exclude_drugs=held, **generation
        )
        row: dict[str, Any] = {
            "disease": kg.nodes.at[d, "name"],
            "disease_id": kg.nodes.at[d, "node_id"],
            "n_held_out_drugs": len(held),
        }
        # do the retrieved targets include real targets of the held-out drugs?
        held_targets = set(t.loc[(t["relation"] == "target") & t["head"].isin(held), "tail"].tolist())
        row["target_hits"] = int(len(set(guided.targets["node_index"].tolist()) & held_targets))
        for label, res in (("guided", guided), ("unguided", unguided)):
            sims, _ = max_tanimoto(fingerprints(res.candidates["smiles"].tolist()), held_fps)
            seed_sims, _ = max_tanimoto(fingerprints(res.seeds["smiles"].tolist()), held_fps)
            row[f"{label}_mean_maxsim_heldout"] = float(np.mean(sims)) if len(sims) else float("nan")
            row[f"{label}_frac_maxsim_ge_0.4"] = float(np.mean(sims >= 0.4)) if len(sims) else float("nan")
            row[f"{label}_seed_mean_maxsim_heldout"] = (
                float(np.mean(seed_sims)) if len(seed_sims) else float("nan")
            )
            for key in (
                "validity",
                "uniqueness",
                "novelty",
                "mean_max_tanimoto_known",
                "mean_bridge_score",
                "mean_qed",
                "n_candidates",
            ):
                row[f"{label}_{key}"] = res.stats.get(key)
        rows.append(row)
        log.info(
            "%s: guided %.3f vs unguided %.3f",
            row["disease"],
            row["guided_mean_maxsim_heldout"],
            row["unguided_mean_maxsim_heldout"],
        )
    keys = [k for k in rows[0] if k.startswith(("guided_", "unguided_"))] if rows else []
    summary = {k: float(np.nanmean([r[k] for r in rows if r[k] is not None])) for k in keys}
    wins = sum(r["guided_mean_maxsim_heldout"] > r["unguided_mean_maxsim_heldout"] for r in rows)
    summary["guided_wins"] = f"{wins}/{len(rows)}"
    summary["mean_target_hits"] = float(np.mean([r["target_hits"] for r in rows])) if rows else float("nan")
    return {
        "settings": {
            "n_diseases": len(rows),
            "min_drugs": min_drugs,
            "n": n,
            "seed": seed,
            "n_targets": n_targets,
            "max_seeds": max_seeds,
            **generation,
        },
        "summary": summary,
        "diseases": rows,
    }


def main(argv=None) -> None:
    """``python -m biobridge.applications.experiments STEP --workdir W`` — the measured runs of the docs.

    Steps: ``train`` (the bridge, WORKDIR/model), ``train-minus`` (without ``indication``,
    WORKDIR/model_minus_indication), ``similarity``, ``unseen``, ``design``. Results: WORKDIR/applications/.
    """
    import argparse
    import json

    from biobridge import pipeline
    from biobridge.artifacts import write_json
    from biobridge.config import preset, with_overrides

    parser = argparse.ArgumentParser(prog="python -m biobridge.applications.experiments")
    parser.add_argument("step", choices=["train", "train-minus", "similarity", "unseen", "design"])
    parser.add_argument("--workdir", "-w", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--n-pairs", type=int, default=5000)
    parser.add_argument("--n-diseases", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    wd = pipeline.Workdir(args.workdir)
    out = wd.root / "applications"
    config = with_overrides(preset("cpu"), {"train.epochs": args.epochs, "train.num_threads": args.threads})
    started = time.perf_counter()
    if args.step == "train":
        summary = pipeline.train(wd.root, config, progress=False)
    elif args.step == "train-minus":
        summary = train_without_relation(wd.root, config, "indication", progress=False)
    elif args.step == "similarity":
        from biobridge.applications.similarity import similarity_benchmark

        kg, split, table, model = pipeline.load_trained(wd.root)
        summary = similarity_benchmark(kg, split, table, model, n_pairs=args.n_pairs, seed=args.seed)
    elif args.step == "unseen":
        result = unseen_relation_experiment(wd.root, wd.root / "model_minus_indication", wd.model)
        result.to_json(out / "unseen_relation_metrics.json")
        summary = {"table": result.format_table(), "markdown": result.to_markdown()}
        print(summary["markdown"])
    else:
        from biobridge.retrieval.bridge import Bridge

        bridge = Bridge.from_pretrained(wd.root / "model_minus_indication")
        summary = heldout_design_experiment(
            bridge,
            n_diseases=args.n_diseases,
            seed=args.seed,
            n=30,
            n_brics=1000,
            n_mutations=300,
            time_budget_s=20,
        )
    summary = {"step": args.step, "seconds": round(time.perf_counter() - started, 1), "result": summary}
    write_json(out / f"{args.step}.json", summary)
    print(json.dumps(summary, indent=2, default=str)[:6000])


if __name__ == "__main__":
    main()
