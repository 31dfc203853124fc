"""Evaluate retrieval methods on the tasks of a KG under a split: filtered realistic ranks, MRR, hits@k,
recall@k and precision@k, with every count and definition written next to the numbers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from biobridge.evaluation.metrics import (
    CANDIDATE_POLICIES,
    DEFINITIONS,
    rank_metrics,
    recall_precision_from_hits,
)
from biobridge.evaluation.queries import KGIndex, SplitLike, TaskQueries, build_task_queries
from biobridge.evaluation.ranks import gold_rank_statistics
from biobridge.evaluation.result import EvaluationResult, MethodRanks, format_metric
from biobridge.evaluation.scorer import NotApplicableError, Scorer
from biobridge.evaluation.tasks import Task, discover_tasks
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["evaluate"]

logger = logging.getLogger(__name__)


def _check_scores(scores: Any, scorer: Scorer, task: Task, n_q: int, n_c: int) -> np.ndarray:
    scores = np.asarray(scores)
    if scores.shape != (n_q, n_c):
        raise ValueError(
            f"scorer {scorer.name!r} returned shape {scores.shape} for task {task.name}; "
            f"expected ({n_q}, {n_c})"
        )
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float32)
    if np.isnan(scores).any():
        raise ValueError(f"scorer {scorer.name!r} returned NaN scores for task {task.name}")
    return scores


def _evaluate_method(
    scorer: Scorer, queries: TaskQueries, query_chunk: int, ks: Sequence[int]
) -> tuple[dict[str, Any], MethodRanks | None]:
    task = queries.task
    counts = queries.counts
    base = {
        "n_queries": queries.n_queries,
        "n_candidates": queries.n_candidates,
        "n_gold_pairs": queries.n_gold_pairs,
        "n_queries_excluded": counts["n_queries_not_scorable"] + counts["n_queries_without_gold_candidate"],
        "n_candidates_excluded": counts["n_candidates_not_scorable"],
        "n_gold_excluded": counts["n_gold_not_candidate"],
    }
    if queries.n_queries == 0:
        return {"status": "no_queries", **base}, None
    started = time.perf_counter()
    query_parts, rank_parts, gold_parts = [], [], []
    recall = {k: np.empty(queries.n_queries) for k in ks}
    precision = {k: np.empty(queries.n_queries) for k in ks}
    for start in range(0, queries.n_queries, query_chunk):
        stop = min(start + query_chunk, queries.n_queries)
        q_nodes = queries.query_nodes[start:stop]
        try:
            scores = scorer.score(task, q_nodes, queries.candidate_nodes)
        except NotApplicableError as exc:
            logger.info("%s on %s: not applicable (%s)", scorer.name, task.name, exc)
            return {"status": "not_applicable", "reason": str(exc), **base}, None
        scores = _check_scores(scores, scorer, task, stop - start, queries.n_candidates)
        gold = queries.gold_mask(start, stop)
        stats = gold_rank_statistics(scores, gold, ks)
        query_parts.append(q_nodes[stats.query_idx])
        gold_parts.append(queries.candidate_nodes[stats.gold_col])
        rank_parts.append(stats.realistic)
        n_gold = gold.sum(axis=1)
        for k in ks:
            recall[k][start:stop], precision[k][start:stop] = recall_precision_from_hits(
                stats.top_k_hits[k], n_gold, k
            )
        del scores, gold
    ranks = np.concatenate(rank_parts)
    metrics: dict[str, Any] = {"status": "ok"}
    metrics.update(rank_metrics(ranks, ks))
    for k in ks:
        metrics[f"recall@{k}"] = float(np.mean(recall[k]))
        metrics[f"precision@{k}"] = float(np.mean(precision[k]))
    metrics["mean_rank"] = float(np.mean(ranks))
    metrics.update(base)
    method_ranks = MethodRanks(np.concatenate(query_parts), np.concatenate(gold_parts), ranks)
    logger.info(
        "  %s: MRR %.4f  H@10 %s  (%.2f s)",
        scorer.name,
        metrics["mrr"],
        format_metric(metrics.get("hits@10")),
        time.perf_counter() - started,
    )
    return metrics, method_ranks


def _checked_arguments(
    kg: KnowledgeGraph,
    scorers: Sequence[Scorer],
    tasks: Iterable[Task] | None,
    query_chunk: int,
    ks: Sequence[int],
) -> tuple[list[str], list[Task], tuple[int, ...]]:
    """Scorer names (unique), the tasks (default ``discover_tasks(kg)``, names unique) and ``ks`` as ints."""
    names = [s.name for s in scorers]
    if len(set(names)) != len(names):
        raise ValueError(f"scorer names must be unique, got {names}")
    if query_chunk < 1:
        raise ValueError("query_chunk must be >= 1")
    ks = tuple(int(k) for k in ks)
    task_list = list(tasks) if tasks is not None else discover_tasks(kg)
    if len({t.name for t in task_list}) != len(task_list):
        raise ValueError("task names must be unique")
    return names, task_list, ks


def _log_task_counts(task: Task, counts: dict[str, Any]) -> None:
    logger.info(
        "task %s: %d queries, %d candidates, %d gold pairs (excluded: %d queries not scorable, "
        "%d without gold candidate, %d candidates not scorable, %d gold not candidates)",
        task.name,
        counts["n_queries"],
        counts["n_candidates"],
        counts["n_gold_pairs"],
        counts["n_queries_not_scorable"],
        counts["n_queries_without_gold_candidate"],
        counts["n_candidates_not_scorable"],
        counts["n_gold_not_candidate"],
    )


def _evaluate_task(
    queries: TaskQueries, scorers: Sequence[Scorer], query_chunk: int, ks: Sequence[int]
) -> tuple[dict[str, Any], dict[str, float], dict[tuple[str, str], MethodRanks]]:
    """Every scorer on one task: the task's entry of ``tasks``, seconds per scorer, and the ranks."""
    task = queries.task
    methods: dict[str, Any] = {}
    timings: dict[str, float] = {}
    ranks: dict[tuple[str, str], MethodRanks] = {}
    for scorer in scorers:
        started = time.perf_counter()
        metrics, method_ranks = _evaluate_method(scorer, queries, query_chunk, ks)
        timings[scorer.name] = round(time.perf_counter() - started, 4)
        methods[scorer.name] = metrics
        if method_ranks is not None:
            ranks[(task.name, scorer.name)] = method_ranks
    entry = {
        "head_type": task.head_type,
        "relation": task.relation,
        "tail_type": task.tail_type,
        "counts": dict(queries.counts),
        "methods": methods,
    }
    return entry, timings, ranks


