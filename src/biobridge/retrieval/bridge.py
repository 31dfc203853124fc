"""The high-level facade: a trained bridge + its KG + its embedding store + the encoders that made it.

>>> bridge = Bridge.from_pretrained("runs/default/model")   # any run directory
>>> bridge.retrieve("MKTAYIAKQR...", head_type="protein", tail_type="biological_process", k=5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.model import BridgeModel
from biobridge.bridge.run import LoadedRun, TrainedRun
from biobridge.encoders import build_encoder
from biobridge.kg.graph import KnowledgeGraph
from biobridge.retrieval.faiss_index import make_index
from biobridge.retrieval.index import CandidateIndex

Items = str | Sequence[str] | np.ndarray


@dataclass(frozen=True)
class ResolvedQuery:
    """A query as the bridge reads it: the raw feature to encode and the KG node it names (or None)."""

    feature: str
    node: int | None


class Bridge:
    def __init__(
        self, model: BridgeModel, kg: KnowledgeGraph, table: EmbeddingTable, encoder_specs: dict[str, str]
    ):
        self.model = model.eval()
        self.kg = kg
        self.table = table
        self.encoder_specs = encoder_specs  # node type -> encoder spec (from the store manifest)
        self._encoders: dict[str, object] = {}
        self._indexes: dict[tuple[str, str | None], CandidateIndex] = {}
        self._feature_lookup: dict[str, dict[str, int]] = {}
        # Candidate search: exact by default; e.g. {"kind": "hnsw", "ef_search": 256} for a FAISS index
        # (extra `faiss`). Set before the first retrieve (indexes are cached).
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
        return cls(loaded.model, loaded.kg, loaded.table, loaded.run.encoder_specs(loaded.store))

    # ---- embeddings --------------------------------------------------------------------------------
    def encode(self, items: Items, node_type: str) -> torch.Tensor:
        """Raw frozen-encoder embeddings of ``items`` (strings) read as ``node_type``; arrays pass through."""
        if isinstance(items, np.ndarray | torch.Tensor):
            emb = torch.as_tensor(items, dtype=torch.float32)
            return emb[None] if emb.ndim == 1 else emb
        if isinstance(items, str):
            items = [items]
        if node_type not in self.encoder_specs:
            raise KeyError(f"no encoder for node type {node_type!r}; known: {sorted(self.encoder_specs)}")
        encoder = self._encoders.get(node_type)
        if encoder is None:
            encoder = self._encoders[node_type] = build_encoder(self.encoder_specs[node_type])
        for i, item in enumerate(items):
            reason = encoder.invalid_reason(item)
            if reason is not None:
                raise ValueError(f"query {i} cannot be encoded as {node_type}: {reason}")
        return torch.from_numpy(encoder.encode(list(items)))

    def project(self, items: Items, node_type: str) -> np.ndarray:
        """``P_t e`` for new items of one node type, L2-normalised (the space candidates live in)."""
        with torch.inference_mode():
            return F.normalize(self.model.project(self.encode(items, node_type), node_type), dim=1).numpy()

    def transform(self, items: Items, head_type: str, relation: str | None, tail_type: str) -> np.ndarray:
        """Bridged query vectors towards ``tail_type`` under ``relation``, L2-normalised."""
        relation = self.resolve_relation(head_type, tail_type, relation)
        with torch.inference_mode():
            out = self.model.transform_named(self.encode(items, head_type), head_type, relation, tail_type)
            return F.normalize(out, dim=1).numpy()

    # ---- candidates --------------------------------------------------------------------------------
    def resolve_relation(self, head_type: str, tail_type: str, relation: str | None = None) -> str:
        for node_type in (head_type, tail_type):
            if node_type not in self.model.type_ids:
                raise KeyError(
                    f"unknown node type {node_type!r}; the bridge knows {sorted(self.model.type_ids)}"
                )
        t = self.kg.triples
        types = self.kg.node_type_array()
        mask = (types[t["head"].to_numpy()] == head_type) & (types[t["tail"].to_numpy()] == tail_type)
        present = sorted(t.loc[mask, "relation"].unique())
        if relation is not None:
            if relation not in self.model.relation_ids:
                raise KeyError(f"unknown relation {relation!r}; known: {sorted(self.model.relation_ids)}")
            return relation
        if len(present) == 1:
            return present[0]
        if not present:
            raise ValueError(
                f"no relation links {head_type} to {tail_type} in the KG; pass relation explicitly"
            )
        raise ValueError(f"several relations link {head_type} to {tail_type}: {present}; choose one")

    def candidate_nodes(self, tail_type: str, relation: str | None = None) -> np.ndarray:
        """Embedded nodes of ``tail_type``; with ``relation``, only those taking part in it (either direction)."""
        nodes = (
            self.kg.nodes_of_type(tail_type)
            if relation is None
            else self.kg.nodes_in_relation(tail_type, relation)
        )
        return nodes[self.table.has_embedding(nodes)]

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

    def resolve_query(self, query: str, node_type: str) -> ResolvedQuery:
        """A query naming a KG node of ``node_type`` (its id or its exact stored feature) reads as that node;
        anything else is a raw feature (a new sequence, SMILES or text)."""
        if node_type not in self._feature_lookup:
            nodes = self.kg.nodes[self.kg.nodes["node_type"] == node_type]
            lookup = dict(zip(nodes["feature"], nodes["node_index"], strict=True))
            lookup.update(zip(nodes["node_id"], nodes["node_index"], strict=True))
            self._feature_lookup[node_type] = lookup
        hit = self._feature_lookup[node_type].get(query)
        if hit is None:
            return ResolvedQuery(query, None)
        return ResolvedQuery(str(self.kg.nodes.at[int(hit), "feature"]), int(hit))

    # ---- retrieval ---------------------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        head_type: str,
        tail_type: str,
        relation: str | None = None,
        k: int = 10,
        candidates: str = "relation",
    ) -> pd.DataFrame:
        """Top-``k`` nodes of ``tail_type`` for one raw query (a sequence, SMILES or text, in the KG or not).

        ``query`` may also be the id of a KG node of ``head_type`` (its stored feature is used). Columns:
        rank, node_id, name, score (cosine), known_edge (the query is a KG node linked to it by ``relation``).
        """
        relation = self.resolve_relation(head_type, tail_type, relation)
        resolved = self.resolve_query(query, head_type)
        node = resolved.node
        vec = self.transform(resolved.feature, head_type, relation, tail_type)
        if candidates not in ("relation", "all"):
            raise ValueError("candidates must be 'relation' or 'all'")
        index = self.index(tail_type, relation if candidates == "relation" else None)
        scores, nodes = index.search(torch.from_numpy(vec), k)
        known = set()
        if node is not None:
            t = self.kg.triples
            known = set(t.loc[(t["head"] == node) & (t["relation"] == relation), "tail"].tolist())
        rows = self.kg.nodes.loc[nodes[0]]
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(nodes[0]) + 1),
                "node_id": rows["node_id"].to_numpy(),
                "name": rows["name"].to_numpy(),
                "score": np.round(scores[0].astype(np.float64), 6),
                "known_edge": [int(n) in known for n in nodes[0]],
            }
        )
