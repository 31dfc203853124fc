"""FastDropout: inverted dropout with 15-bit masks, four per 64-bit draw."""

import pytest
import torch
from torch import nn

from biobridge.bridge.dropout import FastDropout
from biobridge.bridge.model import BridgeModel, BridgeSchema
from biobridge.config import ModelConfig, preset


def test_drops_about_p_and_rescales_the_kept_elements():
    torch.manual_seed(0)
    drop = FastDropout(0.1).train()
    x = torch.ones(1000, 301)  # numel not a multiple of 4: the last 64-bit draw is used in part
    y = drop(x)
    kept = y != 0
    assert drop.p == 3277 / 32768
    assert abs(1 - kept.float().mean().item() - drop.p) < 0.005  # 301k draws: 5 sigma is ~0.0027
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / (1 - drop.p)))
    assert abs(y.mean().item() - 1.0) < 0.01  # expectation preserved


def test_backward_applies_the_same_mask_and_eval_is_the_identity():
    torch.manual_seed(1)
    drop = FastDropout(0.5).train()
    x = torch.randn(64, 33, requires_grad=True)
    y = drop(x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, (y != 0).float() * 2.0)
    drop.eval()
    assert torch.equal(drop(x), x)
    assert torch.equal(FastDropout(0.0).train()(x), x)


def test_same_seed_same_mask_and_masks_differ_between_calls():
    drop = FastDropout(0.3).train()
    x = torch.ones(17, 19)
    torch.manual_seed(7)
    a, b = drop(x), drop(x)
    torch.manual_seed(7)
    assert torch.equal(drop(x), a) and not torch.equal(a, b)


def test_the_setting_swaps_the_encoder_dropouts_and_is_validated():
    schema = BridgeSchema({"a": 4, "b": 3}, ("r",))
    fast = BridgeModel(schema, ModelConfig(hidden_dim=8, n_heads=2, ff_dim=16, dropout_mask="fast"))
    torch_ = BridgeModel(schema, ModelConfig(hidden_dim=8, n_heads=2, ff_dim=16))
    kinds = {type(m) for m in fast.modules()}
    assert FastDropout in kinds and nn.Dropout not in kinds
    assert FastDropout not in {type(m) for m in torch_.modules()}
    assert fast.state_dict().keys() == torch_.state_dict().keys()  # same checkpoints either way
    assert preset("paper").model.dropout_mask == preset("cpu").model.dropout_mask == "torch"  # opt-in
    with pytest.raises(ValueError, match="dropout_mask"):
        ModelConfig(dropout_mask="numpy")
