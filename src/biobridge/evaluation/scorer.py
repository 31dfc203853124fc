"""The interface every retrieval method implements to be evaluated, and to answer queries that are not KG
nodes (``QueryItems``: a new sequence, SMILES or text, with its frozen-encoder embedding)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from biobridge.evaluation.tasks import Task

__all__ = ["ItemScorer", "NotApplicableError", "NotApplicableScorer", "QueryItems", "Scorer"]


class NotApplicableError(Exception):
    """Raised by ``Scorer.score`` when the method cannot answer a task under the split at all.

    Example: a KG-embedding model under the inductive protocol, where held-out heads have no embedding.
    The evaluator records the method as not applicable for that task, with the message as the reason.
    """


@dataclass(frozen=True)
class QueryItems:
    """Queries given by their inputs: ``features`` (the raw sequences, SMILES or texts), ``embeddings``
    (their frozen-encoder embeddings, float32 (n, d) of the head type) and ``nodes`` (the KG node each one
    names, -1 for a new item; a KG node is never its own neighbour and keeps its graph context)."""

    features: list[str]
    embeddings: np.ndarray
    nodes: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.features) == len(self.embeddings) == len(self.nodes)):
            raise ValueError("features, embeddings and nodes must have one row per query")


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


class ItemScorer(Scorer, Protocol):
    """A scorer that also answers ``QueryItems`` (what ``biobridge retrieve`` needs of a shipped retriever)."""

    def score_items(self, task: Task, items: QueryItems, candidate_nodes: np.ndarray) -> np.ndarray:
        """Like ``score``, for queries given by their inputs: float32 (len(items), len(candidate_nodes))."""
        ...


class NotApplicableScorer:
    """A method that cannot answer under a split at all (e.g. a KG embedding under the inductive protocol):
    every ``score`` raises ``NotApplicableError(reason)``, so nothing is fitted for nothing."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        raise NotApplicableError(self.reason)

    def score_items(self, task: Task, items: QueryItems, candidate_nodes: np.ndarray) -> np.ndarray:
        raise NotApplicableError(self.reason)
