"""``biobridge prepare | encode | train | evaluate``: the pipeline's stages over one working directory."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from biobridge import pipeline
from biobridge.cli.common import MODEL, SEED, WORKDIR, parse_pairs
from biobridge.config import load_run_config, preset, with_overrides


def prepare(
    workdir: Path = WORKDIR,
    kg: str = typer.Option("default", help="'default' (packaged biokg-offline-mini), 'tsv' or 'primekg'."),
    kg_csv: Path | None = typer.Option(None, help="--kg primekg: PrimeKG's kg.csv."),
    features_dir: Path | None = typer.Option(None, help="--kg primekg: directory of per-type feature CSVs."),
    nodes: Path | None = typer.Option(None, help="--kg tsv: nodes TSV (node_type, node_id, name, feature)."),
    edges: Path | None = typer.Option(
        None, help="--kg tsv: edges TSV (head_type, head_id, relation, tail_type, tail_id)."
    ),
    modality: list[str] = typer.Option([], help="--kg tsv: NODE_TYPE=protein|molecule|text, repeatable."),
    protocol: list[str] = typer.Option(["paper", "inductive"], help="Split protocols to write (repeatable)."),
    test_fraction: float = typer.Option(0.1, help="Fraction of head nodes held out per node type."),
    seed: int = SEED,
    max_nodes_per_type: int | None = typer.Option(None, help="Keep a seeded, connected subset (quick runs)."),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace a KG or split that a trained run in WORKDIR was trained on (that run then no longer loads).",
    ),
) -> None:
    """Load a KG into typed node/triple tables and write seeded, hashed splits. Every argument is checked
    before anything is written; a KG or split a trained run in WORKDIR depends on is kept unless --overwrite."""
    summary = pipeline.prepare(
        workdir,
        kg,
        tuple(protocol),
        test_fraction,
        seed,
        overwrite=overwrite,
        nodes=nodes,
        edges=edges,
        modalities=parse_pairs(modality, "--modality") or None,
        max_nodes_per_type=max_nodes_per_type,
        kg_csv=kg_csv,
        features_dir=features_dir,
    )
    typer.echo(json.dumps(summary, indent=2, default=str))


def encode(
    workdir: Path = WORKDIR,
    encoder: list[str] = typer.Option(
        [],
        help="MODALITY=SPEC overrides, e.g. protein=esm2:/models/esm2 "
        "(defaults: protein=composition, molecule=morgan, text=minilm).",
    ),
    progress: bool = typer.Option(True, help="Progress bars."),
    shard: str | None = typer.Option(
        None,
        help="Encode only shard I/N of every node type (e.g. 0/4); "
        "under torchrun each rank takes its own shard. Finished shards are "
        "skipped; a type is merged once all its shards exist.",
    ),
    merge: bool = typer.Option(False, "--merge", help="Only merge the shards already in the store."),
) -> None:
    """Encode every node with the frozen encoders into the embedding store (cached by input hash)."""
    from biobridge.encoders import DEFAULT_ENCODER_SPECS, shard_status
    from biobridge.encoders.sharding import Shard

    specs = DEFAULT_ENCODER_SPECS | parse_pairs(encoder, "--encoder")
    if shard:
        try:
            Shard.parse(shard)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--shard") from err
    try:
        store = pipeline.encode(workdir, specs, progress=progress, shard=shard or "auto", merge_only=merge)
    except ValueError as err:
        if not merge:
            raise
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    for t in store.node_types:
        m = store.manifest[t]
        typer.echo(
            f"{t:20s} {m['encoder']:40s} dim={m['dim']:5d} encoded={m['n_encoded']:6d} "
            f"failures={m['n_failures']}"
        )
    for info in shard_status(store.directory).values():
        if info["node_type"] not in store.manifest and info["missing"]:
            typer.echo(
                f"{info['node_type']:20s} shards done {info['done']} of {info['n_shards']}, "
                f"missing {info['missing']} (not merged yet)"
            )
    typer.echo(f"store: {store.directory}")


def train(
    workdir: Path = WORKDIR,
    preset_name: str = typer.Option("cpu", "--preset", help="'cpu' (minutes on 2 cores) or 'paper'."),
    config: Path | None = typer.Option(None, help="TOML file overriding the preset ([model], [train])."),
    protocol: str = typer.Option("paper", help="Which split to train on: paper, inductive, transductive."),
    seed: int = SEED,
    epochs: int | None = typer.Option(None, help="Override train.epochs."),
    n_layers: int | None = typer.Option(None, help="Override model.n_layers."),
    hidden_dim: int | None = typer.Option(None, help="Override model.hidden_dim."),
    precision: str | None = typer.Option(
        None,
        help="Override train.precision: fp32 or bf16 (autocast; fast "
        "on CPUs with AMX/AVX512-BF16 and recent GPUs).",
    ),
    compile_encoder: bool | None = typer.Option(
        None,
        "--compile/--no-compile",
        help="Override train.compile (on in the paper preset): the encoder through torch.compile while "
        "training (paper preset on CPU: 1.08-1.24x per step after about a minute of compiling).",
    ),
    out: Path | None = typer.Option(None, help="Run directory (default WORKDIR/model)."),
    progress: bool = typer.Option(True, help="Progress bars."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue the run in the run directory from its last checkpoint (same settings); "
        "a finished run is kept as it is.",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Train anew over the run in the run directory (kept until the new run's first checkpoint).",
    ),
) -> None:
    """Train the bridge; write the run directory (config.json, model.safetensors, train_log.jsonl,
    loss_curve.png; train_state.safetensors until the last epoch). A run directory that already holds a
    run needs --resume or --overwrite."""
    if resume and overwrite:
        raise typer.BadParameter("choose one of --resume and --overwrite", param_hint="--resume")
    run_config = load_run_config(config) if config else preset(preset_name)
    run_config = with_overrides(
        run_config,
        {
            "train.epochs": epochs,
            "model.n_layers": n_layers,
            "model.hidden_dim": hidden_dim,
            "train.precision": precision,
            "train.compile": compile_encoder,
        },
    )
    run = pipeline.train(
        workdir,
        run_config,
        protocol=protocol,
        seed=seed,
        out_dir=out,
        progress=progress,
        resume=resume,
        overwrite=overwrite,
    )
    typer.echo(json.dumps({"run": str(run.directory), **run.training}, indent=2))


def evaluate(
    workdir: Path = WORKDIR,
    model: Path | None = MODEL,
    candidates: str = typer.Option(
        "relation", help="'relation' (nodes in the relation) or 'all' (every node of the tail type)."
    ),
    out: Path | None = typer.Option(None, help="Output directory (default WORKDIR/eval)."),
    protocol: str | None = typer.Option(None, help="Only for runs that record no split (imported)."),
    seed: int | None = typer.Option(None, help="Split seed, with --protocol."),
) -> None:
    """Filtered realistic-rank MRR / Hits@k / Recall@10 on every task, beside the popularity baseline."""
    result = pipeline.run_evaluation(
        workdir, model, out, candidate_policy=candidates, protocol=protocol, seed=seed
    )
    typer.echo(result.format_table())
    typer.echo(f"metrics: {(out or pipeline.Workdir(workdir).eval_dir) / 'metrics.json'}")


def register(app: typer.Typer) -> None:
    for command in (prepare, encode, train, evaluate):
        app.command()(command)
