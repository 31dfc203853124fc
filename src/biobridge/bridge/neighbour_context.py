"""The neighbour context of the retrieval-augmented bridge (``model.context_k > 0``).

For a head ``h`` and a (relation ``r``, tail type ``T``), the context is what the heads most like ``h`` are known
for: the similarity-weighted mean, over the ``k`` training heads nearest to ``h`` by cosine of their frozen
embeddings (``h`` itself excluded), of the mean raw embedding of each one's training tails under ``r`` of type
``T``:

    context(h) = sum_n w(h, n) * mean_{(n, r, t) in train} e_t,      sum_n w(h, n) = 1
    w(h, n) proportional to (max(cos(e_h, e_n), 0) / best) ** sharpness

the weights of feature-kNN's vote (``biobridge.baselines.neighbour_vote``). It lives in the raw space of the
tail type, so the bridge projects it with ``P_T`` (the candidates' projection) and reads it as a fifth token.
A head with no neighbour of positive similarity gets a zero context (the model's ``context_marker`` alone).

Only training triples whose two ends have an embedding are used (the bridge's own training triples), so the
context is inductive: a new sequence, SMILES or text gets its context from one similarity search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from biobridge.bridge.embedding_table import EmbeddingTable

__all__ = ["NeighbourContext", "TripleContexts"]

BLOCK = 1024  # queries per similarity block


def _patterns(table: EmbeddingTable, heads, relations, tails):
    """``((head type, relation, tail type), indices of its triples)`` for each pattern of the triples, sorted."""
    frame = pd.DataFrame({"h": table.type_code[heads], "r": relations, "t": table.type_code[tails]})
    return [
        ((table.types[h], r, table.types[t]), np.asarray(idx, dtype=np.int64))
        for (h, r, t), idx in sorted(frame.groupby(["h", "r", "t"]).indices.items())
    ]


@dataclass(frozen=True)
class TripleContexts:
    """The contexts of a list of triples, computed once: one matrix per tail type (a row per distinct
    (head, relation, tail type) of the triples) and each triple's row in its tail type's matrix."""

    matrices: dict[str, torch.Tensor]
    rows: np.ndarray  # int64, one per triple


@dataclass
class _Group:
    """The training heads of one (head type, relation, tail type) and their tails' mean raw embedding."""

    heads: np.ndarray  # int64 node ids, sorted
    features: torch.Tensor  # (n_heads, d_head) unit-norm raw head embeddings
    tail_means: torch.Tensor  # (n_heads, d_tail) mean raw embedding of each head's tails


