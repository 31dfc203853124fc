"""Training loop: InfoNCE over KG triples, gathered from cached embedding matrices.

Plain PyTorch. Seeds are explicit; an epoch-end checkpoint is written atomically so an interrupted run keeps
its last finished epoch. The JSONL log is appended and flushed step by step.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from biobridge.bridge.checkpoint import save_checkpoint
from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.loss import info_nce_loss
from biobridge.bridge.model import BridgeModel, BridgeSchema
from biobridge.config import RunConfig
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.negatives import NegativeSampler
from biobridge.kg.split import Split

log = logging.getLogger(__name__)

TRAIN_LOG = "train_log.jsonl"
LOSS_PLOT = "loss_curve.png"


@dataclass(frozen=True)
class TrainingTriples:
    """Training triples whose two ends both have an embedding, as parallel int64 arrays."""

    heads: np.ndarray
    relations: np.ndarray  # relation ids of the model
    tails: np.ndarray
    n_excluded: int

    def __len__(self) -> int:
        return len(self.heads)


def select_training_triples(
    kg: KnowledgeGraph, split: Split, table: EmbeddingTable, model: BridgeModel
) -> TrainingTriples:
    train = split.train_triples(kg)
    heads = train["head"].to_numpy(np.int64)
    tails = train["tail"].to_numpy(np.int64)
    keep = table.has_embedding(heads) & table.has_embedding(tails)
    n_excluded = int((~keep).sum())
    if n_excluded:
        log.warning("%d training triples excluded: an endpoint has no embedding (see the store manifest)", n_excluded)
    rel = train["relation"].to_numpy()[keep]
    rel_ids = np.array([model.relation_ids[r] for r in rel], dtype=np.int64) if len(rel) else np.zeros(0, np.int64)
    return TrainingTriples(heads[keep], rel_ids, tails[keep], n_excluded)


def lr_lambda(total_steps: int, warmup_fraction: float):
    warmup = max(1, int(round(total_steps * warmup_fraction)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return factor


class PositivePairs:
    """Sorted ``head * N + tail`` keys of every training edge (any relation), for vectorised lookups."""

    def __init__(self, heads: np.ndarray, tails: np.ndarray, num_nodes: int):
        self.num_nodes = num_nodes
        self.keys = np.unique(heads.astype(np.int64) * num_nodes + tails.astype(np.int64))

    def contains(self, heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
        q = heads.astype(np.int64) * self.num_nodes + tails.astype(np.int64)
        pos = np.searchsorted(self.keys, q)
        pos = np.minimum(pos, len(self.keys) - 1)
        return self.keys[pos] == q


def in_batch_mask(heads: np.ndarray, tails: np.ndarray, tail_codes: np.ndarray, positives: PositivePairs):
    """(B, B) bool: the j-th positive tail may be a negative for row i."""
    b = len(heads)
    same_type = tail_codes[:, None] == tail_codes[None, :]
    linked = positives.contains(np.repeat(heads, b), np.tile(tails, b)).reshape(b, b)
    mask = same_type & ~linked
    np.fill_diagonal(mask, False)
    return torch.from_numpy(mask)


def train_bridge(
    kg: KnowledgeGraph,
    split: Split,
    table: EmbeddingTable,
    config: RunConfig,
    out_dir: str | Path,
    metadata: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a bridge on the split's training triples and write the checkpoint directory ``out_dir``."""
    tc = config.train
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)

    schema = BridgeSchema(input_dims=table.input_dims, relations=tuple(kg.relations))
    model = BridgeModel(schema, config.model)
    data = select_training_triples(kg, split, table, model)
    if len(data) == 0:
        raise ValueError("no training triples with embeddings on both ends")
    sampler = NegativeSampler(kg.node_type_array(), data.heads, data.relations, data.tails,
                              train_nodes=np.union1d(data.heads, data.tails))
    positives = PositivePairs(data.heads, data.tails, kg.num_nodes)

    per_epoch = len(data) if tc.max_triples_per_epoch is None else min(len(data), tc.max_triples_per_epoch)
    steps_per_epoch = math.ceil(per_epoch / tc.batch_size)
    total_steps = steps_per_epoch * tc.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(total_steps, tc.warmup_fraction))
    log.info(
        "training %s parameters on %d triples (%d excluded), %d epochs x %d steps",
        f"{sum(p.numel() for p in model.parameters()):,}", len(data), data.n_excluded, tc.epochs, steps_per_epoch,
    )

    log_path = out_dir / TRAIN_LOG
    history: list[dict[str, Any]] = []
    step = 0
    start = time.perf_counter()
    base_meta = {
        "run_config": config.to_dict(),
        "training": {"n_triples": len(data), "n_excluded_no_embedding": data.n_excluded},
        **(metadata or {}),
    }
    with open(log_path, "w", encoding="utf-8") as log_file:
        for epoch in range(tc.epochs):
            model.train()
            order = rng.permutation(len(data))[:per_epoch]
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{tc.epochs}", disable=not progress,
                       unit="batch")
            epoch_start = time.perf_counter()
            seen = 0
            for b in bar:
                idx = order[b * tc.batch_size : (b + 1) * tc.batch_size]
                loss = _train_step(model, table, data, idx, sampler, positives, tc, rng)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
                optimizer.step()
                scheduler.step()
                step += 1
                seen += len(idx)
                rate = seen / (time.perf_counter() - epoch_start)
                if step % tc.log_every == 0 or b == steps_per_epoch - 1:
                    row = {
                        "step": step,
                        "epoch": epoch + 1,
                        "loss": round(float(loss), 6),
                        "lr": scheduler.get_last_lr()[0],
                        "grad_norm": round(float(grad_norm), 4),
                        "triples_per_s": round(rate, 1),
                        "elapsed_s": round(time.perf_counter() - start, 2),
                    }
                    history.append(row)
                    log_file.write(json.dumps(row) + "\n")
                    log_file.flush()
                bar.set_postfix(loss=f"{float(loss):.4f}", triples_s=f"{rate:,.0f}")
            model.eval()
            summary = {
                "epochs_completed": epoch + 1,
                "steps": step,
                "seconds": round(time.perf_counter() - start, 2),
                "triples_per_s": round(step * tc.batch_size / max(1e-9, time.perf_counter() - start), 1),
                "final_loss": history[-1]["loss"] if history else None,
            }
            save_checkpoint(model, out_dir, {**base_meta, "training": {**base_meta["training"], **summary}})
    plot_loss_curve(history, out_dir / LOSS_PLOT)
    return {"checkpoint": str(out_dir), **summary}


