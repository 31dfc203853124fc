"""``train.compile``: the compiled encoder computes the eager one's function, falls back when compiling fails, and
is removed after training."""

import logging

import pytest
import torch

from biobridge.bridge import compiled
from biobridge.bridge.compiled import compile_encoder, uncompile_encoder
from biobridge.config import TrainConfig

from .test_model import small_model


def test_compiled_encoder_matches_eager_and_is_removed():
    model = small_model()
    x = torch.randn(6, 12)
    eager = model.transform_named(x, "protein", "r", "drug")
    assert compile_encoder(model)
    with torch.no_grad():
        torch.testing.assert_close(
            model.transform_named(x, "protein", "r", "drug"), eager, atol=1e-5, rtol=1e-5
        )
    uncompile_encoder(model)
    assert "_encode_first_token" not in model.__dict__
    assert not compile_encoder(small_model(n_layers=0))  # no encoder: nothing to compile


def test_a_failing_compilation_warns_and_trains_eagerly(monkeypatch, caplog):
    def broken(fn, **_):
        def call(*args):
            raise RuntimeError("no C++ compiler")

        return call

    monkeypatch.setattr(compiled.torch, "compile", broken)
    model = small_model().train()
    x = torch.randn(6, 12)
    compile_encoder(model)
    with caplog.at_level(logging.WARNING):
        out = model.transform_named(x, "protein", "r", "drug")
    assert "training continues eagerly" in caplog.text and out.shape == (6, 16)
    out.sum().backward()  # the eager path carries gradients
    assert model.encoder.layers[0].linear1.weight.grad is not None


def test_compile_is_a_boolean_setting():
    assert TrainConfig().compile is False
    assert TrainConfig(compile=True).compile is True
    with pytest.raises((TypeError, ValueError)):
        from biobridge.config import RunConfig, with_overrides

        with_overrides(RunConfig(), {"train.compile": "yes"})


def test_compilation_is_on_where_runs_are_long():
    from biobridge.config import preset

    assert preset("paper").train.compile  # ~1,400 steps at paper scale repay a minute of compiling
    assert not preset("cpu").train.compile  # its step is not bound by the encoder