def _definitions(candidate_policy: str) -> dict[str, str]:
    definitions = dict(DEFINITIONS)
    definitions["candidate_policy"] = CANDIDATE_POLICIES[candidate_policy]
    return definitions


def _settings(
    kg: KnowledgeGraph,
    split: SplitLike,
    candidate_policy: str,
    scorable: np.ndarray | None,
    query_chunk: int,
    ks: Sequence[int],
) -> dict[str, Any]:
    """The ``settings`` of the result: what the numbers depend on besides the split and the methods."""
    return {
        "candidate_policy": candidate_policy,
        "ks": list(ks),
        "query_chunk": query_chunk,
        "kg_hash": kg.content_hash(),
        "n_nodes": kg.num_nodes,
        "n_scorable_nodes": int(np.asarray(scorable).sum()) if scorable is not None else kg.num_nodes,
        "test_fraction": getattr(split, "test_fraction", None),
    }


def evaluate(
    kg: KnowledgeGraph,
    split: SplitLike,
    scorers: Sequence[Scorer],
    tasks: Iterable[Task] | None = None,
    candidate_policy: str = "relation",
    scorable: np.ndarray | None = None,
    query_chunk: int = 512,
    ks: Sequence[int] = (1, 3, 10),
) -> EvaluationResult:
    """Score every task's queries with every scorer, ``query_chunk`` queries at a time.

    ``tasks`` defaults to ``discover_tasks(kg)``; a task with no test triple is reported with ``n_queries`` 0.
    ``scorable``: optional bool mask over nodes (nodes that have an embedding); non-scorable queries and
    candidates are removed and counted. Memory: at most ``query_chunk x n_candidates`` scores at a time.
    """
    names, task_list, ks = _checked_arguments(kg, scorers, tasks, query_chunk, ks)
    index = KGIndex(kg)
    results: dict[str, dict[str, Any]] = {}
    all_ranks: dict[tuple[str, str], MethodRanks] = {}
    timings: dict[str, dict[str, float]] = {}
    for task in task_list:
        queries = build_task_queries(kg, split, task, candidate_policy, scorable, index=index)
        _log_task_counts(task, queries.counts)
        results[task.name], timings[task.name], task_ranks = _evaluate_task(queries, scorers, query_chunk, ks)
        all_ranks.update(task_ranks)
    definitions = _definitions(candidate_policy)
    settings = _settings(kg, split, candidate_policy, scorable, query_chunk, ks)
    return EvaluationResult(
        protocol=str(getattr(split, "protocol", "unknown")),
        split_hash=str(split.content_hash()),
        seed=getattr(split, "seed", None),
        settings=settings,
        tasks=results,
        methods=names,
        definitions=definitions,
        timings=timings,
        ranks=all_ranks,
    )
