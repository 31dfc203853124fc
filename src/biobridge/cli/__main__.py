"""``python -m biobridge.cli`` (and ``torchrun -m biobridge.cli train ...``)."""

from biobridge.cli.app import app

app()
