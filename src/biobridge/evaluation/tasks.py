"""Retrieval tasks: (head type, relation, tail type), with the paper's names where they apply."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from biobridge.kg.graph import KnowledgeGraph

__all__ = ["PAPER_TASKS", "Task", "discover_tasks", "task_counts", "type_abbreviation"]


@dataclass(frozen=True)
class Task:
    name: str
    head_type: str
    relation: str
    tail_type: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.head_type, self.relation, self.tail_type)


PAPER_TASKS: tuple[Task, ...] = (
    Task("Prot2BP", "protein", "interacts_with", "biological_process"),
    Task("Prot2MF", "protein", "interacts_with", "molecular_function"),
    Task("Prot2CC", "protein", "interacts_with", "cellular_component"),
    Task("Drug2Prot", "drug", "target", "protein"),
    Task("Prot2Drug", "protein", "rev_target", "drug"),
    Task("Drug2Disease", "drug", "indication", "disease"),
    Task("Disease2Prot", "disease", "associated_with", "protein"),
    Task("Prot2Disease", "protein", "rev_associated_with", "disease"),
)

_ABBREVIATIONS = {
    "protein": "Prot",
    "drug": "Drug",
    "disease": "Disease",
    "biological_process": "BP",
    "molecular_function": "MF",
    "cellular_component": "CC",
}


def type_abbreviation(node_type: str) -> str:
    """Short name of a node type in task names.

    protein -> Prot, biological_process -> BP, gene/protein -> GeneProtein."""
    if node_type in _ABBREVIATIONS:
        return _ABBREVIATIONS[node_type]
    words = [w for w in re.split(r"[^0-9A-Za-z]+", node_type) if w]
    return "".join(w[:1].upper() + w[1:] for w in words) or node_type


def task_counts(kg: KnowledgeGraph) -> pd.DataFrame:
    """Number of triples per (head_type, relation, tail_type), sorted by those columns."""
    node_type = kg.node_type_array()
    t = kg.triples
    frame = pd.DataFrame(
        {
            "head_type": node_type[t["head"].to_numpy(np.int64)],
            "relation": t["relation"].to_numpy(),
            "tail_type": node_type[t["tail"].to_numpy(np.int64)],
        }
    )
    counts = frame.value_counts(["head_type", "relation", "tail_type"]).rename("n_triples").reset_index()
    return counts.sort_values(["head_type", "relation", "tail_type"], ignore_index=True)


def discover_tasks(kg: KnowledgeGraph) -> list[Task]:
    """Every (head type, relation, tail type) present in the triples, as tasks.

    Paper tasks keep the paper's names and come first (in ``PAPER_TASKS`` order). Other tasks are named
    ``{Head}2{Tail}`` (e.g. BP2Prot, Disease2Drug) when no other task has that name, else
    ``{Head}2{Tail}.{relation}`` (e.g. BP2BP.parent_child); they follow, sorted by name.
    """
    keys = [
        tuple(row) for row in task_counts(kg)[["head_type", "relation", "tail_type"]].itertuples(index=False)
    ]
    present = set(keys)
    paper = [t for t in PAPER_TASKS if t.key in present]
    paper_keys = {t.key for t in paper}
    others = [k for k in keys if k not in paper_keys]

    def base(head_type: str, tail_type: str) -> str:
        return f"{type_abbreviation(head_type)}2{type_abbreviation(tail_type)}"

    base_count: dict[str, int] = {}
    for h, _, t in others:
        base_count[base(h, t)] = base_count.get(base(h, t), 0) + 1
    taken = {t.name for t in paper}
    generated = []
    for h, r, t in others:
        name = base(h, t)
        if base_count[name] > 1 or name in taken:
            name = f"{name}.{r}"
        generated.append(Task(name, h, r, t))
    generated.sort(key=lambda task: task.name)
    names = [t.name for t in paper + generated]
    if len(set(names)) != len(
        names
    ):  # only possible with odd type names; fail loudly rather than merge tasks
        raise ValueError(f"task names collide: {sorted(n for n in names if names.count(n) > 1)}")
    return paper + generated
