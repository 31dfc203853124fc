"""PrimeKG's kg.csv: read it, rename types and relations, keep the rows of the chosen types, list the nodes.

Phases of :func:`biobridge.kg.primekg.load_primekg` (whose docstring states the rules) up to the node list;
features are attached by ``biobridge.kg.primekg_features``. Rows stay one per kg.csv row (both PrimeKG
orientations of an edge), with the columns ``x_index, x_type, x_name, y_index, y_type, y_name, relation``
(types and relation categorical, in biobridge names).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biobridge.artifacts import check_utf8, read_csv
from biobridge.kg.graph import KGFormatError
from biobridge.kg.primekg_names import node_type_name, relation_name

log = logging.getLogger("biobridge.kg.primekg")

KG_COLUMNS = ("display_relation", "x_index", "x_type", "x_name", "y_index", "y_type", "y_name")


@dataclass(frozen=True)
class KeptRows:
    """The kg.csv rows kept (both ends of a kept type, relation kept) and what was renamed or dropped."""

    rows: pd.DataFrame
    rows_read: int
    type_map: dict[str, str]  # PrimeKG node type -> biobridge node type
    relation_map: dict[str, str]  # display_relation -> biobridge relation
    dropped_node_types: dict[str, dict[str, int]]
    rows_dropped_with_unkept_types: dict[str, int]
    rows_dropped_by_relation_filter: int


def read_kg_csv(path: Path) -> pd.DataFrame:
    """The ``KG_COLUMNS`` of kg.csv (types, relations and names categorical, indices int64), checked."""
    if not path.exists():
        raise FileNotFoundError(f"PrimeKG kg.csv not found: {path}")
    check_utf8(path)  # before pyarrow, which would read bytes that are not UTF-8 into the tables
    header = read_csv(path, nrows=0).columns
    missing = [c for c in KG_COLUMNS if c not in header]
    if missing:
        raise KGFormatError(
            f"{path}: missing columns {missing}; PrimeKG kg.csv has {list(KG_COLUMNS)} and more"
        )
    cat = {c: "category" for c in ("display_relation", "x_type", "y_type", "x_name", "y_name")}
    try:
        df = pd.read_csv(path, usecols=list(KG_COLUMNS), dtype=cat, engine="pyarrow")
    except Exception as exc:  # a row pyarrow cannot parse, or a pyarrow build without this reader
        log.debug("pyarrow CSV engine failed (%s); falling back to the C engine", exc)
        df = read_csv(path, usecols=list(KG_COLUMNS), dtype=cat, keep_default_na=False, na_values=[""])
    if df.empty:
        raise KGFormatError(f"{path}: no rows (a header and no edges)")
    for col in ("display_relation", "x_type", "y_type"):
        bad = df[col].isna()
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy())[:5] + 2).tolist()
            raise KGFormatError(f"{path}: {int(bad.sum())} rows with an empty {col} (lines {rows} ...)")
    for col in ("x_index", "y_index"):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values < 0) | (values >= 2**63) | (values != np.floor(values))
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy())[:5] + 2).tolist()
            raise KGFormatError(
                f"{path}: {int(bad.sum())} rows whose {col} is not a non-negative integer (lines {rows} ...)"
            )
        df[col] = values.astype(np.int64)
    return df


def _rename_node_types(df: pd.DataFrame, keep_types: list[str], kg_csv: Path) -> dict[str, str]:
    """Rename ``x_type`` / ``y_type`` to biobridge names in place; return PrimeKG type -> biobridge type."""
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
    return type_map


def _rename_relations(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """``display_relation`` -> a ``relation`` column of biobridge names; and display -> biobridge name."""
    rel_cats = list(df["display_relation"].cat.categories)
    rel_map = {r: relation_name(r) for r in rel_cats}
    groups: dict[str, list[str]] = {}
    for display, name in rel_map.items():
        groups.setdefault(name, []).append(display)
    clash_rel = {k: v for k, v in groups.items() if len(v) > 1}
    if clash_rel:
        raise KGFormatError(f"display relations map to the same identifier: {clash_rel}")
    df["relation"] = df["display_relation"].cat.rename_categories([rel_map[r] for r in rel_cats])
    return df.drop(columns="display_relation"), rel_map


def _count_unkept(df: pd.DataFrame, x_kept: np.ndarray, y_kept: np.ndarray) -> tuple[dict, dict[str, int]]:
    """Nodes per unkept type, and rows per ``relation (type - type)`` (unordered pair) that touch one."""
    kept = x_kept & y_kept
    dropped_types: dict[str, dict[str, int]] = {}
    rows_dropped_by_type: dict[str, int] = {}
    if kept.all():
        return dropped_types, rows_dropped_by_type
    gone = df.loc[~kept]
    gone_nodes = pd.concat(
        [
            gone.loc[~x_kept[~kept], ["x_index", "x_type"]].set_axis(["i", "t"], axis=1),
            gone.loc[~y_kept[~kept], ["y_index", "y_type"]].set_axis(["i", "t"], axis=1),
        ]
    ).drop_duplicates()
    for t, c in sorted(gone_nodes["t"].astype(str).value_counts().items()):
        dropped_types[t] = {"nodes": int(c)}
    g = gone.groupby(["relation", "x_type", "y_type"], observed=True).size()
    for (r, xt, yt), c in g.items():
        key = f"{r} ({xt} - {yt})" if xt <= yt else f"{r} ({yt} - {xt})"  # both orientations count once
        rows_dropped_by_type[key] = rows_dropped_by_type.get(key, 0) + int(c)
    return dropped_types, rows_dropped_by_type


def _drop_unkept_types(df: pd.DataFrame, keep_types: list[str]) -> tuple[pd.DataFrame, dict, dict[str, int]]:
    """Rows with both ends of a kept type, and the counts of :func:`_count_unkept`."""
    x_kept = df["x_type"].isin(keep_types).to_numpy()
    y_kept = df["y_type"].isin(keep_types).to_numpy()
    dropped_types, rows_dropped_by_type = _count_unkept(df, x_kept, y_kept)
    df = df.loc[x_kept & y_kept]
    for col in ("x_type", "y_type", "relation"):
        df[col] = df[col].cat.remove_unused_categories()
    return df, dropped_types, rows_dropped_by_type


def _filter_relations(
    df: pd.DataFrame, relations: Iterable[str] | None, keep_types: list[str]
) -> tuple[pd.DataFrame, int]:
    """Rows of the wanted relations (all when ``relations`` is None), and how many rows that removed."""
    if relations is None:
        return df, 0
    available = sorted(df["relation"].cat.categories)
    wanted = sorted(set(relations))
    missing_rel = [r for r in wanted if r not in available]
    if missing_rel:
        raise ValueError(
            f"relations {missing_rel} not found between node types {keep_types}; available: {available}"
        )
    rows_before = len(df)
    df = df.loc[df["relation"].isin(wanted).to_numpy()]
    df["relation"] = df["relation"].cat.remove_unused_categories()
    return df, rows_before - len(df)


def read_kept_rows(kg_csv: Path, keep_types: list[str], relations: Iterable[str] | None) -> KeptRows:
    """kg.csv read, renamed and reduced to the kept node types and relations."""
    df = read_kg_csv(kg_csv)
    rows_read = len(df)
    type_map = _rename_node_types(df, keep_types, kg_csv)
    df, rel_map = _rename_relations(df)
    df, dropped_types, rows_dropped_by_type = _drop_unkept_types(df, keep_types)
    df, rows_dropped_by_relation_filter = _filter_relations(df, relations, keep_types)
    return KeptRows(
        rows=df,
        rows_read=rows_read,
        type_map=type_map,
        relation_map=rel_map,
        dropped_node_types=dropped_types,
        rows_dropped_with_unkept_types=rows_dropped_by_type,
        rows_dropped_by_relation_filter=rows_dropped_by_relation_filter,
    )


def end_nodes(rows: pd.DataFrame, kg_csv: Path) -> tuple[pd.DataFrame, int]:
    """The nodes at either end of ``rows`` (columns ``pk, node_type, name``: PrimeKG index, type, first
    name seen), and how many nodes appear under more than one name. A PrimeKG index with two types raises."""
    ends = pd.concat(
        [
            rows[["x_index", "x_type", "x_name"]].set_axis(["pk", "node_type", "name"], axis=1),
            rows[["y_index", "y_type", "y_name"]].set_axis(["pk", "node_type", "name"], axis=1),
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
    return ends.drop_duplicates("pk"), names_differ
