"""Every numeric option of a run config is checked where configs are made (presets, overrides, TOML)."""

from __future__ import annotations

import pytest

from biobridge.config import load_run_config, preset, with_overrides


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train.epochs", 0, "train.epochs must be >= 1"),
        ("train.epochs", -2, "train.epochs must be >= 1"),
        ("train.epochs", 1.5, "train.epochs must be a whole number"),
        ("train.batch_size", 0, "train.batch_size must be >= 1"),
        ("train.lr", 0.0, "train.lr must be > 0"),
        ("train.temperature", -0.1, "train.temperature must be > 0"),
        ("train.warmup_fraction", 1.5, "train.warmup_fraction must be >= 0.0 and <= 1.0"),
        ("train.n_negatives", -1, "train.n_negatives must be >= 0"),
        ("train.max_triples_per_epoch", 0, "train.max_triples_per_epoch must be >= 1"),
        ("train.num_threads", 0, "train.num_threads must be >= 1"),
        ("train.seed", -1, "train.seed must be >= 0"),
        ("train.lr", float("nan"), "train.lr must be a number"),
        ("train.epochs", True, "train.epochs must be a whole number"),
        ("model.hidden_dim", 0, "model.hidden_dim must be >= 1"),
        ("model.n_layers", -1, "model.n_layers must be >= 0"),
        ("model.dropout", 1.0, "model.dropout must be"),
        ("model.hidden_dim", 30, "must be a multiple of model.n_heads"),
        ("retriever.k", 0, "retriever.k must be >= 1"),
        ("retriever.step", 0.0, "retriever.step must be > 0"),
        ("retriever.max_queries", 0, "retriever.max_queries must be >= 1"),
        ("retriever.bagging", -1, "retriever.bagging must be >= 0"),
        ("retriever.bagging", 2.5, "retriever.bagging must be a whole number"),
        ("retriever.vote_k", [10, 0], "retriever.vote_k must be integers >= 1"),
        ("retriever.vote_k", [], "retriever.vote_k must be integers >= 1"),
        ("retriever.vote_sharpness", [1, -2], "retriever.vote_sharpness must be positive numbers"),
        ("retriever.gate", "popularity", "retriever.gate must be one of"),
        ("retriever.smoothing", [0, -0.5], "retriever.smoothing must be numbers >= 0"),
        ("retriever.smoothing", [], "retriever.smoothing must be numbers >= 0"),
        ("retriever.smoothing_k", 0, "retriever.smoothing_k must be >= 1"),
    ],
)
def test_bad_numbers_are_refused(key, value, message):
    with pytest.raises(ValueError, match=message):
        with_overrides(preset("cpu"), {key: value})


def test_presets_and_boundaries_are_accepted():
    for name in ("cpu", "paper"):
        preset(name)
    with_overrides(
        preset("cpu"),
        {"model.n_layers": 0, "train.n_negatives": 0, "train.max_triples_per_epoch": None, "train.epochs": 1},
    )
    chosen = with_overrides(
        preset("cpu"), {"retriever.vote_k": [10], "retriever.vote_sharpness": [2]}
    ).retriever
    assert chosen.vote_k == (10,) and chosen.vote_sharpness == (2.0,)
    assert with_overrides(preset("cpu"), {"retriever.smoothing": [0.5, 0]}).retriever.smoothing == (0.0, 0.5)


def test_toml_values_are_checked_with_the_file_named(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[train]\nepochs = 0\n")
    with pytest.raises(ValueError, match=r"run\.toml: train\.epochs must be >= 1"):
        load_run_config(path)
