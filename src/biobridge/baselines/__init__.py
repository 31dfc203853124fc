"""Competing retrieval methods, each a ``biobridge.evaluation.Scorer``: popularity, the neighbour votes
(feature-kNN on frozen embeddings, graph-context on training-graph neighbourhoods), PyKEEN KG embeddings
(extra ``kge``), reciprocal-rank fusion and the validation-tuned score fusion. ``build_baseline`` builds
the model-free ones by name."""

from biobridge.baselines.feature_knn import FeatureKNNScorer
from biobridge.baselines.graph_context import GraphContextScorer
from biobridge.baselines.popularity import PopularityScorer
from biobridge.baselines.rank_fusion import RankFusionScorer
from biobridge.baselines.registry import BASELINE_NAMES, build_baseline
from biobridge.baselines.tuned_fusion import TunedScoreFusion, fit_tuned_fusion, tune_fusion_weights

__all__ = [
    "BASELINE_NAMES",
    "FeatureKNNScorer",
    "GraphContextScorer",
    "PopularityScorer",
    "RankFusionScorer",
    "TunedScoreFusion",
    "build_baseline",
    "fit_tuned_fusion",
    "tune_fusion_weights",
]
