"""Cross-check filtered realistic MRR / hits@k against PyKEEN's RankBasedEvaluator.

Skipped when pykeen (an optional extra) is not installed."""

import numpy as np
import pytest

from biobridge.evaluation.metrics import rank_metrics
from biobridge.evaluation.ranks import filtered_realistic_ranks

torch = pytest.importorskip("torch")
rank_based = pytest.importorskip(
    "pykeen.evaluation.rank_based_evaluator", reason="pykeen is not installed (optional cross-check)"
)


def _pykeen_metrics(scores: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """Feed PyKEEN one row per (query, gold) pair exactly as its filtered tail-side evaluation does:
    the scores of the query's other gold tails are set to NaN, the current gold keeps its score."""
    evaluator = rank_based.RankBasedEvaluator(filtered=True)
    rows, cols = np.nonzero(gold)
    all_scores = torch.as_tensor(scores[rows], dtype=torch.float64).clone()
    other_gold = torch.as_tensor(gold[rows])
    other_gold[torch.arange(len(rows)), torch.as_tensor(cols)] = False
    all_scores[other_gold] = float("nan")
    true_scores = torch.as_tensor(scores[rows, cols], dtype=torch.float64).unsqueeze(-1)
    hrt = torch.as_tensor(np.stack([rows, np.zeros_like(rows), cols], axis=1), dtype=torch.long)
    evaluator.process_scores_(hrt_batch=hrt, target="tail", scores=all_scores, true_scores=true_scores)
    result = evaluator.finalize()
    out = {"mrr": float(result.get_metric("tail.realistic.inverse_harmonic_mean_rank"))}
    for k in (1, 3, 10):
        out[f"hits@{k}"] = float(result.get_metric(f"tail.realistic.hits_at_{k}"))
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_pykeen_rank_based_evaluator(seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(40, 60))
    scores[::2] = np.round(scores[::2], 1)  # half the rows with many ties
    gold = rng.random((40, 60)) < 0.08
    gold[np.arange(40), rng.integers(0, 60, 40)] = True  # at least one gold per query
    _, ranks = filtered_realistic_ranks(scores, gold)
    ours = rank_metrics(ranks)
    theirs = _pykeen_metrics(scores, gold)
    for key in ("mrr", "hits@1", "hits@3", "hits@10"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key
