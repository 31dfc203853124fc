"""Multi-hop bridging: chain relation-conditioned transformations, e.g. disease text -> proteins -> drugs.

A path is a list of hops ``(head_type, relation, tail_type)`` whose types chain
(``hop[i].tail_type == hop[i + 1].head_type``); the string form is
``disease:associated_with:protein,protein:rev_target:drug`` (:func:`parse_path`). The relation ``~`` makes a
*similarity hop* ``t:~:t``: nearest neighbours of the same type in the projected space (cosine of
``P_t e``), e.g. ``...,protein:rev_associated_with:disease,disease:~:disease`` snaps onto KG diseases first
and then moves to similar diseases (those of another relation or a user candidate set).

Search (beam over intermediate KG nodes):

1. hop 1: the query's bridged vector ``transform(query, h1, r1, t1)`` is scored (cosine) against every
   candidate of ``t1`` (KG nodes of that type taking part in ``r1``; every embedded node of the type for a
   similarity hop); the ``beam`` best become the frontier.
2. hop i > 1: every frontier node's stored embedding is transformed under hop i and scored against the
   candidates of ``t_i``; a candidate reached from frontier node ``n`` gets the path score
   ``aggregate(path score of n, cos_i)``; candidates pool the scores of the paths reaching them.
3. the last hop's candidates are ranked by their pooled score.

Path-score ``aggregate`` (over the hop cosines ``c_1..c_L`` of one path):

- ``"mean"`` (default): arithmetic mean of the cosines;
- ``"product"``: product of ``(1 + c_i) / 2`` (each hop mapped to [0, 1], read as a soft conjunction);
- ``"min"``: the weakest hop.

``pool`` over the paths reaching a candidate: ``"max"`` (default; the best path, whose nodes are reported) or
``"softmax"`` (``tau * logsumexp(path scores / tau)``, tau 0.1: several good paths add up).
Intermediate frontiers are pooled the same way. Cost: ``beam x n_candidates`` cosines per hop and query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

AGGREGATES = ("mean", "product", "min")
POOLS = ("max", "softmax")


@dataclass(frozen=True)
class Hop:
    head_type: str
    relation: str
    tail_type: str

    def __str__(self) -> str:
        return f"{self.head_type}:{self.relation}:{self.tail_type}"


def parse_path(spec: str | Sequence) -> list[Hop]:
    """``"disease:associated_with:protein,protein:rev_target:drug"`` (or a list of 3-tuples) -> hops.

    Raises ``ValueError`` on a malformed hop or when consecutive hops do not chain."""
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        hops = []
        for p in parts:
            fields = [f.strip() for f in p.split(":")]
            if len(fields) != 3 or not all(fields):
                raise ValueError(f"a hop must look like HEAD_TYPE:RELATION:TAIL_TYPE, got {p!r}")
            hops.append(Hop(*fields))
    else:
        hops = [h if isinstance(h, Hop) else Hop(*h) for h in spec]
    if not hops:
        raise ValueError("empty path")
    for a, b in zip(hops, hops[1:], strict=False):
        if a.tail_type != b.head_type:
            raise ValueError(f"hops do not chain: {a} ends at {a.tail_type!r}, {b} starts at {b.head_type!r}")
    return hops


def format_path(hops: Sequence[Hop]) -> str:
    return ",".join(str(h) for h in hops)


def candidate_nodes(kg, table, node_type: str, relation: str | None) -> np.ndarray:
    """Embedded nodes of ``node_type`` taking part in ``relation`` (either direction); all when None."""
    nodes = kg.nodes_of_type(node_type) if relation is None else kg.nodes_in_relation(node_type, relation)
    return nodes[table.has_embedding(nodes)]


SIMILARITY = "~"


def hop_vectors(model, raw: torch.Tensor, hop: Hop) -> torch.Tensor:
    """L2-normalised query vectors of one hop: ``transform`` under the hop's relation, or for a similarity hop
    (relation ``~``) the plain projection ``P_t e`` (nearest neighbours of the same type)."""
    if hop.relation == SIMILARITY:
        return F.normalize(model.project(raw, hop.head_type), dim=1)
    return F.normalize(model.transform_named(raw, hop.head_type, hop.relation, hop.tail_type), dim=1)


def _combine(prev: torch.Tensor, cos: torch.Tensor, hop_number: int, aggregate: str) -> torch.Tensor:
    if aggregate == "mean":
        return (prev * (hop_number - 1) + cos) / hop_number
    if aggregate == "product":
        return prev * (1 + cos) / 2
    return torch.minimum(prev, cos)


def _pool(paths: torch.Tensor, pool: str, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(q, b, c) path scores -> pooled (q, c) and the best path's beam position (q, c)."""
    best, parent = paths.max(dim=1)
    if pool == "max":
        return best, parent
    return tau * torch.logsumexp(paths / tau, dim=1), parent


