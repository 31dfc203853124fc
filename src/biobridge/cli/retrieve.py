"""``biobridge retrieve``: one query against a trained run (plain, zero-shot candidates, or a multi-hop path)."""

from __future__ import annotations

from pathlib import Path

import typer

from biobridge.cli.common import MODEL, WORKDIR, format_results, model_dir


def retrieve(
    query: str = typer.Argument(..., help="A protein sequence, a SMILES string, a text, or a KG node id."),
    query_type: str = typer.Option(..., "--query-type", "-q", help="Node type the query is read as."),
    target_type: str | None = typer.Option(None, "--target-type", "-t", help="Node type to retrieve."),
    relation: str | None = typer.Option(None, "--relation", "-r", help="Relation (inferred when unique)."),
    k: int = typer.Option(10, "-k", min=1, max=10_000, help="How many results (1-10000)."),
    candidates: str = typer.Option(
        "relation", help="'relation', 'all', or a TSV file of your own candidates (with --as-type)."
    ),
    as_type: str | None = typer.Option(
        None,
        "--as-type",
        help="Node type whose projection reads the candidates of a --candidates FILE (zero-shot).",
    ),
    path: str | None = typer.Option(
        None, "--path", help="Multi-hop: 'disease:associated_with:protein,protein:rev_target:drug'."
    ),
    known_edges: bool = typer.Option(
        True,
        "--known-edges/--no-known-edges",
        help="--path: from a KG node, its own edges of a hop's relation rank above the hop's predictions.",
    ),
    workdir: Path = WORKDIR,
    model: Path | None = MODEL,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    as_raw: bool = typer.Option(
        False,
        "--as-raw",
        help="Read the query as a raw sequence/SMILES/text even when it looks like a node id.",
    ),
) -> None:
    """Top-k entities of another modality for a raw query; known KG edges are marked."""
    from biobridge.retrieval.bridge import Bridge

    bridge = Bridge.from_pretrained(model_dir(workdir, model))
    if path:
        from biobridge.applications.multihop import multi_hop, parse_path

        table = multi_hop(bridge, query, path=parse_path(path), k=k, known_edges=known_edges)
        table = table.drop(columns=["path_nodes"])
    elif as_type:
        from biobridge.applications.zero_shot import score_candidates

        table = score_candidates(
            bridge,
            query,
            query_type,
            candidates=Path(candidates),
            as_type=as_type,
            relation=relation,
            tail_type=target_type,
            k=k,
        )
    else:
        if target_type is None:
            raise typer.BadParameter("--target-type is required (or use --path / --as-type)")
        table = bridge.retrieve(
            query, query_type, target_type, relation=relation, k=k, candidates=candidates, as_raw=as_raw
        )
    if as_json or path or as_type:
        typer.echo(table.to_json(orient="records", indent=2) if as_json else table.to_string(index=False))
    else:
        typer.echo(format_results(table))


def register(app: typer.Typer) -> None:
    app.command()(retrieve)
