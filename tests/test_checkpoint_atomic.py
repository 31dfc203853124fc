"""A checkpoint is one atomic unit: a process killed at any point of a checkpoint write leaves a run that loads
(the previous checkpoint or the new one, with the config that belongs to its weights), never half of one."""

from __future__ import annotations

import hashlib
import json
import os
import signal

import pytest
import torch

from biobridge.bridge.model import BridgeModel, BridgeSchema
from biobridge.bridge.run import TrainedRun, save_run
from biobridge.config import ModelConfig
from tests.tiny_workdir import run_cli, tiny_workdir, train_args

SCHEMA = BridgeSchema(input_dims={"protein": 6, "drug": 5}, relations=("r", "rev_r"))


def model_with(seed: int) -> BridgeModel:
    torch.manual_seed(seed)
    return BridgeModel(SCHEMA, ModelConfig(hidden_dim=8, n_layers=1, n_heads=2, ff_dim=16)).eval()


def write(directory, tag: str, seed: int):
    """A checkpoint whose config, weights and training state all say which write they came from."""
    state = ({"marker": torch.full((3,), float(seed))}, {"tag": tag})
    return save_run(directory, model_with(seed), None, training={"tag": tag}, train_state=state)


def count_replacements(tmp_path) -> int:
    calls, real = [], os.replace

    def counting(src, dst, *a, **k):
        calls.append(dst)
        return real(src, dst, *a, **k)

    os.replace = counting
    try:
        write(tmp_path / "count", "x", 0)
    finally:
        os.replace = real
    return len(calls)


def killed_write(directory, tag: str, seed: int, kill_at: int) -> int:
    """Fork a child that writes a checkpoint and ``os._exit``s just before its ``kill_at``-th file
    replacement (an interruption with nothing cleaned up); returns the child's exit status."""
    pid = os.fork()
    if pid == 0:  # the child
        try:
            real, count = os.replace, [0]

            def replace(src, dst, *a, **k):
                count[0] += 1
                if count[0] == kill_at:
                    os._exit(137)
                return real(src, dst, *a, **k)

            os.replace = replace
            write(directory, tag, seed)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def assert_consistent(directory) -> str:
    """The run loads, and its weights and training state are the ones its config names; returns the tag."""
    run = TrainedRun.open(directory)
    tag = run.training["tag"]
    seed = {"old": 1, "new": 2}[tag]
    model = run.load_model()
    expected = model_with(seed).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items()), tag
    tensors, record = run.load_train_state()
    assert record == {"tag": tag} and torch.equal(tensors["marker"], torch.full((3,), float(seed)))
    return tag


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_write_killed_at_any_replacement_leaves_the_old_or_the_new_checkpoint(tmp_path):
    n = count_replacements(tmp_path)
    assert n >= 3  # weights, training state, config
    seen = []
    for kill_at in range(1, n + 1):
        run_dir = tmp_path / f"run{kill_at}"
        write(run_dir, "old", 1)
        assert killed_write(run_dir, "new", 2, kill_at) == 137
        seen.append(assert_consistent(run_dir))
        write(run_dir, "new", 2)  # the next write completes and removes what the killed one left
        assert assert_consistent(run_dir) == "new"
        names = sorted(p.name for p in run_dir.iterdir())
        assert names == ["config.json", "model.safetensors", "train_state.safetensors"], names
    assert "old" in seen and "new" in seen  # the kills fall before and after the commit


def test_training_killed_inside_a_checkpoint_keeps_the_previous_one(tmp_path_factory, tmp_path):
    workdir = tiny_workdir(tmp_path_factory)
    out = tmp_path / "run"
    # SIGKILL just before the third config.json is put in place: the third checkpoint's weights and state
    # are written, its config is not
    proc = run_cli(*train_args(workdir, out), kill_name="config.json", kill_nth=3)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["steps"] == 4  # the second checkpoint (every 2 steps)
    run = TrainedRun.open(out)
    run.load_model()
    assert hashlib.sha256(run.weights_path.read_bytes()).hexdigest() == config["weights"]["sha256"]
    tensors, record = run.load_train_state()
    assert record["step"] == 4 and record["epoch"] == 0 and record["batch"] == 4
