"""Load PrimeKG (Chandak et al., Sci Data 2023) plus per-type feature tables into a ``KnowledgeGraph``.

Inputs
------
``kg.csv`` with the columns ``relation, display_relation, x_index, x_id, x_type, x_name, x_source, y_index,
y_id, y_type, y_name, y_source`` (only ``display_relation``, ``x_index``, ``x_type``, ``x_name``, ``y_index``,
``y_type`` and ``y_name`` are read). PrimeKG stores every undirected edge twice, ``x -> y`` and ``y -> x``.

A features directory with one CSV per kept node type, keyed by PrimeKG's ``node_index`` (= ``x_index`` /
``y_index``): ``protein.csv`` (``node_index, sequence``), ``drug.csv`` (``node_index, smiles``) and, for every
other type, ``<type>.csv`` (``node_index, name, definition``) read as text
``"Name: {name}. Definition: {definition}"``, or ``"Name: {name}."`` when the definition is empty -- the
template of ``biobridge.kg.default_kg`` character for character (both write it with
:func:`biobridge.kg.text.node_text`; no period is appended after the definition). An empty ``name`` in a
text table falls back to PrimeKG's ``x_name``.

Names
-----
- Node types: ``gene/protein`` -> ``protein``; every other PrimeKG type through :func:`identifier`
  (lower case, each run of characters other than ``a-z0-9`` -> one ``_``): ``effect/phenotype`` ->
  ``effect_phenotype``, ``biological_process`` unchanged. Kept by default: the six BioBridge types
  ``DEFAULT_TYPES``. Rows touching any other type are dropped and counted.
- Relations: ``display_relation`` through the same :func:`identifier` rule: ``interacts with`` ->
  ``interacts_with``, ``parent-child`` -> ``parent_child``, ``off-label use`` -> ``off_label_use``,
  ``synergistic interaction`` -> ``synergistic_interaction``, ``ppi`` -> ``ppi``. The importer of the original
  checkpoint (``biobridge.bridge.import_original``) uses the same function, so names agree.

Direction and reverse relations (biobridge needs every triple's reverse, with an explicit reverse name)
-------------------------------------------------------------------------------------------------------
- **Directed relations** -- a relation with at least one kept row joining two *different* node types. For
  each row, the endpoint whose type comes first in ``TYPE_PRIORITY`` (drug, disease, protein,
  biological_process, molecular_function, cellular_component, then the other PrimeKG types, then unknown
  types alphabetically) is the head of the forward triple ``(head, r, tail)``; the reverse triple is
  ``(tail, rev_r, head)``. This one order reproduces every direction of the default KG: ``target`` /
  ``enzyme`` / ``carrier`` / ``transporter`` drug -> protein, ``indication`` / ``contraindication`` /
  ``off_label_use`` drug -> disease, ``associated_with`` disease -> protein, ``interacts_with`` protein -> GO
  term. Both PrimeKG rows of an edge give the same forward triple, so each edge appears once under ``r``
  and once under ``rev_r``. (Same-type rows of a directed relation, which the released PrimeKG does not
  have, keep their orientation as ``r`` and get ``rev_r`` mirrors.)
- **Symmetric relations** -- every kept row joins two nodes of the *same* type (``ppi``,
  ``synergistic_interaction``, ``parent_child``). PrimeKG gives both orientations the same name and does
  not say which end is the parent, so the relation is its own reverse (``reverse_relations[r] == r``):
  both ``(x, r, y)`` and ``(y, r, x)`` are kept, and a missing mirror is added (counted in provenance
  ``reverse_triples_added``). No ``rev_`` name is created, which avoids doubling the 2.7 M synergy rows.
  Note the default KG's ``parent_child`` is directed (child -> parent, with ``rev_parent_child``); PrimeKG's
  is not.

Nodes
-----
Keyed by PrimeKG ``node_index`` (``node_id = str(node_index)``, ``name`` = PrimeKG name), never by name.
Nodes are sorted by (type, PrimeKG index) and get new row positions as ``node_index``. A node without a row
(or with an empty sequence / SMILES) in its type's feature table is left out with all its edges; both counts
are in ``provenance["nodes_without_features"]`` / ``provenance["rows_dropped_without_features"]`` (kg.csv
rows per relation). Duplicate triples are merged (counted). Everything is vectorised pandas/numpy: the full
8.1 M-row kg.csv is read once, with PyArrow.

Modules
-------
:func:`load_primekg` (here) runs the phases in order: ``biobridge.kg.primekg_csv`` reads kg.csv, renames
types and relations, keeps the rows of kept types / relations and lists their nodes;
``biobridge.kg.primekg_features`` joins the feature tables and renumbers the nodes; the orientation rule
above is applied here, and ``biobridge.kg.triples`` adds the reverse triples. The naming rules are in
``biobridge.kg.primekg_names``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biobridge.artifacts import hash_file
from biobridge.kg.graph import KGFormatError, KnowledgeGraph
from biobridge.kg.primekg_csv import KeptRows, end_nodes, read_kept_rows
from biobridge.kg.primekg_features import NodeFeatures, attach_features, renumber
from biobridge.kg.primekg_names import (
    DEFAULT_TYPES,
    type_priority,
)
from biobridge.kg.text import TEXT_TEMPLATE, TEXT_TEMPLATE_NO_DEFINITION
from biobridge.kg.triples import reverse_relation_map, with_reverse_triples

__all__ = ["DEFAULT_TYPES", "MODALITY_OF", "load_primekg"]

log = logging.getLogger(__name__)

MODALITY_OF = {"protein": "protein", "drug": "molecule"}  # every other type: "text"


@dataclass(frozen=True)
class _Oriented:
    """Forward triples of the kept rows whose ends both have features, and how relations were classed."""

    forward: pd.DataFrame  # head, relation, tail; duplicates merged
    forward_rows: int  # before merging
    symmetric: set[str]
    directed: set[str]
    type_priority: list[str]  # the node types present, in priority order
    directed_rows: int
    rows_dropped_without_features: dict[str, int]


def _orient(rows: pd.DataFrame, new_index: Callable[[np.ndarray], np.ndarray]) -> _Oriented:
    """Apply the direction rule of the module docstring to every row whose both ends are kept nodes."""
    x = new_index(rows["x_index"].to_numpy(np.int64))
    y = new_index(rows["y_index"].to_numpy(np.int64))
    rel_codes = rows["relation"].cat.codes.to_numpy()
    rel_names = list(rows["relation"].cat.categories)
    both = (x >= 0) & (y >= 0)
    lost = pd.Series(np.asarray(rel_names, dtype=object)[rel_codes[~both]]).value_counts()
    x, y, rel_codes = x[both], y[both], rel_codes[both]
    xt = rows["x_type"].astype(str).to_numpy()[both]
    yt = rows["y_type"].astype(str).to_numpy()[both]

    prio_types = sorted(set(xt) | set(yt), key=type_priority)
    rank = {t: i for i, t in enumerate(prio_types)}
    x_rank = pd.Series(xt).map(rank).to_numpy(np.int64)
    y_rank = pd.Series(yt).map(rank).to_numpy(np.int64)
    # a relation is directed when at least one of its rows joins two different types
    cross_per_rel = np.bincount(rel_codes, weights=x_rank != y_rank, minlength=len(rel_names)) > 0
    rows_per_rel = np.bincount(rel_codes, minlength=len(rel_names)) > 0
    swap = x_rank > y_rank
    forward = pd.DataFrame(
        {
            "head": np.where(swap, y, x),
            "relation": np.asarray(rel_names, dtype=object)[rel_codes],
            "tail": np.where(swap, x, y),
        }
    )
    # symmetric: every orientation as it appears is already "forward"; for directed relations, the two
    # PrimeKG rows of one cross-type edge collapse into one forward triple here.
    return _Oriented(
        forward=forward.drop_duplicates(),
        forward_rows=len(forward),
        symmetric={r for i, r in enumerate(rel_names) if rows_per_rel[i] and not cross_per_rel[i]},
        directed={r for i, r in enumerate(rel_names) if cross_per_rel[i]},
        type_priority=prio_types,
        directed_rows=int(cross_per_rel[rel_codes].sum()),
        rows_dropped_without_features={str(k): int(v) for k, v in sorted(lost.items())},
    )


def _mirrors_added(triples: pd.DataFrame, oriented: _Oriented) -> dict[str, int]:
    """Per symmetric relation, the triples only present in one orientation (their mirror was added)."""
    forward = oriented.forward
    sym_fwd = forward[forward["relation"].isin(oriented.symmetric).to_numpy()]
    added = {
        r: int((triples["relation"] == r).sum() - (sym_fwd["relation"] == r).sum())
        for r in sorted(oriented.symmetric)
    }
    return {k: v for k, v in added.items() if v}


def _node_table(with_features: pd.DataFrame) -> pd.DataFrame:
    """The KG's node table: ``node_id`` is the PrimeKG index as a string."""
    return pd.DataFrame(
        {
            "node_index": np.arange(len(with_features), dtype=np.int64),
            "node_type": with_features["node_type"].astype(str).to_numpy(),
            "node_id": with_features["pk"].astype(str).to_numpy(),
            "name": with_features["name"].astype(str).to_numpy(),
            "feature": with_features["feature"].astype(str).to_numpy(),
        }
    )


