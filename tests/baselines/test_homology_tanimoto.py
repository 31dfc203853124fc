"""Homology-kNN and Tanimoto-kNN on the tiny hand-made KG (hand-computed votes), and the shared rule that a
baseline scores a KG node the same whether it is given as a node or by its inputs (QueryItems)."""

import numpy as np
import pytest
import torch

from biobridge.baselines import build_baseline
from biobridge.baselines.homology_knn import HomologyKNNScorer
from biobridge.baselines.tanimoto_knn import TanimotoKNNScorer, tanimoto
from biobridge.encoders.homology import ProteinHits
from biobridge.encoders.mmseqs import HitTable
from biobridge.evaluation.scorer import NotApplicableError, QueryItems
from biobridge.evaluation.tasks import Task
from tests.baselines.test_feature_knn import _table
from tests.tiny_kg import BP0, BP1, BP2, BP3, D0, D1, P0, P1, P2, P3, TINY_EDGES, TINY_NODES, make_kg

PROT2BP = Task("Prot2BP", "protein", "interacts_with", "biological_process")
DRUG2PROT = Task("Drug2Prot", "drug", "target", "protein")
BPS = np.array([BP0, BP1, BP2, BP3])


def fake_hits() -> ProteinHits:
    # symmetric hits between positions 0..3 = P0..P3: P0~P1 100 bits (identity 0.95), P0~P2 50 (0.4),
    # P2~P3 80 (0.6)
    pairs = [(0, 1, 100, 0.95), (0, 2, 50, 0.4), (2, 3, 80, 0.6)]
    rows = pairs + [(t, q, b, i) for q, t, b, i in pairs]
    q, t, b, i = (np.array(c) for c in zip(*rows, strict=True))
    table = HitTable(q.astype(np.int64), t.astype(np.int64), b.astype(np.float32), i.astype(np.float32))
    return ProteinHits(table, 4, {"test": True}, np.array([P0, P1, P2, P3]))


def test_homology_votes_are_summed_bits_of_the_best_training_hits(tiny_kg, tiny_split):
    knn = HomologyKNNScorer(tiny_kg, tiny_split, fake_hits(), k=20, popularity_weight=0.0)
    # training heads of Prot2BP: P1 -> BP1, P2 -> BP2; P0 hits P1 (100) and P2 (50); P3 hits P2 (80); bits
    # relative to the query's best hit
    np.testing.assert_allclose(knn.score(PROT2BP, np.array([P0, P3]), BPS), [[0, 1, 0.5, 0], [0, 0, 1, 0]])
    # the k best hits among all training proteins vote: with k=1, P3's best hit is P2 (its only one)
    one = HomologyKNNScorer(tiny_kg, tiny_split, fake_hits(), k=1, popularity_weight=0.0)
    np.testing.assert_allclose(one.score(PROT2BP, np.array([P0]), BPS), [[0, 1, 0, 0]])


def test_protein_candidates_get_their_homologs_votes(tiny_kg, tiny_split):
    knn = HomologyKNNScorer(tiny_kg, tiny_split, fake_hits(), smoothing=0.5)

    class Fixed:
        def score(self, task, q, c):
            return np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32)  # only P0 voted

    knn._tanimoto = Fixed()
    s = knn.score(DRUG2PROT, np.array([D1]), np.array([P0, P1, P2, P3]))
    # h(c, P0) = bits(c, P0) / best bits of c: P1 100/100, P2 50/80, P3 none
    np.testing.assert_allclose(s, [[1.0, 0.5, 0.5 * 50 / 80, 0.0]], rtol=1e-6)
    with pytest.raises(NotApplicableError, match="neither end"):
        knn.score(Task("Drug2Disease", "drug", "indication", "disease"), np.array([D1]), np.array([BP0]))


def test_best_identity_to_a_pool(tiny_kg):
    hits = fake_hits()
    best = hits.best_identity(np.array([P0, P3, BP0]), pool=np.array([P1, P2]))
    np.testing.assert_allclose(best, [0.95, 0.6, -1.0])


