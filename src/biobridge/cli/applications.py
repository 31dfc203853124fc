"""``biobridge similarity | context | generate``: the applications of a trained run
(``biobridge.applications``). Each command parses, calls one library function and prints a summary (and
writes JSON where asked)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from biobridge.cli.common import MODEL, WORKDIR, model_dir


def _bridge(workdir: Path, model: Path | None):
    from biobridge.retrieval.bridge import Bridge

    return Bridge.from_pretrained(model_dir(workdir, model))


def _write_json(path: Path, data) -> None:
    from biobridge.artifacts import write_json

    write_json(path, data)
    typer.echo(f"written: {path}")


def similarity(
    workdir: Path = WORKDIR,
    model: Path | None = MODEL,
    aspect: list[str] = typer.Option(["BP", "MF", "CC"], "--aspect", help="GO aspects (repeatable)."),
    n_pairs: int = typer.Option(
        5000, min=1, help="Protein pairs sampled per aspect (held-out proteins only)."
    ),
    seed: int = typer.Option(0, min=0, help="Pair-sampling seed."),
    bootstrap: int = typer.Option(200, min=0, help="Bootstrap resamples for the 95% CI (0: none)."),
    pair: list[str] = typer.Option(
        [],
        "--pair",
        help="Give twice (protein ids or sequences): print that pair's "
        "GO Lin similarity and cosines instead of the benchmark.",
    ),
    out: Path | None = typer.Option(None, help="JSON output (default WORKDIR/eval/similarity.json)."),
) -> None:
    """Spearman between bridged-embedding cosine and GO Lin similarity (BMA) on held-out proteins, per aspect,
    against the raw encoder embeddings."""
    from biobridge import pipeline
    from biobridge.applications.similarity import pair_similarity, similarity_benchmark

    if pair:
        if len(pair) != 2:
            raise typer.BadParameter("--pair must be given exactly twice")
        typer.echo(
            json.dumps(pair_similarity(_bridge(workdir, model), pair[0], pair[1], aspects=aspect), indent=2)
        )
        return
    loaded = pipeline.load_run(workdir, model)
    result = similarity_benchmark(
        loaded.kg,
        loaded.split,
        loaded.table,
        loaded.model,
        aspects=aspect,
        n_pairs=n_pairs,
        seed=seed,
        n_bootstrap=bootstrap,
    )
    typer.echo(
        f"{'aspect':6} {'proteins':>8} {'pairs':>6}  "
        + "  ".join(f"{m:>16}" for m in ("bridge", "projection", "raw", "raw_standardized"))
    )
    for name, entry in result["aspects"].items():
        if "spearman" not in entry:
            typer.echo(f"{name:6} {entry['n_proteins']:>8} {entry['n_pairs']:>6}  {entry.get('status')}")
            continue
        s = entry["spearman"]
        typer.echo(
            f"{name:6} {entry['n_proteins']:>8} {entry['n_pairs']:>6}  "
            + "  ".join(f"{s[m]:>16.4f}" for m in ("bridge", "projection", "raw", "raw_standardized"))
        )
    _write_json(out or pipeline.Workdir(workdir).eval_dir / "similarity.json", result)


def context(
    query: str = typer.Argument(..., help="A SMILES, protein sequence, text, or KG node id."),
    query_type: str = typer.Option(..., "--query-type", "-q", help="Node type the query is read as."),
    k: int = typer.Option(5, "-k", min=1, help="Entities per relation."),
    question: str | None = typer.Option(None, help="Question for the prompt (a default per query type)."),
    workdir: Path = WORKDIR,
    model: Path | None = MODEL,
    out: Path | None = typer.Option(None, help="Write the structured context (JSON) here."),
    generator: str | None = typer.Option(
        None,
        help="Also answer with 'openai' (OpenAI-compatible endpoint) or "
        "'hf' (local Hugging Face causal LM directory).",
    ),
    llm_model: str | None = typer.Option(None, help="Model name (openai) or local directory (hf)."),
    base_url: str | None = typer.Option(None, help="openai: endpoint base URL (or BIOBRIDGE_LLM_BASE_URL)."),
    api_key: str | None = typer.Option(None, help="openai: API key (or BIOBRIDGE_LLM_API_KEY)."),
    max_new_tokens: int = typer.Option(256, min=1, help="Generation length."),
) -> None:
    """Retrieve the top entities per relation for a query and print a prompt a language model can answer."""
    from biobridge.applications.context import answer, build_context
    from biobridge.applications.generators import build_generator

    ctx = build_context(_bridge(workdir, model), query, query_type, k=k, question=question)
    typer.echo(ctx["prompt"])
    if out:
        _write_json(out, ctx)
    if generator:
        gen = build_generator(generator, model=llm_model, base_url=base_url, api_key=api_key)
        typer.echo(f"\n== answer ({gen.name}) ==\n{answer(ctx, gen, max_new_tokens=max_new_tokens)}")


def generate(
    disease: str | None = typer.Option(None, "--disease", help="Disease text to design for."),
    target: list[str] = typer.Option([], "--target", help="Target protein (KG id or sequence), repeatable."),
    n: int = typer.Option(20, "-n", min=1, help="Candidates to keep."),
    seed: int = typer.Option(0, min=0, help="Generator seed."),
    n_targets: int = typer.Option(10, min=1, help="Proteins retrieved for --disease."),
    max_seeds: int = typer.Option(30, min=1, help="Seed drugs at most."),
    n_brics: int = typer.Option(2000, min=0, help="BRICS recombination products at most."),
    n_mutations: int = typer.Option(500, min=0, help="Mutation attempts."),
    time_budget: float = typer.Option(60.0, min=0.1, help="Generation time budget in seconds."),
    qed_min: float = typer.Option(0.3, min=0.0, max=1.0, help="Minimum QED."),
    baseline: bool = typer.Option(True, "--baseline/--no-baseline", help="Also run the unguided baseline."),
    workdir: Path = WORKDIR,
    model: Path | None = MODEL,
    out: Path | None = typer.Option(
        None, help="Write the result (targets, seeds, candidates, stats) as JSON."
    ),
) -> None:
    """Bridge-guided molecule generation (RDKit BRICS + mutations), filtered for QED / Lipinski and ranked by
    the bridge's drug -> protein score towards the retrieved targets."""
    from biobridge.applications.design import generate_candidates, unguided_candidates

    if (disease is None) == (not target):
        raise typer.BadParameter("give --disease or --target (not both)")
    bridge = _bridge(workdir, model)
    gen = {"n_brics": n_brics, "n_mutations": n_mutations, "time_budget_s": time_budget, "qed_min": qed_min}
    res = generate_candidates(
        bridge,
        disease_text=disease,
        target_proteins=target or None,
        n=n,
        seed=seed,
        n_targets=n_targets,
        max_seeds=max_seeds,
        **gen,
    )
    typer.echo("targets: " + ", ".join(f"{r.name} ({r.node_id})" for r in res.targets.itertuples()))
    typer.echo(f"seeds: {len(res.seeds)} drugs ({', '.join(res.seeds['name'].head(8))}, ...)")
    typer.echo(f"{'rank':>4}  {'bridge':>6}  {'QED':>5}  {'maxTan':>6}  smiles")
    for r in res.candidates.itertuples():
        typer.echo(
            f"{r.rank:>4}  {r.bridge_score:6.3f}  {r.qed:5.2f}  {r.max_tanimoto_known:6.2f}  {r.smiles}"
        )
    keys = ("validity", "uniqueness", "novelty", "mean_max_tanimoto_known", "mean_bridge_score", "mean_qed")
    rows = [("guided", res.stats)]
    data = {"guided": res.to_dict()}
    if baseline:
        base = unguided_candidates(bridge, res.targets, len(res.seeds), n=n, seed=seed, **gen)
        rows.append(("unguided", base.stats))
        data["unguided"] = base.to_dict()
    typer.echo(f"\n{'set':9} " + " ".join(f"{k:>23}" for k in keys))
    for label, stats in rows:
        typer.echo(f"{label:9} " + " ".join(f"{stats.get(k, float('nan')):>23.4f}" for k in keys))
    if out:
        _write_json(out, data)


def register(app: typer.Typer) -> None:
    app.command("similarity")(similarity)
    app.command("context")(context)
    app.command("generate")(generate)