class NeighbourContext:
    """Contexts for the training triples ``(heads, relations, tails)`` (int64 node ids and relation names or
    ids, parallel arrays) of the nodes in ``table``; see the module docstring."""

    def __init__(
        self,
        table: EmbeddingTable,
        heads: np.ndarray,
        relations: np.ndarray,
        tails: np.ndarray,
        k: int,
        sharpness: float,
    ) -> None:
        if k < 1:
            raise ValueError(f"the neighbour context needs k >= 1, got {k}")
        self.table, self.k, self.sharpness = table, int(k), float(sharpness)
        self._groups: dict[tuple[str, object, str], _Group] = {}
        heads, tails = np.asarray(heads, dtype=np.int64), np.asarray(tails, dtype=np.int64)
        relations = np.asarray(relations)
        keep = table.has_embedding(heads) & table.has_embedding(tails)
        heads, relations, tails = heads[keep], relations[keep], tails[keep]
        for key, sel in _patterns(table, heads, relations, tails):
            self._groups[key] = self._group(heads[sel], tails[sel], key[0], key[2])

    def _group(self, heads: np.ndarray, tails: np.ndarray, head_type: str, tail_type: str) -> _Group:
        unique, inverse = np.unique(heads, return_inverse=True)
        raw_tails = self.table.raw(tail_type, tails)
        sums = raw_tails.new_zeros((len(unique), raw_tails.shape[1]))
        sums.index_add_(0, torch.from_numpy(inverse).to(sums.device), raw_tails)
        counts = torch.from_numpy(np.bincount(inverse, minlength=len(unique))).to(sums)
        features = F.normalize(self.table.raw(head_type, unique), dim=1)
        return _Group(unique, features, sums / counts[:, None])

    def dim(self, tail_type: str) -> int:
        return self.table.input_dims[tail_type]

    def of_nodes(self, head_type: str, relation, tail_type: str, nodes: np.ndarray) -> torch.Tensor:
        """(n, d_tail) contexts of KG nodes of ``head_type`` (each excluded from its own neighbours)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        return self.of_embeddings(head_type, relation, tail_type, self.table.raw(head_type, nodes), nodes)

    def of_embeddings(
        self,
        head_type: str,
        relation,
        tail_type: str,
        embeddings: torch.Tensor,
        nodes: np.ndarray | None = None,
    ) -> torch.Tensor:
        """(n, d_tail) contexts of raw head embeddings; ``nodes`` (-1 for a new item) are never their own
        neighbours."""
        embeddings = torch.as_tensor(embeddings, dtype=torch.float32)
        n = embeddings.shape[0]
        group = self._groups.get((head_type, relation, tail_type))
        if group is None or n == 0:
            return embeddings.new_zeros((n, self.dim(tail_type)))
        nodes = np.full(n, -1, dtype=np.int64) if nodes is None else np.asarray(nodes, dtype=np.int64)
        k = min(self.k, len(group.heads))
        out = []
        for start in range(0, n, BLOCK):
            block = slice(start, start + BLOCK)
            sim = F.normalize(embeddings[block].to(group.features), dim=1) @ group.features.T
            pos = np.searchsorted(group.heads, nodes[block])
            own = (pos < len(group.heads)) & (
                group.heads[np.minimum(pos, len(group.heads) - 1)] == nodes[block]
            )
            rows = np.flatnonzero(own)
            sim[torch.from_numpy(rows), torch.from_numpy(pos[rows])] = -1.0  # never its own neighbour
            top, idx = sim.topk(k, dim=1)
            top = top.clamp_min(0.0)
            best = top[:, :1]
            w = torch.where(best > 0, top / best.clamp_min(1e-12), torch.zeros_like(top)) ** self.sharpness
            w = w / w.sum(1, keepdim=True).clamp_min(1e-12)
            out.append(torch.einsum("nk,nkd->nd", w, group.tail_means[idx]))
        return torch.cat(out)

    def of_triples(self, heads: np.ndarray, relations: np.ndarray, tails: np.ndarray) -> TripleContexts:
        """The context of every triple's head towards its relation and tail type (the training triples')."""
        heads, tails = np.asarray(heads, dtype=np.int64), np.asarray(tails, dtype=np.int64)
        relations = np.asarray(relations)
        rows = np.full(len(heads), -1, dtype=np.int64)
        parts: dict[str, list[torch.Tensor]] = {}
        filled: dict[str, int] = {}
        for (head_type, rel, tail_type), sel in _patterns(self.table, heads, relations, tails):
            unique, inverse = np.unique(heads[sel], return_inverse=True)
            parts.setdefault(tail_type, []).append(self.of_nodes(head_type, rel, tail_type, unique))
            rows[sel] = filled.get(tail_type, 0) + inverse
            filled[tail_type] = filled.get(tail_type, 0) + len(unique)
        return TripleContexts({t: torch.cat(p) for t, p in parts.items()}, rows)

    @classmethod
    def for_model(cls, model, kg, split, table: EmbeddingTable) -> NeighbourContext | None:
        """The context a trained bridge reads, rebuilt from its split's training triples (None when the model
        reads none)."""
        if not model.reads_context:
            return None
        train = split.train_triples(kg)
        return cls(
            table,
            train["head"].to_numpy(np.int64),
            train["relation"].to_numpy(),
            train["tail"].to_numpy(np.int64),
            model.config.context_k,
            model.config.context_sharpness,
        )
