"""The typer application: global options, then every command group's commands, each under the error contract
of ``cli/guard.py``."""

from __future__ import annotations

import logging

import typer

from biobridge.cli import applications, benchmark, convert, demo, guard, retrieve, serve, stages

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="BioBridge: cross-modal retrieval over frozen biomedical foundation models.",
)


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of any error."),
) -> None:
    guard.DEBUG["on"] = debug
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


for group in (stages, retrieve, applications, benchmark, demo, convert, serve):
    group.register(app)
for _command in app.registered_commands:
    _command.callback = guard.guarded(_command.callback)
