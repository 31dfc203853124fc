"""Evaluation: tasks, queries (gold and candidates under a split), filtered ranks, metrics, the ``Scorer``
protocol and the evaluator. It knows no retrieval method: methods live in ``biobridge.baselines`` and
``biobridge.retrieval`` and are handed in as scorers."""

from biobridge.evaluation.evaluator import evaluate
from biobridge.evaluation.metrics import (
    CANDIDATE_POLICIES,
    DEFINITIONS,
    precision_at_k,
    rank_metrics,
    recall_at_k,
)
from biobridge.evaluation.queries import TaskQueries, build_task_queries
from biobridge.evaluation.ranks import filtered_rank_bounds, filtered_realistic_ranks
from biobridge.evaluation.result import EvaluationResult, MethodRanks
from biobridge.evaluation.scorer import NotApplicableError, NotApplicableScorer, Scorer
from biobridge.evaluation.tasks import PAPER_TASKS, Task, discover_tasks

__all__ = [
    "CANDIDATE_POLICIES",
    "DEFINITIONS",
    "PAPER_TASKS",
    "EvaluationResult",
    "MethodRanks",
    "NotApplicableError",
    "NotApplicableScorer",
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
