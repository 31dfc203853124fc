"""Session fixtures: the full default KG is built once, its 300-per-type subset once."""

from __future__ import annotations

import time

import pytest

from biobridge.kg.default_kg import build_default_kg
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.subset import subset_kg


@pytest.fixture(scope="session")
def default_kg_timed() -> tuple[KnowledgeGraph, float]:
    t0 = time.perf_counter()
    kg = build_default_kg()
    return kg, time.perf_counter() - t0


@pytest.fixture(scope="session")
def default_kg(default_kg_timed) -> KnowledgeGraph:
    return default_kg_timed[0]


@pytest.fixture(scope="session")
def small_kg(default_kg) -> KnowledgeGraph:
    return subset_kg(default_kg, max_nodes_per_type=300, seed=0)
