"""Candidate smoothing: a query's scores spread to each candidate's most similar candidates.

Many tails come in families whose members share their heads' evidence: numbered subtypes of one disease
("Parkinson disease 2", "... 4"), neighbouring GO terms, paralogous targets, analogous drugs. A vote that
finds one member of a family says little about the others, as each has few training edges of its own. With
``s(q, .)`` a query's scores over the candidate pool (one part's z-scores, as the fusion mixes them):

    spread(q, c) = sum over the k candidates c' most similar to c of  cos(e_c, e_c')_+ * (s(q, c') - min s(q, .))
    s'(q, c) = s(q, c) + alpha * z(spread(q, .))(c)

with ``e`` the candidates' frozen encoder embeddings (text for diseases and GO terms, the protein encoder's
vector, the molecule encoder's), ``z`` the per-query standardisation (mean 0, standard deviation 1) and
``alpha`` chosen per task on validation heads by the tuned fusion (0: no smoothing). Candidates without an
embedding neither spread nor receive. Only candidates are compared, never queries, so the step is the same for
KG nodes and new items and uses no test edge.

A pool's graph costs one (C x C) product of its embeddings (1-4 s for the default KG's pools of 10-17k); a run
directory keeps the graphs its hybrid smooths with (``save``; read back through ``saved``), each with a
fingerprint of ``k``, the pool and its embeddings, so that ``evaluate`` and ``retrieve`` read them instead of
building them again, and build anew any graph whose fingerprint no longer matches.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file, save_file

from biobridge.artifacts import atomic_write
from biobridge.baselines.tuned_fusion import standardise_rows

__all__ = ["CandidateSmoothing"]

log = logging.getLogger(__name__)

GRAPHS_FORMAT = "biobridge-smoothing-graphs-v1"


class CandidateSmoothing:
    """The ``k``-nearest-candidate graph of each pool (cosine of frozen embeddings from ``table``), kept once
    built, and the spread of scores over it (see the module docstring)."""

    def __init__(self, table, k: int = 10, block: int = 2048, saved: Path | None = None) -> None:
        if k < 1:
            raise ValueError(f"smoothing needs k >= 1 neighbours, got {k}")
        self.table = table
        self.k = int(k)
        self.block = int(block)
        self.saved = saved  # a file written by ``save``, read when a pool's graph is first needed
        self._graphs: dict[tuple[str, bytes], sp.csr_matrix] = {}
        self._stored: dict[tuple[str, bytes], tuple[str, sp.csr_matrix]] | None = None

    @property
    def settings(self) -> dict:
        return {"k": self.k, "similarity": "cosine of the candidates' frozen embeddings, clipped at 0"}

    def graph(self, node_type: str, candidate_nodes: np.ndarray) -> sp.csr_matrix:
        """``(C, C)`` csr: row ``c`` holds the clipped cosines of its ``k`` most similar other candidates."""
        nodes = np.ascontiguousarray(candidate_nodes, dtype=np.int64)
        key = (node_type, nodes.tobytes())
        if key not in self._graphs:  # k entries per candidate: every pool of a KG's tasks fits
            embedded, vectors = self._vectors(node_type, nodes)
            stored = self._read().get(key)
            if stored is not None and stored[0] == self._fingerprint(node_type, nodes, embedded, vectors):
                self._graphs[key] = stored[1]
            else:
                self._graphs[key] = self._build(vectors, embedded, len(nodes))
        return self._graphs[key]

    def _vectors(self, node_type: str, nodes: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
        """The places in the pool of the candidates with an embedding, and their embeddings."""
        embedded = np.flatnonzero(self.table.has_embedding(nodes))
        return embedded, self.table.raw(node_type, nodes[embedded]).float().contiguous()

    def _fingerprint(
        self, node_type: str, nodes: np.ndarray, embedded: np.ndarray, vectors: torch.Tensor
    ) -> str:
        """SHA-256 of ``k``, the pool, which of its candidates have an embedding, and their embeddings."""
        digest = hashlib.sha256(f"{self.k}|{node_type}|".encode())
        for array in (nodes, embedded, vectors.cpu().numpy()):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def _build(self, vectors: torch.Tensor, embedded: np.ndarray, n: int) -> sp.csr_matrix:
        k = min(self.k, len(embedded) - 1)
        if k < 1:
            return sp.csr_matrix((n, n), dtype=np.float32)
        vectors = torch.nn.functional.normalize(vectors, dim=1)
        rows, cols, values = [], [], []
        with torch.inference_mode():
            for start in range(0, len(embedded), self.block):
                sims = vectors[start : start + self.block] @ vectors.T
                own = torch.arange(start, start + len(sims))
                sims[torch.arange(len(sims)), own] = -float("inf")  # never its own neighbour
                top, where = torch.topk(sims, k, dim=1)
                rows.append(np.repeat(embedded[start : start + len(sims)], k))
                cols.append(embedded[where.numpy().ravel()])
                values.append(top.clamp(min=0).numpy().ravel())
        values = np.concatenate(values).astype(np.float32)
        keep = values > 0
        return sp.csr_matrix(
            (values[keep], (np.concatenate(rows)[keep], np.concatenate(cols)[keep])), shape=(n, n)
        )

    def save(self, path: Path, node_types: Iterable[str]) -> None:
        """Write the graphs built so far of the pools of ``node_types`` to ``path`` (safetensors, atomically),
        each with its pool's fingerprint."""
        tensors, entries, node_types = {}, [], set(node_types)
        for i, key in enumerate(key for key in self._graphs if key[0] in node_types):
            graph, nodes = self._graphs[key], np.frombuffer(key[1], dtype=np.int64)
            fingerprint = self._fingerprint(key[0], nodes, *self._vectors(key[0], nodes))
            entries.append({"node_type": key[0], "fingerprint": fingerprint})
            tensors.update({f"{i}.nodes": nodes, f"{i}.indptr": graph.indptr, f"{i}.indices": graph.indices})
            tensors[f"{i}.values"] = graph.data
        metadata = {"format": GRAPHS_FORMAT, "graphs": json.dumps(entries)}
        atomic_write(path, lambda p: save_file(tensors, str(p), metadata=metadata))

    def _read(self) -> dict[tuple[str, bytes], tuple[str, sp.csr_matrix]]:
        """The graphs of ``saved`` by pool, with their fingerprints; none when there is no file or it cannot be
        read (the graphs are then built, as without it)."""
        if self._stored is None:
            self._stored = {}
            if self.saved is not None and Path(self.saved).exists():
                try:
                    self._stored = _read_graphs(Path(self.saved))
                except (SafetensorError, OSError, ValueError, KeyError) as error:
                    log.warning("ignoring the smoothing graphs in %s (%s): building them", self.saved, error)
        return self._stored

    def spread(self, scores: np.ndarray, node_type: str, candidate_nodes: np.ndarray) -> np.ndarray:
        """``z(spread(q, .))`` for each row of ``scores`` ``(queries, C)`` over ``candidate_nodes``."""
        scores = np.asarray(scores, dtype=np.float32)
        shifted = scores - scores.min(axis=1, keepdims=True)
        spread = np.asarray(self.graph(node_type, candidate_nodes) @ shifted.T).T
        return standardise_rows(spread)

    def smooth(
        self, scores: np.ndarray, alpha: float, node_type: str, candidate_nodes: np.ndarray
    ) -> np.ndarray:
        """``scores + alpha * spread`` (``scores`` itself when ``alpha`` is 0)."""
        if not alpha:
            return scores
        return scores + np.float32(alpha) * self.spread(scores, node_type, candidate_nodes)


def _read_graphs(path: Path) -> dict[tuple[str, bytes], tuple[str, sp.csr_matrix]]:
    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata() or {}
    if metadata.get("format") != GRAPHS_FORMAT:
        raise ValueError(f"not a {GRAPHS_FORMAT} file")
    tensors = load_file(str(path))
    out = {}
    for i, entry in enumerate(json.loads(metadata["graphs"])):
        nodes = tensors[f"{i}.nodes"]
        graph = sp.csr_matrix(
            (tensors[f"{i}.values"], tensors[f"{i}.indices"], tensors[f"{i}.indptr"]), shape=(len(nodes),) * 2
        )
        out[(entry["node_type"], nodes.tobytes())] = (entry["fingerprint"], graph)
    return out
