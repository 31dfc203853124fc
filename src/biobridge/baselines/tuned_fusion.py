"""Score fusion with weights tuned per task on a validation split (never on test queries).

``score(q, c) = sum_i w_{task,i} * z_i(q, c)`` where ``z_i`` is part ``i``'s score standardised over the
query's candidates (mean 0, standard deviation 1; a constant row becomes 0) and the weights ``w_{task,.}``
lie on a grid over the simplex (step ``step``). ``tune_fusion_weights`` picks, for each task, the grid point
with the best validation MRR (filtered, realistic ranks, as in the evaluator) on at most ``max_queries``
validation queries (ties go to the earlier grid point; the grid starts with all weight on the first part),
then hill-climbs from it in moves of ``step / 2`` while the validation MRR strictly improves.

The validation split comes from ``biobridge.kg.split.validation_split``: the parts scored during tuning must
be fitted on *its* training triples, and the parts that score the test queries on the outer split's, so no
test triple is seen while tuning. A part that is not applicable to a task gets weight 0 there.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from biobridge.baselines.vote_tuning import fit_tuned_baseline, validation_samples
from biobridge.evaluation.metrics import rank_metrics
from biobridge.evaluation.queries import SplitLike
from biobridge.evaluation.ranks import filtered_realistic_ranks
from biobridge.evaluation.scorer import NotApplicableError, QueryItems
from biobridge.evaluation.tasks import Task
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["TunedScoreFusion", "fit_tuned_fusion", "simplex_grid", "standardise_rows", "tune_fusion_weights"]

log = logging.getLogger(__name__)


def standardise_rows(scores: np.ndarray) -> np.ndarray:
    """Per row: (x - mean) / std over the row; rows with std 0 become 0."""
    scores = np.asarray(scores, dtype=np.float32)
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return np.divide(scores - mean, std, out=np.zeros_like(scores), where=std > 0)


def simplex_grid(n_parts: int, step: float) -> list[tuple[float, ...]]:
    """Weight vectors with entries in multiples of ``step`` summing to 1; the first is ``(1, 0, ..., 0)``."""
    if n_parts < 1:
        raise ValueError("at least one part is needed")
    units = round(1.0 / step)
    if units < 1 or abs(units * step - 1.0) > 1e-9:
        raise ValueError(f"step must divide 1, got {step}")
    grid = [
        tuple(c / units for c in counts)
        for counts in itertools.product(range(units, -1, -1), repeat=n_parts)
        if sum(counts) == units
    ]
    return grid


class TunedScoreFusion:
    """Weighted sum of standardised part scores with one weight vector per task (see the module docstring).
    A task without tuned weights uses ``default_weights`` (all weight on the first part unless given)."""

    def __init__(
        self,
        scorers: Sequence,
        weights: dict[str, Sequence[float]],
        name: str,
        default_weights: Sequence[float] | None = None,
    ) -> None:
        if not scorers:
            raise ValueError("at least one scorer is needed")
        self.scorers = list(scorers)
        n = len(self.scorers)
        self.weights = {task: [float(w) for w in ws] for task, ws in weights.items()}
        self.default_weights = (
            [1.0] + [0.0] * (n - 1) if default_weights is None else [float(w) for w in default_weights]
        )
        for ws in [*self.weights.values(), self.default_weights]:
            if len(ws) != n:
                raise ValueError(f"every weight vector needs {n} entries, one per scorer")
        self.name = name

    @property
    def settings(self) -> dict:
        return {
            "fusion": "weighted sum of per-query standardised scores, weights tuned per task on validation",
            "parts": [s.name for s in self.scorers],
            "weights": self.weights,
            "default_weights": self.default_weights,
        }

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        return self._mix(
            task,
            len(query_nodes),
            len(candidate_nodes),
            lambda s: s.score(task, query_nodes, candidate_nodes),
        )

    def score_items(self, task: Task, items: QueryItems, candidate_nodes: np.ndarray) -> np.ndarray:
        return self._mix(
            task,
            len(items.nodes),
            len(candidate_nodes),
            lambda s: s.score_items(task, items, candidate_nodes),
        )

    def _mix(self, task: Task, n_q: int, n_c: int, part_scores) -> np.ndarray:
        weights = self.weights.get(task.name, self.default_weights)
        out = np.zeros((n_q, n_c), dtype=np.float32)
        for scorer, w in zip(self.scorers, weights, strict=True):
            if w:
                out += np.float32(w) * standardise_rows(part_scores(scorer))
        return out


def _map(function, items: list) -> list:
    """``[function(x) for x in items]``, evaluated on one thread per core (NumPy releases the GIL in the
    mixing and ranking of large arrays); same values in the same order, so the choice of weights is the same."""
    workers = min(len(items), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    if workers <= 1:
        return [function(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


def _mixed_mrr(parts: list[np.ndarray | None], weights: Sequence[float], gold: np.ndarray) -> float:
    mixed = np.zeros(gold.shape, dtype=np.float32)
    for part, w in zip(parts, weights, strict=True):
        if w:
            mixed += np.float32(w) * part
    return rank_metrics(filtered_realistic_ranks(mixed, gold)[1], ks=())["mrr"]


def tune_fusion_weights(
    kg: KnowledgeGraph,
    validation: SplitLike,
    scorers: Sequence,
    tasks: Sequence[Task],
    step: float = 0.2,
    max_queries: int = 2000,
    candidate_policy: str = "relation",
    scorable: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Per task: the chosen weights, the validation MRR of every part alone and of the chosen mix, and the
    number of validation queries used (see the module docstring). Tasks without validation queries keep all
    weight on the first part and say so."""
    grid = simplex_grid(len(scorers), step)
    out: dict[str, dict[str, Any]] = {}
    samples = validation_samples(kg, validation, tasks, max_queries, candidate_policy, scorable, seed)
    for task, queries, q_nodes, gold in samples:
        if queries is None:
            out[task.name] = {"weights": list(grid[0]), "n_queries": 0, "note": "no validation queries"}
            continue
        parts, applicable = [], []
        for scorer in scorers:
            try:
                parts.append(standardise_rows(scorer.score(task, q_nodes, queries.candidate_nodes)))
                applicable.append(True)
            except NotApplicableError:
                parts.append(None)
                applicable.append(False)

        def mrr(weights: tuple[float, ...], parts=parts, gold=gold) -> float:
            return _mixed_mrr(parts, weights, gold)

        usable = [w for w in grid if all(ok or not wi for ok, wi in zip(applicable, w, strict=True))]
        scores = _map(mrr, usable)
        best = int(np.argmax(scores))  # first maximum: the earliest grid point wins ties
        weights, best_mrr = _refine(usable[best], scores[best], mrr, applicable, step / 2)
        by_weights = dict(zip(usable, scores, strict=True))  # the grid holds every part alone
        alone = {
            s.name: by_weights.get(tuple(float(i == j) for j in range(len(scorers))))
            for i, s in enumerate(scorers)
        }
        out[task.name] = {
            "weights": list(weights),
            "validation_mrr": best_mrr,
            "validation_mrr_grid": scores[best],
            "validation_mrr_alone": alone,
            "n_queries": len(q_nodes),
        }
        log.info("fusion weights %s: %s (validation MRR %.4f)", task.name, weights, best_mrr)
    return out


