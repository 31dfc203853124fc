"""Command-line interface: parse -> call one library function -> print a summary and the output paths."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from biobridge import pipeline
from biobridge.config import load_run_config, preset, with_overrides

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="BioBridge: cross-modal retrieval over frozen biomedical foundation models.")

WORKDIR = typer.Option(Path("runs/default"), "--workdir", "-w", help="Working directory holding every stage's artifacts.")
SEED = typer.Option(42, help="Split seed.")


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def _parse_pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key or not val:
            raise typer.BadParameter(f"{what} must look like KEY=VALUE, got {v!r}")
        out[key] = val
    return out


@app.command()
def prepare(
    workdir: Path = WORKDIR,
    kg: str = typer.Option("default", help="'default' (packaged biokg-offline-mini), 'tsv' or 'primekg'."),
    kg_csv: Path | None = typer.Option(None, help="--kg primekg: PrimeKG's kg.csv."),
    features_dir: Path | None = typer.Option(None, help="--kg primekg: directory of per-type feature CSVs."),
    nodes: Path | None = typer.Option(None, help="--kg tsv: nodes TSV (node_type, node_id, name, feature)."),
    edges: Path | None = typer.Option(None, help="--kg tsv: edges TSV (head_type, head_id, relation, tail_type, tail_id)."),
    modality: list[str] = typer.Option([], help="--kg tsv: NODE_TYPE=protein|molecule|text, repeatable."),
    protocol: list[str] = typer.Option(["paper", "inductive"], help="Split protocols to write (repeatable)."),
    test_fraction: float = typer.Option(0.1, help="Fraction of head nodes held out per node type."),
    seed: int = SEED,
    max_nodes_per_type: int | None = typer.Option(None, help="Keep a seeded, connected subset (quick runs)."),
) -> None:
    """Load a KG into typed node/triple tables and write seeded, hashed splits."""
    summary = pipeline.prepare(workdir, kg, tuple(protocol), test_fraction, seed, nodes=nodes, edges=edges,
                               modalities=_parse_pairs(modality, "--modality") or None,
                               max_nodes_per_type=max_nodes_per_type, kg_csv=kg_csv, features_dir=features_dir)
    typer.echo(json.dumps(summary, indent=2, default=str))


@app.command()
def encode(
    workdir: Path = WORKDIR,
    encoder: list[str] = typer.Option([], help="MODALITY=SPEC overrides, e.g. protein=esm2:/models/esm2 "
                                      "(defaults: protein=composition, molecule=morgan, text=minilm)."),
    progress: bool = typer.Option(True, help="Progress bars."),
    shard: str | None = typer.Option(None, help="Encode only shard I/N of every node type (e.g. 0/4); "
                                     "under torchrun each rank takes its own shard. Finished shards are "
                                     "skipped; a type is merged once all its shards exist."),
    merge: bool = typer.Option(False, "--merge", help="Only merge the shards already in the store."),
) -> None:
    """Encode every node with the frozen encoders into the embedding store (cached by input hash)."""
    from biobridge.encoders.registry import DEFAULT_ENCODER_SPECS
    from biobridge.encoders.sharding import Shard
    from biobridge.encoders.store import shard_status

    specs = DEFAULT_ENCODER_SPECS | _parse_pairs(encoder, "--encoder")
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
        typer.echo(f"{t:20s} {m['encoder']:40s} dim={m['dim']:5d} encoded={m['n_encoded']:6d} "
                   f"failures={m['n_failures']}")
    for info in shard_status(store.directory).values():
        if info["node_type"] not in store.manifest and info["missing"]:
            typer.echo(f"{info['node_type']:20s} shards done {info['done']} of {info['n_shards']}, "
                       f"missing {info['missing']} (not merged yet)")
    typer.echo(f"store: {store.directory}")


@app.command()
def train(
    workdir: Path = WORKDIR,
    preset_name: str = typer.Option("cpu", "--preset", help="'cpu' (minutes on 2 cores) or 'paper'."),
    config: Path | None = typer.Option(None, help="TOML file overriding the preset ([model], [train])."),
    protocol: str = typer.Option("paper", help="Which split to train on: paper, inductive, transductive."),
    seed: int = SEED,
    epochs: int | None = typer.Option(None, help="Override train.epochs."),
    n_layers: int | None = typer.Option(None, help="Override model.n_layers."),
    hidden_dim: int | None = typer.Option(None, help="Override model.hidden_dim."),
    precision: str | None = typer.Option(None, help="Override train.precision: fp32 or bf16 (autocast; fast "
                                         "on CPUs with AMX/AVX512-BF16 and recent GPUs)."),
    out: Path | None = typer.Option(None, help="Checkpoint directory (default WORKDIR/model)."),
    progress: bool = typer.Option(True, help="Progress bars."),
) -> None:
    """Train the bridge; write config.json, model.safetensors, train_log.jsonl and loss_curve.png."""
    run_config = load_run_config(config) if config else preset(preset_name)
    run_config = with_overrides(run_config, {"train.epochs": epochs, "model.n_layers": n_layers,
                                             "model.hidden_dim": hidden_dim, "train.precision": precision})
    summary = pipeline.train(workdir, run_config, protocol=protocol, seed=seed, out_dir=out, progress=progress)
    summary.pop("history", None)  # the full curve is in train_log.jsonl
    typer.echo(json.dumps(summary, indent=2))


@app.command()
def evaluate(
    workdir: Path = WORKDIR,
    model: Path | None = typer.Option(None, help="Checkpoint directory (default WORKDIR/model)."),
    candidates: str = typer.Option("relation", help="'relation' (nodes in the relation) or 'all' (every node "
                                   "of the tail type)."),
    out: Path | None = typer.Option(None, help="Output directory (default WORKDIR/eval)."),
    protocol: str | None = typer.Option(None, help="Only for checkpoints that record no split (imported)."),
    seed: int | None = typer.Option(None, help="Split seed, with --protocol."),
) -> None:
    """Filtered realistic-rank MRR / Hits@k / Recall@10 on every task, beside the popularity baseline."""
    result = pipeline.run_evaluation(workdir, model, out, candidate_policy=candidates, protocol=protocol,
                                     seed=seed)
    typer.echo(result.format_table())
    typer.echo(f"metrics: {(out or pipeline.Workdir(workdir).eval_dir) / 'metrics.json'}")


@app.command()
def retrieve(
    query: str = typer.Argument(..., help="A protein sequence, a SMILES string, a text, or a KG node id."),
    query_type: str = typer.Option(..., "--query-type", "-q", help="Node type the query is read as."),
    target_type: str | None = typer.Option(None, "--target-type", "-t", help="Node type to retrieve."),
    relation: str | None = typer.Option(None, "--relation", "-r", help="Relation (inferred when unique)."),
    k: int = typer.Option(10, "-k", help="How many results."),
    candidates: str = typer.Option("relation", help="'relation', 'all', or a TSV file of your own candidates "
                                   "(with --as-type)."),
    as_type: str | None = typer.Option(None, "--as-type", help="Node type whose projection reads the "
                                       "candidates of a --candidates FILE (zero-shot)."),
    path: str | None = typer.Option(None, "--path", help="Multi-hop: 'disease:associated_with:protein,"
                                    "protein:rev_target:drug'."),
    workdir: Path = WORKDIR,
    model: Path | None = typer.Option(None, help="Checkpoint directory (default WORKDIR/model)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Top-k entities of another modality for a raw query; known KG edges are marked."""
    from biobridge.retrieval.bridge import Bridge

    bridge = Bridge.from_pretrained(model or pipeline.Workdir(workdir).model)
    if path:
        from biobridge.applications.multihop import multi_hop, parse_path

        table = multi_hop(bridge, query, path=parse_path(path), k=k)
    elif as_type:
        from biobridge.applications.zero_shot import score_candidates

        table = score_candidates(bridge, query, query_type, candidates=Path(candidates), as_type=as_type,
                                 relation=relation, tail_type=target_type, k=k)
    else:
        if target_type is None:
            raise typer.BadParameter("--target-type is required (or use --path / --as-type)")
        table = bridge.retrieve(query, query_type, target_type, relation=relation, k=k, candidates=candidates)
    if as_json or path or as_type:
        typer.echo(table.to_json(orient="records", indent=2) if as_json else table.to_string(index=False))
    else:
        typer.echo(_format_results(table))


