"""The ``biobridge`` command line: a typer app (``app.py``) with one module per command group. Every command
parses its options, calls one library function and prints a summary; it holds no logic of its own.

    stages.py        prepare, encode, train, evaluate
    retrieve.py      retrieve (one query, zero-shot candidates, multi-hop paths)
    applications.py  similarity, context, generate
    benchmark.py     benchmark
    demo.py          demo
    convert.py       import-original
    guard.py         the error contract every command runs under (exit 2 / exit 1 + log / --debug)
"""

from biobridge.cli.app import app

__all__ = ["app"]