def _provenance(
    kg_csv: Path,
    keep_types: list[str],
    relations: list[str] | None,
    kept: KeptRows,
    names_differ: int,
    features: NodeFeatures,
    oriented: _Oriented,
    mirrors_added: dict[str, int],
) -> dict[str, Any]:
    def nonzero(counts: dict[str, int]) -> dict[str, int]:
        return {k: v for k, v in sorted(counts.items()) if v}

    return {
        "source": "PrimeKG",
        "builder": "biobridge.kg.primekg.load_primekg",
        "kg_csv": str(kg_csv),
        "kg_csv_sha256": hash_file(kg_csv),
        "feature_files_sha256": {t: hash_file(p) for t, p in sorted(features.files.items())},
        "rows_read": int(kept.rows_read),
        "node_types_kept": keep_types,
        "node_type_map": dict(sorted(kept.type_map.items())),
        "relation_map": dict(sorted(kept.relation_map.items())),
        "relation_filter": sorted(set(relations)) if relations is not None else None,
        "rows_dropped_by_relation_filter": int(kept.rows_dropped_by_relation_filter),
        "dropped_node_types": kept.dropped_node_types,
        "rows_dropped_with_unkept_types": dict(sorted(kept.rows_dropped_with_unkept_types.items())),
        "nodes_without_features": nonzero(features.nodes_without),
        "empty_features": nonzero(features.empty_features),
        "rows_dropped_without_features": oriented.rows_dropped_without_features,
        "feature_rows_unused": nonzero(features.feature_rows_unused),
        "nodes_with_several_names": names_differ,
        "symmetric_relations": sorted(oriented.symmetric),
        "directed_relations": sorted(oriented.directed),
        "type_priority": oriented.type_priority,
        "direction_rule": "directed relation: head = endpoint whose type comes first in type_priority, "
        "reverse rev_<r>; symmetric relation (all rows same-type): its own reverse, both orientations kept",
        "merged_duplicates": {
            "rows -> forward triples (two PrimeKG rows per directed edge, repeated rows)": int(
                oriented.forward_rows - len(oriented.forward)
            ),
        },
        "directed_rows": oriented.directed_rows,
        "directed_edges": int(oriented.forward["relation"].isin(oriented.directed).sum()),
        "reverse_triples_added": mirrors_added,
        "text_template": f"{TEXT_TEMPLATE}  |  {TEXT_TEMPLATE_NO_DEFINITION}  (empty definition)",
    }


