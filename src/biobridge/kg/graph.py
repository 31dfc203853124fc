"""The typed knowledge-graph tables every stage works on.

``nodes``: one row per node, ``node_index`` equal to the row position.
    columns ``node_index`` (int64), ``node_type`` (str), ``node_id`` (str, unique within a type),
    ``name`` (str, display only; names collide), ``feature`` (str: amino-acid sequence, SMILES or text).
``triples``: one row per directed edge, both directions present.
    columns ``head`` (int64 node_index), ``relation`` (str), ``tail`` (int64 node_index).
``modalities``: node type -> ``"protein"`` | ``"molecule"`` | ``"text"`` (which encoder family reads ``feature``).
``reverse_relations``: relation -> the name of its reverse (every relation in ``triples`` is listed).
``provenance``: free-form JSON describing where the tables came from and what was reduced or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biobridge.artifacts import atomic_write, hash_strings, read_json_object, read_parquet, write_json
from biobridge.errors import InputError

MODALITIES = ("protein", "molecule", "text")
NODE_COLUMNS = ("node_index", "node_type", "node_id", "name", "feature")
TRIPLE_COLUMNS = ("head", "relation", "tail")


class KGFormatError(InputError):
    """A knowledge-graph table is malformed or inconsistent (an ``InputError``: the message names the file)."""


@dataclass(frozen=True)
class KnowledgeGraph:
    nodes: pd.DataFrame
    triples: pd.DataFrame
    modalities: dict[str, str]
    reverse_relations: dict[str, str]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_kg(self)

    # ---- views -------------------------------------------------------------------------------
    @property
    def node_types(self) -> list[str]:
        return sorted(self.modalities)

    @property
    def relations(self) -> list[str]:
        return sorted(self.reverse_relations)

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    def nodes_of_type(self, node_type: str) -> np.ndarray:
        if node_type not in self.modalities:
            raise KeyError(f"unknown node type {node_type!r}; known: {self.node_types}")
        return self.nodes.index[self.nodes["node_type"].to_numpy() == node_type].to_numpy(np.int64)

    def nodes_in_relation(self, node_type: str, relation: str) -> np.ndarray:
        """Nodes of ``node_type`` that take part in ``relation``, in either direction.

        Returns the sorted, unique int64 ``node_index`` values of ``node_type`` nodes that are the head or
        the tail of at least one triple whose relation is ``relation`` or its reverse
        (``reverse_relations.get(relation, relation)``; a symmetric relation is its own reverse). Because
        every edge is stored in both directions, this is the same set for ``r`` and ``rev_r``. An unknown
        ``relation`` gives an empty array; an unknown ``node_type`` raises the ``KeyError`` of
        :meth:`nodes_of_type`.
        """
        nodes = self.nodes_of_type(node_type)
        relations = sorted({relation, self.reverse_relations.get(relation, relation)})
        in_relation = self.triples["relation"].isin(relations).to_numpy()
        ends = np.union1d(
            self.triples["head"].to_numpy(np.int64)[in_relation],
            self.triples["tail"].to_numpy(np.int64)[in_relation],
        )
        return np.intersect1d(nodes, ends).astype(np.int64, copy=False)

    def node_type_array(self) -> np.ndarray:
        """``node_type`` of every node as a numpy object array indexed by node_index."""
        return self.nodes["node_type"].to_numpy()

    def lookup(self, node_type: str, node_id: str) -> int:
        hit = self.nodes.index[(self.nodes["node_type"] == node_type) & (self.nodes["node_id"] == node_id)]
        if len(hit) == 0:
            raise KeyError(f"no {node_type} node with id {node_id!r}")
        return int(hit[0])

    def content_hash(self) -> str:
        """Hash of the node and triple tables (order-sensitive), computed once: the graph is frozen and its
        tables are never modified in place."""
        cached = self.__dict__.get("_content_hash")
        if cached is None:
            cached = self._compute_content_hash()
            object.__setattr__(self, "_content_hash", cached)
        return cached

    def _compute_content_hash(self) -> str:
        n = self.nodes
        t = self.triples
        parts = [
            hash_strings(n["node_type"].astype(str) + "\t" + n["node_id"].astype(str) + "\t" + n["feature"]),
            hash_strings(t["head"].astype(str) + "\t" + t["relation"] + "\t" + t["tail"].astype(str)),
            hash_strings(f"{k}={v}" for k, v in sorted(self.modalities.items())),
        ]
        return hash_strings(parts)[:16]

    # ---- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(directory / "nodes.parquet", lambda p: self.nodes.to_parquet(p, index=False))
        atomic_write(directory / "triples.parquet", lambda p: self.triples.to_parquet(p, index=False))
        write_json(
            directory / "kg.json",
            {
                "content_hash": self.content_hash(),
                "num_nodes": self.num_nodes,
                "num_triples": len(self.triples),
                "nodes_per_type": self.nodes["node_type"].value_counts().sort_index().to_dict(),
                "triples_per_relation": self.triples["relation"].value_counts().sort_index().to_dict(),
                "modalities": self.modalities,
                "reverse_relations": self.reverse_relations,
                "provenance": self.provenance,
            },
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> KnowledgeGraph:
        directory = Path(directory)
        meta_path = directory / "kg.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{meta_path} not found: run `biobridge prepare` first")
        meta = read_json_object(meta_path, ("content_hash", "modalities", "reverse_relations"))
        for key in ("modalities", "reverse_relations"):
            if not isinstance(meta[key], dict):
                raise KGFormatError(f"{meta_path}: {key} must be a JSON object")
        nodes = read_parquet(directory / "nodes.parquet", NODE_COLUMNS)
        triples = read_parquet(directory / "triples.parquet", TRIPLE_COLUMNS)
        try:
            kg = cls(
                nodes=nodes,
                triples=triples,
                modalities=meta["modalities"],
                reverse_relations=meta["reverse_relations"],
                provenance=meta.get("provenance", {}),
            )
            same = kg.content_hash() == meta["content_hash"]
        except (KGFormatError, TypeError) as exc:  # TypeError: a column of the wrong type
            raise KGFormatError(f"{directory}: {exc}") from None
        if not same:
            raise KGFormatError(f"{directory}: tables do not match the content hash in kg.json")
        return kg


def validate_kg(kg: KnowledgeGraph) -> None:
    """Raise ``KGFormatError`` on any inconsistency; never repair silently."""
    nodes, triples = kg.nodes, kg.triples
    missing = [c for c in NODE_COLUMNS if c not in nodes.columns]
    if missing:
        raise KGFormatError(f"nodes table lacks columns {missing}")
    missing = [c for c in TRIPLE_COLUMNS if c not in triples.columns]
    if missing:
        raise KGFormatError(f"triples table lacks columns {missing}")
    if not np.array_equal(nodes["node_index"].to_numpy(), np.arange(len(nodes))):
        raise KGFormatError("node_index must equal the row position 0..N-1")
    bad_mod = {t: m for t, m in kg.modalities.items() if m not in MODALITIES}
    if bad_mod:
        raise KGFormatError(f"unknown modalities {bad_mod}; expected one of {MODALITIES}")
    unknown_types = set(nodes["node_type"].unique()) - set(kg.modalities)
    if unknown_types:
        raise KGFormatError(f"node types without a modality: {sorted(unknown_types)}")
    if nodes.duplicated(["node_type", "node_id"]).any():
        dup = nodes[nodes.duplicated(["node_type", "node_id"], keep=False)].head(3)
        raise KGFormatError(
            f"duplicate (node_type, node_id): {dup[['node_type', 'node_id']].values.tolist()}"
        )
    n = len(nodes)
    for col in ("head", "tail"):
        v = triples[col].to_numpy()
        if len(v) and (v.min() < 0 or v.max() >= n):
            raise KGFormatError(f"triples.{col} refers to node indices outside 0..{n - 1}")
    unknown_rel = set(triples["relation"].unique()) - set(kg.reverse_relations)
    if unknown_rel:
        raise KGFormatError(f"relations without a reverse name: {sorted(unknown_rel)}")
    for rel, rev in kg.reverse_relations.items():
        if kg.reverse_relations.get(rev) != rel:
            raise KGFormatError(f"reverse of {rel!r} is {rev!r}, whose reverse is not {rel!r}")
