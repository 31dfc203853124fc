"""The data a benchmark runs on: a working directory (prepared and encoded with the defaults when empty), or a
seeded subset of it written as a working directory of its own, ``<workdir>/subset<N>/`` (its KG, an
embedding store copied from the parent's rows, and its splits), so that every bridge a benchmark trains is an
ordinary run of an ordinary working directory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biobridge import pipeline
from biobridge.artifacts import hash_strings
from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.encoders import EmbeddingStore, derive_store
from biobridge.encoders.homology import ProteinHits, kg_protein_hits
from biobridge.evaluation.tasks import PAPER_TASKS, Task, discover_tasks
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.split import Split, load_or_create_split

log = logging.getLogger(__name__)

SUBSET_SEED = 42


@dataclass
class BenchmarkData:
    workdir: pipeline.Workdir  # the working directory the benchmark trains in (the subset's, if any)
    kg: KnowledgeGraph
    store: EmbeddingStore
    table: EmbeddingTable
    info: dict[str, Any]
    _hits: ProteinHits | None = None

    def identity(self, embeddings: bool) -> dict[str, Any]:
        """What a result depends on in the data: the scorable nodes, and (``embeddings``) every type's encoder
        inputs (``input_hash``: encoder, its settings and the features)."""
        scorable = self.table.has_embedding(np.arange(self.kg.num_nodes))
        out: dict[str, Any] = {"scorable": hash_strings([np.packbits(scorable).tobytes().hex()])[:16]}
        if embeddings:
            out["embeddings"] = {t: self.store.entry(t)["input_hash"] for t in self.store.node_types}
        return out

    def protein_hits(self) -> ProteinHits | None:
        """The KG proteins' all-against-all MMseqs2 search (for homology-kNN), None without protein nodes."""
        if self._hits is None and "protein" in self.store.node_types:
            self._hits = kg_protein_hits(self.kg, self.store, "protein")
        return self._hits

    def tasks(self, which: str = "all") -> list[Task]:
        tasks = discover_tasks(self.kg)
        if which == "paper":
            paper = {t.name for t in PAPER_TASKS}
            tasks = [t for t in tasks if t.name in paper]
        return tasks

    def split(self, protocol: str, seed: int, test_fraction: float) -> tuple[Split, Path]:
        directory = self.workdir.split(protocol, seed)
        return load_or_create_split(self.kg, directory, protocol, test_fraction, seed), directory


def load_benchmark_data(workdir: str | Path, max_nodes_per_type: int | None, progress: bool) -> BenchmarkData:
    wd = pipeline.Workdir(workdir)
    if not (wd.kg / "kg.json").exists():
        log.info("no KG in %s: preparing the default KG (max_nodes_per_type=%s)", wd.root, max_nodes_per_type)
        pipeline.prepare(wd.root, protocols=(), max_nodes_per_type=max_nodes_per_type)
    if not (wd.embeddings / "manifest.json").exists():
        pipeline.encode(wd.root, progress=progress)
    kg = KnowledgeGraph.load(wd.kg)
    store = EmbeddingStore.load(wd.embeddings)
    parent = wd
    if max_nodes_per_type and int(kg.nodes["node_type"].value_counts().max()) > max_nodes_per_type:
        wd, kg, store = _subset_workdir(wd, kg, store, max_nodes_per_type)
    info = {
        "workdir": str(parent.root.resolve()),
        "kg_hash": kg.content_hash(),
        "num_nodes": kg.num_nodes,
        "num_triples": len(kg.triples),
        "nodes_per_type": {k: int(v) for k, v in kg.nodes["node_type"].value_counts().sort_index().items()},
        "subset": kg.provenance.get("subset"),
        "encoders": {t: store.manifest[t].get("encoder") for t in store.node_types},
    }
    return BenchmarkData(wd, kg, store, EmbeddingTable.from_store(store, kg.num_nodes), info)


def _subset_workdir(parent: pipeline.Workdir, kg: KnowledgeGraph, store: EmbeddingStore, max_nodes: int):
    """``<parent>/subset<N>/``: the seeded subset's KG and a store holding the parent's rows of its nodes."""
    from biobridge.kg.subset import subset_kg

    sub = subset_kg(kg, max_nodes_per_type=max_nodes, seed=SUBSET_SEED)
    wd = pipeline.Workdir(parent.root / f"subset{max_nodes}")
    saved = wd.kg / "kg.json"
    if not saved.exists() or KnowledgeGraph.load(wd.kg).content_hash() != sub.content_hash():
        sub.save(wd.kg)
    sub_store = derive_store(store, kg, sub, wd.embeddings)
    if any(store.entry(t).get("state") for t in sub.node_types):
        # stateful encoders were fitted on the parent's items: fit them again on the subset's (the copied
        # types are cache hits for the parent's specs)
        specs = {sub.modalities[t]: store.entry(t)["spec"] for t in sub.node_types}
        sub_store = pipeline.encode(wd.root, specs, progress=False)
    log.info(
        "benchmark on a seeded subset of %s (%d nodes per type at most): %s", parent.root, max_nodes, wd.root
    )
    return wd, sub, sub_store
