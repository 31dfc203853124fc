"""Homology-aware protein features: where a sequence's MMseqs2 hits fall among a reference set of proteins.

Fitting (once, when a node type is encoded) fixes the reference set: the type's valid sequences, in KG
order. Their all-against-all search (``biobridge.encoders.mmseqs``; self hits dropped) gives a sparse profile
matrix ``P`` (reference x reference), ``P[i, j] = log(1 + bits(i, j))`` for every hit of ``i`` against ``j``,
and a rank-``k`` basis ``V`` of its rows (a seeded randomized SVD). A protein's feature is then

    [ p V  (k numbers: its profile over the reference, compressed),  composition (420 numbers) ]

where ``p`` is its profile row: for a reference protein its row of ``P`` (its own hit excluded), for a new
sequence the hits of one search against the reference. KG proteins and new sequences are thus encoded the
same way, and a protein without any hit keeps its composition signal. The fitted state (reference sequences,
the all-against-all hits, the basis, the settings) is saved beside the embeddings
(``<store>/protein.state/``) and loaded with them, so ``retrieve`` runs one search per new sequence. The
hits also serve the homology-kNN baseline (``ProteinHits``).

For the packaged default KG the all-against-all search is shipped as derived data
(``data/biokg_offline_mini/protein_hits.parquet``, made by ``benchmarks/homology_hits.py`` with the
default settings); it is used only when the reference sequences and the settings are exactly those it was
made from, and a test checks that a fresh search of a sample of proteins reproduces it.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from biobridge.artifacts import atomic_write, hash_strings, write_json
from biobridge.encoders.base import Encoder
from biobridge.encoders.mmseqs import (
    HitTable,
    ReferenceDB,
    SearchSettings,
    mmseqs_version,
    reference_db,
    search,
)
from biobridge.encoders.protein_composition import ProteinCompositionEncoder

__all__ = ["DEFAULT_SEARCH", "HomologyEncoder", "ProteinHits", "kg_protein_hits", "reference_hash"]

log = logging.getLogger(__name__)

# MMseqs2's default sensitivity; 100 prefilter hits per query: same homology-kNN MRR as 300 on the default KG,
# 1.5x faster (docs/benchmarks.md, homology search settings)
DEFAULT_SEARCH = SearchSettings(sensitivity=5.7, max_seqs=100, evalue=1e-3)
SHIPPED_HITS = Path(__file__).resolve().parent.parent / "data" / "biokg_offline_mini" / "protein_hits.parquet"
STATE_FILES = ("state.json", "reference.txt.gz", "hits.parquet", "basis.safetensors")


def reference_hash(sequences: list[str]) -> str:
    """Identity of an ordered reference set."""
    return hash_strings(sequences)[:16]


@dataclass(frozen=True)
class ProteinHits:
    """All-against-all hits of a reference set (self hits excluded); ``hits.query`` / ``hits.target`` are
    positions in the reference, ``node_index`` (when known) the KG node of each position."""

    hits: HitTable
    n_reference: int
    settings: dict[str, Any]
    node_index: np.ndarray | None = None
    reference: list[str] | None = None  # the sequences, to search new ones against them

    def matrix(self, values: np.ndarray | None = None) -> sp.csr_matrix:
        """(reference x reference) CSR of ``values`` (default: the bit scores)."""
        data = self.hits.bits if values is None else values
        shape = (self.n_reference, self.n_reference)
        return sp.csr_matrix((data.astype(np.float32), (self.hits.query, self.hits.target)), shape=shape)

    def node_matrix(self, num_nodes: int) -> sp.csr_matrix:
        """(num_nodes x num_nodes) CSR of bit scores between KG nodes."""
        if self.node_index is None:
            raise ValueError("these hits are not tied to KG nodes")
        rows, cols = self.node_index[self.hits.query], self.node_index[self.hits.target]
        return sp.csr_matrix((self.hits.bits.astype(np.float32), (rows, cols)), shape=(num_nodes, num_nodes))

    def with_nodes(self, node_index: np.ndarray, reference: list[str] | None = None) -> ProteinHits:
        if len(node_index) != self.n_reference:
            raise ValueError(f"{len(node_index)} node indices for a reference of {self.n_reference} proteins")
        return ProteinHits(
            self.hits,
            self.n_reference,
            self.settings,
            np.asarray(node_index, dtype=np.int64),
            reference if reference is not None else self.reference,
        )

    def best_identity(self, nodes: np.ndarray, pool: np.ndarray) -> np.ndarray:
        """Per node of ``nodes``: the highest sequence identity (0..1) of its hits among the nodes ``pool``
        (the node itself excluded), -1 where it has none."""
        if self.node_index is None:
            raise ValueError("these hits are not tied to KG nodes")
        q_nodes, t_nodes = self.node_index[self.hits.query], self.node_index[self.hits.target]
        keep = np.isin(t_nodes, pool) & (q_nodes != t_nodes)
        best = pd.Series(self.hits.identity[keep]).groupby(q_nodes[keep]).max()
        return best.reindex(np.asarray(nodes)).fillna(-1.0).to_numpy(np.float32)

    def search_nodes(self, sequences: list[str], num_nodes: int) -> sp.csr_matrix:
        """(len(sequences) x num_nodes) CSR of bit scores of new sequences against the reference's nodes:
        one MMseqs2 search with the same settings."""
        if self.reference is None or self.node_index is None:
            raise ValueError("these hits carry no reference sequences to search against")
        settings = SearchSettings(**self.settings)
        table = search(list(sequences), reference_db(self.reference, settings), settings)
        shape = (len(sequences), num_nodes)
        return sp.csr_matrix(
            (table.bits.astype(np.float32), (table.query, self.node_index[table.target])), shape=shape
        )


def save_hits(path: Path, table: HitTable, meta: dict[str, Any]) -> None:
    """A hit table as compressed Parquet (query, target, bits, identity), ``meta`` as JSON in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from biobridge.artifacts import atomic_write

    columns = {
        "query": pa.array(table.query.astype(np.int32)),
        "target": pa.array(table.target.astype(np.int32)),
        "bits": pa.array(table.bits.astype(np.float32)),
        "identity": pa.array(table.identity.astype(np.float32)),
    }
    arrow = pa.table(columns).replace_schema_metadata({"biobridge": json.dumps(meta, sort_keys=True)})
    atomic_write(path, lambda p: pq.write_table(arrow, p, compression="zstd"))


