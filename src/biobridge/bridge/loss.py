"""InfoNCE on cosine similarity (DESIGN.md §1), with sampled and optional in-batch negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce_loss(
    outputs: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor | None,
    temperature: float,
    in_batch_mask: torch.Tensor | None = None,
    reduction: str = "mean",
    log_q: torch.Tensor | None = None,
    unit_targets: bool = False,
) -> torch.Tensor:
    """Cross-entropy of the positive against its negatives, on cosine similarity / temperature.

    outputs, positives: (B, H). negatives: (B, K, H) sampled negatives or None.
    in_batch_mask: optional (B, B) bool, True where the j-th positive of the batch may serve as a negative for
    row i (same tail type, not a known positive of head i, j != i). The diagonal is the row's own positive.
    log_q: optional (B,) log-probability of each positive tail to be drawn as a positive; subtracted from the
    logits of the positive and of the in-batch negatives (logQ sampling-bias correction).
    unit_targets: positives and negatives are L2-normalised already (the training step normalises each
    distinct node of a batch once, before gathering).
    """
    o = F.normalize(outputs, dim=-1)
    p = positives if unit_targets else F.normalize(positives, dim=-1)
    logits = [(o * p).sum(-1, keepdim=True)]
    if negatives is not None and negatives.shape[1] > 0:
        n = negatives if unit_targets else F.normalize(negatives, dim=-1)
        logits.append(torch.einsum("bh,bkh->bk", o, n))
    if in_batch_mask is not None:
        sim = o @ p.T
        logits.append(sim.masked_fill(~in_batch_mask, float("-inf")))
    all_logits = torch.cat(logits, dim=1) / temperature
    if log_q is not None:
        correction = torch.zeros_like(all_logits)
        correction[:, 0] = log_q
        if in_batch_mask is not None:
            correction[:, -log_q.shape[0] :] = log_q[None, :]
        all_logits = all_logits - correction
    target = torch.zeros(all_logits.shape[0], dtype=torch.long, device=all_logits.device)
    return F.cross_entropy(all_logits, target, reduction=reduction)
