"""Bring-your-own knowledge graph from two tab-separated files.

``nodes`` TSV, header (any column order): ``node_type  node_id  name  feature``. ``feature`` is what the node
type's encoder reads (sequence, SMILES or text) and must not be empty; an empty ``name`` falls back to the id.
``edges`` TSV, header (any column order): ``head_type  head_id  relation  tail_type  tail_id``.

Reverse relations: relation ``r`` gets the reverse ``rev_r`` and every edge is stored in both directions. A
relation that already starts with ``rev_`` is read as the reverse of the name without the prefix, so a file
that lists both ``r`` and ``rev_r`` edges (or only ``rev_r`` edges) gives the same KG as one listing ``r``
only. Duplicate edges are merged (counted in provenance). Blank lines are skipped. Fields are split on tabs
only, with no quoting. Files are UTF-8 (a leading byte-order mark is allowed); lines may end in LF or CRLF.
Any malformed row raises ``KGFormatError`` (an ``InputError``) naming the file, the line and the problem:
bytes that are not UTF-8, wrong field count, empty id/type/relation/feature, node type without a modality,
duplicate node, edge to an unknown node; so does an empty file, a header naming other columns, a nodes file
without nodes or an edges file without edges. Nodes are ordered by (type, id) and triples by (relation,
head, tail).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from biobridge.artifacts import hash_file
from biobridge.kg.graph import MODALITIES, KGFormatError, KnowledgeGraph
from biobridge.kg.triples import REVERSE_PREFIX, is_reverse_name, reverse_relation_map, with_reverse_triples

NODE_HEADER = ("node_type", "node_id", "name", "feature")
EDGE_HEADER = ("head_type", "head_id", "relation", "tail_type", "tail_id")
# what ``surrogateescape`` decodes a byte that is not UTF-8 to
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _undecodable(path: Path, line: int, fields: list[str]) -> None:
    for field in fields:
        hit = _UNDECODABLE.search(field)
        if hit:
            byte = ord(hit.group()) - 0xDC00
            raise KGFormatError(f"{path}:{line}: not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8")


def _rows(path: Path, header: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            yield from _checked_rows(path, header, reader)
        except csv.Error as exc:
            raise KGFormatError(f"{path}:{max(reader.line_num, 1)}: {exc}") from None


def _checked_rows(path: Path, header: tuple[str, ...], reader) -> Iterator[tuple[int, dict[str, str]]]:
    first = next(reader, None)
    if first is None:
        raise KGFormatError(f"{path}: empty file, expected a header with {list(header)}")
    _undecodable(path, 1, first)
    cols = [c.strip() for c in first]
    if sorted(cols) != sorted(header):
        raise KGFormatError(f"{path}:1: header {cols} must name exactly the columns {list(header)}")
    for fields in reader:
        line = reader.line_num
        _undecodable(path, line, fields)
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if len(fields) != len(cols):
            raise KGFormatError(f"{path}:{line}: {len(fields)} fields, expected {len(cols)} ({list(cols)})")
        yield line, {c: v.strip() for c, v in zip(cols, fields, strict=True)}


def _read_nodes(path: Path, modalities: dict[str, str]) -> pd.DataFrame:
    """The node table, checked row by row, sorted by (type, id) and numbered."""
    records: list[tuple[str, str, str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in _rows(path, NODE_HEADER):
        where = f"{path}:{line}"
        for col in ("node_type", "node_id", "feature"):
            if not row[col]:
                raise KGFormatError(f"{where}: empty {col}")
        if row["node_type"] not in modalities:
            raise KGFormatError(
                f"{where}: unknown node type {row['node_type']!r}; modalities given for {sorted(modalities)}"
            )
        key = (row["node_type"], row["node_id"])
        if key in seen:
            raise KGFormatError(f"{where}: duplicate node {key} (first on line {seen[key]})")
        seen[key] = line
        records.append((row["node_type"], row["node_id"], row["name"] or row["node_id"], row["feature"]))
    if not records:
        raise KGFormatError(f"{path}: no nodes")
    nodes = pd.DataFrame(records, columns=["node_type", "node_id", "name", "feature"])
    nodes = nodes.sort_values(["node_type", "node_id"], kind="mergesort").reset_index(drop=True)
    nodes.insert(0, "node_index", np.arange(len(nodes), dtype=np.int64))
    return nodes


def _edge_endpoints(
    where: str,
    row: dict[str, str],
    index: dict[tuple[str, str], int],
    modalities: dict[str, str],
    nodes_file: str,
) -> tuple[int, int]:
    """``node_index`` of an edge row's head and tail; any problem raises ``KGFormatError`` at ``where``."""
    for col in EDGE_HEADER:
        if not row[col]:
            raise KGFormatError(f"{where}: empty {col}")
    for side in ("head", "tail"):
        if row[f"{side}_type"] not in modalities:
            raise KGFormatError(f"{where}: unknown {side} node type {row[f'{side}_type']!r}")
    h = index.get((row["head_type"], row["head_id"]))
    t = index.get((row["tail_type"], row["tail_id"]))
    for side, hit in (("head", h), ("tail", t)):
        if hit is None:
            raise KGFormatError(
                f"{where}: edge to an unknown node: {side} {row[f'{side}_type']} {row[f'{side}_id']!r} "
                f"is not in {nodes_file}"
            )
    return h, t


