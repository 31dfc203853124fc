"""The app over the session's tiny real run (tests/conftest.py ``tiny_run``), opened once."""

import pytest

pytest.importorskip("fastapi", reason="the server tests need the 'serve' extra (fastapi, uvicorn, httpx)")


@pytest.fixture(scope="session")
def service(tiny_run):
    from biobridge.server.service import RetrievalService

    return RetrievalService.open(tiny_run / "model")


@pytest.fixture(scope="session")
def client(service):
    from fastapi.testclient import TestClient

    from biobridge.server.app import create_app

    with TestClient(create_app(service)) as test_client:
        yield test_client
