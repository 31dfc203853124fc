"""Small, well-connected induced subgraphs of a KG for tests and quick runs.

Two phases, both seeded:

1. Edge round-robin: the KG's edge families (forward relation, head type, tail type) take turns; each turn a
   family adds one random edge of its own whose endpoints fit the per-type budget (an endpoint already kept
   costs nothing; edges linking a kept node to a new one are preferred). Random edges favour well-connected
   nodes, and the turns make every family, hence every relation, keep edges. Phase 1 fills each type up to
   half its budget.
2. Densify: each type fills the rest of its budget with the nodes that have most kept neighbours of *other*
   types (random tie-break), so cross-type tasks keep many edges.

The result is the subgraph induced by the kept nodes (every triple between two kept nodes), renumbered in the
original node order. ``provenance["subset"]`` records the settings, the parent KG hash and the counts.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from biobridge.kg.graph import KnowledgeGraph

log = logging.getLogger(__name__)

_FAMILY_SAMPLE = 20_000  # random edges per family considered in phase 1 (it picks a few hundred)


Family = tuple[str, str, str, np.ndarray, np.ndarray]  # relation, head type, tail type, heads, tails


def _edge_families(kg: KnowledgeGraph) -> list[Family]:
    """Forward edge families (relation, head type, tail type, heads, tails), sorted by name."""
    types = kg.node_type_array().astype(str)
    triples = kg.triples
    rel = triples["relation"].to_numpy().astype(str)
    heads = triples["head"].to_numpy(np.int64)
    tails = triples["tail"].to_numpy(np.int64)
    forward = set()
    for r in sorted(kg.reverse_relations):
        if kg.reverse_relations[r] not in forward:
            forward.add(r)
    is_fwd = np.isin(rel, sorted(forward))
    frame = pd.DataFrame({"r": rel[is_fwd], "ht": types[heads[is_fwd]], "tt": types[tails[is_fwd]]})
    families = []
    for (r, ht, tt), rows in frame.groupby(["r", "ht", "tt"], sort=True).indices.items():
        pos = np.flatnonzero(is_fwd)[rows]
        families.append((r, ht, tt, heads[pos], tails[pos]))
    return families


def _sample_families(kg: KnowledgeGraph, rng: np.random.Generator) -> list[Family]:
    """Every forward edge family with its edges in random order, at most ``_FAMILY_SAMPLE`` of them."""
    families = []
    for r, ht, tt, h, t in _edge_families(kg):
        order = rng.permutation(len(h))[:_FAMILY_SAMPLE]
        families.append((r, ht, tt, h[order], t[order]))
    return families


def _round_robin(
    families: list[Family], type_code: np.ndarray, kept: np.ndarray, room: np.ndarray, max_nodes_per_type: int
) -> None:
    """Phase 1: families take turns adding one edge each until no family can add one within half the
    budget. Updates ``kept`` (per node) and ``room`` (budget left per type) in place."""
    half = np.full(len(room), (max_nodes_per_type + 1) // 2, dtype=np.int64)
    live = list(range(len(families)))
    while live:
        still = []
        for f in live:
            _, _, _, h, t = families[f]
            hc, tc = type_code[h], type_code[t]
            new_h, new_t = ~kept[h], ~kept[t]
            free = half - (max_nodes_per_type - room)
            need = np.where(hc == tc, new_h.astype(np.int64) + new_t, 1)
            useful = (~new_h | (free[hc] >= need)) & (~new_t | (free[tc] >= need)) & (new_h | new_t)
            if not useful.any():
                continue
            linked = useful & (new_h != new_t)  # exactly one endpoint new: grows the kept part
            pick = int(np.argmax(linked)) if linked.any() else int(np.argmax(useful))
            for node in (h[pick], t[pick]):
                if not kept[node]:
                    kept[node] = True
                    room[type_code[node]] -= 1
            still.append(f)
        live = still


def _densify(
    kg: KnowledgeGraph, type_code: np.ndarray, kept: np.ndarray, room: np.ndarray, rng: np.random.Generator
) -> None:
    """Phase 2: in two rounds (half the room left, then all of it), each type takes the nodes with most
    kept neighbours of other types. Updates ``kept`` and ``room`` in place."""
    n = kg.num_nodes
    heads = kg.triples["head"].to_numpy(np.int64)
    tails = kg.triples["tail"].to_numpy(np.int64)
    for last in (False, True):
        cross = kept[tails] & (type_code[heads] != type_code[tails]) & ~kept[heads]
        pairs = np.unique(heads[cross] * np.int64(n) + tails[cross])
        score = np.bincount(pairs // n, minlength=n).astype(np.float64)
        score += rng.random(n) * 0.5  # random tie-break, never outranks one more neighbour
        for code in range(len(room)):
            if room[code] <= 0:
                continue
            cand = np.flatnonzero((type_code == code) & ~kept & (score >= 1.0))
            quota = int(room[code]) if last else max(1, int(room[code]) // 2)
            take = cand[np.argsort(-score[cand], kind="stable")[:quota]]
            kept[take] = True
            room[code] -= len(take)


def _induced_subgraph(kg: KnowledgeGraph, kept: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes where ``kept`` (original order, renumbered) and every triple between two of them."""
    heads = kg.triples["head"].to_numpy(np.int64)
    tails = kg.triples["tail"].to_numpy(np.int64)
    keep_idx = np.flatnonzero(kept)
    new_index = np.full(kg.num_nodes, -1, dtype=np.int64)
    new_index[keep_idx] = np.arange(len(keep_idx))
    nodes = kg.nodes.iloc[keep_idx].reset_index(drop=True)
    nodes["node_index"] = np.arange(len(nodes), dtype=np.int64)
    inside = kept[heads] & kept[tails]
    triples = pd.DataFrame(
        {
            "head": new_index[heads[inside]],
            "relation": kg.triples["relation"].to_numpy()[inside],
            "tail": new_index[tails[inside]],
        }
    )
    return nodes, triples


