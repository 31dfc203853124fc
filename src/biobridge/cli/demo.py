"""``biobridge demo``: the whole pipeline on the packaged default KG, then example retrievals."""

from __future__ import annotations

from pathlib import Path

import typer

from biobridge.cli.common import format_results
from biobridge.config import preset, with_overrides


def demo(
    workdir: Path = typer.Option(Path("runs/demo"), "--workdir", "-w"),
    max_nodes_per_type: int | None = typer.Option(None, min=2, help="Run on a seeded subset (faster)."),
    epochs: int = typer.Option(
        1, min=1, help="Epochs of the CPU preset (biobridge train: 2; each epoch is about 70 s on 2 cores)."
    ),
    progress: bool = typer.Option(True, help="Progress bars."),
) -> None:
    """prepare -> encode -> train (CPU preset, 1 epoch) -> evaluate -> three example retrievals, on the default KG."""
    from biobridge.demo import run_demo

    config = with_overrides(preset("cpu"), {"train.epochs": epochs})
    out = run_demo(workdir, config, max_nodes_per_type=max_nodes_per_type, progress=progress)
    typer.echo("\n== evaluation (paper protocol; filtered realistic rank) ==")
    typer.echo(out["evaluation"].format_table())
    for ex in out["retrievals"]:
        typer.echo(f"\n== {ex['head_type']} -[{ex['relation']}]-> {ex['tail_type']}: {ex['query_label']} ==")
        typer.echo(format_results(ex["results"]))
    typer.echo("\n== wall time (s) ==")
    typer.echo("  ".join(f"{k}={v:.1f}" for k, v in out["seconds"].items()))
    typer.echo(f"artifacts: {workdir}")


def register(app: typer.Typer) -> None:
    app.command()(demo)
