"""A relation the bridge never saw (BioBridge paper, out-of-domain generalisation): hide one relation (both
directions) from training and answer its task by composing other relations (``MultiHopScorer``), against the
never-trained relation token, a constant score, popularity from the original training edges and, if given,
the supervised bridge. Measured in docs/applications.md (``python benchmarks/applications.py unseen``)."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from biobridge import pipeline
from biobridge.applications.multihop import HopScorer, MultiHopScorer
from biobridge.baselines.popularity import PopularityScorer
from biobridge.bridge.run import TrainedRun
from biobridge.config import with_overrides
from biobridge.evaluation import PAPER_TASKS, evaluate
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.split import EXCLUDED, TRAIN, Split, load_or_create_split
from biobridge.retrieval.scorer import BridgeScorer

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
    **existing_run: bool,
):
    """Train a bridge on ``protocol``'s split minus ``relation`` (both directions), through
    ``biobridge.pipeline.train``; the split is written to ``WORKDIR/splits/<protocol>-minus-<relation>-seed<seed>``
    and the run (default ``WORKDIR/model_minus_<relation>``) records it and the hidden relation.
    ``existing_run``: ``reuse``, ``resume`` or ``overwrite`` for a run already there (``pipeline.train``)."""
    wd = pipeline.Workdir(workdir)
    kg = KnowledgeGraph.load(wd.kg)
    base = load_or_create_split(kg, wd.split(protocol, seed), protocol, 0.1, seed)
    split = split_without_relation(kg, base, relation)
    split_dir = wd.split(split.protocol, seed)
    split.save(split_dir)
    out_dir = Path(out_dir) if out_dir else wd.root / f"model_minus_{relation}"
    bridge_only = with_overrides(config, {"retriever.kind": "bridge"})  # compositions use the bridge alone
    return pipeline.train(
        wd.root,
        bridge_only,
        split_dir=split_dir,
        out_dir=out_dir,
        progress=progress,
        extra={"hidden_relation": relation},
        **existing_run,
    )


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
    loaded = pipeline.load_run(workdir, model_dir)
    kg, split, table, model = loaded.kg, loaded.split, loaded.table, loaded.model
    task = next(t for t in PAPER_TASKS if t.name == task_name)
    base_protocol = split.protocol.split("-minus-")[0]
    base_split = Split.load(pipeline.Workdir(workdir).split(base_protocol, split.seed))

    class Constant:
        name = "random (constant score)"

        def score(self, task, q, c):
            return np.zeros((len(q), len(c)), dtype=np.float32)

    scorers = [
        BridgeScorer.of(model, kg, split, table, name="zero-shot relation token"),
        Constant(),
        PopularityScorer(kg, base_split, name="popularity (original training edges)"),
    ]
    hops = HopScorer.bridge_only(model, kg, split, table)  # the experiment is about the bridge's relations
    for label, path, aggregate, pool, beam in compositions:
        scorers.append(MultiHopScorer(hops, kg, path, beam=beam, aggregate=aggregate, pool=pool, name=label))
    if supervised_model_dir is not None:
        supervised = TrainedRun.open(supervised_model_dir).load_model()
        scorers.append(BridgeScorer.of(supervised, kg, base_split, table, name="supervised bridge"))
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