def fit_tuned_fusion(
    kg: KnowledgeGraph,
    split: SplitLike,
    validation: SplitLike,
    scorer,
    parts: Sequence[str],
    tasks: Sequence[Task],
    table=None,
    k: int = 50,
    name: str = "hybrid",
    hits=None,
    vote_grid: dict[str, Sequence] | None = None,
    step: float = 0.2,
    max_queries: int = 2000,
    candidate_policy: str = "relation",
    seed: int = 0,
) -> tuple[TunedScoreFusion, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``scorer`` mixed with the baselines named ``parts`` (see ``biobridge.baselines.build_baseline``).

    ``scorer`` must be fitted on ``validation``'s TRAIN part (``validation = validation_split(kg, split)``).
    First each neighbour vote among the parts gets its ``k`` and sharpness per task from ``vote_grid``
    (``biobridge.baselines.vote_tuning``; None: ``k`` and sharpness 1 everywhere), then the weights are tuned
    (``tune_fusion_weights``) on the same validation queries, the baselines fitted on ``validation``'s TRAIN
    part; the returned fusion scores with the baselines fitted on ``split``'s TRAIN part. Returns the fusion,
    the weights' tuning record per task and the votes' per part."""
    scorable = table.has_embedding(np.arange(kg.num_nodes)) if table is not None else None
    sample = {
        "max_queries": max_queries,
        "candidate_policy": candidate_policy,
        "scorable": scorable,
        "seed": seed,
    }
    on_validation, on_split, votes = [], [], {}
    for part in parts:
        fitted = fit_tuned_baseline(part, kg, split, validation, tasks, table, k, hits, vote_grid, **sample)
        on_validation.append(fitted[0])
        on_split.append(fitted[1])
        if fitted[2]:
            votes[part] = fitted[2]
    tuned = tune_fusion_weights(kg, validation, [scorer, *on_validation], list(tasks), step=step, **sample)
    fusion = TunedScoreFusion(
        [scorer, *on_split], {task: t["weights"] for task, t in tuned.items()}, name=name
    )
    return fusion, tuned, votes


def _refine(weights, best_mrr, mrr, applicable, delta, max_rounds: int = 10):
    """Hill-climb from a grid point: move ``delta`` of weight from one part to another while the validation
    MRR strictly improves (at most ``max_rounds`` moves)."""
    weights = tuple(weights)
    for _ in range(max_rounds):
        moves = []
        for i, j in itertools.permutations(range(len(weights)), 2):
            if applicable[i] and weights[j] >= delta - 1e-9:
                w = list(weights)
                w[i], w[j] = round(w[i] + delta, 6), round(w[j] - delta, 6)
                moves.append(tuple(w))
        if not moves:
            break
        scores = _map(mrr, moves)
        k = int(np.argmax(scores))
        if scores[k] <= best_mrr:
            break
        weights, best_mrr = moves[k], scores[k]
    return weights, best_mrr
