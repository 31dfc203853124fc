"""The HTTP API through the ASGI test client, over the session's tiny real run: every endpoint, every class of
bad input, and results identical to the Python API (``Bridge.retrieve``, ``multi_hop``, ``build_context``)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from biobridge.applications.context import build_context
from biobridge.applications.multihop import multi_hop

API = "/api/v1"


def _node(bridge, node_type: str, relation: str | None = None, nth: int = 0):
    """The ``nth`` KG node of ``node_type`` that heads an edge of ``relation`` (any when None)."""
    kg = bridge.kg
    nodes = kg.nodes[kg.nodes["node_type"] == node_type]
    if relation is not None:
        heads = set(kg.triples.loc[kg.triples["relation"] == relation, "head"])
        nodes = nodes[nodes["node_index"].isin(heads)]
    return nodes.iloc[nth]


def _expected(bridge, query, query_type, target_type, k=5, **kw):
    table = bridge.retrieve(query, query_type, target_type, k=k, **kw)
    return [(r.node_id, r.score, r.known_edge) for r in table.itertuples()]


def _got(result):
    return [(h["node_id"], h["score"], h["known_edge"]) for h in result["hits"]]


def test_health_ready_and_schema(client, service, tiny_run):
    assert client.get(f"{API}/health").json() == {"status": "ok"}
    assert client.get(f"{API}/ready").json()["ready"] is True
    schema = client.get(f"{API}/schema").json()
    config = json.loads((tiny_run / "model" / "config.json").read_text())
    assert schema["run"]["kg_hash"] == config["kg_hash"]
    assert schema["run"]["split"]["hash"] == config["split"]["hash"]
    assert schema["run"]["retriever"]["name"] == service.bridge.retriever.name
    types = {t["name"]: t for t in schema["node_types"]}
    assert types["drug"]["modality"] == "molecule" and types["drug"]["encoder"].startswith("morgan")
    kg = service.bridge.kg
    assert types["protein"]["n_nodes"] == int((kg.nodes["node_type"] == "protein").sum())
    assert sum(r["n_triples"] for r in schema["relations"]) == len(kg.triples)
    assert {"Prot2BP", "Drug2Prot", "Disease2Prot"} <= {t["name"] for t in schema["tasks"]}
    assert schema["limits"]["max_k"] == service.limits.max_k
    modes = {(e["mode"], e["query_type"]) for e in schema["examples"]}
    assert {("retrieve", "protein"), ("retrieve", "drug"), ("retrieve", "disease")} <= modes


def test_every_example_query_answers(client):
    for example in client.get(f"{API}/schema").json()["examples"]:
        if example["mode"] == "retrieve":
            body = {k: example[k] for k in ("query", "query_type", "target_type", "relation")}
            response = client.post(f"{API}/retrieve", json=body)
        else:
            response = client.post(f"{API}/path", json={"query": example["query"], "path": example["path"]})
        assert response.status_code == 200, (example, response.json())
        results = response.json()["results"]
        assert results[0]["hits"] if example["mode"] == "retrieve" else results, example


@pytest.mark.parametrize(
    "query_type,target_type,how",
    [
        ("protein", "biological_process", "feature"),
        ("protein", "biological_process", "id"),
        ("drug", "protein", "feature"),
        ("disease", "protein", "name"),
        ("biological_process", "protein", "id"),
    ],
)
def test_retrieve_is_identical_to_the_python_api(client, service, query_type, target_type, how):
    bridge = service.bridge
    relation = bridge.resolve_relation(query_type, target_type)
    row = _node(bridge, query_type, relation, nth=1)
    query = {"feature": row["feature"], "id": row["node_id"], "name": row["name"]}[how]
    body = {"query": query, "query_type": query_type, "target_type": target_type, "k": 5}
    response = client.post(f"{API}/retrieve", json=body).json()
    assert response["relation"] == relation
    assert response["retriever"] == bridge.retriever.name
    (result,) = response["results"]
    assert _got(result) == _expected(bridge, query, query_type, target_type)
    assert (result["kg_node"] is None) == (how == "name")


def test_a_batch_of_queries_equals_each_query_alone(client, service):
    bridge = service.bridge
    queries = [_node(bridge, "drug", "target", nth=i)["feature"] for i in range(5)] + ["CCO", "c1ccccc1O"]
    body = {"queries": queries, "query_type": "drug", "target_type": "protein", "k": 7}
    results = client.post(f"{API}/retrieve", json=body).json()["results"]
    assert [_got(r) for r in results] == [_expected(bridge, q, "drug", "protein", k=7) for q in queries]


def test_concurrent_requests_are_micro_batched_with_identical_results(service):
    """Requests arriving while the model thread is busy are answered together; each answer equals the one
    its query gets alone, bit for bit."""
    import httpx

    from biobridge.server.app import create_app

    app = create_app(service)
    bridge = service.bridge
    proteins = [_node(bridge, "protein", "interacts_with", nth=i) for i in range(12)]
    bodies = [
        {
            "query": p["node_id"] if i % 2 else p["feature"],
            "query_type": "protein",
            "target_type": "biological_process",
        }
        for i, p in enumerate(proteins)
    ] + [
        {"query": t, "query_type": "disease", "target_type": "protein"}
        for t in ("asthma", "Parkinson disease")
    ]

    async def send_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(*(http.post(f"{API}/retrieve", json=b) for b in bodies))

    responses = asyncio.run(send_all())
    for body, response in zip(bodies, responses, strict=True):
        assert response.status_code == 200
        (result,) = response.json()["results"]
        assert _got(result) == _expected(bridge, body["query"], body["query_type"], body["target_type"], k=10)
    assert app.state.metrics.batch_sizes.n < len(bodies)  # fewer model calls than requests


def test_retrieve_many_scores_do_not_depend_on_companions(service):
    bridge = service.bridge
    ids = [_node(bridge, "protein", "interacts_with", nth=i)["node_id"] for i in range(40)]
    together = bridge.retrieve_many(ids, "protein", "biological_process", k=20)
    for query, table in zip(ids[::7], together[::7], strict=True):
        alone = bridge.retrieve(query, "protein", "biological_process", k=20)
        assert alone.equals(table)


def test_path_is_identical_to_multi_hop(client, service):
    bridge = service.bridge
    disease = _node(bridge, "disease", "associated_with")
    path = "disease:associated_with:protein,protein:rev_target:drug"
    response = client.post(f"{API}/path", json={"query": disease["node_id"], "path": path, "k": 5}).json()
    table = multi_hop(bridge, disease["node_id"], path, k=5)
    assert [(h["node_id"], h["score"], h["hop_scores"]) for h in response["results"]] == [
        (r.node_id, r.score, r.hop_scores) for r in table.itertuples()
    ]
    assert [h["path"][0]["node_id"] for h in response["results"]] == [
        bridge.kg.nodes.at[r.path_nodes[0], "node_id"] for r in table.itertuples()
    ]
    assert response["kg_node"]["node_id"] == disease["node_id"]
    assert [h["relation"] for h in response["hops"]] == ["associated_with", "rev_target"]


def test_context_is_identical_to_build_context(client, service):
    drug = _node(service.bridge, "drug", "target")
    response = client.post(
        f"{API}/context", json={"query": drug["feature"], "query_type": "drug", "k": 3}
    ).json()
    expected = build_context(service.bridge, drug["feature"], "drug", k=3)
    assert response["prompt"] == expected["prompt"]
    assert response["retrievals"] == expected["retrievals"]


def test_similarity_of_two_proteins_and_of_two_types(client, service):
    bridge = service.bridge
    a, b = (_node(bridge, "protein", nth=i) for i in (0, 1))
    body = {
        "a": {"query": a["node_id"], "query_type": "protein"},
        "b": {"query": b["feature"], "query_type": "protein"},
    }
    response = client.post(f"{API}/similarity", json=body).json()
    vectors = bridge.project([a["feature"], b["feature"]], "protein")
    assert response["cosine"] == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-5)
    assert response["a"]["node_id"] == a["node_id"] and response["b"]["node_id"] == b["node_id"]
    assert set(response["go"]) == {"BP", "MF", "CC"} and -1 <= response["raw_cosine"] <= 1
    drug = _node(bridge, "drug")
    body["b"] = {"query": drug["feature"], "query_type": "drug"}
    response = client.post(f"{API}/similarity", json=body).json()
    assert response["raw_cosine"] is None and response["go"] is None


def test_node_details_list_the_known_neighbours(client, service):
    kg = service.bridge.kg
    protein = _node(service.bridge, "protein", "interacts_with")
    details = client.get(f"{API}/nodes/protein/{protein['node_id']}").json()
    assert details["name"] == protein["name"] and details["feature"] == protein["feature"]
    edges = kg.triples[kg.triples["head"] == protein["node_index"]]
    assert sum(n["count"] for n in details["neighbours"]) == len(edges)
    go = kg.nodes[kg.nodes["node_type"] == "biological_process"].iloc[0]
    assert client.get(f"{API}/nodes/biological_process/{go['node_id']}").json()["node_id"] == go["node_id"]
    missing = client.get(f"{API}/nodes/protein/NOT-A-PROTEIN")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "node_id"


def test_search_finds_an_id_first_then_names(client, service):
    protein = _node(service.bridge, "protein")
    matches = client.get(f"{API}/search", params={"q": protein["node_id"].lower()}).json()["matches"]
    assert matches[0]["node_id"] == protein["node_id"]
    word = str(protein["name"])[:3]
    matches = client.get(f"{API}/search", params={"q": word, "node_type": "protein", "limit": 5}).json()[
        "matches"
    ]
    assert 1 <= len(matches) <= 5 and all(
        word.lower() in m["name"].lower() + m["node_id"].lower() for m in matches
    )


BAD_RETRIEVE = [
    ({"query": "C1CC(", "query_type": "drug", "target_type": "protein"}, 422, "query", "SMILES"),
    ({"query": "MKT1ZQ", "query_type": "protein", "target_type": "drug"}, 422, "query", "amino-acid"),
    ({"query": "   ", "query_type": "disease", "target_type": "protein"}, 422, "query", "empty"),
    (
        {"query": "x", "query_type": "enzyme", "target_type": "protein"},
        422,
        "query_type",
        "unknown node type",
    ),
    (
        {"query": "asthma", "query_type": "disease", "target_type": "protein", "relation": "eats"},
        422,
        "relation",
        "eats",
    ),
    ({"query": "x", "query_type": "protein", "target_type": "protein"}, 422, "relation", "no relation"),
    ({"query": "asthma", "query_type": "disease", "target_type": "protein", "k": 0}, 422, "k", "greater"),
    (
        {"query": "asthma", "query_type": "disease", "target_type": "protein", "k": 100000},
        422,
        "k",
        "at most",
    ),
    ({"query": "asthma", "query_type": "disease", "target_type": "protein", "k": "ten"}, 422, "k", "integer"),
    ({"query": "M" * 40001, "query_type": "protein", "target_type": "drug"}, 413, "query", "at most"),
    (
        {"query": "a", "queries": ["b"], "query_type": "disease", "target_type": "protein"},
        422,
        None,
        "exactly one",
    ),
    (
        {"queries": ["asthma"] * 65, "query_type": "disease", "target_type": "protein"},
        422,
        "queries",
        "at most",
    ),
    (
        {"queries": ["asthma", ""], "query_type": "disease", "target_type": "protein"},
        422,
        "queries[1]",
        "empty",
    ),
    ({"query": "asthma", "query_type": "disease", "target": "protein"}, 422, None, ""),
    (
        {"query": "GO:99999999", "query_type": "biological_process", "target_type": "protein"},
        422,
        "query",
        "identifier",
    ),
    ({"query": None, "query_type": "disease", "target_type": "protein"}, 422, None, "exactly one"),
]


@pytest.mark.parametrize("body,status,field,words", BAD_RETRIEVE)
def test_bad_retrieve_requests_get_a_4xx_that_names_the_field(client, body, status, field, words):
    response = client.post(f"{API}/retrieve", json=body)
    assert response.status_code == status, response.json()
    error = response.json()["error"]
    assert error["status"] == status and words in error["message"]
    if field is not None:
        assert error["field"] == field
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "content,status,kind",
    [
        (b'{"query": "asthma", ', 400, "malformed_json"),
        (b"[1, 2]", 422, "invalid_input"),
        (b'{"query": "' + b"A" * 1_100_000 + b'"}', 413, "too_large"),
    ],
)
def test_malformed_and_oversize_bodies(client, content, status, kind):
    response = client.post(f"{API}/retrieve", content=content, headers={"content-type": "application/json"})
    assert response.status_code == status and response.json()["error"]["type"] == kind


@pytest.mark.parametrize(
    "url,body,field",
    [
        ("/path", {"query": "asthma", "path": "disease:associated_with"}, "path"),
        ("/path", {"query": "asthma", "path": "disease:eats:protein"}, "path[0]"),
        ("/path", {"query": "C1CC(", "path": "drug:target:protein"}, "query"),
        ("/context", {"query": "", "query_type": "drug"}, "query"),
        (
            "/similarity",
            {"a": {"query": "CCO", "query_type": "drug"}, "b": {"query": "C1CC(", "query_type": "drug"}},
            "b.query",
        ),
        ("/similarity", {"a": {"query": "CCO", "query_type": "drug"}}, "b"),
    ],
)
def test_bad_requests_to_the_other_endpoints(client, url, body, field):
    response = client.post(f"{API}{url}", json=body)
    assert 400 <= response.status_code < 500 and response.json()["error"]["field"] == field, response.json()


def test_an_internal_failure_is_a_500_without_a_traceback(service, monkeypatch, caplog):
    from fastapi.testclient import TestClient

    from biobridge.server.app import create_app

    def broken(requests):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(service, "retrieve_many", broken)
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        response = client.post(
            f"{API}/retrieve", json={"query": "asthma", "query_type": "disease", "target_type": "protein"}
        )
        assert response.status_code == 500
        assert "secret" not in response.text and "Traceback" not in response.text
        assert client.get(f"{API}/health").status_code == 200  # and it keeps answering
    assert "secret internal detail" in caplog.text  # the detail is in the server's log


def test_api_key_and_cors(service):
    from fastapi.testclient import TestClient

    from biobridge.server.app import ServerSettings, create_app

    app = create_app(service, ServerSettings(api_key="s3cret", cors_origins=("http://lab.example",)))
    with TestClient(app) as client:
        assert client.get(f"{API}/health").status_code == 200
        denied = client.get(f"{API}/schema")
        assert denied.status_code == 401 and denied.json()["error"]["field"] == "X-API-Key"
        assert client.get(f"{API}/schema", headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get(f"{API}/schema", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get("/metrics").status_code == 401
        preflight = client.options(
            f"{API}/retrieve",
            headers={"Origin": "http://lab.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers.get("access-control-allow-origin") == "http://lab.example"


def test_cors_is_off_by_default(client):
    response = client.get(f"{API}/health", headers={"Origin": "http://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers


def test_metrics_count_requests_by_route_and_status(client):
    client.get(f"{API}/health")
    client.post(f"{API}/retrieve", json={"query": "C1CC(", "query_type": "drug", "target_type": "protein"})
    text = client.get("/metrics").text
    assert 'biobridge_requests_total{route="/api/v1/health",method="GET",status="200"}' in text
    assert 'biobridge_requests_total{route="/api/v1/retrieve",method="POST",status="422"}' in text
    assert 'biobridge_request_duration_seconds_bucket{route="/api/v1/health",le="+Inf"}' in text
    counts = [
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("biobridge_requests_total")
    ]
    assert all(np.isfinite(counts)) and sum(counts) >= 2


def test_openapi_docs_and_the_explorer_are_served(client):
    spec = client.get("/openapi.json").json()
    assert {f"{API}/retrieve", f"{API}/path", f"{API}/context", f"{API}/similarity", f"{API}/schema"} <= set(
        spec["paths"]
    )
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_serve_refuses_a_missing_run_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from biobridge.cli.app import app

    result = CliRunner().invoke(app, ["serve", str(tmp_path / "no-run")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["serve", str(tmp_path), "--api-key-env", "BIOBRIDGE_NO_SUCH_VARIABLE"])
    assert result.exit_code == 2 and "BIOBRIDGE_NO_SUCH_VARIABLE" in result.output