def hits_meta(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    return json.loads((pq.read_schema(path).metadata or {}).get(b"biobridge", b"{}"))


def load_hits(path: Path) -> HitTable:
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    column = {name: t[name].to_numpy() for name in ("query", "target", "bits", "identity")}
    return HitTable(
        column["query"].astype(np.int64),
        column["target"].astype(np.int64),
        column["bits"],
        column["identity"],
    )


def _search_key(sequences: list[str], settings: SearchSettings) -> dict[str, Any]:
    return {
        "reference_hash": reference_hash(sequences),
        "n_reference": len(sequences),
        "settings": settings.identity(),
    }


def write_shipped_hits(path: Path, sequences: list[str], table: HitTable, settings: SearchSettings) -> None:
    """The derived data shipped for the default KG: an all-against-all search with what it was made from."""
    save_hits(path, table, {**_search_key(sequences, settings), "mmseqs_version": mmseqs_version()})


def load_matching_hits(path: Path, sequences: list[str], settings: SearchSettings) -> HitTable | None:
    """The search saved in ``path`` when it was made from exactly ``sequences`` (in order) and ``settings``."""
    if not path.exists():
        return None
    meta = hits_meta(path)
    if any(meta.get(k) != v for k, v in _search_key(sequences, settings).items()):
        return None
    return load_hits(path)


def _search_reference(sequences: list[str], settings: SearchSettings) -> HitTable:
    """All-against-all hits of ``sequences`` (self hits included): the shipped search when it was made from
    exactly these sequences and settings, else a fresh MMseqs2 search."""
    shipped = load_matching_hits(SHIPPED_HITS, sequences, settings)
    if shipped is not None:
        log.info("homology: using the shipped all-against-all search of %d proteins", len(sequences))
        return shipped
    started = time.perf_counter()
    log.info("homology: searching %d proteins against each other with MMseqs2 (%s)", len(sequences), settings)
    table = search(sequences, None, settings)
    log.info("homology: %d hits in %.1f s", len(table), time.perf_counter() - started)
    return table


def kg_protein_hits(
    kg, store, node_type: str = "protein", settings: SearchSettings = DEFAULT_SEARCH
) -> ProteinHits:
    """The all-against-all search of ``kg``'s ``node_type`` proteins, tied to their nodes: from the fitted state
    of a homology-encoded store, else a search of the type's encoded sequences (the shipped one when it
    matches), cached in ``<store>/<node_type>.hits.parquet``."""
    rows, _ = store.get(node_type)
    entry = store.entry(node_type)
    if entry.get("state") and entry["encoder"].startswith("homology-"):
        encoder = store.encoder(node_type)
        return encoder.reference_hits().with_nodes(rows, encoder.reference)
    sequences = kg.nodes.loc[rows, "feature"].tolist()
    cache = Path(store.directory) / f"{node_type}.hits.parquet"
    table = load_matching_hits(cache, sequences, settings)
    if table is None:
        table = _search_reference(sequences, settings)
        save_hits(cache, table, _search_key(sequences, settings))
    return _without_self(table, len(sequences), settings).with_nodes(rows, sequences)


def _without_self(table: HitTable, n: int, settings: SearchSettings) -> ProteinHits:
    return ProteinHits(table.select(table.query != table.target), n, settings.identity())


def _svd_basis(profile: sp.csr_matrix, k: int, seed: int, n_iter: int = 4) -> np.ndarray:
    """The top ``k`` right singular vectors (n x k) of ``profile`` by a seeded randomized SVD (Halko et al.
    2011); columns beyond the matrix's rank (small reference sets) are zero."""
    n = profile.shape[1]
    basis = np.zeros((n, k), dtype=np.float32)
    if k == 0 or profile.nnz == 0:
        return basis
    rng = np.random.Generator(np.random.PCG64(seed))
    y = profile @ rng.standard_normal((n, min(n, k + 16)))
    for _ in range(n_iter):
        y, _ = np.linalg.qr(y)
        y = profile @ (profile.T @ y)
    q, _ = np.linalg.qr(y)
    _, _, vt = np.linalg.svd(np.asarray((profile.T @ q).T), full_matrices=False)
    top = vt[:k].T
    basis[:, : top.shape[1]] = top
    return basis


class HomologyEncoder(Encoder):
    """See the module docstring. ``k``: profile dimensions; ``settings``: the MMseqs2 search."""

    modality = "protein"
    stateful = True
    batch_invariant = True

    def __init__(self, k: int = 256, settings: SearchSettings = DEFAULT_SEARCH, seed: int = 0) -> None:
        self.k = int(k)
        self.settings = settings
        self.seed = int(seed)
        self.composition = ProteinCompositionEncoder()
        s = settings
        self.name = f"homology-mmseqs-s{s.sensitivity:g}-m{s.max_seqs}-e{s.evalue:g}-svd{self.k}+composition"
        self.dim = self.k + self.composition.dim
        self._reference: list[str] | None = None
        self._position: dict[str, int] = {}
        self._profile: sp.csr_matrix | None = None
        self._basis: np.ndarray | None = None
        self._hits: HitTable | None = None
        self._reference_db: ReferenceDB | None = None  # the indexed reference, for searching new sequences

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "search": self.settings.identity(),
            "profile": "log(1 + bit score) over the reference proteins, own hit excluded",
            "svd_dims": self.k,
            "svd_seed": self.seed,
            "plus": self.composition.name,
        }

    def invalid_reason(self, item: str) -> str | None:
        return self.composition.invalid_reason(item)

    # ---- fitting and state ---------------------------------------------------------------------
    def fit(self, items: list[str]) -> None:
        """Fix the reference set to ``items`` (valid sequences) and fit the basis of their profiles."""
        self._set_reference(list(items), _search_reference(list(items), self.settings))
        self._basis = _svd_basis(self._profile, self.k, self.seed)

    def _set_reference(self, reference: list[str], table: HitTable) -> None:
        self._reference = reference
        self._reference_db = None
        self._position = {}
        for i, seq in enumerate(reference):
            self._position.setdefault(seq, i)
        self._hits = table.select(table.query != table.target)
        n = len(reference)
        h = self._hits
        self._profile = sp.csr_matrix(
            (np.log1p(h.bits).astype(np.float32), (h.query, h.target)), shape=(n, n)
        )

    @property
    def reference(self) -> list[str]:
        self._require_fit()
        return self._reference

    @property
    def fitted(self) -> bool:
        return self._basis is not None

    def reference_hits(self) -> ProteinHits:
        """The all-against-all hits of the reference set (positions = the fitted items' order)."""
        self._require_fit()
        return ProteinHits(self._hits, len(self._reference), self.settings.identity())

    def save_state(self, directory: Path) -> None:
        from safetensors.numpy import save_file

        self._require_fit()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with gzip.open(directory / "reference.txt.gz", "wt", encoding="ascii") as f:
            f.write("\n".join(self._reference) + "\n")
        save_hits(directory / "hits.parquet", self._hits, {"reference_hash": reference_hash(self._reference)})
        atomic_write(directory / "basis.safetensors", lambda p: save_file({"basis": self._basis}, str(p)))
        write_json(
            directory / "state.json",
            {
                "encoder": self.name,
                "config": self.config(),
                "n_reference": len(self._reference),
                "reference_hash": reference_hash(self._reference),
                "n_hits": len(self._hits),
                "mmseqs_version": mmseqs_version(),
            },
        )

    def load_state(self, directory: Path) -> None:
        from safetensors.numpy import load_file

        from biobridge.artifacts import read_json

        directory = Path(directory)
        missing = [f for f in STATE_FILES if not (directory / f).exists()]
        if missing:
            raise FileNotFoundError(f"{directory}: homology encoder state incomplete, missing {missing}")
        state = read_json(directory / "state.json")
        if state.get("encoder") != self.name:
            raise ValueError(f"{directory} holds the state of {state.get('encoder')!r}, not of {self.name!r}")
        with gzip.open(directory / "reference.txt.gz", "rt", encoding="ascii") as f:
            reference = f.read().splitlines()
        table = load_hits(directory / "hits.parquet")
        self._set_reference(reference, table)
        self._basis = load_file(str(directory / "basis.safetensors"))["basis"]

    def _require_fit(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{self.name} is not fitted: fit() it on the reference set or load_state() it")

    # ---- encoding --------------------------------------------------------------------------------
    def profiles(self, items: list[str]) -> sp.csr_matrix:
        """Profile rows (len(items) x reference) of sequences: a reference sequence's row (identical sequences
        share it), one search against the reference for the others."""
        self._require_fit()
        n_ref = len(self._reference)
        positions = np.array([self._position.get(s, -1) for s in items], dtype=np.int64)
        known, new = np.flatnonzero(positions >= 0), np.flatnonzero(positions < 0)
        parts, order = [self._profile[positions[known]]], [known]
        if len(new):
            if self._reference_db is None:
                self._reference_db = reference_db(self._reference, self.settings)
            table = search([items[i] for i in new], self._reference_db, self.settings)
            values = np.log1p(table.bits).astype(np.float32)
            parts.append(sp.csr_matrix((values, (table.query, table.target)), shape=(len(new), n_ref)))
            order.append(new)
        stacked = sp.vstack(parts, format="csr")
        return stacked[np.argsort(np.concatenate(order), kind="stable")]

    def _encode_valid(self, items: list[str], batch_size: int | None, progress: bool) -> np.ndarray:
        compressed = np.asarray(self.profiles(items) @ self._basis, dtype=np.float32)
        composition = self.composition.encode_prevalidated(items)
        return np.hstack([compressed, composition])