def _read_forward_edges(
    path: Path, nodes: pd.DataFrame, modalities: dict[str, str], nodes_file: str
) -> pd.DataFrame:
    """One forward triple per edge row; a ``rev_r`` row is turned round into an ``r`` triple."""
    index = {(t, i): k for k, (t, i) in enumerate(zip(nodes["node_type"], nodes["node_id"], strict=True))}
    heads: list[int] = []
    rels: list[str] = []
    tails: list[int] = []
    for line, row in _rows(path, EDGE_HEADER):
        where = f"{path}:{line}"
        h, t = _edge_endpoints(where, row, index, modalities, nodes_file)
        rel = row["relation"]
        if is_reverse_name(rel):
            base = rel.removeprefix(REVERSE_PREFIX)
            if not base:
                raise KGFormatError(f"{where}: relation {rel!r} has no name after the reverse prefix")
            h, t, rel = t, h, base
        heads.append(h)
        rels.append(rel)
        tails.append(t)
    if not rels:
        raise KGFormatError(f"{path}: no edges (a header and no edge rows)")
    return pd.DataFrame(
        {"head": np.asarray(heads, np.int64), "relation": rels, "tail": np.asarray(tails, np.int64)}
    )


def load_tsv_kg(nodes_path: str | Path, edges_path: str | Path, modalities: dict[str, str]) -> KnowledgeGraph:
    """Read a KG from a nodes TSV and an edges TSV; ``modalities`` maps every node type to its modality."""
    nodes_path, edges_path = Path(nodes_path), Path(edges_path)
    bad = {t: m for t, m in modalities.items() if m not in MODALITIES}
    if bad:
        raise KGFormatError(f"unknown modalities {bad}; expected one of {MODALITIES}")
    nodes = _read_nodes(nodes_path, modalities)
    forward = _read_forward_edges(edges_path, nodes, modalities, nodes_path.name)
    reverse_relations = reverse_relation_map(sorted(set(forward["relation"])))
    triples = with_reverse_triples(forward, reverse_relations)
    provenance = {
        "source": "tsv",
        "nodes_file": str(nodes_path),
        "edges_file": str(edges_path),
        "files_sha256": {"nodes": hash_file(nodes_path), "edges": hash_file(edges_path)},
        "edge_rows": len(forward),
        "merged_duplicates": {"triples": int(2 * len(forward) - len(triples))},
        "dropped": {},
    }
    return KnowledgeGraph(
        nodes=nodes,
        triples=triples,
        modalities=dict(modalities),
        reverse_relations=reverse_relations,
        provenance=provenance,
    )
