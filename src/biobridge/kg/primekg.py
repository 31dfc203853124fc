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
template of ``biobridge.kg.default_kg`` character for character (no period is appended after the
definition). An empty ``name`` in a text table falls back to PrimeKG's ``x_name``.

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
are in ``provenance["nodes_without_features"]`` / ``provenance["triples_dropped_without_features"]``.
Duplicate triples are merged (counted). Everything is vectorised pandas/numpy: the full 8.1 M-row kg.csv is
read once, with PyArrow.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biobridge.artifacts import hash_file
from biobridge.kg.graph import KGFormatError, KnowledgeGraph

log = logging.getLogger(__name__)

DEFAULT_TYPES: tuple[str, ...] = (
    "protein",
    "biological_process",
    "molecular_function",
    "cellular_component",
    "drug",
    "disease",
)
# Head of a directed relation's forward triple = the endpoint whose type comes first here.
TYPE_PRIORITY: tuple[str, ...] = (
    "drug",
    "disease",
    "protein",
    "biological_process",
    "molecular_function",
    "cellular_component",
    "effect_phenotype",
    "anatomy",
    "pathway",
    "exposure",
)
REVERSE_PREFIX = "rev_"
KG_COLUMNS = ("display_relation", "x_index", "x_type", "x_name", "y_index", "y_type", "y_name")
FEATURE_FILES = {"protein": ("protein.csv", "sequence"), "drug": ("drug.csv", "smiles")}
TEXT_COLUMNS = ("name", "definition")
MODALITY_OF = {"protein": "protein", "drug": "molecule"}  # every other type: "text"
SPECIAL_TYPE_NAMES = {"gene/protein": "protein"}

# PrimeKG's 18 display relations and the (x_type, y_type) pairs each joins (PrimeKG names; from the
# PrimeKG paper's 30 relation types). Used by the original-checkpoint importer, which has no KG to look at.
PRIMEKG_RELATION_TYPES: dict[str, tuple[tuple[str, str], ...]] = {
    "ppi": (("gene/protein", "gene/protein"),),
    "target": (("drug", "gene/protein"),),
    "enzyme": (("drug", "gene/protein"),),
    "transporter": (("drug", "gene/protein"),),
    "carrier": (("drug", "gene/protein"),),
    "contraindication": (("drug", "disease"),),
    "indication": (("drug", "disease"),),
    "off-label use": (("drug", "disease"),),
    "synergistic interaction": (("drug", "drug"),),
    "side effect": (("drug", "effect/phenotype"),),
    "associated with": (("disease", "gene/protein"), ("effect/phenotype", "gene/protein")),
    "phenotype present": (("disease", "effect/phenotype"),),
    "phenotype absent": (("disease", "effect/phenotype"),),
    "linked to": (("exposure", "disease"),),
    "expression present": (("anatomy", "gene/protein"),),
    "expression absent": (("anatomy", "gene/protein"),),
    "interacts with": (
        ("biological_process", "gene/protein"),
        ("molecular_function", "gene/protein"),
        ("cellular_component", "gene/protein"),
        ("pathway", "gene/protein"),
        ("exposure", "gene/protein"),
        ("exposure", "biological_process"),
        ("exposure", "molecular_function"),
        ("exposure", "cellular_component"),
    ),
    "parent-child": (
        ("biological_process", "biological_process"),
        ("molecular_function", "molecular_function"),
        ("cellular_component", "cellular_component"),
        ("disease", "disease"),
        ("effect/phenotype", "effect/phenotype"),
        ("anatomy", "anatomy"),
        ("pathway", "pathway"),
        ("exposure", "exposure"),
    ),
}

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def identifier(name: str) -> str:
    """PrimeKG display name -> biobridge identifier: lower case, runs of non ``[a-z0-9]`` -> ``_``."""
    out = _NON_ALNUM.sub("_", str(name).strip().lower()).strip("_")
    if not out:
        raise KGFormatError(f"cannot make an identifier from {name!r}")
    return out


def node_type_name(primekg_type: str) -> str:
    """PrimeKG node type -> biobridge node type (``gene/protein`` -> ``protein``, else :func:`identifier`)."""
    key = str(primekg_type).strip()
    return SPECIAL_TYPE_NAMES.get(key, identifier(key))


