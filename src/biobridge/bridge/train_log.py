"""The training log of a run directory: ``train_log.jsonl`` (one JSON row per logged step, appended and
flushed as training goes) and ``loss_curve.png``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from biobridge.artifacts import atomic_write
from biobridge.bridge.distributed import DistContext

TRAIN_LOG = "train_log.jsonl"
LOSS_PLOT = "loss_curve.png"


class TrainingLog:
    """The training log: rows every ``log_every`` steps (and at each epoch's end), appended to
    ``train_log.jsonl`` and flushed as they come (main process only)."""

    def __init__(self, out_dir: Path, ctx: DistContext, log_every: int) -> None:
        self.ctx = ctx
        self.log_every = log_every
        self.history: list[dict[str, Any]] = []
        self.start = time.perf_counter()
        self.step = 0
        self.seen = 0
        self.file = open(out_dir / TRAIN_LOG, "w", encoding="utf-8") if ctx.is_main else None

    def record(
        self, epoch: int, loss: torch.Tensor, grad_norm: torch.Tensor, lr: float, rate: float, last: bool
    ) -> None:
        self.step += 1
        if self.step % self.log_every and not last:
            return
        row = {
            "step": self.step,
            "epoch": epoch + 1,
            "loss": round(self.ctx.mean(loss), 6),
            "lr": lr,
            "grad_norm": round(float(grad_norm), 4),
            "triples_per_s": round(rate, 1),
            "elapsed_s": round(time.perf_counter() - self.start, 2),
        }
        self.history.append(row)
        if self.file:
            self.file.write(json.dumps(row) + "\n")
            self.file.flush()

    def summary(self, epoch: int) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.start
        return {
            "epochs_completed": epoch + 1,
            "steps": self.step,
            "seconds": round(elapsed, 2),
            "triples_per_s": round(self.seen / max(elapsed, 1e-9), 1),
            "final_loss": self.history[-1]["loss"] if self.history else None,
        }

    def close(self) -> None:
        if self.file:
            self.file.close()


def plot_loss_curve(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in history], [r["loss"] for r in history], lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("InfoNCE loss")
    ax.set_title("biobridge training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=120))
    plt.close(fig)
