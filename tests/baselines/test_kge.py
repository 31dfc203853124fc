"""KG-embedding baselines through PyKEEN (skipped without the optional extra)."""

import numpy as np
import pytest

from biobridge.evaluation import evaluate
from biobridge.evaluation.scorer import NotApplicableError
from biobridge.evaluation.tasks import Task
from tests.tiny_kg import FakeSplit, random_kg

torch = pytest.importorskip("torch")
pytest.importorskip("pykeen", reason="pykeen is not installed (optional extra 'kge')")

from biobridge.baselines.kge import KGEScorer, KGESettings  # noqa: E402

PROT2BP = Task("Prot2BP", "protein", "interacts_with", "biological_process")
FAST = KGESettings(model="TransE", embedding_dim=16, epochs=3, batch_size=256, lr=1e-2, num_negs_per_pos=2)


@pytest.fixture(scope="module")
def data():
    return random_kg(seed=3)


def test_scores_are_the_models_tail_scores_and_seeded(data):
    kg, split = data
    a = KGEScorer(kg, split, FAST)
    b = KGEScorer(kg, split, FAST)
    queries = np.array([0, 1, 2, 5])
    cands = np.arange(60, 100)
    s = a.score(PROT2BP, queries, cands)
    assert s.shape == (4, 40) and s.dtype == np.float32 and np.isfinite(s).all()
    np.testing.assert_allclose(s, b.score(PROT2BP, queries, cands), atol=1e-6)  # same seed, same model
    rel = a.relation_names.index("interacts_with")
    hrt = torch.tensor([[0, rel, 60 + 7], [5, rel, 60 + 30]])
    expected = a.model.score_hrt(hrt).detach().numpy().ravel()
    np.testing.assert_allclose([s[0, 7], s[3, 30]], expected, rtol=1e-5, atol=1e-5)
    assert a.settings["n_train_triples"] == int((split.triple_part == 0).sum())
    assert a.settings["train_seconds"] is not None and a.settings["model"] == "TransE"


def test_unseen_queries_are_not_applicable_or_tie(data):
    kg, _ = data
    heads = kg.triples["head"].to_numpy()
    tails = kg.triples["tail"].to_numpy()
    # inductive-style: nodes 0..9 have no training triple at all
    part = np.where(np.isin(heads, np.arange(10)) | np.isin(tails, np.arange(10)), 2, 0).astype(np.int8)
    part[np.isin(heads, np.arange(10))] = 1
    scorer = KGEScorer(kg, FakeSplit(part, protocol="inductive"), FAST)
    assert scorer.unseen_queries == "raise"  # "auto" under the inductive protocol
    with pytest.raises(NotApplicableError):
        scorer.score(PROT2BP, np.array([0, 20]), np.arange(60, 100))
    scorer.unseen_queries = "tie"  # e.g. transductive: a held-out node whose only edges were held out
    mixed = scorer.score(PROT2BP, np.array([0, 20]), np.arange(60, 100))
    assert np.all(mixed[0] == 0) and np.ptp(mixed[1]) > 0  # unseen query: all candidates tie
    assert scorer.n_unseen_queries == 1
    assert np.all(scorer.score(PROT2BP, np.array([0, 1]), np.arange(60, 100)) == 0)
    scorer.unseen_queries = "raise"
    result = evaluate(kg, FakeSplit(part, protocol="inductive"), [scorer], tasks=[PROT2BP])
    assert result.tasks["Prot2BP"]["methods"]["transe"]["status"] == "not_applicable"


@pytest.mark.parametrize("model", ["RotatE", "ComplEx"])
def test_complex_models_share_the_real_dimension(data, model):
    kg, split = data
    scorer = KGEScorer(kg, split, FAST, model=model, epochs=1)
    assert scorer.settings["model_kwargs"]["embedding_dim"] == 8
    s = scorer.score(PROT2BP, np.array([0, 1]), np.arange(60, 100))
    assert np.isfinite(s).all()


def test_learns_training_edges(data):
    kg, split = data
    scorer = KGEScorer(kg, split, FAST, epochs=60, embedding_dim=32)
    train = split.triple_part == 0
    t = kg.triples[train & (kg.triples["relation"] == "interacts_with").to_numpy()]
    heads = np.unique(t["head"].to_numpy())[:20]
    cands = np.arange(60, 100)
    s = scorer.score(PROT2BP, heads, cands)
    gold = np.zeros_like(s, dtype=bool)
    for i, h in enumerate(heads):
        gold[i, t["tail"].to_numpy()[t["head"].to_numpy() == h] - 60] = True
    # trained edges score above the rest on average
    assert s[gold].mean() > s[~gold].mean()
