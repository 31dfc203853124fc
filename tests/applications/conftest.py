"""A Bridge over the session's tiny real run (see tests/conftest.py)."""

import pytest

from biobridge.retrieval.bridge import Bridge


@pytest.fixture(scope="session")
def tiny_bridge(tiny_run):
    return Bridge.from_pretrained(tiny_run / "model")
