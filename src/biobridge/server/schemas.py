"""The JSON bodies of the HTTP API (version 1) as pydantic models: what a request may hold, what a response
holds. Field checks that need the run (types, relations, sequence letters) live in ``service.py``; these models
check shapes and the configured limits (``ServerLimits``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

API_VERSION = "v1"


class _Request(BaseModel):
    # an unknown field is a mistake worth naming (a typo of ``target_type`` must not be ignored)
    model_config = ConfigDict(extra="forbid")


class NodeRef(BaseModel):
    node_id: str
    name: str
    node_type: str


class Hit(NodeRef):
    rank: int
    score: float
    known_edge: bool = Field(description="the query is a KG node linked to this one by the relation")


class RetrieveRequest(_Request):
    query: str | None = Field(None, description="a sequence, SMILES, text, or a KG node id of query_type")
    queries: list[str] | None = Field(None, description="several queries in one request (instead of query)")
    query_type: str
    target_type: str
    relation: str | None = Field(None, description="inferred when exactly one relation links the two types")
    k: int = Field(10, ge=1)
    candidates: Literal["relation", "all"] = "relation"
    as_raw: bool = Field(False, description="read an id-like query as a raw feature")

    @model_validator(mode="after")
    def _one_of_query_or_queries(self) -> RetrieveRequest:
        if (self.query is None) == (self.queries is None):
            raise ValueError("give exactly one of 'query' and 'queries'")
        if self.queries is not None and not self.queries:
            raise ValueError("'queries' is empty")
        return self

    def query_list(self) -> list[str]:
        return [self.query] if self.query is not None else list(self.queries or [])


class QueryResult(BaseModel):
    query: str = Field(description="the query as given (long inputs shortened)")
    kg_node: NodeRef | None = Field(description="the KG node the query named, or null for a new item")
    hits: list[Hit]


class RetrieveResponse(BaseModel):
    retriever: str
    relation: str
    results: list[QueryResult]
    elapsed_ms: float


class PathRequest(_Request):
    query: str
    path: str = Field(
        description="hops 'head:relation:tail' joined by commas, e.g. "
        "'disease:associated_with:protein,protein:rev_target:drug'"
    )
    k: int = Field(10, ge=1)
    known_edges: bool = Field(True, description="from a KG node, its own edges rank above predictions")


class HopRef(BaseModel):
    head_type: str
    relation: str
    tail_type: str


class PathHit(NodeRef):
    rank: int
    score: float
    path: list[NodeRef] = Field(description="the intermediate nodes of the best path")
    hop_scores: list[float]


class PathResponse(BaseModel):
    retriever: str
    hops: list[HopRef]
    kg_node: NodeRef | None
    results: list[PathHit]
    elapsed_ms: float


class ContextRequest(_Request):
    query: str
    query_type: str
    k: int = Field(5, ge=1)
    question: str | None = None


class ContextResponse(BaseModel):
    query: dict[str, Any]
    retrievals: list[dict[str, Any]]
    question: str
    prompt: str
    elapsed_ms: float


class Item(_Request):
    query: str
    query_type: str


class SimilarityRequest(_Request):
    a: Item
    b: Item


class SimilarityResponse(BaseModel):
    a: NodeRef | None
    b: NodeRef | None
    cosine: float = Field(description="cosine of the two items' projections into the bridge's shared space")
    raw_cosine: float | None = Field(description="cosine of the frozen-encoder embeddings (same type only)")
    go: dict[str, Any] | None = Field(
        description="two proteins: per GO aspect, the bridged cosine and GO Lin similarity (BMA) when known"
    )
    elapsed_ms: float


class Neighbours(BaseModel):
    relation: str
    node_type: str
    count: int
    nodes: list[NodeRef]


class NodeDetails(NodeRef):
    feature: str
    embedded: bool
    neighbours: list[Neighbours]


class SearchResponse(BaseModel):
    matches: list[NodeRef]


class ErrorBody(BaseModel):
    status: int
    type: str
    field: str | None
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody
