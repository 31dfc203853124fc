"""Multi-hop bridging: chain relation-conditioned transformations, e.g. disease text -> proteins -> drugs.

A path is a list of hops ``(head_type, relation, tail_type)`` whose types chain
(``hop[i].tail_type == hop[i + 1].head_type``); the string form is
``disease:associated_with:protein,protein:rev_target:drug`` (:func:`parse_path`). The relation ``~`` makes a
*similarity hop* ``t:~:t``: nearest neighbours of the same type in the projected space (cosine of
``P_t e``), e.g. ``...,protein:rev_associated_with:disease,disease:~:disease`` snaps onto KG diseases first
and then moves to similar diseases (those of another relation or a user candidate set).

A hop is scored by the run's shipped retriever (``HopScorer``; ``biobridge.retrieval.retriever``): the
bridge's cosine ``cos(transform(query), project(candidate))`` when the run ships the bridge alone, the
hybrid's per-query standardised score when it ships the hybrid; a similarity hop is the cosine of the
projections ``P_t e``.

Search (beam over intermediate KG nodes):

1. hop 1: the query is scored against every candidate of ``t1`` (KG nodes of that type taking part in
   ``r1``; every embedded node of the type for a similarity hop); the ``beam`` best become the frontier.
2. hop i > 1: every frontier node is scored, as a KG node, against the candidates of ``t_i``; a candidate
   reached from frontier node ``n`` gets the path score ``aggregate(path score of n, s_i)``; candidates pool
   the scores of the paths reaching them.
3. the last hop's candidates are ranked by their pooled score.

Path-score ``aggregate`` (over the hop scores ``s_1..s_L`` of one path):

- ``"mean"`` (default): arithmetic mean of the hop scores;
- ``"product"``: product of the hop scores mapped to [0, 1] (a cosine ``c`` as ``(1 + c) / 2``, a
  standardised hybrid score ``z`` as ``sigmoid(z)``), read as a soft conjunction;
- ``"min"``: the weakest hop.

``pool`` over the paths reaching a candidate: ``"max"`` (default; the best path, whose nodes are reported) or
``"softmax"`` (``tau * logsumexp(path scores / tau)``, tau 0.1: several good paths add up).
Intermediate frontiers are pooled the same way. Cost: ``beam x n_candidates`` hop scores per hop and query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from biobridge.evaluation.scorer import QueryItems
from biobridge.evaluation.tasks import Task
from biobridge.retrieval.scorer import BridgeScorer

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


class HopScorer:
    """Scores of one hop (see the module docstring): the shipped ``retriever`` (an ``ItemScorer``) for a
    relation hop, the cosine of projections for a similarity hop; ``task_of(hop)`` names the hop's task (the
    hybrid's weights are per task)."""

    def __init__(self, retriever, model, table, task_of, known_triples=None) -> None:
        self.retriever = retriever
        self.model = model.eval()
        self.table = table
        self.task_of = task_of
        self.cosine = isinstance(retriever, BridgeScorer)
        # known-edge hops: (head, relation, tail) rows whose pairs score at least the hop's best prediction
        self.known_triples = known_triples
        self._known: dict[str, np.ndarray] = {}

    @classmethod
    def bridge_only(cls, model, kg, split, table) -> HopScorer:
        """Hops scored by the bridge's cosine alone (e.g. a model that shipped no hybrid), ``model`` trained
        on ``split``."""
        return cls(
            BridgeScorer.of(model, kg, split, table),
            model,
            table,
            lambda hop: Task(str(hop), hop.head_type, hop.relation, hop.tail_type),
        )

    @classmethod
    def of(cls, bridge, known_edges: bool = False) -> HopScorer:
        """The hop scorer of a ``biobridge.retrieval.bridge.Bridge`` (its shipped retriever); with
        ``known_edges``, the KG's own edges count as known (see ``with_known_edges``)."""
        return cls(
            bridge.retriever,
            bridge.model,
            bridge.table,
            lambda hop: bridge.task(hop.head_type, hop.relation, hop.tail_type),
            bridge.kg.triples if known_edges else None,
        )

    def with_known_edges(self, hop: Hop, nodes: np.ndarray, candidates: np.ndarray, scores: torch.Tensor):
        """Known-edge hop: a candidate linked to the scored KG node by a known triple of the hop's relation
        scores just above the row's best prediction (a recorded fact is not ranked below a guess): in
        ``(best, best + 2 eps]``, ``eps = 1e-3 (1 + |best|)``, in the order of its own score, so known edges
        come first, ordered as the retriever ranks them. Rows of nodes < 0 (new items) are left as they are."""
        if self.known_triples is None or hop.relation == SIMILARITY:
            return scores
        codes = self._known.get(hop.relation)
        if codes is None:
            t = self.known_triples
            t = t[t["relation"] == hop.relation]
            width = np.int64(len(self.table.type_code))
            codes = np.unique(t["head"].to_numpy(np.int64) * width + t["tail"].to_numpy(np.int64))
            self._known[hop.relation] = codes
        nodes = np.asarray(nodes, dtype=np.int64)
        width = np.int64(len(self.table.type_code))
        pairs = nodes[:, None] * width + np.asarray(candidates, dtype=np.int64)[None, :]
        mask = np.isin(pairs, codes) & (nodes[:, None] >= 0)
        if not mask.any():
            return scores
        best = scores.max(dim=1, keepdim=True).values
        low = scores.min(dim=1, keepdim=True).values
        eps = 1e-3 * (1 + best.abs())
        lifted = best + eps * (1 + (scores - low) / (best - low).clamp(min=1e-12))
        return torch.where(torch.from_numpy(mask), lifted, scores)

    def unit(self, scores: torch.Tensor, hop: Hop) -> torch.Tensor:
        """Hop scores mapped to [0, 1] (for ``aggregate="product"``)."""
        return (1 + scores) / 2 if self.cosine or hop.relation == SIMILARITY else torch.sigmoid(scores)

    def _projections(self, raw: torch.Tensor, node_type: str) -> torch.Tensor:
        return F.normalize(self.model.project(raw, node_type), dim=1)

    def from_items(self, hop: Hop, items: QueryItems, candidates: np.ndarray) -> torch.Tensor:
        if hop.relation == SIMILARITY:
            raw = torch.as_tensor(items.embeddings, dtype=torch.float32)
            return self._projections(raw, hop.head_type) @ self._candidates(hop, candidates).T
        scores = torch.from_numpy(self.retriever.score_items(self.task_of(hop), items, candidates))
        return self.with_known_edges(hop, items.nodes, candidates, scores)

    def from_nodes(self, hop: Hop, nodes: np.ndarray, candidates: np.ndarray) -> torch.Tensor:
        if hop.relation == SIMILARITY:
            return (
                self._projections(self.table.raw(hop.head_type, nodes), hop.head_type)
                @ self._candidates(hop, candidates).T
            )
        scores = torch.from_numpy(self.retriever.score(self.task_of(hop), nodes, candidates))
        return self.with_known_edges(hop, nodes, candidates, scores)

    def _candidates(self, hop: Hop, candidates: np.ndarray) -> torch.Tensor:
        return F.normalize(self.table.project(self.model, candidates), dim=1)


