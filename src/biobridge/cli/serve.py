"""``biobridge serve RUN_DIR``: the HTTP API and the web explorer over one trained run (extra ``serve``)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import typer

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    run_dir: Path = typer.Argument(..., help="A trained run directory (e.g. runs/default/model)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback unless told otherwise)."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes (each loads the run)."),
    eager: bool = typer.Option(
        False, "--eager/--lazy", help="Load every encoder at start-up (default: on the first raw query)."
    ),
    api_key_env: str | None = typer.Option(
        None, help="Name of an environment variable holding an API key required in the X-API-Key header."
    ),
    cors_origin: list[str] = typer.Option(
        [], "--cors-origin", help="Allow this browser origin (repeatable)."
    ),
    max_k: int = typer.Option(1000, min=1, help="Largest k a request may ask for."),
    max_batch: int = typer.Option(64, min=1, help="Most queries in one request (and in one micro-batch)."),
    max_sequence_length: int = typer.Option(40_000, min=1, help="Longest protein sequence or SMILES."),
    max_text_length: int = typer.Option(5000, min=1, help="Longest text query, in characters."),
    max_body_bytes: int = typer.Option(1_000_000, min=1, help="Largest request body."),
) -> None:
    """Serve a trained run: JSON API under /api/v1, the explorer at /, OpenAPI docs at /docs, /metrics."""
    try:
        import uvicorn

        from biobridge.server.app import CONFIG_ENV, ServerSettings, create_app
        from biobridge.server.service import RetrievalService, ServerLimits
    except ImportError as exc:
        raise typer.BadParameter(
            f"serving needs the 'serve' extra: pip install 'biobridge[serve]' ({exc})"
        ) from exc
    from biobridge.bridge.run import TrainedRun

    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise typer.BadParameter(
                f"environment variable {api_key_env} is empty or unset", param_hint="--api-key-env"
            )
    if host not in LOOPBACK and api_key is None:
        log.warning(
            "binding %s without an API key: anyone who can reach this address can query the run", host
        )
    limits = ServerLimits(max_k, max_batch, max_sequence_length, max_text_length, max_body_bytes)
    settings = ServerSettings(api_key=api_key, cors_origins=tuple(cors_origin))
    if workers == 1:
        app = create_app(RetrievalService.open(run_dir, limits, eager=eager), settings)
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    TrainedRun.open(run_dir)  # a bad run directory is one clear error here, not one per worker
    config = {"run_dir": str(run_dir), "eager": eager, "limits": asdict(limits), "api_key": api_key}
    os.environ[CONFIG_ENV] = json.dumps({**config, "cors_origins": list(cors_origin)})
    uvicorn.run(
        "biobridge.server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
