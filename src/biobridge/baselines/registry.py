"""The model-free baselines by name, as ``biobridge benchmark``, the tuned fusion and the shipped hybrid refer to
them."""

from __future__ import annotations

from collections.abc import Callable

from biobridge.baselines.feature_knn import FeatureKNNScorer
from biobridge.baselines.graph_context import GraphContextScorer
from biobridge.baselines.homology_knn import HomologyKNNScorer
from biobridge.baselines.popularity import PopularityScorer
from biobridge.baselines.tanimoto_knn import TanimotoKNNScorer
from biobridge.evaluation.queries import SplitLike
from biobridge.evaluation.scorer import NotApplicableScorer, Scorer
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["BASELINE_NAMES", "build_baseline"]


def _homology(kg, split, table, k, hits):
    if hits is None:
        return NotApplicableScorer("homology-knn", "no protein sequence search (hits) was given")
    return HomologyKNNScorer(kg, split, hits, table=table, k=min(k, 20))


# name -> builder(kg, split, table, k, hits); ``table``: the embedding table, ``k``: the neighbours of a vote,
# ``hits``: the KG proteins' all-against-all search (``biobridge.encoders.homology.ProteinHits``)
_BUILDERS: dict[str, Callable[..., Scorer]] = {
    "popularity": lambda kg, split, table, k, hits: PopularityScorer(kg, split),
    "feature-knn": lambda kg, split, table, k, hits: FeatureKNNScorer(kg, split, table, k=k),
    "graph-context": lambda kg, split, table, k, hits: GraphContextScorer(kg, split, table, k=k),
    "homology-knn": _homology,
    "tanimoto-knn": lambda kg, split, table, k, hits: TanimotoKNNScorer(kg, split, table, k=k),
}
BASELINE_NAMES = tuple(_BUILDERS)


def build_baseline(
    name: str, kg: KnowledgeGraph, split: SplitLike, table=None, k: int = 50, hits=None
) -> Scorer:
    """The baseline ``name`` fitted on ``split``'s TRAIN triples (``table``: the embedding table, needed by the
    neighbour votes; ``k``: their number of neighbours, at most 20 sequence hits for homology-kNN, as in the
    CAFA-style baseline; ``hits``: the proteins' sequence search, needed by homology-kNN)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown baseline {name!r}; known: {list(BASELINE_NAMES)}")
    return _BUILDERS[name](kg, split, table, k, hits)
