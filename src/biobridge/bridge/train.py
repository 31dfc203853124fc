"""Training loop: InfoNCE over KG triples, gathered from cached embedding matrices.

Plain PyTorch that also runs under ``torchrun`` (see ``distributed.py``). Seeds are explicit; the run
directory gets a checkpoint (``run.save_run``, one atomic unit) at every epoch's end and every
``train.checkpoint_every_steps`` optimizer steps, and the log (``train_log.py``) is appended and flushed as it
goes. Until the last epoch the checkpoint carries the training state (``resume.py``), from which
``resume=True`` continues to the same weights and losses as a run never interrupted. A directory that already
holds a run is refused unless ``resume`` or ``overwrite``; with ``overwrite`` the old run stays in place until
the new one's first checkpoint.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.profiler import record_function
from tqdm.auto import tqdm

from biobridge.bridge.compiled import compile_encoder, uncompile_encoder
from biobridge.bridge.distributed import DistContext, init_distributed, shutdown_distributed
from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.loss import info_nce_loss
from biobridge.bridge.model import BridgeModel, BridgeSchema
from biobridge.bridge.neighbour_context import NeighbourContext, TripleContexts
from biobridge.bridge.resume import existing_run, is_finished, restore, resume_problem
from biobridge.bridge.resume import train_state as train_state_of
from biobridge.bridge.run import RunSources, TrainedRun, save_run
from biobridge.bridge.train_log import LOSS_PLOT, TrainingLog, plot_loss_curve
from biobridge.config import RunConfig, TrainConfig
from biobridge.errors import InputError
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.negatives import NegativeSampler
from biobridge.kg.pair_set import PairSet
from biobridge.kg.split import Split

log = logging.getLogger(__name__)


# ``torch.profiler`` labels of a training step's phases, in order (benchmarks/perf.py sums their times)
PHASES = {
    "sample": "bridge.sample_negatives_and_mask",
    "project": "bridge.gather_and_project",
    "encoder": "bridge.encoder",
    "loss": "bridge.loss",
    "backward": "bridge.backward",
    "optimizer": "bridge.clip_and_optimizer",
}


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
        log.warning(
            "%d training triples excluded: an endpoint has no embedding (see the store manifest)", n_excluded
        )
    rel_names, inverse = np.unique(train["relation"].to_numpy()[keep], return_inverse=True)
    lookup = np.array([model.relation_id(r) for r in rel_names], dtype=np.int64)
    return TrainingTriples(
        heads[keep], lookup[inverse] if len(inverse) else inverse.astype(np.int64), tails[keep], n_excluded
    )


def lr_lambda(total_steps: int, warmup_fraction: float):
    """Linear warm-up over ``warmup_fraction`` of the steps, then linear decay to zero."""
    warmup = max(1, int(round(total_steps * warmup_fraction)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return factor


def in_batch_mask(heads: np.ndarray, tails: np.ndarray, tail_codes: np.ndarray, positives: PairSet):
    """(B, B) bool: the j-th positive tail may be a negative for row i (same type, not linked, j != i)."""
    mask = tail_codes[:, None] == tail_codes[None, :]
    mask &= ~positives.block(heads, tails)
    np.fill_diagonal(mask, False)
    return torch.from_numpy(mask)


class TrainingStep(nn.Module):
    """One batch's loss as a module, so DistributedDataParallel can wrap it."""

    def __init__(
        self,
        model: BridgeModel,
        table: EmbeddingTable,
        config: TrainConfig,
        contexts: TripleContexts | None = None,
    ):
        super().__init__()
        self.model = model
        self.table = table
        self.config = config
        self.contexts = contexts
        self._type_lookup = np.array([model.type_id(t) for t in table.types], dtype=np.int64)

    def _project_contexts(self, triples: np.ndarray, tails: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        """``P_{type(t)}`` of the neighbour contexts of the batch's triples (indices into the training
        triples), one projection per tail type."""
        out = like.new_empty((len(triples), like.shape[1]))
        codes = self.table.type_code[tails]
        for code in np.unique(codes):
            tail_type = self.table.types[code]
            sel = np.flatnonzero(codes == code)
            matrix = self.contexts.matrices[tail_type]
            rows = torch.from_numpy(self.contexts.rows[triples[sel]]).to(matrix.device)
            out[torch.from_numpy(sel).to(out.device)] = self.model.project(matrix[rows], tail_type)
        return out

    def forward(
        self,
        heads: np.ndarray,
        rels: np.ndarray,
        tails: np.ndarray,
        negatives: np.ndarray | None,
        mask: torch.Tensor | None,
        loss_scale: float,
        log_q: torch.Tensor | None = None,
        triples: np.ndarray | None = None,
    ) -> torch.Tensor:
        """The batch's loss; ``triples``: the indices of its triples in the training triples (for their
        neighbour contexts, when the model reads one)."""
        n = len(heads)
        with record_function(PHASES["project"]):
            parts = [heads, tails] + ([negatives.ravel()] if negatives is not None else [])
            unique, inverse = np.unique(np.concatenate(parts), return_inverse=True)
            projected = self.table.project(self.model, unique)  # every distinct node of the batch, once
            inv = torch.from_numpy(inverse).to(projected.device)
            # F.embedding rather than projected[inv]: the same rows, a backward about 2.5x faster on CPU.
            # Tails and negatives enter the loss as unit vectors: each distinct node is normalised once.
            unit = F.normalize(projected, dim=-1)
            z_heads, z_tails = F.embedding(inv[:n], projected), F.embedding(inv[n : 2 * n], unit)
            z_negs = (
                F.embedding(inv[2 * n :], unit).view(n, negatives.shape[1], -1)
                if negatives is not None
                else None
            )
            context = self._project_contexts(triples, tails, projected) if self.contexts is not None else None
        device = projected.device
        with record_function(PHASES["encoder"]):
            out = self.model.transform(
                z_heads,
                torch.from_numpy(self._type_lookup[self.table.type_code[heads]]).to(device),
                torch.from_numpy(rels).to(device),
                torch.from_numpy(self._type_lookup[self.table.type_code[tails]]).to(device),
                context,
            )
        with record_function(PHASES["loss"]):
            mask = mask.to(device) if mask is not None else None
            log_q = log_q.to(device) if log_q is not None else None
            loss = info_nce_loss(
                out,
                z_tails,
                z_negs,
                self.config.temperature,
                mask,
                reduction="sum",
                log_q=log_q,
                unit_targets=True,
            )
        return loss * loss_scale


def relation_sampling_p(relations: np.ndarray, exponent: float) -> np.ndarray | None:
    """Per-triple probabilities that give relation ``r`` a share of draws proportional to ``n_r ** exponent``
    (None for exponent 1: every triple equally, the KG's own mix)."""
    if exponent == 1.0:
        return None
    counts = np.bincount(relations)
    weight = counts.astype(np.float64) ** (exponent - 1.0)
    p = weight[relations]
    return p / p.sum()


def _positive_log_share(tails: np.ndarray, num_nodes: int, device) -> torch.Tensor:
    """log of each node's share of the training triples' positive tails (log q of the logQ correction)."""
    counts = np.bincount(tails, minlength=num_nodes).astype(np.float64)
    share = np.where(counts > 0, counts / counts.sum(), 1.0 / counts.sum())
    return torch.from_numpy(np.log(share).astype(np.float32)).to(device)


def fit_standardizers(model: BridgeModel, table: EmbeddingTable, train_nodes: np.ndarray) -> None:
    """Input statistics per node type from the training nodes only (held-out nodes never inform them)."""
    codes = table.type_code[train_nodes]
    for code, node_type in enumerate(table.types):
        nodes = train_nodes[codes == code]
        if len(nodes):
            model.standardizers[node_type].fit(table.raw(node_type, nodes))


def resolve_train_device(tc: TrainConfig, ctx: DistContext) -> torch.device:
    if tc.device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", ctx.rank % torch.cuda.device_count())
        return torch.device("cpu")
    return torch.device(tc.device)


@dataclass
class _Setup:
    """Everything a training run needs beyond its config, built once."""

    model: BridgeModel
    data: TrainingTriples
    sampler: NegativeSampler
    positives: PairSet  # every training edge (any relation), head -> tail
    step_module: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    per_epoch: int
    steps_per_epoch: int
    device: torch.device
    sampling_p: np.ndarray | None  # per-triple probability under relation-balanced sampling (None: uniform)
    log_q: torch.Tensor | None  # per-node log share of the positives (logQ correction), on the device


def _set_up(
    kg: KnowledgeGraph, split: Split, table: EmbeddingTable, config: RunConfig, ctx: DistContext
) -> _Setup:
    tc = config.train
    device = resolve_train_device(tc, ctx)
    table.to(device)
    schema = BridgeSchema(input_dims=table.input_dims, relations=tuple(kg.relations))
    model = BridgeModel(schema, config.model).to(device)
    data = select_training_triples(kg, split, table, model)
    if len(data) == 0:
        raise ValueError("no training triples with embeddings on both ends")
    if model.standardizers is not None:
        fit_standardizers(model, table, np.union1d(data.heads, data.tails))
    sampler = NegativeSampler(
        kg.node_type_array(),
        data.heads,
        data.relations,
        data.tails,
        train_nodes=np.union1d(data.heads, data.tails),
    )
    contexts = None
    if config.model.context_k:
        started = time.perf_counter()
        relation_names = np.asarray(schema.relations)[data.relations]
        neighbours = NeighbourContext(
            table,
            data.heads,
            relation_names,
            data.tails,
            config.model.context_k,
            config.model.context_sharpness,
        )
        contexts = neighbours.of_triples(data.heads, relation_names, data.tails)
        log.info("neighbour contexts of %d triples in %.1f s", len(data), time.perf_counter() - started)
    if tc.compile:
        compile_encoder(model)
    step_module: nn.Module = TrainingStep(model, table, tc, contexts)
    if ctx.enabled:
        step_module = nn.parallel.DistributedDataParallel(step_module, find_unused_parameters=True)
    per_epoch = len(data) if tc.max_triples_per_epoch is None else min(len(data), tc.max_triples_per_epoch)
    steps_per_epoch = math.ceil(per_epoch / tc.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, foreach=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(steps_per_epoch * tc.epochs, tc.warmup_fraction)
    )
    return _Setup(
        model,
        data,
        sampler,
        PairSet(data.heads, data.tails, kg.num_nodes),
        step_module,
        optimizer,
        scheduler,
        per_epoch,
        steps_per_epoch,
        device,
        relation_sampling_p(data.relations, tc.relation_exponent),
        _positive_log_share(data.tails, kg.num_nodes, device) if tc.in_batch_logq else None,
    )


def _train_step(
    s: _Setup,
    table: EmbeddingTable,
    tc: TrainConfig,
    ctx: DistContext,
    idx: np.ndarray,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on the global batch ``idx`` (this rank's slice of it); (loss, grad norm)."""
    data = s.data
    with record_function(PHASES["sample"]):
        negatives = None
        if tc.n_negatives:
            negatives = s.sampler.sample(
                data.heads[idx],
                s.sampler.node_type_codes[data.tails[idx]],
                tc.n_negatives,
                tc.negative_pool,
                rng,
            )
        local = slice(ctx.rank, None, ctx.world_size)
        triples = idx[local]
        heads, tails, rels = data.heads[triples], data.tails[triples], data.relations[triples]
        negs = negatives[local] if negatives is not None else None
        mask = (
            in_batch_mask(heads, tails, table.type_code[tails], s.positives)
            if tc.in_batch_negatives
            else None
        )
    # DDP averages gradients over ranks; this scale makes that the global-batch mean.
    with torch.autocast(s.device.type, dtype=torch.bfloat16, enabled=tc.precision == "bf16"):
        log_q = s.log_q[torch.from_numpy(tails)] if s.log_q is not None else None
        loss = s.step_module(heads, rels, tails, negs, mask, ctx.world_size / len(idx), log_q, triples)
    with record_function(PHASES["backward"]):
        s.optimizer.zero_grad(set_to_none=True)
        loss.backward()
    with record_function(PHASES["optimizer"]):
        grad_norm = torch.nn.utils.clip_grad_norm_(s.model.parameters(), tc.grad_clip)
        s.optimizer.step()
        s.scheduler.step()
    return loss, grad_norm


def step_function(
    kg: KnowledgeGraph, split: Split, table: EmbeddingTable, config: RunConfig, seed: int = 0
) -> Callable[[], int]:
    """A run set up as ``train_bridge`` sets it up, as a function that takes one optimizer step on the next
    random batch and returns its number of triples: no checkpoints, no log. What a profiler or a FLOP counter
    wraps (``benchmarks/perf.py``); the phases of a step are labelled ``PHASES`` for ``torch.profiler``."""
    tc = config.train
    ctx = DistContext()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    s = _set_up(kg, split, table, config, ctx)
    s.model.train()

    def step() -> int:
        idx = rng.choice(len(s.data), size=min(tc.batch_size, len(s.data)), replace=False)
        _train_step(s, table, tc, ctx, idx, rng)
        return len(idx)

    return step


def _run_epoch(
    s: _Setup,
    table: EmbeddingTable,
    tc: TrainConfig,
    ctx: DistContext,
    epoch: int,
    rng: np.random.Generator,
    progress: TrainingLog,
    show: bool,
    start_batch: int = 0,
    order: np.ndarray | None = None,
    on_step=None,
) -> None:
    """One epoch, from batch ``start_batch`` of ``order`` when resuming (else a new order is drawn);
    ``on_step(next_batch, order)`` runs after every step but the epoch's last (mid-epoch checkpoints)."""
    s.model.train()
    if order is None:
        if s.sampling_p is None:
            order = rng.permutation(len(s.data))[: s.per_epoch]
        else:
            order = rng.choice(len(s.data), size=s.per_epoch, replace=False, p=s.sampling_p)
    bar = tqdm(
        range(start_batch, s.steps_per_epoch),
        desc=f"epoch {epoch + 1}/{tc.epochs}",
        disable=not show,
        unit="batch",
        initial=start_batch,
        total=s.steps_per_epoch,
    )
    epoch_start, seen = time.perf_counter(), 0
    for b in bar:
        idx = order[b * tc.batch_size : (b + 1) * tc.batch_size]
        loss, grad_norm = _train_step(s, table, tc, ctx, idx, rng)
        seen += len(idx)
        progress.seen += len(idx)
        rate = seen / (time.perf_counter() - epoch_start)
        last = b == s.steps_per_epoch - 1
        progress.record(epoch, loss, grad_norm, s.scheduler.get_last_lr()[0], rate, last)
        if show:
            bar.set_postfix(loss=f"{loss.item():.4f}", triples_s=f"{rate:,.0f}")
        if on_step is not None and not last:
            on_step(b + 1, order)
    s.model.eval()


def train_bridge(
    kg: KnowledgeGraph,
    split: Split,
    table: EmbeddingTable,
    config: RunConfig,
    out_dir: str | Path,
    sources: RunSources | None = None,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
    resume: bool = False,
    overwrite: bool = False,
) -> TrainedRun:
    """Train a bridge on the split's training triples; the run directory ``out_dir`` gets a checkpoint
    (through ``biobridge.bridge.run.save_run``) at the end of every epoch and every
    ``train.checkpoint_every_steps`` steps. ``sources`` and ``extra`` are recorded.

    A run already in ``out_dir`` is refused (``InputError``) unless ``resume`` (continue it from its last
    checkpoint; a finished run is returned as it is) or ``overwrite`` (train anew; the old run stays until
    the first new checkpoint). With both, a run that cannot be resumed (other settings) is trained anew."""
    tc = config.train
    out_dir = Path(out_dir)
    existing = existing_run(out_dir, resume, overwrite)
    state = None
    mode = "fresh" if existing is None else "replace"
    if resume and existing is not None:
        problem = resume_problem(existing, config, sources)
        if problem is None and is_finished(existing, config):
            log.info("the run in %s is already trained to its last epoch", out_dir)
            return existing
        if problem is None:
            state = existing.load_train_state()
            mode = "resume"
        elif not overwrite:
            raise InputError(f"cannot resume the run in {out_dir}: {problem}; pass --overwrite to train anew")
        else:
            log.warning("training %s anew: the run there cannot be resumed (%s)", out_dir, problem)
    ctx = init_distributed()
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)  # identical on every rank: same order, same negatives
    s = _set_up(kg, split, table, config, ctx)
    n_params = sum(p.numel() for p in s.model.parameters())
    log.info(
        "training %s parameters on %d triples (%d excluded), %d epochs x %d steps, %d process(es), %s",
        f"{n_params:,}",
        len(s.data),
        s.data.n_excluded,
        tc.epochs,
        s.steps_per_epoch,
        ctx.world_size,
        s.device,
    )
    facts = {
        "n_triples": len(s.data),
        "n_excluded_no_embedding": s.data.n_excluded,
        "world_size": ctx.world_size,
        "device": str(s.device),
        "n_parameters": n_params,
    }
    start_epoch, start_batch, order = 0, 0, None
    resumed = {"step": 0, "seen": 0, "elapsed_s": 0.0}
    if state is not None:
        start_epoch, start_batch, order = restore(s, existing, state, rng, ctx)
        resumed = state[1]
        log.info("resuming %s at epoch %d, step %d", out_dir, start_epoch + 1, resumed["step"])
    log_rows = TrainingLog(
        out_dir, ctx, tc.log_every, mode, resumed["step"], resumed["seen"], resumed["elapsed_s"]
    )
    run = None

    def checkpoint(epochs_done: int, epoch: int, batch: int, epoch_order: np.ndarray | None) -> None:
        nonlocal run
        final = epochs_done == tc.epochs
        torch_states = ctx.gather(torch.get_rng_state(), s.device)  # collective: every rank
        cuda_states = (
            ctx.gather(torch.cuda.get_rng_state(s.device), s.device) if s.device.type == "cuda" else []
        )
        if ctx.is_main:
            train_state = None
            if not final:
                train_state = train_state_of(
                    s, rng, torch_states, cuda_states, epoch, batch, epoch_order, log_rows, ctx
                )
            summary = {**facts, **log_rows.summary(epochs_done)}
            run = save_run(out_dir, s.model, sources, config, summary, extra, train_state)
            log_rows.commit()
        ctx.barrier()

    def on_step(epoch: int):
        def maybe_checkpoint(next_batch: int, epoch_order: np.ndarray) -> None:
            if tc.checkpoint_every_steps and log_rows.step % tc.checkpoint_every_steps == 0:
                checkpoint(epoch, epoch, next_batch, epoch_order)

        return maybe_checkpoint

    try:
        for epoch in range(start_epoch, tc.epochs):
            first = epoch == start_epoch
            _run_epoch(
                s,
                table,
                tc,
                ctx,
                epoch,
                rng,
                log_rows,
                show=progress and ctx.is_main,
                start_batch=start_batch if first else 0,
                order=order if first else None,
                on_step=on_step(epoch),
            )
            checkpoint(epoch + 1, epoch + 1, 0, None)
    finally:
        log_rows.close()
        uncompile_encoder(s.model)
    if ctx.is_main:
        plot_loss_curve(log_rows.history, out_dir / LOSS_PLOT)
    shutdown_distributed(ctx)
    return run if run is not None else TrainedRun.open(out_dir)