@dataclass
class PathSearch:
    """Result of :func:`search_paths` for a batch of queries."""

    scores: torch.Tensor  # (q, n_last_candidates) pooled scores
    candidates: np.ndarray  # last hop's candidate nodes
    frontiers: list[np.ndarray]  # per intermediate hop: (q, b) frontier nodes
    parents: list[np.ndarray]  # per hop >= 2: (q, n_candidates_of_hop) beam position of the best path
    frontier_positions: list[np.ndarray]  # per intermediate hop: (q, b) positions in that hop's candidates


def search_paths(
    model,
    table,
    kg,
    raw_queries: torch.Tensor,
    hops: Sequence[Hop],
    beam: int = 10,
    aggregate: str = "mean",
    pool: str = "max",
    last_candidates: np.ndarray | None = None,
    tau: float = 0.1,
) -> PathSearch:
    """Beam search over a path for raw head embeddings ``raw_queries`` (q, d) of ``hops[0].head_type``."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}")
    if beam < 1:
        raise ValueError("beam must be >= 1")
    hops = parse_path(hops)
    with torch.inference_mode():
        frontiers, parents, positions = [], [], []
        acc = prev_cands = cands = None
        for i, hop in enumerate(hops):
            if i == len(hops) - 1 and last_candidates is not None:
                cands = np.asarray(last_candidates, dtype=np.int64)
            else:
                rel = None if hop.relation == SIMILARITY else hop.relation
                cands = candidate_nodes(kg, table, hop.tail_type, rel)
            if len(cands) == 0:
                raise ValueError(f"no embedded {hop.tail_type} candidates for {hop.relation}")
            cvec = F.normalize(table.project(model, cands), dim=1)
            if i == 0:
                cos = hop_vectors(model, raw_queries, hop) @ cvec.T
                acc = (1 + cos) / 2 if aggregate == "product" else cos
            else:
                b = min(beam, acc.shape[1])
                top_val, top_pos = acc.topk(b, dim=1)
                top_pos = top_pos.numpy()
                front = prev_cands[top_pos]
                frontiers.append(front)
                positions.append(top_pos)
                raw = table.raw(hop.head_type, front.ravel())
                cos = (hop_vectors(model, raw, hop) @ cvec.T).view(front.shape[0], b, -1)
                acc, parent = _pool(_combine(top_val[:, :, None], cos, i + 1, aggregate), pool, tau)
                parents.append(parent.numpy())
            prev_cands = cands
    return PathSearch(acc, cands, frontiers, parents, positions)


def best_path(search: PathSearch, row: int, position: int) -> list[int]:
    """Intermediate node indices of the best path to ``search.candidates[position]`` for query ``row``."""
    nodes = []
    pos = position
    for j in range(len(search.frontiers) - 1, -1, -1):
        beam_pos = int(search.parents[j][row, pos])
        nodes.append(int(search.frontiers[j][row, beam_pos]))
        pos = int(search.frontier_positions[j][row, beam_pos])
    return nodes[::-1]


def multi_hop(
    bridge,
    query: str,
    path: str | Sequence,
    k: int = 10,
    beam: int = 10,
    aggregate: str = "mean",
    pool: str = "max",
) -> pd.DataFrame:
    """Top-``k`` nodes at the end of ``path`` for one raw query (or a KG node id of the first head type).

    Columns: rank, node_id, name, score (pooled path score), path (intermediate nodes of the best path as
    ``type:id (name)``, joined by `` -> ``), hop_cosines (the cosine of every hop along that path).
    """
    hops = parse_path(path)
    for hop in hops:
        if hop.relation == SIMILARITY:
            if hop.head_type != hop.tail_type:
                raise ValueError(f"a similarity hop links a type to itself, got {hop}")
            continue
        bridge.resolve_relation(hop.head_type, hop.tail_type, hop.relation)
    raw = bridge.encode(bridge.resolve_query(query, hops[0].head_type).feature, hops[0].head_type)
    search = search_paths(bridge.model, bridge.table, bridge.kg, raw, hops, beam, aggregate, pool)
    scores = search.scores[0]
    top = torch.topk(scores, min(k, len(scores))).indices.numpy()
    nodes_df = bridge.kg.nodes
    rows = []
    with torch.inference_mode():
        q_vecs = {}
        for rank, pos in enumerate(top, start=1):
            inter = best_path(search, 0, int(pos))
            end = int(search.candidates[pos])
            chain = [None, *inter, end]
            cosines = []
            for h, (a, b) in zip(hops, zip(chain, chain[1:], strict=False), strict=True):
                if a is None:
                    key = ("query", h)
                    if key not in q_vecs:
                        q_vecs[key] = hop_vectors(bridge.model, raw, h)
                    va = q_vecs[key]
                else:
                    va = hop_vectors(bridge.model, bridge.table.raw(h.head_type, np.array([a])), h)
                vb = F.normalize(bridge.table.project(bridge.model, np.array([b])), dim=1)
                cosines.append(round(float((va * vb).sum()), 4))
            label = " -> ".join(
                f"{nodes_df.at[n, 'node_type']}:{nodes_df.at[n, 'node_id']} ({nodes_df.at[n, 'name']})"
                for n in inter
            )
            rows.append(
                {
                    "rank": rank,
                    "node_id": nodes_df.at[end, "node_id"],
                    "name": nodes_df.at[end, "name"],
                    "score": round(float(scores[pos]), 6),
                    "path": label,
                    "hop_cosines": cosines,
                }
            )
    return pd.DataFrame(rows, columns=["rank", "node_id", "name", "score", "path", "hop_cosines"])


class MultiHopScorer:
    """A path as an evaluation ``Scorer``: queries are KG nodes of the path's first head type, candidates the
    evaluator's candidates of the last tail type (used for unseen-relation composition)."""

    def __init__(
        self,
        model,
        table,
        kg,
        path,
        beam: int = 10,
        aggregate: str = "mean",
        pool: str = "max",
        name: str | None = None,
        query_batch: int = 32,
    ):
        self.model = model.eval()
        self.table = table
        self.kg = kg
        self.hops = parse_path(path)
        self.beam, self.aggregate, self.pool = beam, aggregate, pool
        self.query_batch = query_batch
        self.name = name or f"multihop {format_path(self.hops)} ({aggregate}, {pool}, beam {beam})"

    def score(self, task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        if task.head_type != self.hops[0].head_type or task.tail_type != self.hops[-1].tail_type:
            raise ValueError(f"path {format_path(self.hops)} does not answer {task.name}")
        out = []
        for start in range(0, len(query_nodes), self.query_batch):
            q = np.asarray(query_nodes[start : start + self.query_batch], dtype=np.int64)
            raw = self.table.raw(task.head_type, q)
            res = search_paths(
                self.model,
                self.table,
                self.kg,
                raw,
                self.hops,
                self.beam,
                self.aggregate,
                self.pool,
                last_candidates=candidate_nodes,
            )
            out.append(res.scores.numpy().astype(np.float32))
        return np.concatenate(out, axis=0)
