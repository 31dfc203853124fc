"""The high-level facade: a trained bridge + its KG + its embedding store + the encoders that made it.

>>> bridge = Bridge.from_pretrained("runs/default/model")   # any run directory
>>> bridge.retrieve("MKTAYIAKQR...", head_type="protein", tail_type="biological_process", k=5)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.model import BridgeModel
from biobridge.bridge.neighbour_context import NeighbourContext
from biobridge.bridge.run import LoadedRun, TrainedRun
from biobridge.errors import InputError, UnknownNameError
from biobridge.evaluation.scorer import ItemScorer, QueryItems
from biobridge.evaluation.tasks import Task, discover_tasks
from biobridge.kg.graph import KnowledgeGraph
from biobridge.retrieval.faiss_index import make_index
from biobridge.retrieval.index import CandidateIndex
from biobridge.retrieval.retriever import BRIDGE_NAME, build_retriever
from biobridge.retrieval.scorer import BridgeScorer, transform

Items = str | Sequence[str] | np.ndarray
# Queries scored together by ``Bridge.retrieve_many`` (a fixed shape: a query's scores are the same bits
# whichever queries share its block, so a server may batch requests without changing any result).
SCORING_BLOCK = 32
# A compact identifier (``OMIM:999999``, ``GO:0008150``, ``MONDO:0005148``): prefix, colon, no whitespace.
_CURIE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*:[^\s:]+$")


@dataclass(frozen=True)
class ResolvedQuery:
    """A query as the bridge reads it: the raw feature to encode and the KG node it names (or None)."""

    feature: str
    node: int | None


class Bridge:
    """A trained run ready to answer queries: its model, KG, embeddings, the encoders that made them (with
    their fitted state), its split and the retriever it ships (``biobridge.retrieval.retriever``)."""

    def __init__(
        self,
        model: BridgeModel,
        kg: KnowledgeGraph,
        table: EmbeddingTable,
        store,
        split=None,
        retriever: ItemScorer | None = None,
    ):
        self.model = model.eval()
        self.kg = kg
        self.table = table
        self.store = store
        self.split = split
        # a retrieval-augmented bridge reads its neighbour context from the split's training triples
        self.context = NeighbourContext.for_model(self.model, kg, split, table) if split is not None else None
        if self.model.reads_context and self.context is None:
            raise InputError("this bridge reads a neighbour context: it needs the split it was trained on")
        self.retriever = (
            retriever
            if retriever is not None
            else BridgeScorer(self.model, table, name=BRIDGE_NAME, context=self.context)
        )
        self._encoders: dict[str, object] = {}
        self._indexes: dict[tuple[str, str | None], CandidateIndex] = {}
        self._feature_lookup: dict[str, dict[str, int]] = {}
        self._edges: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._relations: dict[tuple[str, str], list[str]] = {}
        self._candidates: dict[tuple[str, str | None], np.ndarray] = {}
        self._tasks: dict[tuple[str, str, str], Task] | None = None
        self._id_types: dict[str, str] | None = None
        # Candidate search of the bridge alone: exact by default; e.g. {"kind": "hnsw", "ef_search": 256} for a
        # FAISS index (extra `faiss`). Set before the first retrieve (indexes are cached).
        self.index_options: dict[str, object] = {}

    @classmethod
    def from_pretrained(
        cls, run_dir: str | Path, kg_dir: str | Path | None = None, store_dir: str | Path | None = None
    ) -> Bridge:
        """The bridge of a run directory (any command's: ``train``, ``benchmark``, ``import-original``), with
        the KG and embedding store it records (or the ones given, checked against its KG hash)."""
        return cls.from_run(TrainedRun.open(run_dir).load_data(kg_dir, store_dir))

    @classmethod
    def from_run(cls, loaded: LoadedRun) -> Bridge:
        retriever = None
        if loaded.split is not None:
            retriever = build_retriever(
                loaded.run, loaded.model, loaded.kg, loaded.split, loaded.table, loaded.store
            )
        return cls(loaded.model, loaded.kg, loaded.table, loaded.store, loaded.split, retriever)

    # ---- embeddings --------------------------------------------------------------------------------
    def encode(
        self, items: Items, node_type: str, what: str = "query", one_by_one: bool = False
    ) -> torch.Tensor:
        """Raw frozen-encoder embeddings of ``items`` (strings) read as ``node_type``; arrays pass through.
        An item the encoder cannot read is an ``InputError`` naming it as ``what`` and its 1-based position.
        ``one_by_one``: encode each item alone unless the encoder is batch-invariant, so that an item's vector
        does not depend on the items it came with (a padded neural batch changes the rounding)."""
        if isinstance(items, np.ndarray | torch.Tensor):
            emb = torch.as_tensor(items, dtype=torch.float32)
            return emb[None] if emb.ndim == 1 else emb
        if isinstance(items, str):
            items = [items]
        if node_type not in self.store.node_types:
            raise UnknownNameError(f"no encoder for node type {node_type!r}; known: {self.store.node_types}")
        encoder = self.encoder(node_type)
        for i, item in enumerate(items):
            reason = encoder.invalid_reason(item)
            if reason is not None:
                label = what if len(items) == 1 else f"{what} {i + 1}"
                raise InputError(f"{label} cannot be encoded as {node_type}: {reason}")
        if one_by_one and not encoder.batch_invariant and len(items) > 1:
            return torch.from_numpy(np.concatenate([encoder.encode([item]) for item in items]))
        return torch.from_numpy(encoder.encode(list(items)))

    def encoder(self, node_type: str):
        """The fitted encoder of ``node_type`` (loaded on first use)."""
        if node_type not in self._encoders:
            self._encoders[node_type] = self.store.encoder(node_type)
        return self._encoders[node_type]

    def project(self, items: Items, node_type: str, what: str = "item") -> np.ndarray:
        """``P_t e`` for new items of one node type, L2-normalised (the space candidates live in)."""
        with torch.inference_mode():
            emb = self.encode(items, node_type, what)
            return F.normalize(self.model.project(emb, node_type), dim=1).numpy()

    def transform(
        self,
        items: Items,
        head_type: str,
        relation: str | None,
        tail_type: str,
        nodes: np.ndarray | None = None,
    ) -> np.ndarray:
        """Bridged query vectors towards ``tail_type`` under ``relation``, L2-normalised; ``nodes``: the KG
        node each item is (-1 for a new one; None: all new), never its own neighbour in a neighbour context."""
        relation = self.resolve_relation(head_type, tail_type, relation)
        with torch.inference_mode():
            raw = self.encode(items, head_type)
            out = transform(self.model, self.context, raw, head_type, relation, tail_type, nodes)
            return F.normalize(out, dim=1).numpy()

    # ---- candidates --------------------------------------------------------------------------------
    def resolve_relation(self, head_type: str, tail_type: str, relation: str | None = None) -> str:
        for node_type in (head_type, tail_type):
            if node_type not in self.model.type_ids:
                raise UnknownNameError(
                    f"unknown node type {node_type!r}; the bridge knows {sorted(self.model.type_ids)}"
                )
        present = self.relations_between(head_type, tail_type)
        if relation is not None:
            if relation not in self.model.relation_ids:
                raise UnknownNameError(
                    f"unknown relation {relation!r}; known: {sorted(self.model.relation_ids)}"
                )
            if present and relation not in present:
                raise InputError(
                    f"relation {relation!r} does not link {head_type} to {tail_type} in the KG; "
                    f"the relations that do: {present}"
                )
            return relation
        if len(present) == 1:
            return present[0]
        if not present:
            raise InputError(
                f"no relation links {head_type} to {tail_type} in the KG; pass relation explicitly"
            )
        raise InputError(f"several relations link {head_type} to {tail_type}: {present}; choose one")

    def relations_between(self, head_type: str, tail_type: str) -> list[str]:
        """The relations of the KG's triples from ``head_type`` to ``tail_type``, sorted (cached)."""
        key = (head_type, tail_type)
        if key not in self._relations:
            t = self.kg.triples
            types = self.kg.node_type_array()
            mask = (types[t["head"].to_numpy()] == head_type) & (types[t["tail"].to_numpy()] == tail_type)
            self._relations[key] = sorted(t.loc[mask, "relation"].unique())
        return self._relations[key]

    def candidate_nodes(self, tail_type: str, relation: str | None = None) -> np.ndarray:
        """Embedded nodes of ``tail_type``; with ``relation``, only those taking part in it (either direction).
        Cached: the KG of a bridge does not change."""
        key = (tail_type, relation)
        if key not in self._candidates:
            nodes = (
                self.kg.nodes_of_type(tail_type)
                if relation is None
                else self.kg.nodes_in_relation(tail_type, relation)
            )
            nodes = nodes[self.table.has_embedding(nodes)]
            nodes.setflags(write=False)
            self._candidates[key] = nodes
        return self._candidates[key]

    def index(self, tail_type: str, relation: str | None = None) -> CandidateIndex:
        key = (tail_type, relation)
        if key not in self._indexes:
            nodes = self.candidate_nodes(tail_type, relation)
            if len(nodes) == 0:
                raise ValueError(
                    f"no embedded {tail_type} candidates" + (f" for {relation}" if relation else "")
                )
            with torch.inference_mode():
                self._indexes[key] = make_index(
                    self.table.project(self.model, nodes), nodes, **self.index_options
                )
        return self._indexes[key]

    def resolve_query(self, query: str, node_type: str, as_raw: bool = False) -> ResolvedQuery:
        """A query naming a KG node of ``node_type`` (its id or its exact stored feature) reads as that node;
        anything else is a raw feature (a new sequence, SMILES or text). Unless ``as_raw``, a query that is
        the id of a node of another type, or (for text types) an identifier such as ``OMIM:999999`` that no
        node has, is an ``InputError`` rather than silently encoded as raw text."""
        if node_type not in self._feature_lookup:
            nodes = self.kg.nodes[self.kg.nodes["node_type"] == node_type]
            lookup = dict(zip(nodes["feature"], nodes["node_index"], strict=True))
            lookup.update(zip(nodes["node_id"], nodes["node_index"], strict=True))
            self._feature_lookup[node_type] = lookup
        hit = self._feature_lookup[node_type].get(query)
        if hit is None:
            if not as_raw:
                self._refuse_id_like(query, node_type)
            return ResolvedQuery(query, None)
        return ResolvedQuery(str(self.kg.nodes.at[int(hit), "feature"]), int(hit))

    def _refuse_id_like(self, query: str, node_type: str) -> None:
        if not isinstance(query, str):
            return
        if self._id_types is None:
            nodes = self.kg.nodes
            self._id_types = dict(zip(nodes["node_id"].astype(str), nodes["node_type"], strict=True))
        other = self._id_types.get(query.strip())
        if other is not None:
            raise InputError(
                f"{query!r} is the id of a {other} node, not of a {node_type} node; query it with "
                f"query type {other!r}, or pass --as-raw (as_raw=True) to read it as a raw {node_type} feature"
            )
        if self.kg.modalities.get(node_type) == "text" and _CURIE.match(query.strip()):
            raise InputError(
                f"{query!r} looks like an identifier, but no {node_type} node has it; pass --as-raw "
                f"(as_raw=True) to encode it as text anyway"
            )

    # ---- retrieval ---------------------------------------------------------------------------------
    def task(self, head_type: str, relation: str, tail_type: str) -> Task:
        """The KG's task (with its name, which keys a hybrid's weights) for this triple pattern."""
        if self._tasks is None:
            self._tasks = {t.key: t for t in discover_tasks(self.kg)}
        key = (head_type, relation, tail_type)
        return self._tasks.get(key, Task(f"{head_type}-{relation}-{tail_type}", *key))

    def query_items(
        self, queries: list[str], head_type: str, as_raw: bool = False, one_by_one: bool = False
    ) -> QueryItems:
        """Queries as the retriever reads them: KG nodes with their stored embeddings, new items encoded
        (``as_raw``: see ``resolve_query``; ``one_by_one``: see ``encode``)."""
        resolved = [self.resolve_query(q, head_type, as_raw) for q in queries]
        nodes = np.array([-1 if r.node is None else r.node for r in resolved], dtype=np.int64)
        emb = np.zeros((len(queries), self.table.input_dims[head_type]), dtype=np.float32)
        known, new = np.flatnonzero(nodes >= 0), np.flatnonzero(nodes < 0)
        if len(known):
            emb[known] = self.table.raw(head_type, nodes[known]).numpy()
        if len(new):
            features = [resolved[i].feature for i in new]
            emb[new] = self.encode(features, head_type, one_by_one=one_by_one).numpy()
        return QueryItems([r.feature for r in resolved], emb, nodes)

    def known_tails(self, node: int, relation: str) -> set[int]:
        """The tails of ``node``'s KG edges of ``relation`` (empty for a new item, ``node`` < 0)."""
        if node < 0:
            return set()
        if relation not in self._edges:
            t = self.kg.triples
            sub = t.loc[t["relation"] == relation, ["head", "tail"]].sort_values(["head", "tail"])
            self._edges[relation] = (sub["head"].to_numpy(), sub["tail"].to_numpy())
        heads, tails = self._edges[relation]
        lo, hi = np.searchsorted(heads, node, side="left"), np.searchsorted(heads, node, side="right")
        return set(tails[lo:hi].tolist())

    def retrieve(
        self,
        query: str,
        head_type: str,
        tail_type: str,
        relation: str | None = None,
        k: int = 10,
        candidates: str = "relation",
        as_raw: bool = False,
    ) -> pd.DataFrame:
        """Top-``k`` nodes of ``tail_type`` for one query (a sequence, SMILES or text, in the KG or not), by
        the run's shipped retriever.

        ``query`` may also be the id of a KG node of ``head_type`` (its stored embedding is used). Columns:
        rank, node_id, name, score (the retriever's: cosine for the bridge alone, a weighted sum of
        standardised part scores for the hybrid), known_edge (the query is a KG node linked to it by
        ``relation``). ``k`` must be at least 1 (fewer rows come back when there are fewer candidates);
        ``as_raw``: read an id-like query as a raw feature (see ``resolve_query``).
        """
        return self.retrieve_many([query], head_type, tail_type, relation, k, candidates, as_raw)[0]

    def retrieve_many(
        self,
        queries: Sequence[str],
        head_type: str,
        tail_type: str,
        relation: str | None = None,
        k: int = 10,
        candidates: str = "relation",
        as_raw: bool = False,
    ) -> list[pd.DataFrame]:
        """``retrieve`` for several queries at once, one table each, every table identical to the one
        ``retrieve`` gives for that query alone: exact scoring runs in fixed blocks of ``SCORING_BLOCK``
        queries (the last padded), so a query's scores do not depend on its companions, and new items are
        encoded ``one_by_one``. (A FAISS index, ``index_options``, searches the queries together.)"""
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"k must be a whole number >= 1, got {k!r}")
        relation = self.resolve_relation(head_type, tail_type, relation)
        if candidates not in ("relation", "all"):
            raise InputError(f"candidates must be 'relation' or 'all', got {candidates!r}")
        items = self.query_items(list(queries), head_type, as_raw, one_by_one=True)
        pool_relation = relation if candidates == "relation" else None
        if isinstance(self.retriever, BridgeScorer) and self.index_options:
            index = self.index(tail_type, pool_relation)
            vec = self.transform(items.embeddings, head_type, relation, tail_type, items.nodes)
            scores, nodes = index.search(torch.from_numpy(vec), k)
            tops = [(np.asarray(scores[i]), np.asarray(nodes[i])) for i in range(len(queries))]
        else:
            pool = self.candidate_nodes(tail_type, pool_relation)
            rows = self._score_blocks(self.task(head_type, relation, tail_type), items, pool)
            orders = [np.argsort(-row, kind="stable")[: int(k)] for row in rows]
            tops = [(row[order], pool[order]) for row, order in zip(rows, orders, strict=True)]
        return [
            self._table(top_scores, top_nodes, self.known_tails(int(node), relation))
            for (top_scores, top_nodes), node in zip(tops, items.nodes, strict=True)
        ]

    def _score_blocks(self, task: Task, items: QueryItems, pool: np.ndarray) -> np.ndarray:
        """The retriever's scores of ``pool`` for every query, in blocks of ``SCORING_BLOCK`` rows."""
        out = np.empty((len(items.nodes), len(pool)), dtype=np.float32)
        for start in range(0, len(items.nodes), SCORING_BLOCK):
            block = slice(start, start + SCORING_BLOCK)
            n = len(items.nodes[block])
            pad = SCORING_BLOCK - n
            features = items.features[block] + [items.features[start]] * pad
            emb = np.concatenate(
                [items.embeddings[block], np.repeat(items.embeddings[start : start + 1], pad, 0)]
            )
            nodes = np.concatenate([items.nodes[block], np.repeat(items.nodes[start : start + 1], pad)])
            out[block] = self.retriever.score_items(task, QueryItems(features, emb, nodes), pool)[:n]
        return out

    def _table(self, top_scores: np.ndarray, top_nodes: np.ndarray, known: set[int]) -> pd.DataFrame:
        rows = self.kg.nodes.loc[top_nodes]
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(top_nodes) + 1),
                "node_id": rows["node_id"].to_numpy(),
                "name": rows["name"].to_numpy(),
                "score": np.round(np.asarray(top_scores, dtype=np.float64), 6),
                "known_edge": [int(n) in known for n in top_nodes],
            }
        )
