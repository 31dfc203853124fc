"""Queries, gold tails and candidates of a task under a split.

* queries: distinct heads of the task's TEST triples (``split.triple_part == 1``);
* gold tails of a query: all tails of that head under the task's relation and tail type in the FULL KG;
* candidates: nodes of the tail type that take part in the relation (policy ``"relation"``: as head or tail of
  the relation or of its reverse) or all nodes of the tail type (policy ``"all"``).

An optional ``scorable`` mask (one bool per node: the node has an embedding) removes queries and
candidates; every removal is counted in ``TaskQueries.counts``, as are gold tails that are not candidates
and queries left without any gold candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from biobridge.evaluation.tasks import Task
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["CANDIDATE_POLICY_NAMES", "KGIndex", "SplitLike", "TaskQueries", "build_task_queries"]

CANDIDATE_POLICY_NAMES = ("relation", "all")

TEST_PART = 1
TRAIN_PART = 0


class SplitLike(Protocol):
    """What evaluation needs from ``biobridge.kg.split.Split``."""

    protocol: str
    seed: int
    triple_part: np.ndarray  # int8 per kg.triples row: 0 train, 1 test, 2 excluded

    def content_hash(self) -> str: ...


def split_parts(kg: KnowledgeGraph, split: SplitLike) -> np.ndarray:
    part = np.asarray(split.triple_part)
    if part.shape != (len(kg.triples),):
        raise ValueError(
            f"split.triple_part has shape {part.shape} but the KG has {len(kg.triples)} triples: "
            "the split was made for another KG"
        )
    return part


class KGIndex:
    """Integer views of the triple table, computed once and shared by every task of an evaluation."""

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.kg = kg
        triples = kg.triples
        self.head = triples["head"].to_numpy(np.int64)
        self.tail = triples["tail"].to_numpy(np.int64)
        relation_names, relation_code = np.unique(
            triples["relation"].to_numpy().astype(str), return_inverse=True
        )
        self.relation_names = [str(x) for x in relation_names]
        self.relation_code = relation_code.astype(np.int32).ravel()
        type_names, node_type_code = np.unique(kg.node_type_array().astype(str), return_inverse=True)
        self.type_names = [str(x) for x in type_names]
        self.node_type_code = node_type_code.astype(np.int32).ravel()

    def relation_id(self, relation: str) -> int:
        try:
            return self.relation_names.index(relation)
        except ValueError:
            return -1

    def type_id(self, node_type: str) -> int:
        try:
            return self.type_names.index(node_type)
        except ValueError:
            return -1

    def task_mask(self, task: Task) -> np.ndarray:
        rel, ht, tt = (
            self.relation_id(task.relation),
            self.type_id(task.head_type),
            self.type_id(task.tail_type),
        )
        if min(rel, ht, tt) < 0:
            return np.zeros(len(self.head), dtype=bool)
        return (
            (self.relation_code == rel)
            & (self.node_type_code[self.head] == ht)
            & (self.node_type_code[self.tail] == tt)
        )


@dataclass(frozen=True)
class TaskQueries:
    """Queries, candidates and gold of one task. Gold is stored as CSR over candidate positions."""

    task: Task
    candidate_policy: str
    query_nodes: np.ndarray  # int64 (n_queries,), sorted
    candidate_nodes: np.ndarray  # int64 (n_candidates,), sorted
    gold_indptr: np.ndarray  # int64 (n_queries + 1,)
    gold_positions: np.ndarray  # int64 positions into candidate_nodes, sorted within each query
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def n_queries(self) -> int:
        return len(self.query_nodes)

    @property
    def n_candidates(self) -> int:
        return len(self.candidate_nodes)

    @property
    def n_gold_pairs(self) -> int:
        return len(self.gold_positions)

    def gold_mask(self, start: int, stop: int) -> np.ndarray:
        """Dense bool gold mask of queries ``start:stop`` x all candidates, shape (stop - start, n_cand)."""
        stop = min(stop, self.n_queries)
        mask = np.zeros((stop - start, self.n_candidates), dtype=bool)
        lo, hi = self.gold_indptr[start], self.gold_indptr[stop]
        rows = np.repeat(np.arange(stop - start), np.diff(self.gold_indptr[start : stop + 1]))
        mask[rows, self.gold_positions[lo:hi]] = True
        return mask

    def gold_tails(self, i: int) -> np.ndarray:
        """Node indices of the gold candidates of query ``i``."""
        return self.candidate_nodes[self.gold_positions[self.gold_indptr[i] : self.gold_indptr[i + 1]]]


def _check_scorable(kg: KnowledgeGraph, scorable: np.ndarray | None) -> np.ndarray | None:
    if scorable is None:
        return None
    scorable = np.asarray(scorable)
    if scorable.dtype != np.bool_ or scorable.shape != (kg.num_nodes,):
        raise ValueError(f"scorable must be a bool array of length {kg.num_nodes} (one per node)")
    return scorable


def build_task_queries(
    kg: KnowledgeGraph,
    split: SplitLike,
    task: Task,
    candidate_policy: str = "relation",
    scorable: np.ndarray | None = None,
    *,
    index: KGIndex | None = None,
) -> TaskQueries:
    """Build the queries, gold and candidates of ``task`` (see the module docstring for the definitions)."""
    if candidate_policy not in CANDIDATE_POLICY_NAMES:
        raise ValueError(
            f"candidate_policy must be one of {CANDIDATE_POLICY_NAMES}, got {candidate_policy!r}"
        )
    index = index or KGIndex(kg)
    part = split_parts(kg, split)
    scorable = _check_scorable(kg, scorable)

    in_task = index.task_mask(task)
    test_in_task = in_task & (part == TEST_PART)
    test_heads = np.unique(index.head[test_in_task])

    # ---- candidates ---------------------------------------------------------------------------
    tail_type_id = index.type_id(task.tail_type)
    if candidate_policy == "all":
        policy_candidates = np.flatnonzero(index.node_type_code == tail_type_id).astype(np.int64)
    else:
        rel_ids = {
            index.relation_id(task.relation),
            index.relation_id(kg.reverse_relations.get(task.relation, "")),
        }
        rel_ids.discard(-1)
        in_rel = np.isin(index.relation_code, list(rel_ids))
        touching = np.unique(np.concatenate([index.head[in_rel], index.tail[in_rel]]))
        policy_candidates = touching[index.node_type_code[touching] == tail_type_id].astype(np.int64)
    if scorable is not None:
        candidates = policy_candidates[scorable[policy_candidates]]
        queries = test_heads[scorable[test_heads]]
    else:
        candidates, queries = policy_candidates, test_heads

    # ---- gold: all (head, tail) of the task in the full KG, for the scorable queries -------------
    heads, tails = index.head[in_task], index.tail[in_task]
    keep = np.isin(heads, queries)
    pairs = np.unique(np.stack([heads[keep], tails[keep]], axis=1), axis=0)  # dedupe repeated triples
    if len(pairs) == 0:
        pairs = np.zeros((0, 2), dtype=np.int64)
    pos = np.searchsorted(candidates, pairs[:, 1])
    pos_clipped = np.minimum(pos, max(len(candidates) - 1, 0))
    is_candidate = (
        (candidates[pos_clipped] == pairs[:, 1]) if len(candidates) else np.zeros(len(pairs), dtype=bool)
    )
    gold_not_scorable = int((~scorable[pairs[:, 1]]).sum()) if scorable is not None else 0
    n_gold_not_candidate = int((~is_candidate).sum())

    kept_pairs, kept_pos = pairs[is_candidate], pos[is_candidate]
    n_queries_not_scorable = len(test_heads) - len(queries)
    has_gold = np.isin(queries, kept_pairs[:, 0])
    n_no_gold = int((~has_gold).sum())
    queries = queries[has_gold]
    query_row = np.searchsorted(queries, kept_pairs[:, 0])
    order = np.lexsort((kept_pos, query_row))
    gold_positions = kept_pos[order].astype(np.int64)
    gold_indptr = np.zeros(len(queries) + 1, dtype=np.int64)
    np.cumsum(np.bincount(query_row, minlength=len(queries)), out=gold_indptr[1:])

    counts = {
        "n_test_triples": int(test_in_task.sum()),
        "n_test_heads": len(test_heads),
        "n_queries_not_scorable": n_queries_not_scorable,
        "n_queries_without_gold_candidate": n_no_gold,
        "n_queries": len(queries),
        "n_candidates_by_policy": len(policy_candidates),
        "n_candidates_not_scorable": len(policy_candidates) - len(candidates),
        "n_candidates": len(candidates),
        "n_gold_pairs_full_kg": len(pairs),
        "n_gold_not_candidate": n_gold_not_candidate,
        "n_gold_not_candidate_not_scorable": gold_not_scorable,
        "n_gold_pairs": len(gold_positions),
    }
    return TaskQueries(
        task=task,
        candidate_policy=candidate_policy,
        query_nodes=queries.astype(np.int64),
        candidate_nodes=candidates.astype(np.int64),
        gold_indptr=gold_indptr,
        gold_positions=gold_positions,
        counts=counts,
    )