def test_tanimoto_by_hand_and_applicable_to_molecules_only():
    a = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    b = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    np.testing.assert_allclose(tanimoto(a, b).numpy(), [[1 / 3, 1.0], [0.0, 0.0]])
    nodes = [(t, i) for t, i in TINY_NODES]
    kg = make_kg(nodes, TINY_EDGES)
    kg.nodes.loc[[D0, D1], "feature"] = ["CC(=O)Oc1ccccc1C(=O)O", "CC(=O)Oc1ccccc1C(=O)OC"]
    split = type(
        "S",
        (),
        {
            "triple_part": np.array([1, 2, 0, 0, 1, 1, 0, 0, 1] + [0] * 9, np.int8),
            "protocol": "paper",
            "seed": 0,
            "content_hash": lambda self: "x",
        },
    )()
    knn = TanimotoKNNScorer(kg, split, k=1, popularity_weight=0.0)
    s = knn.score(DRUG2PROT, np.array([D1]), np.array([P0, P1, P2, P3]))
    # D1's only other training drug is D0 (aspirin, a near-identical ester): its target P0 gets the Tanimoto
    assert s[0, 0] > 0.5 and np.all(s[0, 1:] == 0)
    with pytest.raises(NotApplicableError, match="not molecules"):
        knn.score(PROT2BP, np.array([P0]), BPS)


@pytest.mark.parametrize("name", ["popularity", "feature-knn", "graph-context", "homology-knn"])
def test_a_kg_node_scores_the_same_as_a_node_and_by_its_inputs(tiny_kg, tiny_split, name):
    table = _table()
    scorer = build_baseline(name, tiny_kg, tiny_split, table, k=3, hits=fake_hits())
    nodes = np.array([P0, P3])
    items = QueryItems(["X", "X"], table.raw("protein", nodes).numpy(), nodes)
    np.testing.assert_allclose(scorer.score_items(PROT2BP, items, BPS), scorer.score(PROT2BP, nodes, BPS))


class _CountingHits(ProteinHits):
    """``fake_hits`` whose search of new sequences finds P1 for every sequence, counting the searches."""

    def search_nodes(self, sequences, num_nodes):
        self.searches.append(list(sequences))
        rows = np.arange(len(sequences))
        bits = np.full(len(sequences), 60.0, np.float32)
        return __import__("scipy.sparse").sparse.csr_matrix(
            (bits, (rows, np.full(len(sequences), P1))), shape=(len(sequences), num_nodes)
        )


def test_the_vote_is_silent_for_a_protein_without_hits(tiny_kg, tiny_split):
    # only P0 ~ P1 hit each other: P2 and P3 have no hit, so their vote is the popularity tie-break alone
    table = HitTable(
        np.array([0, 1]), np.array([1, 0]), np.array([100.0, 100.0], np.float32), np.ones(2, np.float32)
    )
    hits = _CountingHits(table, 4, {"test": True}, np.array([P0, P1, P2, P3]))
    object.__setattr__(hits, "searches", [])
    knn = HomologyKNNScorer(tiny_kg, tiny_split, hits, k=20)
    nodes = np.array([P0, P1, P2, P3])
    np.testing.assert_array_equal(knn.silent(PROT2BP, nodes), [False, False, True, True])
    items = QueryItems(["X"] * 4, np.zeros((4, 1), np.float32), nodes)
    np.testing.assert_array_equal(knn.silent_items(PROT2BP, items), [False, False, True, True])
    with pytest.raises(NotApplicableError, match="not proteins"):
        knn.silent(DRUG2PROT, np.array([D0]))
    # a new sequence is searched once for its score and its silence
    new = QueryItems(["MKV"], np.zeros((1, 1), np.float32), np.array([-1]))
    knn.score_items(PROT2BP, new, BPS)
    assert not knn.silent_items(PROT2BP, new)[0]
    assert hits.searches == [["MKV"]]
