"""The model-free baselines by name, as ``biobridge benchmark``, the tuned fusion and the shipped hybrid refer to
them."""

from __future__ import annotations

from collections.abc import Callable

from biobridge.baselines.feature_knn import FeatureKNNScorer
from biobridge.baselines.graph_context import GraphContextScorer
from biobridge.baselines.homology_knn import HomologyKNNScorer
from biobridge.baselines.popularity import PopularityScorer
from biobridge.baselines.tanimoto_knn import TanimotoKNNScorer
from biobridge.config import VOTE_BASELINE_NAMES  # the neighbour votes among them
from biobridge.evaluation.queries import SplitLike
from biobridge.evaluation.scorer import NotApplicableScorer, Scorer
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["BASELINE_NAMES", "VOTE_BASELINE_NAMES", "build_baseline"]


def _homology(kg, split, table, k, hits, per_task):
    if hits is None:
        return NotApplicableScorer("homology-knn", "no protein sequence search (hits) was given")
    return HomologyKNNScorer(kg, split, hits, table=table, k=min(k, 20), per_task=per_task)


# name -> builder(kg, split, table, k, hits, per_task); ``table``: the embedding table, ``k``: the neighbours of
# a vote, ``hits``: the KG proteins' all-against-all search (``biobridge.encoders.homology.ProteinHits``),
# ``per_task``: a vote's (k, sharpness) per task
_BUILDERS: dict[str, Callable[..., Scorer]] = {
    "popularity": lambda kg, split, table, k, hits, per_task: PopularityScorer(kg, split),
    "feature-knn": lambda kg, split, table, k, hits, per_task: FeatureKNNScorer(
        kg, split, table, k=k, per_task=per_task
    ),
    "graph-context": lambda kg, split, table, k, hits, per_task: GraphContextScorer(
        kg, split, table, k=k, per_task=per_task
    ),
    "homology-knn": _homology,
    "tanimoto-knn": lambda kg, split, table, k, hits, per_task: TanimotoKNNScorer(
        kg, split, table, k=k, per_task=per_task
    ),
}
BASELINE_NAMES = tuple(_BUILDERS)


def build_baseline(
    name: str,
    kg: KnowledgeGraph,
    split: SplitLike,
    table=None,
    k: int = 50,
    hits=None,
    per_task: dict[str, dict] | None = None,
) -> Scorer:
    """The baseline ``name`` fitted on ``split``'s TRAIN triples (``table``: the embedding table, needed by the
    neighbour votes; ``k``: their number of neighbours, at most 20 sequence hits for homology-kNN, as in the
    CAFA-style baseline; ``hits``: the proteins' sequence search, needed by homology-kNN; ``per_task``: the
    votes' ``{"k", "sharpness"}`` per task name, as ``biobridge.baselines.vote_tuning`` chooses them)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown baseline {name!r}; known: {list(BASELINE_NAMES)}")
    return _BUILDERS[name](kg, split, table, k, hits, per_task)