def _combine(prev: torch.Tensor, score: torch.Tensor, hop_number: int, aggregate: str) -> torch.Tensor:
    """Path score after one more hop (``score`` already in [0, 1] for ``"product"``)."""
    if aggregate == "mean":
        return (prev * (hop_number - 1) + score) / hop_number
    if aggregate == "product":
        return prev * score
    return torch.minimum(prev, score)


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
    hop_candidates: list[np.ndarray]  # per hop: its candidate nodes (a hybrid's scores depend on the set)


def search_paths(
    scorer: HopScorer,
    kg,
    queries: QueryItems | np.ndarray,
    hops: Sequence[Hop],
    beam: int = 10,
    aggregate: str = "mean",
    pool: str = "max",
    last_candidates: np.ndarray | None = None,
    tau: float = 0.1,
) -> PathSearch:
    """Beam search over a path for ``queries`` of ``hops[0].head_type``: ``QueryItems`` (new items or KG
    nodes given by their inputs) or an array of KG nodes."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}")
    if beam < 1:
        raise ValueError("beam must be >= 1")
    hops = parse_path(hops)
    with torch.inference_mode():
        frontiers, parents, positions, hop_candidates = [], [], [], []
        acc = prev_cands = cands = None
        for i, hop in enumerate(hops):
            if i == len(hops) - 1 and last_candidates is not None:
                cands = np.asarray(last_candidates, dtype=np.int64)
            else:
                rel = None if hop.relation == SIMILARITY else hop.relation
                cands = candidate_nodes(kg, scorer.table, hop.tail_type, rel)
            if len(cands) == 0:
                raise ValueError(f"no embedded {hop.tail_type} candidates for {hop.relation}")
            hop_candidates.append(cands)
            if i == 0:
                if isinstance(queries, QueryItems):
                    scores = scorer.from_items(hop, queries, cands)
                else:
                    scores = scorer.from_nodes(hop, np.asarray(queries, dtype=np.int64), cands)
                acc = scorer.unit(scores, hop) if aggregate == "product" else scores
            else:
                b = min(beam, acc.shape[1])
                top_val, top_pos = acc.topk(b, dim=1)
                top_pos = top_pos.numpy()
                front = prev_cands[top_pos]
                frontiers.append(front)
                positions.append(top_pos)
                scores = scorer.from_nodes(hop, front.ravel(), cands).view(front.shape[0], b, -1)
                if aggregate == "product":
                    scores = scorer.unit(scores, hop)
                acc, parent = _pool(_combine(top_val[:, :, None], scores, i + 1, aggregate), pool, tau)
                parents.append(parent.numpy())
            prev_cands = cands
    return PathSearch(acc, cands, frontiers, parents, positions, hop_candidates)


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
    known_edges: bool = True,
) -> pd.DataFrame:
    """Top-``k`` nodes at the end of ``path`` for one query (a new item, or a KG node of the first head type),
    scored by the run's shipped retriever. ``known_edges``: known-edge hops (``HopScorer.with_known_edges``):
    from a KG node (the query or an intermediate node), the KG's own edges of a hop's relation score just
    above that hop's best prediction.

    Columns: rank, node_id, name, score (pooled path score), path (intermediate nodes of the best path as
    ``type:id (name)``, joined by `` -> ``), hop_scores (the score of every hop along that path),
    path_nodes (the KG node indices of those intermediate nodes).
    """
    hops = parse_path(path)
    for hop in hops:
        if hop.relation == SIMILARITY:
            if hop.head_type != hop.tail_type:
                raise ValueError(f"a similarity hop links a type to itself, got {hop}")
            continue
        bridge.resolve_relation(hop.head_type, hop.tail_type, hop.relation)
    scorer = HopScorer.of(bridge, known_edges=known_edges)
    items = bridge.query_items([query], hops[0].head_type)
    search = search_paths(scorer, bridge.kg, items, hops, beam, aggregate, pool)
    scores = search.scores[0]
    top = torch.topk(scores, min(k, len(scores))).indices.numpy()
    nodes_df = bridge.kg.nodes
    rows = []
    with torch.inference_mode():
        for rank, pos in enumerate(top, start=1):
            inter = best_path(search, 0, int(pos))
            end = int(search.candidates[pos])
            chain = [None, *inter, end]
            hop_scores = []
            for h, cands, (a, b) in zip(
                hops, search.hop_candidates, zip(chain, chain[1:], strict=False), strict=True
            ):
                s = (
                    scorer.from_items(h, items, cands)
                    if a is None
                    else scorer.from_nodes(h, np.array([a]), cands)
                )
                hop_scores.append(round(float(s[0, int(np.searchsorted(cands, b))]), 4))
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
                    "hop_scores": hop_scores,
                    "path_nodes": [int(n) for n in inter],
                }
            )
    columns = ["rank", "node_id", "name", "score", "path", "hop_scores", "path_nodes"]
    return pd.DataFrame(rows, columns=columns)


class MultiHopScorer:
    """A path as an evaluation ``Scorer``: queries are KG nodes of the path's first head type, candidates the
    evaluator's candidates of the last tail type (used for unseen-relation composition)."""

    def __init__(
        self,
        scorer: HopScorer,
        kg,
        path,
        beam: int = 10,
        aggregate: str = "mean",
        pool: str = "max",
        name: str | None = None,
        query_batch: int = 32,
    ):
        self.scorer = scorer
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
            res = search_paths(
                self.scorer,
                self.kg,
                q,
                self.hops,
                self.beam,
                self.aggregate,
                self.pool,
                last_candidates=candidate_nodes,
            )
            out.append(res.scores.numpy().astype(np.float32))
        return np.concatenate(out, axis=0)
