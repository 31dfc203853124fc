"""What the server answers, without HTTP: a trained run opened once (``Bridge``), the request checks that need
it (types, relations, lengths, sequence letters, SMILES), and one method per endpoint returning the response
models of ``schemas.py``. A request error is a ``RequestError`` naming the field; the app turns it into a 4xx.
Every method runs on the app's one model thread (see ``batching.py``), so nothing here is shared across threads.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from biobridge.applications.context import build_context
from biobridge.applications.multihop import SIMILARITY, multi_hop, parse_path
from biobridge.applications.similarity import pair_similarity
from biobridge.bridge.run import TrainedRun
from biobridge.errors import InputError
from biobridge.evaluation.tasks import discover_tasks
from biobridge.retrieval.bridge import Bridge
from biobridge.server import schemas

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    """What one request may ask for; reported by the schema endpoint."""

    max_k: int = 1000
    max_batch: int = 64
    max_sequence_length: int = 40_000  # protein sequences and SMILES, in characters (titin: 34,350)
    max_text_length: int = 5000  # texts, in characters
    max_body_bytes: int = 1_000_000
    max_neighbours: int = 50  # nodes listed per relation on a node page

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"server limit {name} must be a whole number >= 1, got {value!r}")


class RequestError(Exception):
    """A request the server cannot answer as asked: HTTP ``status``, the ``field`` at fault, the reason."""

    def __init__(
        self, message: str, field: str | None = None, status: int = 422, kind: str = "invalid_input"
    ):
        super().__init__(message)
        self.message, self.field, self.status, self.kind = message, field, status, kind


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class RetrievalService:
    """The answers of one run. ``Bridge`` does the work; this class checks requests and shapes responses."""

    def __init__(self, bridge: Bridge, run_dir: Path, limits: ServerLimits | None = None) -> None:
        self.bridge = bridge
        self.run_dir = Path(run_dir)
        self.limits = limits or ServerLimits()
        kg = bridge.kg
        self._types = kg.node_type_array()
        self._index = {
            (t, str(i)): int(n)
            for t, i, n in zip(
                kg.nodes["node_type"], kg.nodes["node_id"], kg.nodes["node_index"], strict=True
            )
        }
        self._semantics: dict = {}
        self._schema: dict[str, Any] | None = None
        self._search: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @classmethod
    def open(
        cls, run_dir: str | Path, limits: ServerLimits | None = None, eager: bool = False
    ) -> RetrievalService:
        """Open ``run_dir`` once (its KG, embeddings and retriever); ``eager``: also load every encoder now
        rather than on the first raw query of its type. Logs what it loaded and how long it took."""
        started = time.perf_counter()
        service = cls(Bridge.from_pretrained(run_dir), Path(run_dir), limits)
        service.warm_up(eager)
        kg = service.bridge.kg
        log.info(
            "loaded run %s (retriever %s; KG %s: %d nodes, %d triples; encoders %s) in %.1f s",
            run_dir,
            service.bridge.retriever.name,
            kg.content_hash(),
            len(kg.nodes),
            len(kg.triples),
            "loaded" if eager else "lazy",
            time.perf_counter() - started,
        )
        return service

    def warm_up(self, eager: bool) -> None:
        """Build the lookups every request needs (and, ``eager``, load the encoders), so the first request
        pays nothing extra."""
        for node_type in self.bridge.store.node_types:
            self.bridge.resolve_query("", node_type, as_raw=True)
            if eager:
                self.bridge.encoder(node_type)
        self.schema()

    # ---- checks --------------------------------------------------------------------------------------
    def check_type(self, node_type: str, field: str) -> None:
        if node_type not in self.bridge.model.type_ids or node_type not in self.bridge.store.node_types:
            known = sorted(set(self.bridge.model.type_ids) & set(self.bridge.store.node_types))
            raise RequestError(f"unknown node type {node_type!r}; known: {known}", field)

    def check_k(self, k: int, field: str = "k") -> None:
        if k > self.limits.max_k:
            raise RequestError(f"k must be at most {self.limits.max_k}, got {k}", field)

    def check_relation(self, head_type: str, tail_type: str, relation: str | None) -> str:
        try:
            return self.bridge.resolve_relation(head_type, tail_type, relation)
        except InputError as exc:
            raise RequestError(str(exc), "relation") from exc

    def check_query(self, query: str, node_type: str, field: str, as_raw: bool = False) -> int | None:
        """The KG node ``query`` names (or None for a new item), after checking it can be encoded."""
        modality = self.bridge.kg.modalities.get(node_type, "text")
        limit = self.limits.max_text_length if modality == "text" else self.limits.max_sequence_length
        if len(query) > limit:
            raise RequestError(
                f"{len(query)} characters; this server accepts at most {limit}", field, 413, "too_large"
            )
        try:
            resolved = self.bridge.resolve_query(query, node_type, as_raw)
        except InputError as exc:
            raise RequestError(str(exc), field) from exc
        if resolved.node is None:
            reason = self.bridge.encoder(node_type).invalid_reason(query)
            if reason is not None:
                raise RequestError(f"cannot be read as {node_type}: {reason}", field)
        return resolved.node

    def check_retrieve(self, request: schemas.RetrieveRequest) -> str:
        """Check a retrieve request; returns the relation it resolves to."""
        self.check_type(request.query_type, "query_type")
        self.check_type(request.target_type, "target_type")
        self.check_k(request.k)
        queries = request.query_list()
        if len(queries) > self.limits.max_batch:
            raise RequestError(
                f"{len(queries)} queries; at most {self.limits.max_batch} per request", "queries"
            )
        relation = self.check_relation(request.query_type, request.target_type, request.relation)
        for i, query in enumerate(queries):
            field = "query" if request.query is not None else f"queries[{i}]"
            self.check_query(query, request.query_type, field, request.as_raw)
        return relation

    # ---- answers -------------------------------------------------------------------------------------
    def node_ref(self, node: int | None) -> schemas.NodeRef | None:
        if node is None or node < 0:
            return None
        row = self.bridge.kg.nodes.loc[int(node)]
        return schemas.NodeRef(
            node_id=str(row["node_id"]), name=str(row["name"]), node_type=str(row["node_type"])
        )

    def retrieve_many(self, requests: list[schemas.RetrieveRequest]) -> list[schemas.RetrieveResponse]:
        """Answer checked retrieve requests that share query type, target type, relation, candidates and
        ``as_raw`` with one ``Bridge.retrieve_many`` call (identical to answering each alone)."""
        started = time.perf_counter()
        first = requests[0]
        relation = self.bridge.resolve_relation(first.query_type, first.target_type, first.relation)
        queries = [q for r in requests for q in r.query_list()]
        k = max(r.k for r in requests)
        tables = self.bridge.retrieve_many(
            queries, first.query_type, first.target_type, relation, k, first.candidates, first.as_raw
        )
        nodes = [self.bridge.resolve_query(q, first.query_type, first.as_raw).node for q in queries]
        elapsed = _elapsed_ms(started)
        out, position = [], 0
        for request in requests:
            results = []
            for query in request.query_list():
                table, node = tables[position], nodes[position]
                position += 1
                results.append(
                    schemas.QueryResult(
                        query=_short(query),
                        kg_node=self.node_ref(node),
                        hits=self._hits(table.head(request.k), first.target_type),
                    )
                )
            out.append(
                schemas.RetrieveResponse(
                    retriever=self.bridge.retriever.name,
                    relation=relation,
                    results=results,
                    elapsed_ms=elapsed,
                )
            )
        return out

    @staticmethod
    def _hits(table, node_type: str) -> list[schemas.Hit]:
        return [
            schemas.Hit(
                rank=int(r.rank),
                node_id=str(r.node_id),
                name=str(r.name),
                node_type=node_type,
                score=float(r.score),
                known_edge=bool(r.known_edge),
            )
            for r in table.itertuples()
        ]

    def path(self, request: schemas.PathRequest) -> schemas.PathResponse:
        started = time.perf_counter()
        self.check_k(request.k)
        try:
            hops = parse_path(request.path)
        except (ValueError, KeyError) as exc:
            raise RequestError(str(exc), "path") from exc
        for i, hop in enumerate(hops):
            for node_type in (hop.head_type, hop.tail_type):
                self.check_type(node_type, f"path[{i}]")
            if hop.relation == SIMILARITY:
                if hop.head_type != hop.tail_type:
                    raise RequestError(f"a similarity hop links a type to itself, got {hop}", f"path[{i}]")
                continue
            try:
                self.bridge.resolve_relation(hop.head_type, hop.tail_type, hop.relation)
            except InputError as exc:
                raise RequestError(str(exc), f"path[{i}]") from exc
        node = self.check_query(request.query, hops[0].head_type, "query")
        table = multi_hop(self.bridge, request.query, hops, k=request.k, known_edges=request.known_edges)
        tail_type = hops[-1].tail_type
        results = [
            schemas.PathHit(
                rank=int(r.rank),
                node_id=str(r.node_id),
                name=str(r.name),
                node_type=tail_type,
                score=float(r.score),
                path=[self.node_ref(n) for n in r.path_nodes],
                hop_scores=[float(s) for s in r.hop_scores],
            )
            for r in table.itertuples()
        ]
        return schemas.PathResponse(
            retriever=self.bridge.retriever.name,
            hops=[
                schemas.HopRef(head_type=h.head_type, relation=h.relation, tail_type=h.tail_type)
                for h in hops
            ],
            kg_node=self.node_ref(node),
            results=results,
            elapsed_ms=_elapsed_ms(started),
        )

    def context(self, request: schemas.ContextRequest) -> schemas.ContextResponse:
        started = time.perf_counter()
        self.check_type(request.query_type, "query_type")
        self.check_k(request.k)
        self.check_query(request.query, request.query_type, "query")
        ctx = build_context(
            self.bridge, request.query, request.query_type, k=request.k, question=request.question
        )
        return schemas.ContextResponse(**ctx, elapsed_ms=_elapsed_ms(started))

    def similarity(self, request: schemas.SimilarityRequest) -> schemas.SimilarityResponse:
        started = time.perf_counter()
        refs, vectors, raws = [], [], []
        for name, item in (("a", request.a), ("b", request.b)):
            self.check_type(item.query_type, f"{name}.query_type")
            node = self.check_query(item.query, item.query_type, f"{name}.query")
            items = self.bridge.query_items([item.query], item.query_type)
            refs.append(self.node_ref(node))
            raws.append(items.embeddings)
            vectors.append(self.bridge.project(items.embeddings, item.query_type))
        same_type = request.a.query_type == request.b.query_type
        raw_cosine = None
        if same_type:
            a, b = (F.normalize(torch.from_numpy(x), dim=1) for x in raws)
            raw_cosine = float((a * b).sum())
        go = None
        if same_type and request.a.query_type == "protein" and "protein" in self.bridge.kg.modalities:
            pair = pair_similarity(self.bridge, request.a.query, request.b.query, semantics=self._semantics)
            go = {aspect: pair[aspect] for aspect in ("BP", "MF", "CC") if aspect in pair}
        return schemas.SimilarityResponse(
            a=refs[0],
            b=refs[1],
            cosine=float(vectors[0][0] @ vectors[1][0]),
            raw_cosine=raw_cosine,
            go=go,
            elapsed_ms=_elapsed_ms(started),
        )

    def node(self, node_type: str, node_id: str) -> schemas.NodeDetails:
        node = self._index.get((node_type, node_id))
        if node is None:
            raise RequestError(f"no {node_type} node has id {node_id!r}", "node_id", 404, "not_found")
        kg = self.bridge.kg
        t = kg.triples
        edges = t.loc[t["head"] == node, ["relation", "tail"]]
        neighbours = []
        names = kg.nodes["name"]
        for relation, group in edges.groupby("relation", sort=True):
            tails = group["tail"].to_numpy()
            tails = tails[np.argsort(names.loc[tails].to_numpy().astype(str), kind="stable")]
            for tail_type in sorted(set(self._types[tails])):
                of_type = tails[self._types[tails] == tail_type]
                neighbours.append(
                    schemas.Neighbours(
                        relation=str(relation),
                        node_type=str(tail_type),
                        count=len(of_type),
                        nodes=[self.node_ref(int(n)) for n in of_type[: self.limits.max_neighbours]],
                    )
                )
        row = kg.nodes.loc[node]
        return schemas.NodeDetails(
            node_id=str(row["node_id"]),
            name=str(row["name"]),
            node_type=str(row["node_type"]),
            feature=str(row["feature"]),
            embedded=bool(self.bridge.table.has_embedding(np.array([node]))[0]),
            neighbours=neighbours,
        )

    def search(self, text: str, node_type: str | None, limit: int) -> schemas.SearchResponse:
        """KG nodes by id or name, case-insensitive: exact id first, then names starting with ``text``, then
        names or ids containing it; alphabetical within each group."""
        if node_type is not None:
            self.check_type(node_type, "node_type")
        needle = text.strip().lower()
        if not needle:
            return schemas.SearchResponse(matches=[])
        key = node_type or "*"
        if key not in self._search:
            nodes = self.bridge.kg.nodes
            if node_type is not None:
                nodes = nodes[nodes["node_type"] == node_type]
            order = np.argsort(nodes["name"].astype(str).str.lower().to_numpy(), kind="stable")
            nodes = nodes.iloc[order]
            self._search[key] = (
                nodes["node_index"].to_numpy(),
                nodes["node_id"].astype(str).str.lower().to_numpy(),
                nodes["name"].astype(str).str.lower().to_numpy(),
            )
        index, ids, names = self._search[key]
        exact = ids == needle
        prefix = np.char.startswith(names.astype(str), needle) & ~exact
        inside = (np.char.find(names.astype(str), needle) >= 0) | (np.char.find(ids.astype(str), needle) >= 0)
        inside &= ~exact & ~prefix
        picked = np.concatenate([index[exact], index[prefix], index[inside]])[:limit]
        return schemas.SearchResponse(matches=[self.node_ref(int(n)) for n in picked])

    # ---- schema --------------------------------------------------------------------------------------
    def schema(self) -> dict[str, Any]:
        """Node types, relations, tasks, encoders, limits, examples and the model card of the run."""
        if self._schema is None:
            self._schema = self._build_schema()
        return self._schema

    def _build_schema(self) -> dict[str, Any]:
        bridge, kg = self.bridge, self.bridge.kg
        run = TrainedRun.open(self.run_dir)
        counts = kg.nodes["node_type"].value_counts()
        node_types = [
            {
                "name": t,
                "modality": kg.modalities.get(t, "text"),
                "encoder": str(bridge.store.entry(t).get("encoder", "")),
                "n_nodes": int(counts.get(t, 0)),
            }
            for t in sorted(bridge.store.node_types)
            if t in bridge.model.type_ids
        ]
        t = kg.triples
        pattern = (
            t.assign(head_type=self._types[t["head"].to_numpy()], tail_type=self._types[t["tail"].to_numpy()])
            .groupby(["relation", "head_type", "tail_type"])
            .size()
        )
        relations = [
            {"relation": r, "head_type": h, "tail_type": tt, "n_triples": int(n)}
            for (r, h, tt), n in pattern.items()
        ]
        tasks = [
            {
                "name": task.name,
                "head_type": task.head_type,
                "relation": task.relation,
                "tail_type": task.tail_type,
            }
            for task in discover_tasks(kg)
        ]
        record = run.retriever
        retriever = {
            "name": bridge.retriever.name,
            "kind": record["kind"] if record else "bridge",
            "parts": record["parts"] if record else [bridge.retriever.name],
        }
        return {
            "api_version": schemas.API_VERSION,
            "run": {
                # the work dir with the run folder ("demo/model"): every run folder of `train` is "model"
                "name": "/".join(self.run_dir.resolve().parts[-2:]),
                "retriever": retriever,
                "kg_hash": run.config.get("kg_hash"),
                "split": run.config.get("split"),
                "n_parameters": run.config.get("n_parameters"),
                "metrics": self._metrics(run),
            },
            "node_types": node_types,
            "relations": relations,
            "tasks": tasks,
            "limits": asdict(self.limits),
            "examples": self._examples(),
        }

    def _metrics(self, run: TrainedRun) -> dict[str, Any] | None:
        """The run's per-task metrics from its working directory's ``eval/metrics.json`` when that evaluation
        is of this run's split and retriever (else None: the card never shows another run's numbers)."""
        path = self.run_dir.parent / "eval" / "metrics.json"
        split = run.config.get("split") or {}
        try:
            metrics = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        name = self.bridge.retriever.name
        if metrics.get("split_hash") != split.get("hash") or name not in metrics.get("methods", []):
            return None
        out = {}
        for task, entry in metrics.get("tasks", {}).items():
            result = entry.get("methods", {}).get(name, {})
            if result.get("status") == "ok":
                out[task] = {
                    m: round(float(result[m]), 4) for m in ("mrr", "hits@1", "hits@10") if m in result
                }
        return {"protocol": metrics.get("protocol"), "method": name, "tasks": out}

    def _examples(self) -> list[dict[str, Any]]:
        """One example per query modality, from the KG's best-connected nodes of the paper tasks' head types
        (a protein's sequence towards its biological processes, a drug's SMILES towards its targets, a disease's
        name as free text towards its genes), and one two-hop path from a disease to drugs."""
        kg, out = self.bridge.kg, []
        t = kg.triples
        wanted = [
            ("protein", "biological_process", "sequence"),
            ("drug", "protein", "SMILES"),
            ("disease", "protein", "name"),
        ]
        for head_type, tail_type, what in wanted:
            if head_type not in kg.modalities or tail_type not in kg.modalities:
                continue
            try:
                relation = self.bridge.resolve_relation(head_type, tail_type)
            except InputError:
                continue
            heads = t.loc[(t["relation"] == relation), "head"]
            heads = heads[self._types[heads.to_numpy()] == head_type]
            if heads.empty:
                continue
            node = int(heads.value_counts().sort_index().idxmax())
            row = kg.nodes.loc[node]
            query = str(row["name"]) if what == "name" else str(row["feature"])
            out.append(
                {
                    "label": f"{row['name']} ({what}) → {tail_type.replace('_', ' ')}",
                    "mode": "retrieve",
                    "query": query,
                    "query_type": head_type,
                    "target_type": tail_type,
                    "relation": relation,
                    "path": None,
                }
            )
        path = "disease:associated_with:protein,protein:rev_target:drug"
        try:
            hops = parse_path(path)
            for hop in hops:
                self.bridge.resolve_relation(hop.head_type, hop.tail_type, hop.relation)
        except (InputError, ValueError, KeyError):
            return out
        # the disease whose known genes are the targets of the most drugs: a path the KG can explain
        associated = t.loc[t["relation"] == "associated_with", ["head", "tail"]]
        associated = associated[self._types[associated["head"].to_numpy()] == "disease"]
        targeted = t.loc[t["relation"] == "rev_target", ["head", "tail"]].rename(
            columns={"head": "tail", "tail": "drug"}
        )
        reach = associated.merge(targeted, on="tail").drop_duplicates(["head", "drug"]).groupby("head").size()
        if not reach.empty:
            row = kg.nodes.loc[int(reach.sort_index().idxmax())]
            out.append(
                {
                    "label": f"{row['name']} → proteins → drugs",
                    "mode": "path",
                    "query": str(row["node_id"]),
                    "query_type": "disease",
                    "target_type": "drug",
                    "relation": None,
                    "path": path,
                }
            )
        return out
