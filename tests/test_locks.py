"""One writer per working directory: a second writer is refused with the holder's name, never garbled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from biobridge import pipeline
from biobridge.cli import app
from biobridge.errors import LockedError
from biobridge.locks import LOCK_FILE, workdir_lock

HOLD = """
import sys, time
from biobridge.locks import workdir_lock
with workdir_lock(sys.argv[1], "train"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding ``tmp_path``'s lock (as a running ``train`` would)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_second_writer_is_refused_with_the_holder(tmp_path, holder):
    with pytest.raises(LockedError, match=rf"in use by pid {holder.pid} running train"):
        with workdir_lock(tmp_path, "encode"):
            pass


@pytest.mark.parametrize(
    "stage", [lambda wd: pipeline.prepare(wd), lambda wd: pipeline.encode(wd, progress=False)]
)
def test_pipeline_stages_take_the_lock(tmp_path, holder, stage):
    with pytest.raises(LockedError, match=f"pid {holder.pid}"):
        stage(tmp_path)
    assert not (tmp_path / "kg").exists()


def test_cli_refuses_in_one_line(tmp_path, holder):
    result = CliRunner().invoke(app, ["prepare", "-w", str(tmp_path)])
    assert result.exit_code == 2
    assert f"in use by pid {holder.pid}" in result.output
    assert "Traceback" not in result.output


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, holder):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with workdir_lock(tmp_path, "prepare") as path:
        assert path.name == LOCK_FILE


def test_the_lock_is_reentrant_in_one_process_and_released(tmp_path):
    with workdir_lock(tmp_path, "benchmark"):
        with workdir_lock(tmp_path, "train"):
            pass
    code = f"from biobridge.locks import workdir_lock\nwith workdir_lock({str(tmp_path)!r}, 'x'): pass"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_sharded_encoding_takes_no_lock(tmp_path, holder, monkeypatch):
    calls = []
    monkeypatch.setattr(pipeline, "encode_kg", lambda *a, **k: calls.append(k["shard"]))
    monkeypatch.setattr(pipeline.KnowledgeGraph, "load", staticmethod(lambda path: None))
    pipeline.encode(tmp_path, shard="0/2")
    assert calls == ["0/2"]
