"""torchrun / DistributedDataParallel plumbing (gloo on CPU, nccl on GPU).

Under ``torchrun --nproc_per_node N`` every rank sees the same seeded order of triples and the same sampled
negatives for each global batch, and computes the loss on its own slice (``rank::world``) of that batch. The
local loss is scaled so that DDP's gradient average equals the gradient of the global-batch mean: a 2-process
run follows the 1-process loss curve within float tolerance (without dropout and in-batch negatives, which
are drawn per rank). Rank 0 alone writes checkpoints and logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def mean(self, value: torch.Tensor) -> float:
        """Mean of a scalar over ranks (for logging)."""
        if not self.enabled:
            return float(value.detach())
        v = value.detach().clone().reshape(1)
        dist.all_reduce(v)
        return float(v) / self.world_size

    def gather(self, tensor: torch.Tensor, device: torch.device) -> list[torch.Tensor]:
        """Every rank's ``tensor`` (same shape and dtype on all ranks), on the CPU, in rank order (for the
        per-rank RNG states of a checkpoint; collective: every rank calls it)."""
        if not self.enabled:
            return [tensor.cpu()]
        local = tensor.to(device)
        out = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(out, local)
        return [t.cpu() for t in out]


def init_distributed() -> DistContext:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size())


def shutdown_distributed(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
