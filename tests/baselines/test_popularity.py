import numpy as np
import pytest

from biobridge.baselines.popularity import PopularityScorer
from biobridge.evaluation.evaluator import evaluate
from biobridge.evaluation.scorer import Scorer
from biobridge.evaluation.tasks import Task
from tests.tiny_kg import BP0, BP1, BP2, BP3, P0, P3

PROT2BP = Task("Prot2BP", "protein", "interacts_with", "biological_process")


def test_popularity_counts_train_tails_only(tiny_kg, tiny_split):
    pop = PopularityScorer(tiny_kg, tiny_split)
    assert isinstance(pop, Scorer)
    # train interacts_with triples: P1->BP1, P2->BP2 (P0->BP1 is excluded, P0/P3 triples are test)
    scores = pop.score(PROT2BP, np.array([P0, P3]), np.array([BP0, BP1, BP2, BP3]))
    assert scores.dtype == np.float32
    assert scores.tolist() == [[0, 1, 1, 0], [0, 1, 1, 0]]


def test_popularity_ranks_on_tiny_kg(tiny_kg, tiny_split):
    pop = PopularityScorer(tiny_kg, tiny_split)
    result = evaluate(tiny_kg, tiny_split, [pop], tasks=[PROT2BP])
    ranks = result.ranks[("Prot2BP", "popularity")]
    # P0: gold BP0 (0) and BP1 (1) vs non-gold BP2 (1) -> BP0: 2, BP1: (1 + 2) / 2
    # P3: gold BP0 (0) and BP2 (1) vs non-gold BP1 (1) -> BP0: 2, BP2: 1.5
    assert ranks.query_nodes.tolist() == [P0, P0, P3, P3]
    assert ranks.gold_nodes.tolist() == [BP0, BP1, BP0, BP2]
    assert ranks.rank.tolist() == [2.0, 1.5, 2.0, 1.5]
    m = result.tasks["Prot2BP"]["methods"]["popularity"]
    assert m["mrr"] == pytest.approx((0.5 + 1 / 1.5) / 2)
    assert m["hits@1"] == 0.0 and m["hits@3"] == 1.0
    # top-1 by score, ties by candidate order: BP1 for both queries -> gold for P0 only
    assert m["recall@1"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["precision@1"] == pytest.approx(0.5)

    # candidate policy "all" adds BP3 (score 0), tied with gold BP0: its rank becomes (2 + 3) / 2
    result = evaluate(tiny_kg, tiny_split, [pop], tasks=[PROT2BP], candidate_policy="all")
    assert result.ranks[("Prot2BP", "popularity")].rank.tolist() == [2.5, 1.5, 2.5, 1.5]