def _train_step(model, table, data, idx, sampler, positives, tc, rng) -> torch.Tensor:
    heads, tails, rels = data.heads[idx], data.tails[idx], data.relations[idx]
    head_codes = table.type_code[heads]
    tail_codes = table.type_code[tails]
    negatives = None
    if tc.n_negatives:
        negatives = sampler.sample(heads, sampler.node_type_codes[tails], tc.n_negatives, tc.negative_pool, rng)
    # Project every distinct node of the batch once.
    parts = [heads, tails] + ([negatives.ravel()] if negatives is not None else [])
    unique, inverse = np.unique(np.concatenate(parts), return_inverse=True)
    projected = table.project(model, unique)
    inv = torch.from_numpy(inverse)
    n = len(idx)
    z_heads, z_tails = projected[inv[:n]], projected[inv[n : 2 * n]]
    z_negs = projected[inv[2 * n :]].view(n, tc.n_negatives, -1) if negatives is not None else None
    out = model.transform(
        z_heads,
        torch.from_numpy(head_codes_to_model(model, table, head_codes)),
        torch.from_numpy(rels),
        torch.from_numpy(head_codes_to_model(model, table, tail_codes)),
    )
    mask = in_batch_mask(heads, tails, tail_codes, positives) if tc.in_batch_negatives else None
    return info_nce_loss(out, z_tails, z_negs, tc.temperature, mask)


def head_codes_to_model(model: BridgeModel, table: EmbeddingTable, codes: np.ndarray) -> np.ndarray:
    lookup = np.array([model.type_id(t) for t in table.types], dtype=np.int64)
    return lookup[codes]


def plot_loss_curve(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from biobridge.artifacts import atomic_write

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in history], [r["loss"] for r in history], lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("InfoNCE loss")
    ax.set_title("biobridge training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=120))
    plt.close(fig)
