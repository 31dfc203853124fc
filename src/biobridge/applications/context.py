"""Question-answering context (BioBridge paper, section 4.5): retrieve the top entities per relation for a
query entity (a molecule that is not in the KG, a protein sequence, a disease text, ...) and emit a
structured context (JSON-serialisable dict) and a prompt a language model can answer from.

The context needs no language model. :func:`answer` hands the prompt to any ``Generator``
(``biobridge.applications.generators``).
"""

from __future__ import annotations

from typing import Any

from biobridge.applications.generators import Generator
from biobridge.retrieval.scorer import BridgeScorer

DEFAULT_QUESTIONS = {
    "drug": "What might this molecule be used for, and which proteins might it act on?",
    "protein": "What is the likely function and location of this protein, and is it a drug target?",
    "disease": "Which proteins and drugs are relevant to this disease?",
}


def reachable_relations(bridge, query_type: str) -> list[tuple[str, str]]:
    """(relation, tail type) pairs with ``query_type`` as head in the KG, most frequent first."""
    kg = bridge.kg
    types = kg.node_type_array()
    t = kg.triples
    sub = t[types[t["head"].to_numpy()] == query_type]
    tails = types[sub["tail"].to_numpy()]
    counts: dict[tuple[str, str], int] = {}
    for rel, tail in zip(sub["relation"].to_numpy(), tails, strict=True):
        counts[(str(rel), str(tail))] = counts.get((str(rel), str(tail)), 0) + 1
    return [key for key, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def score_meaning(bridge) -> str:
    """What a retrieved entity's score is, as the prompt states it: the retriever the run ships decides."""
    if isinstance(bridge.retriever, BridgeScorer):
        return "cosine similarity"
    return "hybrid retriever score: weighted sum of per-query standardised bridge and baseline scores"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def build_context(
    bridge,
    query: str,
    query_type: str,
    k: int = 5,
    relations: list[tuple[str, str]] | None = None,
    candidates: str = "relation",
    question: str | None = None,
) -> dict[str, Any]:
    """Top-``k`` entities for every (relation, tail type) reachable from ``query_type``.

    Returns ``{"query": {...}, "retrievals": [{"relation", "tail_type", "entities": [{rank, id, name, score,
    known_edge}]}], "score": what the scores are (``score_meaning``), "question": str, "prompt": str}``;
    ``known_edge`` marks KG edges of a query that is a KG node (its stored feature or id was given).
    """
    node = bridge.resolve_query(query, query_type).node
    info: dict[str, Any] = {"type": query_type, "input": _short(query), "in_kg": node is not None}
    if node is not None:
        info["kg_node"] = {
            "id": str(bridge.kg.nodes.at[node, "node_id"]),
            "name": str(bridge.kg.nodes.at[node, "name"]),
        }
    retrievals = []
    for relation, tail_type in relations or reachable_relations(bridge, query_type):
        table = bridge.retrieve(query, query_type, tail_type, relation=relation, k=k, candidates=candidates)
        retrievals.append(
            {
                "relation": relation,
                "tail_type": tail_type,
                "entities": [
                    {
                        "rank": int(r.rank),
                        "id": str(r.node_id),
                        "name": str(r.name),
                        "score": round(float(r.score), 4),
                        "known_edge": bool(r.known_edge),
                    }
                    for r in table.itertuples()
                ],
            }
        )
    context = {"query": info, "retrievals": retrievals, "score": score_meaning(bridge)}
    context["question"] = question or DEFAULT_QUESTIONS.get(
        query_type, f"What is known about this {query_type}?"
    )
    context["prompt"] = render_prompt(context, context["question"])
    return context


def render_prompt(context: dict[str, Any], question: str | None = None) -> str:
    q = context["query"]
    label = q["kg_node"]["name"] if q.get("kg_node") else q["input"]
    lines = [
        f"Query ({q['type']}): {label}",
        "",
        f"Retrieved knowledge (BioBridge cross-modal retrieval; score = {context.get('score', 'cosine similarity')},"
        " higher is more relevant; entries are predictions unless marked [known KG edge]):",
    ]
    for r in context["retrievals"]:
        rel = r["relation"].replace("rev_", "reverse of ")
        lines.append(f"- {r['tail_type']} ({rel}):")
        for e in r["entities"]:
            known = " [known KG edge]" if e["known_edge"] else ""
            lines.append(f"  {e['rank']}. {e['name']} ({e['id']}, score {e['score']:.3f}){known}")
    lines += [
        "",
        f"Question: {question or context.get('question', '')}",
        "Answer briefly from the knowledge above and name the entities you rely on.",
    ]
    return "\n".join(lines)


def answer(
    context: dict[str, Any], generator: Generator, question: str | None = None, max_new_tokens: int = 256
) -> str:
    prompt = render_prompt(context, question) if question else context["prompt"]
    return generator.generate(prompt, max_new_tokens=max_new_tokens)