def load_primekg(
    kg_csv: str | Path,
    features_dir: str | Path,
    node_types: Iterable[str] = DEFAULT_TYPES,
    relations: Iterable[str] | None = None,
) -> KnowledgeGraph:
    """Load PrimeKG's ``kg.csv`` and a features directory (see the module docstring for every rule).

    ``node_types``: biobridge type names to keep (default: the six BioBridge types). ``relations``: forward
    relation names to keep (e.g. ``["interacts_with", "target"]``; default: every relation between kept
    types).
    """
    t0 = time.perf_counter()
    kg_csv, features_dir = Path(kg_csv), Path(features_dir)
    keep_types = sorted(set(node_types))
    if not keep_types:
        raise ValueError("node_types is empty")
    relations = list(relations) if relations is not None else None

    kept = read_kept_rows(kg_csv, keep_types, relations)
    nodes, names_differ = end_nodes(kept.rows, kg_csv)
    features = attach_features(nodes, features_dir)
    oriented = _orient(kept.rows, renumber(features.nodes))
    reverse_relations = reverse_relation_map(
        sorted(oriented.directed), sorted(oriented.symmetric), interleave=True
    )
    triples = with_reverse_triples(oriented.forward, reverse_relations)

    out_nodes = _node_table(features.nodes)
    if out_nodes.empty or triples.empty:
        raise KGFormatError(
            f"{kg_csv}: no {'nodes' if out_nodes.empty else 'edges'} left of the node types {keep_types} "
            f"with a feature in {features_dir} (see the loader's rules in biobridge.kg.primekg)"
        )
    kg = KnowledgeGraph(
        nodes=out_nodes,
        triples=triples,
        modalities={t: MODALITY_OF.get(t, "text") for t in sorted(out_nodes["node_type"].unique())},
        reverse_relations=reverse_relations,
        provenance=_provenance(
            kg_csv,
            keep_types,
            relations,
            kept,
            names_differ,
            features,
            oriented,
            _mirrors_added(triples, oriented),
        ),
    )
    log.info(
        "PrimeKG: %d rows -> %d nodes, %d triples, %d relations (%d without features dropped) in %.1f s",
        kept.rows_read,
        kg.num_nodes,
        len(kg.triples),
        len(reverse_relations),
        sum(features.nodes_without.values()),
        time.perf_counter() - t0,
    )
    return kg
