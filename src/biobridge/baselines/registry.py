"""The model-free baselines by name, as ``biobridge benchmark`` and the tuned fusion refer to them."""

from __future__ import annotations

from collections.abc import Callable

from biobridge.baselines.feature_knn import FeatureKNNScorer
from biobridge.baselines.graph_context import GraphContextScorer
from biobridge.baselines.popularity import PopularityScorer
from biobridge.evaluation.queries import SplitLike
from biobridge.evaluation.scorer import Scorer
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["BASELINE_NAMES", "build_baseline"]

# name -> builder(kg, split, table, k); ``table`` is the embedding table, ``k`` the neighbours of a vote
_BUILDERS: dict[str, Callable[..., Scorer]] = {
    "popularity": lambda kg, split, table, k: PopularityScorer(kg, split),
    "feature-knn": lambda kg, split, table, k: FeatureKNNScorer(kg, split, table, k=k),
    "graph-context": lambda kg, split, table, k: GraphContextScorer(kg, split, table, k=k),
}
BASELINE_NAMES = tuple(_BUILDERS)


def build_baseline(name: str, kg: KnowledgeGraph, split: SplitLike, table=None, k: int = 50) -> Scorer:
    """The baseline ``name`` fitted on ``split``'s TRAIN triples (``table``: the embedding table, needed by
    the neighbour votes; ``k``: their number of neighbours)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown baseline {name!r}; known: {list(BASELINE_NAMES)}")
    return _BUILDERS[name](kg, split, table, k)
