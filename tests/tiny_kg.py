"""Hand-made KGs shared by the evaluation and baseline tests: a tiny KG with known node indices, a random
KG, a Split stand-in (same attributes as biobridge.kg.split.Split) and a scorer reading a fixed matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from biobridge.kg.graph import KnowledgeGraph

REVERSE = {
    "interacts_with": "rev_interacts_with",
    "rev_interacts_with": "interacts_with",
    "target": "rev_target",
    "rev_target": "target",
}
MODALITIES = {"protein": "protein", "biological_process": "text", "drug": "molecule"}


@dataclass
class FakeSplit:
    triple_part: np.ndarray
    protocol: str = "paper"
    seed: int = 42
    test_fraction: float = 0.1

    def content_hash(self) -> str:
        return "fake" + "".join(map(str, self.triple_part.tolist()))[:12]

    def train_triples(self, kg: KnowledgeGraph) -> pd.DataFrame:
        return kg.triples[self.triple_part == 0]

    def test_triples(self, kg: KnowledgeGraph) -> pd.DataFrame:
        return kg.triples[self.triple_part == 1]


def make_kg(nodes: list[tuple[str, str]], edges: list[tuple[int, str, int]], reverse=None, modalities=None):
    """``nodes``: (type, id); ``edges``: forward (head, relation, tail).

    The reverse triples are appended after all forward ones."""
    reverse = reverse or REVERSE
    node_df = pd.DataFrame(
        {
            "node_index": np.arange(len(nodes), dtype=np.int64),
            "node_type": [t for t, _ in nodes],
            "node_id": [i for _, i in nodes],
            "name": [i for _, i in nodes],
            "feature": ["X" for _ in nodes],
        }
    )
    rows = list(edges) + [(t, reverse[r], h) for h, r, t in edges]
    triples = pd.DataFrame(rows, columns=["head", "relation", "tail"]).astype(
        {"head": np.int64, "tail": np.int64}
    )
    return KnowledgeGraph(node_df, triples, modalities or dict(MODALITIES), dict(reverse))


# node indices of the tiny KG
P0, P1, P2, P3 = 0, 1, 2, 3
BP0, BP1, BP2, BP3 = 4, 5, 6, 7
D0, D1 = 8, 9

TINY_NODES = [
    ("protein", "P0"),
    ("protein", "P1"),
    ("protein", "P2"),
    ("protein", "P3"),
    ("biological_process", "GO:0"),
    ("biological_process", "GO:1"),
    ("biological_process", "GO:2"),
    ("biological_process", "GO:3"),  # takes part in no relation
    ("drug", "D0"),
    ("drug", "D1"),
]
TINY_EDGES = [
    (P0, "interacts_with", BP0),  # 0 test
    (P0, "interacts_with", BP1),  # 1 excluded: still gold (gold comes from the full KG)
    (P1, "interacts_with", BP1),  # 2 train
    (P2, "interacts_with", BP2),  # 3 train
    (P3, "interacts_with", BP0),  # 4 test
    (P3, "interacts_with", BP2),  # 5 test
    (D0, "target", P0),  # 6 train
    (D1, "target", P1),  # 7 train
    (D1, "target", P2),  # 8 test
]
# forward parts, then the 9 reverse triples: all train
TINY_PARTS = np.array([1, 2, 0, 0, 1, 1, 0, 0, 1] + [0] * 9, dtype=np.int8)


class MatrixScorer:
    """Scores looked up in a fixed (num_nodes, num_nodes) matrix; records the chunk sizes it was asked for."""

    def __init__(self, matrix: np.ndarray, name: str = "matrix") -> None:
        self.matrix = matrix
        self.name = name
        self.calls: list[tuple[int, int]] = []

    def score(self, task, query_nodes, candidate_nodes):
        self.calls.append((len(query_nodes), len(candidate_nodes)))
        return self.matrix[np.ix_(query_nodes, candidate_nodes)].astype(np.float32)


def random_kg(seed: int = 0, n_prot: int = 60, n_bp: int = 40, n_drug: int = 25):
    rng = np.random.default_rng(seed)
    nodes = (
        [("protein", f"P{i}") for i in range(n_prot)]
        + [("biological_process", f"GO:{i}") for i in range(n_bp)]
        + [("drug", f"D{i}") for i in range(n_drug)]
    )
    edges = set()
    for _ in range(300):
        edges.add((int(rng.integers(n_prot)), "interacts_with", n_prot + int(rng.integers(n_bp))))
    for _ in range(80):
        edges.add((n_prot + n_bp + int(rng.integers(n_drug)), "target", int(rng.integers(n_prot))))
    kg = make_kg(nodes, sorted(edges))
    # split by head node: 20 % of nodes of each type held out; their triples are test
    held = rng.random(len(nodes)) < 0.2
    part = np.where(held[kg.triples["head"].to_numpy()], 1, 0).astype(np.int8)
    return kg, FakeSplit(part)
