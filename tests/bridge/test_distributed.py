"""`biobridge train` under torchrun with 2 CPU processes (gloo) follows the 1-process loss curve."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.tiny_workdir import HashingTextEncoder as TinyHashingTextEncoder
from tests.tiny_workdir import build_workdir

CONFIG = """
preset = "cpu"
[model]
hidden_dim = 32
n_heads = 4
ff_dim = 64
dropout = 0.0
[train]
epochs = 2
batch_size = 64
in_batch_negatives = false
log_every = 1
"""


class HashingTextEncoder(TinyHashingTextEncoder):
    """The tests' trigram-hashing text encoder (``tests.tiny_workdir``), 64-d here."""

    dim = 64


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = build_workdir(tmp_path_factory.mktemp("ddp"), 40, 1, HashingTextEncoder())
    (wd.root / "ddp.toml").write_text(CONFIG)
    return wd


def run_train(wd, out, nproc):
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m"]
        if nproc > 1
        else [sys.executable, "-m"]
    )
    cmd = launcher + [
        "biobridge.cli",
        "train",
        "-w",
        str(wd.root),
        "--config",
        str(wd.root / "ddp.toml"),
        "--out",
        str(out),
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def test_two_processes_follow_the_single_process_loss_curve(workdir):
    single = run_train(workdir, workdir.root / "m1", 1)
    double = run_train(workdir, workdir.root / "m2", 2)
    assert [r["step"] for r in single] == [r["step"] for r in double]
    assert len(single) > 4
    np.testing.assert_allclose([r["loss"] for r in double], [r["loss"] for r in single], rtol=1e-4, atol=1e-5)
    config = json.loads((workdir.root / "m2" / "config.json").read_text())
    assert config["training"]["world_size"] == 2
    assert not (workdir.root / "m2" / "train_log.jsonl.1").exists()
