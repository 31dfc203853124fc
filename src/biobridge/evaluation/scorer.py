"""The interface every retrieval method implements to be evaluated."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from biobridge.evaluation.tasks import Task

__all__ = ["NotApplicableError", "NotApplicableScorer", "Scorer"]


class NotApplicableError(Exception):
    """Raised by ``Scorer.score`` when the method cannot answer a task under the split at all.

    Example: a KG-embedding model under the inductive protocol, where held-out heads have no embedding.
    The evaluator records the method as not applicable for that task, with the message as the reason.
    """


@runtime_checkable
class Scorer(Protocol):
    """A retrieval method. ``name`` labels its results; it must be unique within an evaluation."""

    name: str

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        """Scores (higher = better) of every candidate for every query.

        Returns float32 of shape (len(query_nodes), len(candidate_nodes)).

        ``query_nodes`` and ``candidate_nodes`` are int64 node indices of the KG. NaN is not allowed.
        """
        ...


class NotApplicableScorer:
    """A method that cannot answer under a split at all (e.g. a KG embedding under the inductive protocol):
    every ``score`` raises ``NotApplicableError(reason)``, so nothing is fitted for nothing."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        raise NotApplicableError(self.reason)
