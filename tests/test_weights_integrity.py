"""Corrupted or non-finite weights are refused with a clear error naming the file, through the Python API and
the CLI (exit 2, one line, no traceback); a run written before the hash was recorded still loads."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from biobridge import pipeline
from biobridge.bridge.run import TrainedRun, save_run
from biobridge.config import preset, with_overrides
from biobridge.errors import InputError
from tests.tiny_workdir import run_cli, tiny_workdir


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tiny_workdir(tmp_path_factory)
    small = {"model.hidden_dim": 16, "model.n_heads": 2, "model.ff_dim": 32, "model.n_layers": 1}
    train = {"train.epochs": 1, "train.batch_size": 32, "train.max_triples_per_epoch": 128}
    config = with_overrides(preset("cpu"), {**small, **train, "retriever.kind": "bridge"})
    out = tmp_path_factory.mktemp("integrity") / "run"
    pipeline.train(workdir, config, out_dir=out, progress=False)
    return workdir, out


@pytest.fixture
def run_dir(trained, tmp_path):
    """A copy of the trained run, placed beside the original so its relative sources still resolve."""
    _, out = trained
    copy = out.with_name(f"copy-{tmp_path.name}")
    shutil.copytree(out, copy)
    yield copy
    shutil.rmtree(copy)


def flip_bytes(path):
    data = bytearray(path.read_bytes())
    for i in range(len(data) - 64, len(data) - 32):  # inside the last tensor's data
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def write_nan(run_dir, record_hash: bool = True):
    """Put a NaN in one parameter; with ``record_hash`` the config names the new file's hash (the weights
    are consistent but not finite)."""
    path = run_dir / "model.safetensors"
    state = load_file(str(path))
    name = sorted(k for k, v in state.items() if v.is_floating_point())[0]
    state[name].view(-1)[0] = float("nan")
    save_file(state, str(path), metadata={"format": "pt"})
    config = json.loads((run_dir / "config.json").read_text())
    if record_hash:
        config["weights"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    else:
        del config["weights"]
    (run_dir / "config.json").write_text(json.dumps(config))
    return name


def test_the_config_records_the_weights_hash(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    assert config["weights"] == {
        "file": "model.safetensors",
        "sha256": hashlib.sha256((run_dir / "model.safetensors").read_bytes()).hexdigest(),
    }


def test_flipped_bytes_are_refused(run_dir):
    flip_bytes(run_dir / "model.safetensors")
    with pytest.raises(InputError, match=r"model\.safetensors does not match the SHA-256 recorded"):
        TrainedRun.open(run_dir).load_model()


def test_nan_weights_are_refused_with_or_without_a_recorded_hash(run_dir):
    name = write_nan(run_dir)
    with pytest.raises(InputError, match=rf"model\.safetensors holds non-finite \(NaN/Inf\).*{name}"):
        TrainedRun.open(run_dir).load_model()
    write_nan(run_dir, record_hash=False)
    with pytest.raises(InputError, match="non-finite"):
        TrainedRun.open(run_dir).load_model()


def test_a_run_without_a_recorded_hash_loads_with_one_warning(run_dir, caplog):
    config = json.loads((run_dir / "config.json").read_text())
    del config["weights"]  # as written before the hash was recorded
    (run_dir / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="biobridge.bridge.run"):
        TrainedRun.open(run_dir).load_model()
        TrainedRun.open(run_dir).load_model()
    warnings = [r for r in caplog.records if "records no SHA-256" in r.getMessage()]
    assert len(warnings) == 1


def test_save_run_refuses_non_finite_weights_and_keeps_the_last_checkpoint(run_dir):
    run = TrainedRun.open(run_dir)
    model = run.load_model()
    before = (run_dir / "model.safetensors").read_bytes()
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("inf")
    with pytest.raises(ValueError, match="non-finite"):
        save_run(run_dir, model, run.sources, run.run_config, run.training)
    assert (run_dir / "model.safetensors").read_bytes() == before
    TrainedRun.open(run_dir).load_model()


@pytest.mark.parametrize("damage", ["flipped", "nan"])
def test_the_cli_refuses_damaged_weights_in_one_line(trained, run_dir, tmp_path, damage):
    workdir, _ = trained
    if damage == "flipped":
        flip_bytes(run_dir / "model.safetensors")
    else:
        write_nan(run_dir)
    proc = run_cli("evaluate", "-w", workdir, "--model", run_dir, "--out", tmp_path / "eval")
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: ") and str(run_dir / "model.safetensors") in lines[0]
    assert ("SHA-256" if damage == "flipped" else "NaN") in lines[0]
    assert not (tmp_path / "eval" / "metrics.json").exists()