def _format_results(table) -> str:
    lines = [f"{'rank':>4}  {'score':>7}  {'known':5}  {'id':14}  name"]
    for r in table.itertuples():
        lines.append(f"{r.rank:>4}  {r.score:7.4f}  {'*' if r.known_edge else '':5}  {r.node_id:14}  {r.name}")
    return "\n".join(lines)


@app.command("import-original")
def import_original(
    src: Path = typer.Argument(..., help="Directory with the original pytorch_model.bin and model_config.json."),
    out: Path = typer.Argument(..., help="New biobridge checkpoint directory."),
    data_config: Path | None = typer.Option(None, help="The original data_config.json (default: packaged copy)."),
) -> None:
    """Convert the released BioBridge checkpoint (loaded with weights_only=True) into a biobridge checkpoint."""
    from biobridge.bridge.import_original import import_original_checkpoint

    typer.echo(f"checkpoint: {import_original_checkpoint(src, out, data_config)}")


@app.command()
def demo(
    workdir: Path = typer.Option(Path("runs/demo"), "--workdir", "-w"),
    max_nodes_per_type: int | None = typer.Option(None, help="Run on a seeded subset (faster)."),
    epochs: int | None = typer.Option(None, help="Override the CPU preset's epochs."),
    progress: bool = typer.Option(True, help="Progress bars."),
) -> None:
    """prepare -> encode -> train (CPU preset) -> evaluate -> three example retrievals, on the default KG."""
    from biobridge.demo import run_demo

    config = with_overrides(preset("cpu"), {"train.epochs": epochs})
    out = run_demo(workdir, config, max_nodes_per_type=max_nodes_per_type, progress=progress)
    typer.echo("\n== evaluation (paper protocol; filtered realistic rank) ==")
    typer.echo(out["evaluation"].format_table())
    for ex in out["retrievals"]:
        typer.echo(f"\n== {ex['head_type']} -[{ex['relation']}]-> {ex['tail_type']}: {ex['query_label']} ==")
        typer.echo(_format_results(ex["results"]))
    typer.echo("\n== wall time (s) ==")
    typer.echo("  ".join(f"{k}={v:.1f}" for k, v in out["seconds"].items()))
    typer.echo(f"artifacts: {workdir}")