def relation_name(display_relation: str) -> str:
    """PrimeKG ``display_relation`` -> biobridge forward relation (``off-label use`` -> ``off_label_use``)."""
    name = identifier(display_relation)
    if name.startswith(REVERSE_PREFIX):
        raise KGFormatError(
            f"relation {display_relation!r} maps to {name!r}, which looks like a reverse name"
        )
    return name


def type_priority(node_type: str) -> tuple[int, str]:
    """Sort key: position in ``TYPE_PRIORITY``, unknown types after it alphabetically."""
    try:
        return (TYPE_PRIORITY.index(node_type), "")
    except ValueError:
        return (len(TYPE_PRIORITY), node_type)


def is_symmetric_pairs(type_pairs: Iterable[tuple[str, str]]) -> bool:
    """A relation is symmetric (its own reverse) when every type pair it joins is a same-type pair."""
    pairs = list(type_pairs)
    return bool(pairs) and all(a == b for a, b in pairs)


# ---- reading ---------------------------------------------------------------------------------------
def _read_kg_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"PrimeKG kg.csv not found: {path}")
    header = pd.read_csv(path, nrows=0).columns
    missing = [c for c in KG_COLUMNS if c not in header]
    if missing:
        raise KGFormatError(
            f"{path}: missing columns {missing}; PrimeKG kg.csv has {list(KG_COLUMNS)} and more"
        )
    cat = {c: "category" for c in ("display_relation", "x_type", "y_type", "x_name", "y_name")}
    try:
        df = pd.read_csv(path, usecols=list(KG_COLUMNS), dtype=cat, engine="pyarrow")
    except (ValueError, TypeError) as exc:  # pragma: no cover - depends on the pyarrow build
        log.debug("pyarrow CSV engine failed (%s); falling back to the C engine", exc)
        df = pd.read_csv(path, usecols=list(KG_COLUMNS), dtype=cat, keep_default_na=False, na_values=[""])
    for col in ("display_relation", "x_type", "y_type"):
        bad = df[col].isna()
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy())[:5] + 2).tolist()
            raise KGFormatError(f"{path}: {int(bad.sum())} rows with an empty {col} (lines {rows} ...)")
    for col in ("x_index", "y_index"):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values < 0) | (values != np.floor(values))
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy())[:5] + 2).tolist()
            raise KGFormatError(
                f"{path}: {int(bad.sum())} rows whose {col} is not a non-negative integer (lines {rows} ...)"
            )
        df[col] = values.astype(np.int64)
    return df


def _read_feature_table(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(
            f"feature table not found: {path} (expected columns node_index, {', '.join(columns)})"
        )
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in ("node_index", *columns) if c not in df.columns]
    if missing:
        raise KGFormatError(f"{path}: missing columns {missing} (has {list(df.columns)})")
    idx = pd.to_numeric(df["node_index"].str.strip(), errors="coerce")
    bad = idx.isna() | (idx < 0) | (idx != np.floor(idx))
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy())[:5] + 2).tolist()
        raise KGFormatError(f"{path}: {int(bad.sum())} rows with a bad node_index (lines {rows} ...)")
    out = pd.DataFrame({"node_index": idx.astype(np.int64)})
    for c in columns:
        out[c] = df[c].str.strip()
    dup = out["node_index"].duplicated(keep=False)
    if dup.any():
        raise KGFormatError(
            f"{path}: node_index repeated on {int(dup.sum())} rows, e.g. "
            f"{sorted(set(out.loc[dup, 'node_index'].head(5).tolist()))}; one feature per node"
        )
    return out


def _text_feature(name: pd.Series, definition: pd.Series) -> pd.Series:
    """The default KG's text template (see ``biobridge.kg.default_kg``)."""
    return ("Name: " + name + ".").where(definition == "", "Name: " + name + ". Definition: " + definition)


