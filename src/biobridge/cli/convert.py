"""``biobridge import-original``: the released BioBridge checkpoint as a biobridge run directory."""

from __future__ import annotations

from pathlib import Path

import typer


def import_original(
    src: Path = typer.Argument(
        ..., help="Directory with the original pytorch_model.bin and model_config.json."
    ),
    out: Path = typer.Argument(..., help="New biobridge run directory."),
    data_config: Path | None = typer.Option(
        None, help="The original data_config.json (default: packaged copy)."
    ),
) -> None:
    """Convert the released BioBridge checkpoint (loaded with weights_only=True) into a biobridge run."""
    from biobridge.bridge.import_original import import_original_checkpoint

    typer.echo(f"run: {import_original_checkpoint(src, out, data_config)}")


def register(app: typer.Typer) -> None:
    app.command("import-original")(import_original)
