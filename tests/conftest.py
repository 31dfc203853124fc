"""A small real run shared by the pipeline, training, retrieval and CLI tests.

A seeded subset of the packaged default KG (at most 120 nodes per type) is prepared, encoded with the real
default encoders and trained for a few epochs once per test session.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from biobridge import pipeline
from biobridge.config import preset, with_overrides
from tests.tiny_kg import TINY_EDGES, TINY_NODES, TINY_PARTS, FakeSplit, make_kg

SUBSET = 120
# built MMseqs2 indexes go to a directory of this test session, not the user's cache (subprocesses inherit it)
os.environ["BIOBRIDGE_CACHE_DIR"] = tempfile.mkdtemp(prefix="biobridge-test-cache-")
# tests that use these fixtures run the real pipeline end to end: marked ``slow``
END_TO_END_FIXTURES = {"tiny_run", "tiny_bridge", "bench", "bench_kge", "workdir"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if END_TO_END_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_config():
    return with_overrides(
        preset("cpu"),
        {
            "model.hidden_dim": 64,
            "model.n_heads": 4,
            "model.ff_dim": 128,
            "model.n_layers": 2,
            "train.epochs": 40,
            "train.n_negatives": 5,
            "train.negative_pool": 50,
            "train.batch_size": 256,
            "train.lr": 3e-3,
        },
    )


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_config) -> Path:
    workdir = tmp_path_factory.mktemp("tiny_run")
    pipeline.prepare(workdir, max_nodes_per_type=SUBSET)
    pipeline.encode(workdir, progress=False)
    pipeline.train(workdir, tiny_config, protocol="paper", progress=False)
    return workdir


@pytest.fixture
def tiny_kg():
    """The hand-made KG of ``tests.tiny_kg`` (10 nodes, 9 forward edges)."""
    return make_kg(TINY_NODES, TINY_EDGES)


@pytest.fixture
def tiny_split() -> FakeSplit:
    return FakeSplit(TINY_PARTS.copy())
