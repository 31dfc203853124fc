"""``biobridge benchmark``: the paper's comparison (``biobridge.benchmark``) from a preset or a TOML config."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from biobridge.cli.common import WORKDIR


def benchmark(
    workdir: Path = WORKDIR,
    quick: bool = typer.Option(
        False,
        "--quick",
        help="The 'quick' preset: a seeded subset (120 nodes/type), "
        "1 seed, few epochs, TransE + DistMult: a few minutes on 2 cores.",
    ),
    config: str | None = typer.Option(
        None,
        "--config",
        help="A preset name ('full', 'quick') or a TOML file (default 'full', or 'quick' with --quick).",
    ),
    protocol: list[str] = typer.Option(
        [], help="paper | transductive | inductive (repeatable; default: the config's)."
    ),
    seed: list[int] = typer.Option([], help="Split and training seeds (repeatable; default: the config's)."),
    method: list[str] = typer.Option(
        [],
        help="Only these methods (repeatable), e.g. biobridge-cpu, transe, rotate, popularity, feature-knn.",
    ),
    kge_model: list[str] = typer.Option([], help="PyKEEN models (repeatable; default: the config's)."),
    kge_epochs: int | None = typer.Option(None, min=1, help="Epochs of every KGE model."),
    variant: list[str] = typer.Option(
        [],
        help="Runs NAME=PRESET[,key=value...] replacing the config's, e.g. "
        "'biobridge-l0=cpu,model.n_layers=0,train.epochs=2' or 'b=cpu,retriever.kind=bridge'; hybrids built "
        "on a replaced run are dropped, a variant that ships a hybrid reports it as NAME-hybrid.",
    ),
    max_nodes_per_type: int | None = typer.Option(
        None, min=2, help="Run on a seeded subset of the working dir's KG."
    ),
    tasks: str | None = typer.Option(
        None, help="'all' tasks of the KG or the paper's 'paper' tasks (default: the config's)."
    ),
    threads: int | None = typer.Option(None, min=1, help="torch threads (default: the config's)."),
    out: Path | None = typer.Option(None, help="Output directory (default WORKDIR/benchmark[-NAME])."),
    docs: Path | None = typer.Option(
        None, help="Regenerate the benchmark section of this Markdown file (e.g. docs/benchmarks.md)."
    ),
    force: bool = typer.Option(False, help="Recompute results that could be reused."),
    progress: bool = typer.Option(False, help="Progress bars while training bridges."),
) -> None:
    """Bridge and hybrid vs KGE (PyKEEN) vs popularity, feature-kNN and graph-context on the same splits,
    protocols and seeds."""
    from biobridge.benchmark import BridgeVariant, load_benchmark_config, run_benchmark

    cfg = load_benchmark_config(config or ("quick" if quick else "full"))
    changes: dict = {k: v for k, v in (("tasks", tasks), ("num_threads", threads)) if v is not None}
    if kge_model:
        changes["kge_models"] = tuple(kge_model)
    if kge_epochs is not None:
        changes["kge"] = {**cfg.kge, "epochs": kge_epochs}
    if max_nodes_per_type is not None:
        changes["max_nodes_per_type"] = max_nodes_per_type
    cfg = replace(cfg, **changes)
    if variant:
        try:
            cfg = cfg.with_bridges(tuple(BridgeVariant.parse(v) for v in variant))
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--variant") from err
    summary = run_benchmark(
        workdir,
        cfg,
        protocols=protocol or None,
        seeds=seed or None,
        methods=method or None,
        out_dir=out,
        docs_path=docs,
        force=force,
        progress=progress,
    )
    out_dir = Path(summary["out_dir"])
    for name in summary["protocols"]:
        typer.echo((out_dir / f"{name}.md").read_text(encoding="utf-8"))
    typer.echo(f"tables, plots and benchmark.json: {out_dir}" + (f"; docs: {docs}" if docs else ""))


def register(app: typer.Typer) -> None:
    app.command()(benchmark)
