"""Options and output helpers shared by the command modules."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

WORKDIR = typer.Option(
    Path("runs/default"), "--workdir", "-w", help="Working directory holding every stage's artifacts."
)
MODEL = typer.Option(None, help="Run directory (default WORKDIR/model).")
SEED = typer.Option(42, help="Split seed.")


def parse_pairs(values: list[str], what: str) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` -> dict; a malformed entry is a usage error naming ``what``."""
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key or not val:
            raise typer.BadParameter(f"{what} must look like KEY=VALUE, got {v!r}")
        out[key] = val
    return out


def model_dir(workdir: Path, model: Path | None) -> Path:
    from biobridge.pipeline import Workdir

    return model or Workdir(workdir).model


def format_results(table: pd.DataFrame) -> str:
    """A retrieval table as fixed-width text; known KG edges marked ``*``."""
    lines = [f"{'rank':>4}  {'score':>7}  {'known':5}  {'id':14}  name"]
    for r in table.itertuples():
        lines.append(
            f"{r.rank:>4}  {r.score:7.4f}  {'*' if r.known_edge else '':5}  {r.node_id:14}  {r.name}"
        )
    return "\n".join(lines)
