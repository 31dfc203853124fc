"""Choose each neighbour vote's ``k`` and ``sharpness`` per task on validation heads (never on test queries).

A kNN vote is only as good as its number of neighbours and how much the nearest ones dominate: on the packaged
KG, feature-kNN's Disease2Prot MRR doubles from ``k = 50, sharpness = 1`` to ``k = 10, sharpness = 16``. A
baseline left at one setting for every task would be an under-tuned straw man, so every neighbour vote
(feature-, Tanimoto-, homology-kNN, graph-context), as a benchmark baseline and as a part of the shipped
hybrid, gets the same budget: the grid ``VOTE_GRID`` per task, scored by the MRR (filtered realistic ranks, as
in the evaluator) on at most ``max_queries`` validation queries. Ties go to the earlier grid point.

The scorer passed in must be fitted on the validation split's training part
(``biobridge.kg.split.validation_split``); the chosen settings are then used by the scorer fitted on the outer
split (``build_baseline(..., per_task=...)``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from biobridge.baselines.neighbour_vote import NeighbourVoteScorer
from biobridge.baselines.parallel import parallel_map
from biobridge.baselines.registry import build_baseline
from biobridge.evaluation.metrics import rank_metrics
from biobridge.evaluation.queries import KGIndex, SplitLike, TaskQueries, build_task_queries
from biobridge.evaluation.ranks import GoldCells, filtered_realistic_ranks
from biobridge.evaluation.scorer import NotApplicableError
from biobridge.evaluation.tasks import Task
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["VOTE_GRID", "chosen_settings", "fit_tuned_baseline", "tune_votes", "validation_samples"]

log = logging.getLogger(__name__)

# neighbours x sharpness: 12 settings per task
VOTE_GRID: dict[str, tuple] = {"k": (5, 10, 20, 50), "sharpness": (1.0, 4.0, 16.0)}


Sample = tuple[Task, "TaskQueries | None", "np.ndarray | None", "np.ndarray | None"]


def validation_samples(
    kg: KnowledgeGraph,
    validation: SplitLike,
    tasks: Sequence[Task],
    max_queries: int,
    candidate_policy: str = "relation",
    scorable: np.ndarray | None = None,
    seed: int = 0,
) -> Iterator[Sample]:
    """Per task, in order: ``(task, queries, query nodes, gold mask)`` of at most ``max_queries`` of its validation
    queries, drawn without replacement and kept in their order (the same sample for the same seed and tasks, so
    the votes and the hybrid's weights are tuned on the same queries); ``queries`` is None for a task without.
    A list of them can be passed as ``samples`` to ``tune_votes`` and ``tune_fusion_weights``, which then skip
    drawing them again."""
    rng = np.random.Generator(np.random.PCG64(seed))
    index = KGIndex(kg)
    for task in tasks:
        queries = build_task_queries(kg, validation, task, candidate_policy, scorable, index=index)
        if queries.n_queries == 0:
            yield task, None, None, None
            continue
        rows = np.arange(queries.n_queries)
        if len(rows) > max_queries:
            rows = np.sort(rng.choice(rows, size=max_queries, replace=False))
        yield task, queries, queries.query_nodes[rows], queries.gold_mask(0, queries.n_queries)[rows]


def tune_votes(
    scorer,
    kg: KnowledgeGraph,
    validation: SplitLike,
    tasks: Sequence[Task],
    grid: dict[str, Sequence] = VOTE_GRID,
    max_queries: int = 500,
    candidate_policy: str = "relation",
    scorable: np.ndarray | None = None,
    seed: int = 0,
    samples: Sequence[Sample] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per task: the chosen ``k`` and ``sharpness``, their validation MRR, the MRR of every grid point and the
    number of validation queries. ``scorer`` (a ``NeighbourVoteScorer`` fitted on ``validation``) keeps the
    chosen settings (``scorer.per_task``). Tasks the scorer cannot answer, or without validation queries, are
    left out and keep the scorer's own setting. ``samples``: ``validation_samples``' output when the caller has
    it (the other sampling arguments are then unused). The sharpness values of one ``k`` are ranked in parallel
    (``parallel_map``): the same MRRs in the same order."""
    points = [(int(k), float(p)) for k in grid["k"] for p in grid["sharpness"]]
    out: dict[str, dict[str, Any]] = {}
    if samples is None:
        samples = validation_samples(kg, validation, tasks, max_queries, candidate_policy, scorable, seed)
    for task, queries, q_nodes, gold in samples:
        if queries is None:
            continue
        mrrs, cells = [], GoldCells.of(gold)  # the gold located once for every grid point

        def mrr(scores: np.ndarray, cells: GoldCells = cells) -> float:
            return rank_metrics(filtered_realistic_ranks(scores, cells)[1], ks=())["mrr"]

        try:
            for k in dict.fromkeys(k for k, _ in points):
                batch = []
                for sharpness in (p for kk, p in points if kk == k):
                    scorer.set_vote(task.name, k, sharpness)
                    batch.append(scorer.score(task, q_nodes, queries.candidate_nodes))
                mrrs.extend(parallel_map(mrr, batch))
        except NotApplicableError:
            scorer.per_task.pop(task.name, None)
            continue
        best = int(np.argmax(mrrs))  # the earliest grid point wins ties
        k, sharpness = points[best]
        scorer.set_vote(task.name, k, sharpness)
        out[task.name] = {
            "k": k,
            "sharpness": sharpness,
            "validation_mrr": mrrs[best],
            "grid_mrr": {f"k={a},sharpness={b:g}": m for (a, b), m in zip(points, mrrs, strict=True)},
            "n_queries": len(q_nodes),
        }
        log.info(
            "%s %s: k=%d sharpness=%g (validation MRR %.4f)", scorer.name, task.name, k, sharpness, mrrs[best]
        )
    return out


def fit_tuned_baseline(
    name: str,
    kg: KnowledgeGraph,
    split: SplitLike,
    validation: SplitLike,
    tasks: Sequence[Task],
    table=None,
    k: int = 50,
    hits=None,
    grid: dict[str, Sequence] | None = VOTE_GRID,
    **tuning: Any,
):
    """The baseline ``name`` (``build_baseline``) fitted on ``validation`` and on ``split``, its votes' settings
    chosen per task on ``validation``'s queries from ``grid`` when it is a neighbour vote (None: not tuned;
    ``tuning``: ``tune_votes``'s keyword arguments). Returns ``(fitted on validation, fitted on split, the tuning
    record per task)``; the record is empty for an untuned baseline or one without a vote (popularity)."""
    on_validation = build_baseline(name, kg, validation, table, k, hits)
    if grid is None or not isinstance(on_validation, NeighbourVoteScorer):
        return on_validation, build_baseline(name, kg, split, table, k, hits), {}
    record = tune_votes(on_validation, kg, validation, tasks, grid, **tuning)
    on_split = build_baseline(name, kg, split, table, k, hits, per_task=chosen_settings(record))
    return on_validation, on_split, record


def chosen_settings(record: dict[str, dict]) -> dict[str, dict]:
    """The ``{"k", "sharpness"}`` per task of a ``tune_votes`` record (what ``build_baseline``'s ``per_task``
    takes)."""
    return {task: {"k": r["k"], "sharpness": r["sharpness"]} for task, r in record.items()}