def _families_without_edges(families: list[Family], nodes: pd.DataFrame, triples: pd.DataFrame) -> list[str]:
    sub_types = nodes["node_type"].to_numpy().astype(str)
    present = set(
        zip(
            triples["relation"],
            sub_types[triples["head"].to_numpy()],
            sub_types[triples["tail"].to_numpy()],
            strict=True,
        )
    )
    return [f"{r} ({ht}->{tt})" for r, ht, tt, _, _ in families if (r, ht, tt) not in present]


def subset_kg(kg: KnowledgeGraph, max_nodes_per_type: int, seed: int) -> KnowledgeGraph:
    """Induced subgraph with at most ``max_nodes_per_type`` nodes of each type, keeping every edge family."""
    if max_nodes_per_type < 1:
        raise ValueError("max_nodes_per_type must be >= 1")
    rng = np.random.Generator(np.random.PCG64(seed))
    type_names, type_code = np.unique(kg.node_type_array().astype(str), return_inverse=True)
    kept = np.zeros(kg.num_nodes, dtype=bool)
    room = np.full(len(type_names), max_nodes_per_type, dtype=np.int64)

    families = _sample_families(kg, rng)
    _round_robin(families, type_code, kept, room, max_nodes_per_type)
    _densify(kg, type_code, kept, room, rng)
    nodes, triples = _induced_subgraph(kg, kept)

    missing = _families_without_edges(families, nodes, triples)
    if missing:
        log.warning("subset lost every edge of families %s", missing)
    provenance = {
        "subset": {
            "max_nodes_per_type": int(max_nodes_per_type),
            "seed": int(seed),
            "parent_kg_hash": kg.content_hash(),
            "parent_num_nodes": kg.num_nodes,
            "parent_num_triples": len(kg.triples),
            "nodes_per_type": nodes["node_type"].value_counts().sort_index().to_dict(),
            "triples_per_relation": triples["relation"].value_counts().sort_index().to_dict(),
            "families_without_edges": missing,
        },
        "parent_provenance": kg.provenance,
    }
    relations = set(triples["relation"])
    reverse = {r: v for r, v in kg.reverse_relations.items() if r in relations or v in relations}
    return KnowledgeGraph(
        nodes=nodes,
        triples=triples,
        modalities=dict(kg.modalities),
        reverse_relations=reverse if reverse else dict(kg.reverse_relations),
        provenance=provenance,
    )
