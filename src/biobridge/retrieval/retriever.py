"""The retriever a trained run ships (``RunConfig.retriever``), used by ``retrieve``, ``evaluate``, the
Python API, multi-hop, the applications and the demo alike.

- ``bridge``: the bridge alone, ``cos(transform(query), project(candidate))``.
- ``hybrid``: the bridge mixed with model-free baselines (homology-kNN, Tanimoto-kNN, feature-kNN,
  graph-context, popularity by default): per task, a weighted sum of the parts' per-query standardised scores
  (``biobridge.baselines.tuned_fusion``). The bridge is trained without a validation split's heads
  (``validation_split``, ``retriever.validation_fraction`` of the training heads); each neighbour vote's
  ``k`` and sharpness per task, then the weights, are chosen by MRR on those heads (the weights bagged over
  ``retriever.bagging`` bootstrap resamples of them; 0: the best grid point, then a hill-climb), the baselines
  being fitted on the validation split's training part while tuning. When scoring, the baselines use the
  run's whole training split. Tasks without validation queries put all weight on the
  bridge. With ``retriever.gate`` (homology-kNN by default), a protein-head task's queries without any
  sequence hit get a second weight vector, tuned on the validation queries without one. Last, a task's
  parts may also spread their scores to each candidate's most similar candidates (``retriever.smoothing``, its
  ``alpha`` chosen on the same validation heads, the weights then tuned again;
  ``biobridge.baselines.candidate_smoothing``). Never tuned on test queries.

``tune_hybrid`` makes the record ``retriever.json`` holds (and ``save_smoothing_graphs`` keeps the smoothing's
nearest-candidate graphs beside it); ``build_retriever`` turns a run and its data into the scorer (``score`` for
KG nodes, ``score_items`` for new sequences, SMILES or texts).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from biobridge.baselines import TunedScoreFusion, build_baseline, fit_tuned_fusion
from biobridge.baselines.candidate_smoothing import CandidateSmoothing
from biobridge.baselines.vote_tuning import chosen_settings
from biobridge.bridge.run import TrainedRun
from biobridge.config import RetrieverConfig
from biobridge.encoders.homology import ProteinHits, kg_protein_hits
from biobridge.evaluation.scorer import ItemScorer
from biobridge.evaluation.tasks import discover_tasks
from biobridge.retrieval.scorer import BridgeScorer

__all__ = [
    "BRIDGE_NAME",
    "HYBRID_NAME",
    "build_retriever",
    "part_votes",
    "protein_hits",
    "save_smoothing_graphs",
    "tune_hybrid",
]

BRIDGE_NAME = "biobridge"
HYBRID_NAME = "biobridge-hybrid"


def protein_hits(kg, store, parts) -> ProteinHits | None:
    """The proteins' sequence search when a part needs it (homology-kNN) and the KG has proteins."""
    if "homology-knn" in parts and "protein" in store.node_types:
        return kg_protein_hits(kg, store, "protein")
    return None


def tune_hybrid(
    kg,
    split,
    validation,
    validation_dir: Path,
    bridge: BridgeScorer,
    table,
    store,
    config: RetrieverConfig,
    seed: int,
    tasks=None,
    candidate_policy: str = "relation",
    name: str = HYBRID_NAME,
) -> tuple[TunedScoreFusion, dict[str, Any]]:
    """Tune the hybrid of ``config`` for ``bridge`` (trained on ``validation``'s training part) on the
    validation heads; returns the fusion (its baselines fitted on ``split``) and its ``retriever.json``."""
    started = time.perf_counter()
    hits = protein_hits(kg, store, config.parts)
    fusion, tuned, votes = fit_tuned_fusion(
        kg,
        split,
        validation,
        bridge,
        config.parts,
        tasks or discover_tasks(kg),
        table=table,
        k=config.k,
        name=name,
        hits=hits,
        vote_grid={"k": config.vote_k, "sharpness": config.vote_sharpness},
        step=config.step,
        max_queries=config.max_queries,
        candidate_policy=candidate_policy,
        seed=seed,
        gate=config.gate if config.gate in config.parts else None,
        bagging=config.bagging,
        smoother=CandidateSmoothing(table, config.smoothing_k) if any(config.smoothing) else None,
        smoothing_grid=config.smoothing,
    )
    record = {
        "kind": "hybrid",
        "config": config.settings(),  # what it was tuned with
        "parts": [bridge.name, *config.parts],
        "k": config.k,
        "weights": fusion.weights,
        "default_weights": fusion.default_weights,
        "gate": fusion.gate.name if fusion.gate is not None else None,
        "fallback_weights": fusion.fallback,
        "smoothing": fusion.smoothing,
        "smoothing_k": config.smoothing_k,
        "validation": {
            "split_dir": str(validation_dir),
            "hash": validation.content_hash(),
            "fraction": config.validation_fraction,
        },
        "tuning": tuned,
        "votes": votes,
        "tuning_seconds": round(time.perf_counter() - started, 2),
    }
    return fusion, record


def save_smoothing_graphs(fusion: TunedScoreFusion, kg, run: TrainedRun) -> None:
    """Keep in ``run`` the nearest-candidate graphs of the pools ``fusion`` smooths, built while tuning, so
    that ``build_retriever`` reads them instead of building them again; none (and no file) without smoothing."""
    if not fusion.smoothing:
        run.smoothing_graphs_path.unlink(missing_ok=True)
        return
    types = {task.tail_type for task in discover_tasks(kg) if task.name in fusion.smoothing}
    fusion.smoother.save(run.smoothing_graphs_path, types)


def part_votes(record: dict[str, Any] | None, part: str) -> dict[str, dict]:
    """The ``{"k", "sharpness"}`` per task a run's ``retriever.json`` (``record``) chose for the vote ``part``;
    empty for runs without a hybrid, or made before the votes were tuned (they vote with ``k``)."""
    return chosen_settings(((record or {}).get("votes") or {}).get(part, {}))


def build_retriever(run: TrainedRun, model, kg, split, table, store) -> ItemScorer:
    """The scorer ``run`` ships, over ``kg`` / ``split`` / ``table`` (its data, or a benchmark's same data)."""
    bridge = BridgeScorer.of(model, kg, split, table, name=BRIDGE_NAME)
    record = run.retriever
    if record is None:
        return bridge
    parts = record["parts"][1:]
    hits = protein_hits(kg, store, parts)
    baselines = [
        build_baseline(p, kg, split, table, record["k"], hits, per_task=part_votes(record, p)) for p in parts
    ]
    smoothing = record.get("smoothing")
    return TunedScoreFusion(
        [bridge, *baselines],
        record["weights"],
        name=HYBRID_NAME,
        default_weights=record["default_weights"],
        fallback=record.get("fallback_weights"),  # absent in runs made before the gate
        gate=record.get("gate"),
        smoothing=smoothing,  # absent in runs made before the smoothing
        smoother=(
            CandidateSmoothing(table, record["smoothing_k"], saved=run.smoothing_graphs_path)
            if smoothing
            else None
        ),
    )
