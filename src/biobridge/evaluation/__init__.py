"""Rank and metric functions, task definitions, baselines and the evaluator."""

from biobridge.evaluation.baselines import PopularityScorer
from biobridge.evaluation.evaluator import EvaluationResult, MethodRanks, evaluate
from biobridge.evaluation.metrics import (
    CANDIDATE_POLICIES,
    DEFINITIONS,
    precision_at_k,
    rank_metrics,
    recall_at_k,
)
from biobridge.evaluation.queries import TaskQueries, build_task_queries
from biobridge.evaluation.ranks import filtered_rank_bounds, filtered_realistic_ranks
from biobridge.evaluation.scorer import NotApplicableError, Scorer
from biobridge.evaluation.tasks import PAPER_TASKS, Task, discover_tasks

__all__ = [
    "CANDIDATE_POLICIES",
    "DEFINITIONS",
    "PAPER_TASKS",
    "EvaluationResult",
    "MethodRanks",
    "NotApplicableError",
    "PopularityScorer",
    "Scorer",
    "Task",
    "TaskQueries",
    "build_task_queries",
    "discover_tasks",
    "evaluate",
    "filtered_rank_bounds",
    "filtered_realistic_ranks",
    "precision_at_k",
    "rank_metrics",
    "recall_at_k",
]
