"""The training log of a run directory: ``train_log.jsonl`` (one JSON row per logged step, appended and
flushed as training goes) and ``loss_curve.png``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from biobridge.artifacts import atomic_write
from biobridge.bridge.distributed import DistContext

TRAIN_LOG = "train_log.jsonl"
LOSS_PLOT = "loss_curve.png"


PENDING_LOG = ".train_log.jsonl.pending"


class TrainingLog:
    """The training log: rows every ``log_every`` steps (and at each epoch's end), appended to
    ``train_log.jsonl`` and flushed as they come (main process only).

    ``mode``: ``"fresh"`` starts the file anew; ``"replace"`` (training again over a run that is kept until
    the new one's first checkpoint) writes the rows to a pending file that ``commit`` puts in place of the
    old log; ``"resume"`` keeps the rows up to ``resume_step`` (a checkpoint's step: rows after it belong to
    the interrupted steps, which are trained again) and appends."""

    def __init__(
        self,
        out_dir: Path,
        ctx: DistContext,
        log_every: int,
        mode: str = "fresh",
        resume_step: int = 0,
        resume_seen: int = 0,
        resume_elapsed: float = 0.0,
    ) -> None:
        self.ctx = ctx
        self.log_every = log_every
        self.history: list[dict[str, Any]] = []
        self.start = time.perf_counter() - resume_elapsed
        self.step = resume_step
        self.seen = resume_seen
        self.path = Path(out_dir) / TRAIN_LOG
        self.pending = Path(out_dir) / PENDING_LOG if mode == "replace" else None
        self.file = None
        if not ctx.is_main:
            return
        Path(out_dir, PENDING_LOG).unlink(missing_ok=True)
        if mode == "resume":
            self.history = [r for r in read_log(self.path) if r.get("step", 0) <= resume_step]
            text = "".join(json.dumps(r) + "\n" for r in self.history)
            atomic_write(self.path, lambda p: p.write_text(text, encoding="utf-8"))
            self.file = open(self.path, "a", encoding="utf-8")
        else:
            self.file = open(self.pending or self.path, "w", encoding="utf-8")

    def commit(self) -> None:
        """A checkpoint was written: a pending log (mode ``"replace"``) becomes ``train_log.jsonl``."""
        if self.pending is not None and self.file is not None:
            self.file.flush()
            os.replace(self.pending, self.path)  # the open file follows the rename
        self.pending = None

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

    def summary(self, epochs_completed: int) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.start
        return {
            "epochs_completed": epochs_completed,
            "steps": self.step,
            "seconds": round(elapsed, 2),
            "triples_per_s": round(self.seen / max(elapsed, 1e-9), 1),
            "final_loss": self.history[-1]["loss"] if self.history else None,
        }

    def close(self) -> None:
        if self.file:
            self.file.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``train_log.jsonl`` (a torn last line, from a killed process, is skipped)."""
    rows = []
    if Path(path).exists():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


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
