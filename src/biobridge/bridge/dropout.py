"""Dropout with a cheaper mask: four 15-bit uniforms from each 64-bit draw of torch's generator.

``nn.Dropout`` draws one random number per element (``bernoulli_``), which on CPU costs more than the
elementwise product it feeds. ``FastDropout`` draws ``ceil(n / 4)`` 64-bit integers (``random_``: 63 random bits),
reads them as four 16-bit words, keeps each word's low 15 bits ``u`` and keeps an element when
``u >= round(p * 32768)``. So ``p`` is rounded to a multiple of 1/32768 (0.1 becomes 3277/32768 = 0.100006),
and kept elements are scaled by ``1 / (1 - p_rounded)``: inverted dropout, identity in eval mode, like
``nn.Dropout``. It uses the same global generator (seeded runs stay reproducible) but a different random
stream, so a model trained with it is not bit-identical to one trained with ``nn.Dropout``; that is why it is
a setting (``model.dropout_mask = "fast"``, off in both presets) and not a silent replacement.

Measured on 2 CPU cores (medians; docs/benchmarks.md): forward + backward of one dropout 2.4-2.7x faster at
the ``cpu`` preset's widths (1,024 x 4 x 128 / 256), 1.5-2.3x at the ``paper`` preset's; a whole ``cpu``-preset
step 0.92x (40 steps alternated in one process), a ``paper``-preset step 0.99x (4 steps, within noise: its
matrix products dominate).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FastDropout", "use_fast_dropout"]

_LEVELS = 1 << 15


class FastDropout(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout p must be in [0, 1), got {p}")
        self.threshold = int(round(p * _LEVELS))
        self.p = self.threshold / _LEVELS  # the probability actually applied

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        n = x.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_()
        uniform = words.view(torch.int16)[:n].view(x.shape) & (_LEVELS - 1)
        # the scaled keep-mask is a constant of the product, so autograd's backward is grad * mask
        mask = (uniform >= self.threshold).to(x.dtype).mul_(1.0 / (1.0 - self.p))
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p:.6f} (15-bit mask)"


def use_fast_dropout(encoder: nn.Module) -> None:
    """Replace the residual and feed-forward dropouts (``dropout``, ``dropout1``, ``dropout2``) of every
    ``nn.TransformerEncoderLayer`` in ``encoder`` by ``FastDropout`` of the same ``p``. The attention
    weights' dropout inside ``nn.MultiheadAttention`` is functional and stays torch's."""
    for layer in encoder.modules():
        if isinstance(layer, nn.TransformerEncoderLayer):
            for name in ("dropout", "dropout1", "dropout2"):
                old = getattr(layer, name)
                setattr(layer, name, FastDropout(old.p))
