"""Feature-kNN transfer on the tiny hand-made KG: hand-computed votes."""

import numpy as np
import pytest

from biobridge.baselines.feature_knn import FeatureKNNScorer
from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.evaluation import evaluate
from biobridge.evaluation.tasks import Task
from tests.tiny_kg import BP0, BP1, BP2, BP3, D0, D1, P0, P1, P2, P3

PROT2BP = Task("Prot2BP", "protein", "interacts_with", "biological_process")
DRUG2PROT = Task("Drug2Prot", "drug", "target", "protein")


def _table(num_nodes=10):
    # protein vectors: P0 and P1 point the same way, P2 at cos 0.6 to them, P3 at cos 0 (orthogonal)
    prot = np.array([[1.0, 0.0], [2.0, 0.0], [0.6, 0.8], [0.0, 3.0]], dtype=np.float32)
    bp = np.eye(4, 3, dtype=np.float32) + 0.1
    drug = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    return EmbeddingTable(
        {"protein": prot, "biological_process": bp, "drug": drug},
        {
            "protein": np.array([P0, P1, P2, P3]),
            "biological_process": np.array([BP0, BP1, BP2, BP3]),
            "drug": np.array([D0, D1]),
        },
        num_nodes,
    )


def test_votes_are_similarity_weighted_tails_of_nearest_training_heads(tiny_kg, tiny_split):
    # training heads of Prot2BP: P1 -> BP1, P2 -> BP2 (P0 and P3 are test heads)
    cands = np.array([BP0, BP1, BP2, BP3])
    knn = FeatureKNNScorer(tiny_kg, tiny_split, _table(), k=1, popularity_weight=0.0)
    s = knn.score(PROT2BP, np.array([P0, P3]), cands)
    # P0: nearest is P1 (cos 1) -> BP1 gets 1; P3: nearest is P2 (cos 0.8), its best neighbour -> BP2 gets 1
    np.testing.assert_allclose(s, [[0, 1, 0, 0], [0, 0, 1, 0]], atol=1e-6)
    assert s.dtype == np.float32

    knn2 = FeatureKNNScorer(tiny_kg, tiny_split, _table(), k=2, popularity_weight=0.0)
    s2 = knn2.score(PROT2BP, np.array([P0]), cands)
    np.testing.assert_allclose(s2, [[0, 1, 0.6, 0]], atol=1e-6)
    sims, heads = knn2.neighbours(PROT2BP, np.array([P0]))
    np.testing.assert_allclose(sims, [[1.0, 0.6]], atol=1e-6)
    assert heads.tolist() == [[P1, P2]]


def test_query_is_not_its_own_neighbour_and_popularity_breaks_ties(tiny_kg, tiny_split):
    knn = FeatureKNNScorer(tiny_kg, tiny_split, _table(), k=1, popularity_weight=1e-3)
    # P1 is itself a training head: its nearest *other* head is P2 (cos 0.6, weight 1 as the best neighbour)
    s = knn.score(PROT2BP, np.array([P1]), np.array([BP0, BP1, BP2, BP3]))
    # training in-degree of interacts_with: BP1 1, BP2 1 (scaled to max 1)
    np.testing.assert_allclose(s, [[0, 1e-3, 1 + 1e-3, 0]], atol=1e-6)


def test_sharpness_lets_the_nearest_neighbour_dominate_and_can_be_set_per_task(tiny_kg, tiny_split):
    cands = np.array([BP0, BP1, BP2, BP3])
    # P0's neighbours: P1 (cos 1) -> BP1, P2 (cos 0.6) -> BP2
    sharp = FeatureKNNScorer(tiny_kg, tiny_split, _table(), k=2, popularity_weight=0.0, sharpness=4.0)
    np.testing.assert_allclose(sharp.score(PROT2BP, np.array([P0]), cands), [[0, 1, 0.6**4, 0]], atol=1e-6)
    per_task = {"Prot2BP": {"k": 1, "sharpness": 1.0}}
    knn = FeatureKNNScorer(tiny_kg, tiny_split, _table(), k=2, popularity_weight=0.0, per_task=per_task)
    np.testing.assert_allclose(knn.score(PROT2BP, np.array([P0]), cands), [[0, 1, 0, 0]], atol=1e-6)
    assert knn.vote_setting(DRUG2PROT) == (2, 1.0) and knn.settings["per_task"] == per_task
    with pytest.raises(ValueError, match="sharpness"):
        FeatureKNNScorer(tiny_kg, tiny_split, _table(), sharpness=0.0)


def test_the_kept_similarity_block_gives_each_setting_what_a_fresh_scorer_gives(tiny_kg, tiny_split):
    # the vote tuning scores the same queries at several (k, sharpness): the similarities are computed once
    cands = np.array([BP0, BP1, BP2, BP3])
    queries = np.array([P0, P1, P3])  # P1 is a training head: its self-similarity stays excluded
    reused = FeatureKNNScorer(tiny_kg, tiny_split, _table(), popularity_weight=1e-3)
    calls = []
    similarities = reused._similarities
    reused._similarities = lambda *a: calls.append(1) or similarities(*a)
    for k, sharpness in [(1, 1.0), (2, 4.0), (1, 16.0), (3, 1.0)]:
        reused.set_vote(PROT2BP.name, k, sharpness)
        fresh = FeatureKNNScorer(
            tiny_kg, tiny_split, _table(), popularity_weight=1e-3, k=k, sharpness=sharpness
        )
        np.testing.assert_array_equal(
            reused.score(PROT2BP, queries, cands), fresh.score(PROT2BP, queries, cands)
        )
    assert len(calls) == 1
    reused.score(PROT2BP, queries[:2], cands)  # other queries: computed anew
    assert len(calls) == 2


def test_task_without_training_heads_gives_zeros(tiny_kg, tiny_split):
    knn = FeatureKNNScorer(tiny_kg, tiny_split, _table(), k=3)
    task = Task("Prot2Drug", "protein", "no_such_relation", "drug")
    assert np.all(knn.score(task, np.array([P0, P1]), np.array([D0, D1])) == 0)


def test_evaluates_inductively_next_to_other_methods(tiny_kg, tiny_split):
    knn = FeatureKNNScorer(tiny_kg, tiny_split, _table(), k=1, popularity_weight=0.0)
    result = evaluate(tiny_kg, tiny_split, [knn], tasks=[PROT2BP, DRUG2PROT])
    m = result.tasks["Prot2BP"]["methods"]["feature-knn"]
    assert m["status"] == "ok"
    # candidates BP0, BP1, BP2. P0 (gold BP0, BP1) scores [0, 1, 0]: BP1 rank 1, BP0 ties with the
    # non-gold BP2 -> realistic rank 1.5. P3 (gold BP0, BP2) scores [0, 0, 0.8]: BP2 rank 1, BP0 rank 1.5.
    assert m["mrr"] == pytest.approx((1 + 1 / 1.5 + 1 + 1 / 1.5) / 4)
    d = result.tasks["Drug2Prot"]["methods"]["feature-knn"]
    assert d["status"] == "ok"


def test_rejects_bad_k(tiny_kg, tiny_split):
    with pytest.raises(ValueError):
        FeatureKNNScorer(tiny_kg, tiny_split, _table(), k=0)
