"""The FastAPI application: versioned JSON endpoints over a ``RetrievalService``, the web explorer at ``/``,
Prometheus metrics at ``/metrics`` and OpenAPI docs at ``/docs``.

Every error is a JSON body ``{"error": {"status", "type", "field", "message"}}`` with a 4xx status for a
request the server cannot answer as asked, never a traceback; an internal failure is logged here and
answered with a 500 that says only that. Read-only by construction: no request names a file or writes one.
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from biobridge.server import schemas
from biobridge.server.batching import ModelWorker
from biobridge.server.metrics import ServerMetrics
from biobridge.server.service import RequestError, RetrievalService

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
API = f"/api/{schemas.API_VERSION}"
API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True)
class ServerSettings:
    api_key: str | None = None  # required in the X-API-Key header of every API request when set
    cors_origins: tuple[str, ...] = ()  # CORS off unless origins are given


def error_response(status: int, kind: str, message: str, field: str | None = None) -> JSONResponse:
    body = schemas.ErrorResponse(
        error=schemas.ErrorBody(status=status, type=kind, field=field, message=message)
    )
    return JSONResponse(body.model_dump(), status_code=status)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` (by its Content-Length, or as it streams in) is
    answered with 413 before any handler reads it."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_large = error_response(
            413,
            "too_large",
            f"request body over {self.max_bytes} bytes (this server's max_body_bytes)",
            "body",
        )
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await too_large(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await too_large(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def _field_of(loc: tuple) -> str | None:
    """``("body", "queries", 2)`` -> ``queries[2]``; ``("query", "limit")`` -> ``limit``."""
    parts = [p for p in loc if p not in ("body", "query", "path")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or None


def create_app(service: RetrievalService, settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings()
    metrics = ServerMetrics()
    worker = ModelWorker(service, service.limits.max_batch, on_batch=metrics.observe_batch)
    app = FastAPI(
        title="biobridge",
        version=schemas.API_VERSION,
        description="Cross-modal retrieval over frozen biomedical encoders bridged through a knowledge graph.",
    )
    app.state.service, app.state.worker, app.state.metrics = service, worker, metrics
    app.router.add_event_handler("shutdown", worker.close)

    # ---- errors ---------------------------------------------------------------------------------------
    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError):
        return error_response(exc.status, exc.kind, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        if first.get("type") == "json_invalid":
            return error_response(
                400, "malformed_json", f"the body is not valid JSON: {first.get('msg')}", "body"
            )
        field = _field_of(tuple(first.get("loc", ())))
        message = str(first.get("msg", "invalid value"))
        if len(exc.errors()) > 1:
            message += f" (and {len(exc.errors()) - 1} more problems)"
        return error_response(422, "invalid_input", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        log.exception("internal error answering %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error (logged by the server)")

    # ---- middleware, innermost first: API key, CORS, body limit, metrics (outermost) --------------------
    @app.middleware("http")
    async def _api_key(request: Request, call_next):
        path = request.url.path
        protected = (path.startswith(API) and path != f"{API}/health") or path == "/metrics"
        if settings.api_key and protected:
            given = request.headers.get(API_KEY_HEADER, "")
            if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
                return error_response(
                    401, "unauthorized", f"missing or wrong {API_KEY_HEADER} header", API_KEY_HEADER
                )
        return await call_next(request)

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"]
        )
    app.add_middleware(BodyLimit, max_bytes=service.limits.max_body_bytes)

    @app.middleware("http")
    async def _measure(request: Request, call_next):
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            metrics.observe_request(_route_of(request), request.method, 500, time.perf_counter() - started)
            raise
        metrics.observe_request(
            _route_of(request), request.method, response.status_code, time.perf_counter() - started
        )
        return response

    # ---- endpoints ------------------------------------------------------------------------------------
    @app.get(f"{API}/health", tags=["status"])
    async def health() -> dict:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(f"{API}/ready", tags=["status"])
    async def ready() -> dict:
        """Readiness: the run is loaded (the server only listens once it is)."""
        return {
            "ready": True,
            "run": service.schema()["run"]["name"],
            "retriever": service.bridge.retriever.name,
        }

    @app.get(f"{API}/schema", tags=["status"])
    async def schema() -> dict:
        """Node types, relations, tasks, encoders, limits, example queries and the run's model card."""
        return service.schema()

    @app.post(f"{API}/retrieve", response_model=schemas.RetrieveResponse, tags=["retrieval"])
    async def retrieve(request: schemas.RetrieveRequest) -> schemas.RetrieveResponse:
        """Top-k nodes of ``target_type`` for one query (``query``) or several (``queries``)."""
        return await worker.retrieve(request)

    @app.post(f"{API}/path", response_model=schemas.PathResponse, tags=["retrieval"])
    async def path(request: schemas.PathRequest) -> schemas.PathResponse:
        """Multi-hop retrieval along a path of relations, with the best path to each end node."""
        return await worker.call(service.path, request)

    @app.post(f"{API}/context", response_model=schemas.ContextResponse, tags=["retrieval"])
    async def context(request: schemas.ContextRequest) -> schemas.ContextResponse:
        """Top entities per reachable relation and a prompt a language model can answer from."""
        return await worker.call(service.context, request)

    @app.post(f"{API}/similarity", response_model=schemas.SimilarityResponse, tags=["retrieval"])
    async def similarity(request: schemas.SimilarityRequest) -> schemas.SimilarityResponse:
        """Cosine of two items in the bridge's shared space (and GO similarity for two proteins)."""
        return await worker.call(service.similarity, request)

    @app.get(
        f"{API}/nodes/{{node_type}}/{{node_id:path}}", response_model=schemas.NodeDetails, tags=["graph"]
    )
    async def node(node_type: str, node_id: str) -> schemas.NodeDetails:
        """A KG node: name, feature, and its known neighbours by relation."""
        return await worker.call(service.node, node_type, node_id)

    @app.get(f"{API}/search", response_model=schemas.SearchResponse, tags=["graph"])
    async def search(
        q: str = Query(..., max_length=200, description="id or part of a name"),
        node_type: str | None = None,
        limit: int = Query(10, ge=1, le=100),
    ) -> schemas.SearchResponse:
        """KG nodes by id or name (autocomplete)."""
        return await worker.call(service.search, q, node_type, limit)

    @app.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    # ---- the explorer ---------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def explorer():
        index = STATIC_DIR / "index.html"
        if not index.exists():
            return error_response(404, "not_found", "the web explorer is not installed")
        return FileResponse(index)

    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


# ---- several worker processes: uvicorn imports this factory in each, configured by the environment ------
CONFIG_ENV = "BIOBRIDGE_SERVE_CONFIG"


def app_from_environment() -> FastAPI:
    """The app described by the JSON in ``$BIOBRIDGE_SERVE_CONFIG`` (written by ``biobridge serve``):
    ``{"run_dir", "eager", "limits": {...}, "api_key", "cors_origins": [...]}``."""
    import json
    import os

    from biobridge.server.service import ServerLimits

    config = json.loads(os.environ[CONFIG_ENV])
    service = RetrievalService.open(
        config["run_dir"], ServerLimits(**config["limits"]), eager=config["eager"]
    )
    settings = ServerSettings(
        api_key=config.get("api_key"), cors_origins=tuple(config.get("cors_origins", ()))
    )
    return create_app(service, settings)