# similarity / context / generate (issue 5) live in biobridge.applications.cli
from biobridge.applications.cli import register as _register_applications  # noqa: E402

_register_applications(app)


@app.command()
def benchmark(
    workdir: Path = WORKDIR,
    quick: bool = typer.Option(False, "--quick", help="Seeded subset (120 nodes/type), 1 seed, few epochs, "
                               "TransE + DistMult: a few minutes on 2 cores."),
    protocol: list[str] = typer.Option([], help="paper | transductive | inductive (repeatable; "
                                       "default all)."),
    seed: list[int] = typer.Option([], help="Split and training seeds (repeatable; default 42 43 44, "
                                   "quick 42)."),
    method: list[str] = typer.Option([], help="Only these methods (repeatable), e.g. biobridge-cpu, transe, "
                                     "rotate, popularity, feature-knn."),
    kge_model: list[str] = typer.Option([], help="PyKEEN models (repeatable; default all six, quick 2)."),
    kge_epochs: int | None = typer.Option(None, help="Epochs of every KGE model."),
    variant: list[str] = typer.Option([], help="Bridge variants NAME=PRESET[,key=value...] replacing the "
                                      "defaults, e.g. 'biobridge-l0=cpu,model.n_layers=0,train.epochs=2'; "
                                      "validation_fraction=0.05 holds validation heads back (the hybrid needs "
                                      "'biobridge-cpu' with it)."),
    max_nodes_per_type: int | None = typer.Option(None, help="Run on a seeded subset of the working "
                                                  "dir's KG."),
    tasks: str = typer.Option("all", help="'all' tasks of the KG or the paper's 'paper' tasks."),
    threads: int | None = typer.Option(None, help="torch threads."),
    out: Path | None = typer.Option(None, help="Output directory (default WORKDIR/benchmark[-quick])."),
    docs: Path | None = typer.Option(None, help="Regenerate the benchmark section of this Markdown file "
                                     "(e.g. docs/benchmarks.md)."),
    force: bool = typer.Option(False, help="Recompute results that could be reused."),
    progress: bool = typer.Option(False, help="Progress bars while training bridges."),
) -> None:
    """Bridge and hybrid vs KGE (PyKEEN) vs popularity, feature-kNN and graph-context on the same splits,
    protocols and seeds."""
    from dataclasses import replace as _replace

    from biobridge.evaluation.benchmark import BridgeVariant, default_config, run_benchmark

    config = default_config(quick)
    changes: dict = {"tasks": tasks, "num_threads": threads}
    if kge_model:
        changes["kge_models"] = tuple(kge_model)
    if kge_epochs is not None:
        changes["kge"] = {**config.kge, "epochs": kge_epochs}
    if max_nodes_per_type is not None:
        changes["max_nodes_per_type"] = max_nodes_per_type
    if variant:
        variants = []
        for spec in variant:
            name, sep, rest = spec.partition("=")
            if not sep or not rest:
                raise typer.BadParameter(f"--variant must look like NAME=PRESET[,key=value...], got {spec!r}")
            preset_name, *pairs = rest.split(",")
            overrides = {k: _json_or_str(v) for k, v in _parse_pairs(pairs, "--variant").items()}
            validation = float(overrides.pop("validation_fraction", 0.0))
            note = f"{preset_name} preset with {overrides}"
            if preset_name == "paper" and overrides:
                note += " (REDUCED for CPU; the paper trains 10 full epochs)"
            variants.append(BridgeVariant(name, preset_name, overrides, note, validation_fraction=validation))
        changes["bridges"] = tuple(variants)
        # hybrids and fusions built on a default bridge that the variants replaced are dropped
        tuned = {v.name for v in variants if v.validation_fraction}
        changes["hybrids"] = tuple(h for h in config.hybrids if h[1] in tuned)
        names = {v.name for v in variants} | set(config.baselines)
        changes["fusions"] = tuple(f for f in config.fusions if set(f[1]) <= names)
    config = _replace(config, **changes)
    summary = run_benchmark(workdir, protocols=protocol or None, seeds=seed or None, methods=method or None,
                            out_dir=out, config=config, docs_path=docs, force=force, progress=progress)
    out_dir = Path(summary["out_dir"])
    for name in summary["protocols"]:
        typer.echo((out_dir / f"{name}.md").read_text(encoding="utf-8"))
    typer.echo(f"tables, plots and benchmark.json: {out_dir}" + (f"; docs: {docs}" if docs else ""))


def _json_or_str(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


if __name__ == "__main__":
    app()