# ---- main ------------------------------------------------------------------------------------------
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
    df = _read_kg_csv(kg_csv)
    n_rows = len(df)

    # ---- types -----------------------------------------------------------------------------------
    type_cats = sorted(set(df["x_type"].cat.categories) | set(df["y_type"].cat.categories))
    type_map = {t: node_type_name(t) for t in type_cats}
    clash = pd.Series(type_map).reset_index().groupby(0)["index"].apply(list)
    clash = clash[clash.map(len) > 1]
    if len(clash):
        raise KGFormatError(f"PrimeKG node types {clash.to_dict()} map to the same biobridge name")
    for side in ("x", "y"):
        df[f"{side}_type"] = df[f"{side}_type"].cat.rename_categories(
            [type_map[t] for t in df[f"{side}_type"].cat.categories]
        )
    present_types = sorted(set(type_map.values()))
    unknown = [t for t in keep_types if t not in present_types]
    if unknown:
        log.warning("node types %s requested but absent from %s", unknown, kg_csv)

    # ---- relation names ---------------------------------------------------------------------------
    rel_cats = list(df["display_relation"].cat.categories)
    rel_map = {r: relation_name(r) for r in rel_cats}
    groups: dict[str, list[str]] = {}
    for display, name in rel_map.items():
        groups.setdefault(name, []).append(display)
    clash_rel = {k: v for k, v in groups.items() if len(v) > 1}
    if clash_rel:
        raise KGFormatError(f"display relations map to the same identifier: {clash_rel}")
    df["relation"] = df["display_relation"].cat.rename_categories([rel_map[r] for r in rel_cats])
    df = df.drop(columns="display_relation")

    # ---- drop unkept types ----------------------------------------------------------------------
    x_kept = df["x_type"].isin(keep_types).to_numpy()
    y_kept = df["y_type"].isin(keep_types).to_numpy()
    kept = x_kept & y_kept
    dropped_types: dict[str, dict[str, int]] = {}
    if (~kept).any():
        gone = df.loc[~kept]
        gone_nodes = pd.concat(
            [
                gone.loc[~x_kept[~kept], ["x_index", "x_type"]].set_axis(["i", "t"], axis=1),
                gone.loc[~y_kept[~kept], ["y_index", "y_type"]].set_axis(["i", "t"], axis=1),
            ]
        ).drop_duplicates()
        node_counts = gone_nodes["t"].astype(str).value_counts()
        for t, c in sorted(node_counts.items()):
            dropped_types[t] = {"nodes": int(c)}
    rows_dropped_by_type = {}
    if (~kept).any():
        g = df.loc[~kept].groupby(["relation", "x_type", "y_type"], observed=True).size()
        for (r, xt, yt), c in g.items():
            if xt <= yt:  # both orientations of an edge count once per unordered pair
                key = f"{r} ({xt} - {yt})"
            else:
                key = f"{r} ({yt} - {xt})"
            rows_dropped_by_type[key] = rows_dropped_by_type.get(key, 0) + int(c)
    df = df.loc[kept]
    for col in ("x_type", "y_type", "relation"):
        df[col] = df[col].cat.remove_unused_categories()

    available = sorted(df["relation"].cat.categories)
    if relations is not None:
        wanted = sorted(set(relations))
        missing_rel = [r for r in wanted if r not in available]
        if missing_rel:
            raise ValueError(
                f"relations {missing_rel} not found between node types {keep_types}; available: {available}"
            )
        rows_before = len(df)
        df = df.loc[df["relation"].isin(wanted).to_numpy()]
        df["relation"] = df["relation"].cat.remove_unused_categories()
        rows_dropped_by_relation_filter = rows_before - len(df)
    else:
        rows_dropped_by_relation_filter = 0

    # ---- nodes ------------------------------------------------------------------------------------
    ends = pd.concat(
        [
            df[["x_index", "x_type", "x_name"]].set_axis(["pk", "node_type", "name"], axis=1),
            df[["y_index", "y_type", "y_name"]].set_axis(["pk", "node_type", "name"], axis=1),
        ],
        ignore_index=True,
    )
    ends["node_type"] = ends["node_type"].astype(str)
    ends["name"] = ends["name"].astype(str).where(ends["name"].notna(), "")
    ends = ends.drop_duplicates(["pk", "node_type", "name"])
    multi_type = ends.drop_duplicates(["pk", "node_type"])["pk"].duplicated(keep=False)
    if multi_type.any():
        ex = ends.drop_duplicates(["pk", "node_type"]).loc[multi_type].head(6).values.tolist()
        raise KGFormatError(f"{kg_csv}: node indices with more than one type, e.g. {ex}")
    names_differ = int(ends["pk"].duplicated().sum())
    nodes = ends.drop_duplicates("pk")

    # ---- features ---------------------------------------------------------------------------------
    feature_parts = []
    feature_rows_unused: dict[str, int] = {}
    nodes_without: dict[str, int] = {}
    empty_feature: dict[str, int] = {}
    files: dict[str, Path] = {}
    for t in sorted(nodes["node_type"].unique()):
        typed = nodes[nodes["node_type"] == t]
        if t in FEATURE_FILES:
            fname, col = FEATURE_FILES[t]
            path = features_dir / fname
            table = _read_feature_table(path, (col,))
            table = table.rename(columns={col: "feature"})
            empty = table["feature"] == ""
            empty_feature[t] = int(empty.sum())
            table = table[~empty]
        else:
            path = features_dir / f"{t}.csv"
            table = _read_feature_table(path, TEXT_COLUMNS)
        files[t] = path
        merged = typed.merge(table, left_on="pk", right_on="node_index", how="left", validate="one_to_one")
        if t not in FEATURE_FILES:
            has_row = merged["node_index"].notna()
            text_name = merged["name_y"].fillna("")
            text_name = text_name.where(text_name != "", merged["name_x"])
            feature = _text_feature(text_name, merged["definition"].fillna(""))
            merged = merged.assign(feature=feature.where(has_row, None))
            merged = merged.rename(columns={"name_x": "name"})
        has = merged["feature"].notna().to_numpy()
        nodes_without[t] = int((~has).sum())
        feature_rows_unused[t] = int((~table["node_index"].isin(typed["pk"])).sum())
        feature_parts.append(merged.loc[has, ["pk", "node_type", "name", "feature"]])
    nodes_with = (
        pd.concat(feature_parts, ignore_index=True) if feature_parts else nodes.assign(feature="")[:0]
    )
    nodes_with = nodes_with.sort_values(["node_type", "pk"], kind="mergesort").reset_index(drop=True)

    max_pk = int(max(df["x_index"].max(), df["y_index"].max())) if len(df) else 0
    new_index = np.full(max_pk + 1, -1, dtype=np.int64)
    new_index[nodes_with["pk"].to_numpy(np.int64)] = np.arange(len(nodes_with), dtype=np.int64)

    # ---- triples ----------------------------------------------------------------------------------
    x = new_index[df["x_index"].to_numpy(np.int64)]
    y = new_index[df["y_index"].to_numpy(np.int64)]
    rel_codes = df["relation"].cat.codes.to_numpy()
    rel_names = list(df["relation"].cat.categories)
    both = (x >= 0) & (y >= 0)
    lost = pd.Series(np.asarray(rel_names, dtype=object)[rel_codes[~both]]).value_counts()
    rows_dropped_without_features = {str(k): int(v) for k, v in sorted(lost.items())}
    x, y, rel_codes = x[both], y[both], rel_codes[both]
    xt = df["x_type"].astype(str).to_numpy()[both]
    yt = df["y_type"].astype(str).to_numpy()[both]

    prio_types = sorted(set(xt) | set(yt), key=type_priority)
    rank = {t: i for i, t in enumerate(prio_types)}
    x_rank = pd.Series(xt).map(rank).to_numpy(np.int64)
    y_rank = pd.Series(yt).map(rank).to_numpy(np.int64)
    same = x_rank == y_rank
    cross_per_rel = np.bincount(rel_codes, weights=~same, minlength=len(rel_names)) > 0
    rows_per_rel = np.bincount(rel_codes, minlength=len(rel_names)) > 0
    symmetric = {r for i, r in enumerate(rel_names) if rows_per_rel[i] and not cross_per_rel[i]}
    directed = {r for i, r in enumerate(rel_names) if cross_per_rel[i]}

    swap = x_rank > y_rank
    head = np.where(swap, y, x)
    tail = np.where(swap, x, y)
    is_sym_row = ~cross_per_rel[rel_codes]
    names_arr = np.asarray(rel_names, dtype=object)
    rev_arr = np.asarray([r if r in symmetric else REVERSE_PREFIX + r for r in rel_names], dtype=object)
    forward = pd.DataFrame({"head": head, "relation": names_arr[rel_codes], "tail": tail})
    n_forward_rows = len(forward)
    forward = forward.drop_duplicates()
    # symmetric: every orientation as it appears is already "forward"; for directed relations, the two
    # PrimeKG rows of one cross-type edge collapse into one forward triple here.
    reverse = pd.DataFrame(
        {
            "head": forward["tail"].to_numpy(),
            "relation": rev_arr[pd.Categorical(forward["relation"], categories=rel_names).codes],
            "tail": forward["head"].to_numpy(),
        }
    )
    triples = pd.concat([forward, reverse], ignore_index=True).drop_duplicates()
    triples = triples.sort_values(["relation", "head", "tail"], kind="mergesort").reset_index(drop=True)
    triples["head"] = triples["head"].astype(np.int64)
    triples["tail"] = triples["tail"].astype(np.int64)

    # how many symmetric triples were only present in one orientation (their mirror was added)
    sym_fwd = forward[forward["relation"].isin(symmetric).to_numpy()]
    reverse_added = {
        r: int((triples["relation"] == r).sum() - (sym_fwd["relation"] == r).sum()) for r in sorted(symmetric)
    }
    directed_rows = int((~is_sym_row).sum())
    directed_edges = int(forward["relation"].isin(directed).sum())

    reverse_relations: dict[str, str] = {}
    for r in sorted(symmetric):
        reverse_relations[r] = r
    for r in sorted(directed):
        reverse_relations[r] = REVERSE_PREFIX + r
        reverse_relations[REVERSE_PREFIX + r] = r

    out_nodes = pd.DataFrame(
        {
            "node_index": np.arange(len(nodes_with), dtype=np.int64),
            "node_type": nodes_with["node_type"].astype(str).to_numpy(),
            "node_id": nodes_with["pk"].astype(str).to_numpy(),
            "name": nodes_with["name"].astype(str).to_numpy(),
            "feature": nodes_with["feature"].astype(str).to_numpy(),
        }
    )
    modalities = {t: MODALITY_OF.get(t, "text") for t in sorted(out_nodes["node_type"].unique())}
    provenance: dict[str, Any] = {
        "source": "PrimeKG",
        "builder": "biobridge.kg.primekg.load_primekg",
        "kg_csv": str(kg_csv),
        "kg_csv_sha256": hash_file(kg_csv),
        "feature_files_sha256": {t: hash_file(p) for t, p in sorted(files.items())},
        "rows_read": int(n_rows),
        "node_types_kept": keep_types,
        "node_type_map": {k: v for k, v in sorted(type_map.items())},
        "relation_map": {k: v for k, v in sorted(rel_map.items())},
        "relation_filter": sorted(set(relations)) if relations is not None else None,
        "rows_dropped_by_relation_filter": int(rows_dropped_by_relation_filter),
        "dropped_node_types": dropped_types,
        "rows_dropped_with_unkept_types": dict(sorted(rows_dropped_by_type.items())),
        "nodes_without_features": {k: v for k, v in sorted(nodes_without.items()) if v},
        "empty_features": {k: v for k, v in sorted(empty_feature.items()) if v},
        "rows_dropped_without_features": rows_dropped_without_features,
        "feature_rows_unused": {k: v for k, v in sorted(feature_rows_unused.items()) if v},
        "nodes_with_several_names": names_differ,
        "symmetric_relations": sorted(symmetric),
        "directed_relations": sorted(directed),
        "type_priority": prio_types,
        "direction_rule": "directed relation: head = endpoint whose type comes first in type_priority, "
        "reverse rev_<r>; symmetric relation (all rows same-type): its own reverse, both orientations kept",
        "merged_duplicates": {
            "rows -> forward triples (two PrimeKG rows per directed edge, repeated rows)": int(
                n_forward_rows - len(forward)
            ),
        },
        "directed_rows": directed_rows,
        "directed_edges": directed_edges,
        "reverse_triples_added": {k: v for k, v in reverse_added.items() if v},
        "text_template": "Name: {name}. Definition: {definition}  |  Name: {name}.  (empty definition)",
    }
    kg = KnowledgeGraph(
        nodes=out_nodes,
        triples=triples[["head", "relation", "tail"]],
        modalities=modalities,
        reverse_relations=reverse_relations,
        provenance=provenance,
    )
    log.info(
        "PrimeKG: %d rows -> %d nodes, %d triples, %d relations (%d without features dropped) in %.1f s",
        n_rows,
        kg.num_nodes,
        len(kg.triples),
        len(reverse_relations),
        sum(nodes_without.values()),
        time.perf_counter() - t0,
    )
    return kg
