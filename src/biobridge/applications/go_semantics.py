"""Gene Ontology semantic similarity: Lin's measure with annotation-based information content.

Definitions (per aspect BP / MF / CC, computed from the packaged default-KG data, not from the KG's edges,
because the KG keeps only annotated terms):

- DAG: ``go_parents.tsv.gz`` edges of type ``is_a`` and ``part of`` between terms of the same aspect
  (``regulates`` edges are not used for ancestry, as in GOSemSim and most IC-based measures).
  ``ancestors(t)`` includes ``t`` itself.
- Annotations: ``protein_go.tsv.gz`` direct annotations of the aspect, all evidence codes except ``ND``
  (no biological data: an annotation to the root that carries no information).
- Counts: ``n(t)`` = number of distinct proteins annotated to ``t`` or to any descendant of ``t``
  (annotations propagated up the DAG). ``p(t) = n(t) / n(root)``, ``IC(t) = -ln p(t)``; the root has IC 0.
- ``Lin(a, b) = 2 IC(MICA) / (IC(a) + IC(b))`` where MICA is the common ancestor with the largest IC
  (1 when ``a == b``; 0 when both ICs are 0 and ``a != b``).
- Protein pair similarity, best-match average (BMA) over their direct term sets ``A`` and ``B``:
  ``(mean_{a in A} max_{b in B} Lin(a, b) + mean_{b in B} max_{a in A} Lin(a, b)) / 2``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from biobridge.kg.default_kg import DEFAULT_DATA_DIR

log = logging.getLogger(__name__)

GO_ROOTS = {"BP": "GO:0008150", "MF": "GO:0003674", "CC": "GO:0005575"}
ASPECT_NODE_TYPES = {"BP": "biological_process", "MF": "molecular_function", "CC": "cellular_component"}
ANCESTRY_RELATIONSHIPS = ("isa", "part of")
EXCLUDED_EVIDENCE = ("ND",)


def aspect_of(name: str) -> str:
    """'BP' / 'biological_process' -> 'BP'."""
    key = name.strip()
    if key.upper() in GO_ROOTS:
        return key.upper()
    for aspect, node_type in ASPECT_NODE_TYPES.items():
        if key == node_type:
            return aspect
    raise ValueError(f"unknown GO aspect {name!r}; use BP/MF/CC or {sorted(ASPECT_NODE_TYPES.values())}")


@dataclass
class GOSemantics:
    """Lin similarity for one GO aspect. Build with :meth:`from_tables` or :meth:`from_files`."""

    aspect: str
    terms: np.ndarray  # GO ids, sorted
    ancestors: sp.csr_matrix  # (T, T) bool: [i, j] = term j is an ancestor of term i (or i itself)
    counts: np.ndarray  # propagated annotation counts (distinct proteins) per term
    ic: np.ndarray  # -ln(counts / counts[root]); nan where the count is 0
    protein_terms: dict[str, np.ndarray]  # protein id -> sorted indices of its direct terms

    @classmethod
    def from_files(cls, aspect: str, data_dir: str | Path = DEFAULT_DATA_DIR) -> GOSemantics:
        data_dir = Path(data_dir)
        parents = pd.read_csv(data_dir / "go_parents.tsv.gz", sep="\t", dtype=str)
        annotations = pd.read_csv(data_dir / "protein_go.tsv.gz", sep="\t", dtype=str)
        terms = pd.read_csv(data_dir / "go_terms.tsv.gz", sep="\t", dtype=str, usecols=["go_id", "aspect"])
        return cls.from_tables(aspect, terms, parents, annotations)

    @classmethod
    def from_tables(
        cls, aspect: str, terms: pd.DataFrame, parents: pd.DataFrame, annotations: pd.DataFrame
    ) -> GOSemantics:
        """``terms``: go_id, aspect; ``parents``: child, parent, relationship_type; ``annotations``:
        uniprot_acc, go_id, aspect, evidence (the packaged file layouts)."""
        aspect = aspect_of(aspect)
        root = GO_ROOTS[aspect]
        ids = np.sort(terms.loc[terms["aspect"] == aspect, "go_id"].unique())
        if root not in set(ids):
            raise ValueError(f"the GO term table has no {aspect} root {root}")
        pos = pd.Series(np.arange(len(ids)), index=ids)
        edges = parents[parents["relationship_type"].isin(ANCESTRY_RELATIONSHIPS)]
        edges = edges[edges["child"].isin(pos.index) & edges["parent"].isin(pos.index)]
        n = len(ids)
        step = sp.csr_matrix(
            (
                np.ones(len(edges), dtype=bool),
                (pos[edges["child"]].to_numpy(), pos[edges["parent"]].to_numpy()),
            ),
            shape=(n, n),
        )
        closure = sp.identity(n, dtype=bool, format="csr")
        frontier = closure
        for _ in range(100):  # one DAG level per iteration; GO is ~20 levels deep
            frontier = (frontier @ step).astype(bool)
            new = (frontier > closure).astype(bool)
            if new.nnz == 0:
                break
            closure = (closure + frontier).astype(bool)
            frontier = new
        else:  # pragma: no cover - a cycle
            raise ValueError("GO parent edges do not converge: cycle?")
        closure = closure.tocsr()
        closure.sort_indices()

        ann = annotations[
            (annotations["aspect"] == aspect) & ~annotations["evidence"].isin(EXCLUDED_EVIDENCE)
        ]
        ann = ann[ann["go_id"].isin(pos.index)].drop_duplicates(["uniprot_acc", "go_id"])
        proteins, prot_code = np.unique(ann["uniprot_acc"].to_numpy(), return_inverse=True)
        term_code = pos[ann["go_id"]].to_numpy()
        direct = sp.csr_matrix(
            (np.ones(len(ann), dtype=np.float32), (prot_code, term_code)), shape=(len(proteins), n)
        )
        propagated = (direct @ closure.astype(np.float32)) > 0
        counts = np.asarray(propagated.sum(axis=0)).ravel().astype(np.int64)
        root_count = counts[pos[root]]
        if root_count == 0:
            raise ValueError(f"no {aspect} annotations")
        with np.errstate(divide="ignore"):
            ic = np.where(counts > 0, -np.log(np.maximum(counts, 1) / root_count), np.nan)
        order = np.argsort(prot_code, kind="stable")
        bounds = np.searchsorted(prot_code[order], np.arange(len(proteins) + 1))
        protein_terms = {
            str(p): np.unique(term_code[order[bounds[i] : bounds[i + 1]]]) for i, p in enumerate(proteins)
        }
        log.info(
            "GO %s: %d terms, %d annotated proteins, %d ancestor pairs", aspect, n, len(proteins), closure.nnz
        )
        return cls(aspect, ids, closure, counts, ic, protein_terms)

    # ---- term level ----------------------------------------------------------------------------
    def term_index(self, go_ids) -> np.ndarray:
        idx = np.searchsorted(self.terms, go_ids)
        idx = np.minimum(idx, len(self.terms) - 1)
        bad = self.terms[idx] != np.asarray(go_ids)
        if np.any(bad):
            raise KeyError(f"not {self.aspect} terms: {list(np.asarray(go_ids)[bad][:5])}")
        return np.atleast_1d(idx)

    def lin_matrix(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Lin similarity of every term index in ``a`` against every one in ``b``: (len(a), len(b))."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        ra = self.ancestors[a]
        rb = self.ancestors[b]
        common = np.intersect1d(ra.indices, rb.indices)
        ic_common = np.nan_to_num(self.ic[common], nan=0.0)
        da = ra[:, common].toarray()
        db = rb[:, common].toarray()
        weighted = np.where(da, ic_common[None, :], -1.0)  # (m, u)
        mica = np.where(db[None, :, :], weighted[:, None, :], -1.0).max(axis=2, initial=-1.0)  # (m, n)
        mica = np.maximum(mica, 0.0)
        denom = self.ic[a][:, None] + self.ic[b][None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            lin = np.where(denom > 0, 2.0 * mica / denom, 0.0)
        lin[a[:, None] == b[None, :]] = 1.0
        return lin

    def lin(self, go_a: str, go_b: str) -> float:
        return float(self.lin_matrix(self.term_index([go_a]), self.term_index([go_b]))[0, 0])

    # ---- protein level -------------------------------------------------------------------------
    def has_protein(self, protein_id: str) -> bool:
        return protein_id in self.protein_terms

    def protein_similarity(self, protein_a: str, protein_b: str) -> float:
        """Best-match average of Lin similarities over the two proteins' direct terms of this aspect."""
        ta = self.protein_terms[protein_a]
        tb = self.protein_terms[protein_b]
        return best_match_average(self.lin_matrix(ta, tb))

    def protein_similarities(self, pairs) -> np.ndarray:
        return np.array([self.protein_similarity(a, b) for a, b in pairs], dtype=np.float64)


def best_match_average(sim: np.ndarray) -> float:
    """``(mean of row maxima + mean of column maxima) / 2`` of a term-by-term similarity matrix."""
    if sim.size == 0:
        return float("nan")
    return float((sim.max(axis=1).mean() + sim.max(axis=0).mean()) / 2.0)
