"""Resumable training: which existing run may be continued, and the training state a checkpoint carries.

``train_state.safetensors`` (written by ``biobridge.bridge.run.save_run`` until the last epoch) holds the AdamW
moments, the RNG states (torch per rank, CUDA) and the epoch's order of triples as tensors; its metadata
(JSON) holds the rest: epoch, batch and step to continue from, the numpy and python RNG states, the scheduler
and the optimizer's parameter groups. No pickle. ``resume`` from it gives the same weights and losses as a
run never interrupted (same threads and device).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biobridge.bridge.distributed import DistContext
from biobridge.bridge.run import CONFIG_FILE, RunSources, TrainedRun
from biobridge.bridge.train_log import TrainingLog
from biobridge.config import RetrieverConfig, RunConfig
from biobridge.errors import InputError

log = logging.getLogger(__name__)

STATE_FORMAT = "biobridge-train-state-v1"
# settings that may change between an interrupted run and its resumption (they do not change the result, or,
# for the device, the user asks for it; a retriever setting that only tunes the hybrid gets the hybrid tuned
# again, see ``biobridge.pipeline.train``)
RESUME_MAY_CHANGE = ("train.num_threads", "train.device", "train.checkpoint_every_steps") + tuple(
    f"retriever.{f.name}" for f in fields(RetrieverConfig) if f.name not in RetrieverConfig.BRIDGE_SETTINGS
)


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: json.loads(json.dumps(obj))}


def config_differences(saved: RunConfig | None, wanted: RunConfig) -> list[str]:
    """The config keys (``train.lr``, ...) whose values differ, ignoring ``RESUME_MAY_CHANGE``."""
    if saved is None:
        return ["run_config (none recorded)"]
    a, b = _flat(saved.to_dict()), _flat(wanted.to_dict())
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUME_MAY_CHANGE)


def existing_run(out_dir: str | Path, resume: bool = False, overwrite: bool = False) -> TrainedRun | None:
    """The run already in ``out_dir`` (None when there is none); ``InputError`` when there is one and neither
    ``resume`` nor ``overwrite`` is given."""
    out_dir = Path(out_dir)
    if not (out_dir / CONFIG_FILE).exists():
        return None
    if not resume and not overwrite:
        raise InputError(
            f"{out_dir} already holds a trained run: pass --resume to continue it, or --overwrite to train a "
            "new one in its place (the old one is kept until the new one's first checkpoint)"
        )
    try:
        return TrainedRun.open(out_dir)
    except (OSError, ValueError) as exc:
        if not overwrite:
            raise
        log.warning("%s holds an unreadable run (%s): training anew", out_dir, exc)
        return None


def resume_problem(run: TrainedRun, config: RunConfig, sources: RunSources | None) -> str | None:
    """Why ``run`` cannot be continued with ``config`` on ``sources`` (None: it can)."""
    differ = config_differences(run.run_config, config)
    if differ:
        return f"it was trained with other settings ({', '.join(differ[:6])})"
    recorded = run.sources
    if sources is not None and recorded is not None:
        if recorded.kg_hash != sources.kg_hash:
            return "it was trained on another KG"
        if (recorded.split or {}).get("hash") != (sources.split or {}).get("hash"):
            return "it was trained on another split"
    if not is_finished(run, config) and run.blob_sha256("train_state") is None:
        return "its checkpoint holds no training state (written before runs could be resumed)"
    return None


def is_finished(run: TrainedRun, config: RunConfig) -> bool:
    return (
        run.training.get("epochs_completed") == config.train.epochs and run.blob_sha256("train_state") is None
    )


def train_state(
    s: Any,
    rng: np.random.Generator,
    torch_states: list[torch.Tensor],
    cuda_states: list[torch.Tensor],
    epoch: int,
    batch: int,
    order: np.ndarray | None,
    progress: TrainingLog,
    ctx: DistContext,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and record of ``train_state.safetensors`` for the training set-up ``s`` (``train._Setup``):
    training continues at batch ``batch`` of epoch
    ``epoch`` (of ``order``, the epoch's triples, when mid-epoch)."""
    opt = s.optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in opt["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    for rank, state in enumerate(torch_states):
        tensors[f"rng.torch.{rank}"] = state
    for rank, state in enumerate(cuda_states):
        tensors[f"rng.cuda.{rank}"] = state
    if order is not None:
        tensors["sampler.order"] = torch.from_numpy(np.ascontiguousarray(order, dtype=np.int64))
    version, internal, gauss = random.getstate()
    record = {
        "format": STATE_FORMAT,
        "epoch": epoch,
        "batch": batch,
        "step": progress.step,
        "seen": progress.seen,
        "elapsed_s": round(time.perf_counter() - progress.start, 3),
        "world_size": ctx.world_size,
        "numpy_rng": rng.bit_generator.state,
        "python_rng": [version, list(internal), gauss],
        "scheduler": s.scheduler.state_dict(),
        "optimizer": {"param_groups": opt["param_groups"], "scalars": scalars},
    }
    return tensors, record


def restore(
    s: Any,
    run: TrainedRun,
    state: tuple[dict[str, torch.Tensor], dict[str, Any]],
    rng: np.random.Generator,
    ctx: DistContext,
) -> tuple[int, int, np.ndarray | None]:
    """Load the checkpoint's weights and training state into ``s``, ``rng`` and the global RNGs; returns
    (epoch, batch, the epoch's order or None) to continue from."""
    tensors, record = state
    if record.get("format") != STATE_FORMAT:
        raise InputError(
            f"{run.blob_path('train_state')}: unknown training state format {record.get('format')!r}"
        )
    with torch.no_grad():
        s.model.load_state_dict(run.load_model().state_dict())
    entries: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, idx, key = name.split(".", 2)
            entries.setdefault(int(idx), {})[key] = value
    for idx, values in record["optimizer"]["scalars"].items():
        entries.setdefault(int(idx), {}).update(values)
    groups = record["optimizer"]["param_groups"]
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    s.optimizer.load_state_dict({"state": entries, "param_groups": groups})
    s.scheduler.load_state_dict(record["scheduler"])
    rng.bit_generator.state = record["numpy_rng"]
    version, internal, gauss = record["python_rng"]
    random.setstate((version, tuple(internal), gauss))
    rank = ctx.rank
    if record.get("world_size", 1) != ctx.world_size:
        log.warning(
            "resuming a run of %s process(es) with %s: the result will differ from an uninterrupted run",
            record.get("world_size"),
            ctx.world_size,
        )
        rank = 0
    torch.set_rng_state(tensors[f"rng.torch.{rank}"])
    if s.device.type == "cuda" and f"rng.cuda.{rank}" in tensors:
        torch.cuda.set_rng_state(tensors[f"rng.cuda.{rank}"], s.device)
    order = tensors["sampler.order"].numpy() if "sampler.order" in tensors else None
    return int(record["epoch"]), int(record["batch"]), order
