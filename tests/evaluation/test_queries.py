import numpy as np
import pytest

from biobridge.evaluation.queries import build_task_queries
from biobridge.evaluation.tasks import Task
from tests.tiny_kg import BP0, BP1, BP2, BP3, D1, P0, P1, P2, P3

PROT2BP = Task("Prot2BP", "protein", "interacts_with", "biological_process")
DRUG2PROT = Task("Drug2Prot", "drug", "target", "protein")


def test_queries_gold_from_full_kg_and_relation_candidates(tiny_kg, tiny_split):
    tq = build_task_queries(tiny_kg, tiny_split, PROT2BP)
    assert tq.query_nodes.tolist() == [P0, P3]
    assert tq.candidate_nodes.tolist() == [BP0, BP1, BP2]  # BP3 takes part in no interacts_with triple
    # P0 -> BP1 is an excluded triple, yet BP1 is gold: gold comes from the full KG
    assert tq.gold_tails(0).tolist() == [BP0, BP1]
    assert tq.gold_tails(1).tolist() == [BP0, BP2]
    assert tq.gold_mask(0, 2).tolist() == [[True, True, False], [True, False, True]]
    assert tq.gold_mask(1, 5).tolist() == [[True, False, True]]
    c = tq.counts
    assert c["n_test_triples"] == 3 and c["n_test_heads"] == 2
    assert c["n_queries"] == 2 and c["n_candidates"] == 3 and c["n_gold_pairs"] == 4
    assert c["n_gold_not_candidate"] == 0 and c["n_candidates_not_scorable"] == 0


def test_candidate_policy_all(tiny_kg, tiny_split):
    tq = build_task_queries(tiny_kg, tiny_split, PROT2BP, candidate_policy="all")
    assert tq.candidate_nodes.tolist() == [BP0, BP1, BP2, BP3]
    assert tq.counts["n_candidates_by_policy"] == 4
    with pytest.raises(ValueError):
        build_task_queries(tiny_kg, tiny_split, PROT2BP, candidate_policy="train")


def test_relation_candidates_include_heads_of_the_reverse(tiny_kg, tiny_split):
    # Drug2Prot: proteins that are tails of `target` (P0, P1, P2) == heads of `rev_target`; P3 never targeted
    tq = build_task_queries(tiny_kg, tiny_split, DRUG2PROT)
    assert tq.query_nodes.tolist() == [D1]
    assert tq.candidate_nodes.tolist() == [P0, P1, P2]
    assert tq.gold_tails(0).tolist() == [P1, P2]  # D1 -> P1 is a TRAIN triple but still gold


def test_scorable_exclusions_are_counted(tiny_kg, tiny_split):
    scorable = np.ones(tiny_kg.num_nodes, dtype=bool)
    scorable[BP2] = False  # candidate without embedding
    tq = build_task_queries(tiny_kg, tiny_split, PROT2BP, scorable=scorable)
    assert tq.candidate_nodes.tolist() == [BP0, BP1]
    assert tq.gold_tails(1).tolist() == [BP0]
    c = tq.counts
    assert c["n_candidates_not_scorable"] == 1
    assert c["n_gold_not_candidate"] == 1 and c["n_gold_not_candidate_not_scorable"] == 1
    assert c["n_gold_pairs_full_kg"] == 4 and c["n_gold_pairs"] == 3

    scorable[P0] = False  # query without embedding
    tq = build_task_queries(tiny_kg, tiny_split, PROT2BP, scorable=scorable)
    assert tq.query_nodes.tolist() == [P3]
    assert tq.counts["n_queries_not_scorable"] == 1

    scorable[BP0] = False  # P3 now has no gold candidate left: removed and counted
    tq = build_task_queries(tiny_kg, tiny_split, PROT2BP, scorable=scorable)
    assert tq.n_queries == 0
    assert tq.counts["n_queries_without_gold_candidate"] == 1
    assert tq.counts["n_queries_not_scorable"] == 1
    with pytest.raises(ValueError):
        build_task_queries(tiny_kg, tiny_split, PROT2BP, scorable=np.ones(3, dtype=bool))


def test_split_of_another_kg_is_rejected(tiny_kg, tiny_split):
    tiny_split.triple_part = tiny_split.triple_part[:-1]
    with pytest.raises(ValueError, match="another KG"):
        build_task_queries(tiny_kg, tiny_split, PROT2BP)


def test_task_absent_from_kg_gives_no_queries(tiny_kg, tiny_split):
    tq = build_task_queries(tiny_kg, tiny_split, Task("X", "protein", "interacts_with", "disease"))
    assert tq.n_queries == 0 and tq.n_candidates == 0
