"""``train.compile``: the bridge's transformer encoder through ``torch.compile`` while it trains, eager otherwise.

Measured on 2 CPU cores (docs/benchmarks.md, performance): a `paper`-preset step 1.17x faster (Intel, AVX-512)
and 1.08-1.24x (AMD EPYC, AVX2; two runs) after a first step of about 50 s more (compilation, once per run),
which a paper-scale run (about 1,400 steps) repays many times: on in the `paper` preset. The `cpu` preset gets nothing from it (its
128-wide encoder is not what bounds its step): off there. The compiled function is installed on the model
instance for the run and removed afterwards (evaluation and retrieval stay eager: a model in eval mode would
compile again). If compilation fails (no C++ compiler, an unsupported backend), a warning says so and the run
continues eagerly. Under compilation the dropout masks come from inductor's random generator (seeded from
torch's), so a compiled run's numbers are not those of an eager run with the same seed, only alike in
distribution.
"""

from __future__ import annotations

import logging

import torch

from biobridge.bridge.model import BridgeModel

__all__ = ["compile_encoder", "uncompile_encoder"]

log = logging.getLogger(__name__)


class _CompiledEncoder:
    """``model._encode_first_token`` through ``torch.compile``; eager from the first failure on."""

    def __init__(self, model: BridgeModel) -> None:
        self.eager = BridgeModel._encode_first_token.__get__(model)
        self.compiled = torch.compile(self.eager, dynamic=False)
        self.failed = False

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        if not self.failed:
            try:
                return self.compiled(tokens)
            except Exception as exc:  # compilation failed: the eager encoder computes the same function
                self.failed = True
                log.warning("train.compile: torch.compile failed (%s); training continues eagerly", exc)
        return self.eager(tokens)


def compile_encoder(model: BridgeModel) -> bool:
    """Route ``model``'s encoder through ``torch.compile``; False when it has none (depth 0)."""
    if model.encoder is None:
        return False
    model._encode_first_token = _CompiledEncoder(model)
    return True


def uncompile_encoder(model: BridgeModel) -> None:
    """Back to the class's eager encoder."""
    model.__dict__.pop("_encode_first_token", None)
