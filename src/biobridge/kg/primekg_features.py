"""PrimeKG's feature side tables: one CSV per kept node type, joined to the nodes by PrimeKG ``node_index``.

``protein.csv`` (``node_index, sequence``), ``drug.csv`` (``node_index, smiles``); every other type
``<type>.csv`` (``node_index, name, definition``) becomes node text through :func:`biobridge.kg.text.node_text`
(an empty ``name`` falls back to PrimeKG's name). Nodes without a feature row, or with an empty sequence /
SMILES, are left out and counted. Phase of :func:`biobridge.kg.primekg.load_primekg` after the node list of
``biobridge.kg.primekg_csv``; :func:`renumber` then gives the kept nodes their ``node_index``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biobridge.artifacts import read_csv
from biobridge.kg.graph import KGFormatError
from biobridge.kg.text import node_text

FEATURE_FILES = {"protein": ("protein.csv", "sequence"), "drug": ("drug.csv", "smiles")}
TEXT_COLUMNS = ("name", "definition")


@dataclass(frozen=True)
class NodeFeatures:
    """The nodes that have a feature (``pk, node_type, name, feature``, sorted by type then PrimeKG index)
    and, per node type, the feature file read and what could not be used."""

    nodes: pd.DataFrame
    files: dict[str, Path]
    nodes_without: dict[str, int]
    empty_features: dict[str, int]  # sequence / SMILES tables only
    feature_rows_unused: dict[str, int]  # rows whose node_index is no node of that type


def read_feature_table(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """``node_index`` (int64) and ``columns`` (stripped strings) of one feature CSV; one row per node."""
    if not path.exists():
        raise FileNotFoundError(
            f"feature table not found: {path} (expected columns node_index, {', '.join(columns)})"
        )
    df = read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in ("node_index", *columns) if c not in df.columns]
    if missing:
        raise KGFormatError(f"{path}: missing columns {missing} (has {list(df.columns)})")
    idx = pd.to_numeric(df["node_index"].str.strip(), errors="coerce")
    bad = idx.isna() | (idx < 0) | (idx >= 2**63) | (idx != np.floor(idx))
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


def _feature_table(node_type: str, features_dir: Path) -> tuple[pd.DataFrame, Path, int | None]:
    """The feature table of ``node_type``, its path, and (sequence / SMILES tables) how many empty rows
    were removed from it."""
    if node_type in FEATURE_FILES:
        fname, col = FEATURE_FILES[node_type]
        path = features_dir / fname
        table = read_feature_table(path, (col,)).rename(columns={col: "feature"})
        empty = table["feature"] == ""
        return table[~empty], path, int(empty.sum())
    path = features_dir / f"{node_type}.csv"
    return read_feature_table(path, TEXT_COLUMNS), path, None


def _text_features(merged: pd.DataFrame) -> pd.DataFrame:
    """Node text of a nodes-joined-to-text-table frame (``name_x``: PrimeKG name, ``name_y``: the table's);
    ``feature`` is None for nodes without a row."""
    has_row = merged["node_index"].notna()
    text_name = merged["name_y"].fillna("")
    text_name = text_name.where(text_name != "", merged["name_x"])
    feature = node_text(text_name, merged["definition"].fillna(""))
    merged = merged.assign(feature=feature.where(has_row, None))
    return merged.rename(columns={"name_x": "name"})


def attach_features(nodes: pd.DataFrame, features_dir: Path) -> NodeFeatures:
    """Join every node type of ``nodes`` (``pk, node_type, name``) to its feature table."""
    parts = []
    files: dict[str, Path] = {}
    nodes_without: dict[str, int] = {}
    empty_features: dict[str, int] = {}
    rows_unused: dict[str, int] = {}
    for t in sorted(nodes["node_type"].unique()):
        typed = nodes[nodes["node_type"] == t]
        table, files[t], n_empty = _feature_table(t, features_dir)
        if n_empty is not None:
            empty_features[t] = n_empty
        merged = typed.merge(table, left_on="pk", right_on="node_index", how="left", validate="one_to_one")
        if t not in FEATURE_FILES:
            merged = _text_features(merged)
        has = merged["feature"].notna().to_numpy()
        nodes_without[t] = int((~has).sum())
        rows_unused[t] = int((~table["node_index"].isin(typed["pk"])).sum())
        parts.append(merged.loc[has, ["pk", "node_type", "name", "feature"]])
    with_features = pd.concat(parts, ignore_index=True) if parts else nodes.assign(feature="")[:0]
    with_features = with_features.sort_values(["node_type", "pk"], kind="mergesort").reset_index(drop=True)
    return NodeFeatures(with_features, files, nodes_without, empty_features, rows_unused)


def renumber(with_features: pd.DataFrame) -> Callable[[np.ndarray], np.ndarray]:
    """PrimeKG indices -> new ``node_index`` (row position in ``with_features``), -1 for nodes left out (a
    hash lookup: PrimeKG indices may be sparse or large)."""
    positions = pd.Index(with_features["pk"].to_numpy(np.int64))
    return lambda pks: positions.get_indexer(pks).astype(np.int64, copy=False)
