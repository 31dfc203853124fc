"""QA context: structure, known edges, prompt, generators (fake, local fake HTTP endpoint)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from biobridge.applications.context import answer, build_context, reachable_relations
from biobridge.applications.generators import (
    CallableGenerator,
    Generator,
    HFLocalGenerator,
    OpenAICompatibleGenerator,
    build_generator,
)
from biobridge.retrieval.bridge import Bridge

NEW_MOLECULE = "CCOc1ccc(cc1)C(=O)NCCN1CCOCC1"  # not an approved drug


def test_context_for_new_molecule(tiny_bridge):
    assert tiny_bridge.resolve_query(NEW_MOLECULE, "drug").node is None
    ctx = build_context(tiny_bridge, NEW_MOLECULE, "drug", k=3)
    json.dumps(ctx)  # serialisable
    assert ctx["query"]["in_kg"] is False
    pairs = {(r["relation"], r["tail_type"]) for r in ctx["retrievals"]}
    assert (
        pairs
        == set(reachable_relations(tiny_bridge, "drug"))
        == {("indication", "disease"), ("target", "protein")}
    )
    for r in ctx["retrievals"]:
        assert [e["rank"] for e in r["entities"]] == [1, 2, 3]
        scores = [e["score"] for e in r["entities"]]
        assert scores == sorted(scores, reverse=True)
        assert not any(e["known_edge"] for e in r["entities"])
        for e in r["entities"]:
            assert e["name"] in ctx["prompt"]
    assert ctx["question"] in ctx["prompt"]


def test_prompt_says_what_the_scores_are(tiny_bridge):
    """The tiny run ships the hybrid: its scores are not cosines; the same model as a bridge alone's are."""
    hybrid = build_context(tiny_bridge, NEW_MOLECULE, "drug", k=3)
    assert "score = hybrid retriever score" in hybrid["prompt"] and "cosine" not in hybrid["prompt"]
    b = tiny_bridge
    alone = build_context(Bridge(b.model, b.kg, b.table, b.store, b.split), NEW_MOLECULE, "drug", k=3)
    assert alone["score"] == "cosine similarity" and "score = cosine similarity," in alone["prompt"]
    assert all(abs(e["score"]) <= 1 for r in alone["retrievals"] for e in r["entities"])


def test_context_marks_known_edges(tiny_bridge):
    kg = tiny_bridge.kg
    t = kg.triples
    drug = int(t.loc[t["relation"] == "target", "head"].value_counts().index[0])
    ctx = build_context(
        tiny_bridge, kg.nodes.at[drug, "node_id"], "drug", k=50, relations=[("target", "protein")]
    )
    assert ctx["query"]["kg_node"]["id"] == kg.nodes.at[drug, "node_id"]
    known = set(kg.nodes.loc[t.loc[(t["head"] == drug) & (t["relation"] == "target"), "tail"], "node_id"])
    flagged = {e["id"] for e in ctx["retrievals"][0]["entities"] if e["known_edge"]}
    retrieved = {e["id"] for e in ctx["retrievals"][0]["entities"]}
    assert flagged == known & retrieved and flagged
    assert "[known KG edge]" in ctx["prompt"]


def test_answer_with_fake_generator(tiny_bridge):
    seen = {}

    def fake(prompt, max_new_tokens):
        seen["prompt"], seen["n"] = prompt, max_new_tokens
        return "It may target " + prompt.split("1. ")[1].split(" (")[0]

    gen = CallableGenerator(fake, name="fake")
    assert isinstance(gen, Generator)
    ctx = build_context(tiny_bridge, NEW_MOLECULE, "drug", k=2)
    out = answer(ctx, gen, question="Which disease?", max_new_tokens=7)
    assert seen["n"] == 7 and "Question: Which disease?" in seen["prompt"]
    assert out.startswith("It may target ") and out[len("It may target ") :] in seen["prompt"]


class _Handler(BaseHTTPRequestHandler):
    requests: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.requests.append((self.path, self.headers.get("Authorization"), body))
        reply = {"choices": [{"message": {"role": "assistant", "content": "answer: " + body["model"]}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_openai_compatible_client_against_local_fake_server():
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        gen = OpenAICompatibleGenerator(
            f"http://127.0.0.1:{server.server_port}/v1", model="tiny", api_key="k"
        )
        assert gen.generate("hello", max_new_tokens=5) == "answer: tiny"
        path, auth, body = _Handler.requests[-1]
        assert path == "/v1/chat/completions" and auth == "Bearer k"
        assert body["max_tokens"] == 5 and body["messages"][-1] == {"role": "user", "content": "hello"}
    finally:
        server.shutdown()


def test_generator_configuration_errors(tmp_path, monkeypatch):
    for var in ("BIOBRIDGE_LLM_BASE_URL", "OPENAI_BASE_URL", "BIOBRIDGE_LLM_MODEL", "OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match="base URL"):
        OpenAICompatibleGenerator(model="m")
    monkeypatch.setenv("BIOBRIDGE_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("BIOBRIDGE_LLM_MODEL", "m")
    assert build_generator("openai").name == "openai-compatible:m"
    with pytest.raises(FileNotFoundError, match="config.json"):
        HFLocalGenerator(tmp_path)
    with pytest.raises(ValueError, match="unknown generator"):
        build_generator("nope")
