"""Training resumes: killed with SIGKILL mid-epoch and continued with ``--resume``, a run ends with the same
weights (bitwise, one thread) and the same losses as a run never interrupted; a directory that holds a run
is refused without ``--resume`` / ``--overwrite``, and ``--overwrite`` keeps the old run until the new
one's first checkpoint."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from biobridge import pipeline
from biobridge.bridge.run import TrainedRun
from biobridge.config import TrainConfig, load_run_config, with_overrides
from biobridge.errors import InputError
from tests.tiny_workdir import run_cli, tiny_workdir, train_args, weights


def log_rows(run_dir):
    rows = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    return [(r["step"], r["epoch"], r["loss"], r["lr"], r["grad_norm"]) for r in rows]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(workdir, uninterrupted run, run killed mid-epoch 1 and resumed)."""
    workdir = tiny_workdir(tmp_path_factory)
    root = tmp_path_factory.mktemp("resume")
    straight, resumed = root / "straight", root / "resumed"
    proc = run_cli(*train_args(workdir, straight))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # killed before its second checkpoint (step 4 of 6 in epoch 1) is committed: steps 3 and 4 were trained
    # and logged, the last checkpoint is step 2's
    proc = run_cli(*train_args(workdir, resumed), kill_name="config.json", kill_nth=2)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert TrainedRun.open(resumed).training["steps"] == 2
    assert len(log_rows(resumed)) == 4
    proc = run_cli(*train_args(workdir, resumed, "--resume"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir, straight, resumed


def test_resumed_run_equals_the_uninterrupted_one(runs):
    _, straight, resumed = runs
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)  # bitwise: same ops on the same state, one thread
    assert log_rows(resumed) == log_rows(straight)  # the interrupted steps' rows were dropped, not doubled
    sa, sb = TrainedRun.open(straight).training, TrainedRun.open(resumed).training
    assert (sb["epochs_completed"], sb["steps"], sb["final_loss"]) == (2, 12, sa["final_loss"])
    assert not (resumed / "train_state.safetensors").exists()  # a finished run keeps no training state


def test_rerun_without_resume_is_refused_and_resume_of_a_finished_run_keeps_it(runs):
    workdir, _, resumed = runs
    before = (resumed / "model.safetensors").read_bytes()
    proc = run_cli(*train_args(workdir, resumed))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(resumed) in lines[0] and "--resume" in lines[0] and "--overwrite" in lines[0]
    config = load_run_config(workdir / "tiny.toml")
    run = pipeline.train(
        workdir, with_overrides(config, {"train.num_threads": None}), out_dir=resumed, resume=True
    )
    assert run.training["steps"] == 12 and (resumed / "model.safetensors").read_bytes() == before
    with pytest.raises(InputError, match=r"other settings \(train.lr\)"):
        pipeline.train(workdir, with_overrides(config, {"train.lr": 0.5}), out_dir=resumed, resume=True)


def test_overwrite_replaces_the_run_only_once_the_new_one_has_a_checkpoint(runs, tmp_path):
    workdir, straight, _ = runs
    import shutil

    out = tmp_path / "run"
    shutil.copytree(straight, out)
    old = (out / "model.safetensors").read_bytes()
    proc = run_cli(
        *train_args(workdir, out, "--overwrite", "--epochs", "1"), kill_name="config.json", kill_nth=1
    )
    assert proc.returncode == -signal.SIGKILL
    assert (out / "model.safetensors").read_bytes() == old  # the old run is intact, log included
    assert TrainedRun.open(out).load_model() is not None and log_rows(out) == log_rows(straight)
    proc = run_cli(*train_args(workdir, out, "--overwrite", "--epochs", "1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = TrainedRun.open(out)
    assert run.training["epochs_completed"] == 1 and run.run_config.train.epochs == 1
    assert [r[0] for r in log_rows(out)] == list(range(1, 7))
    assert not list(out.glob(".*"))  # no pending log or temp file left


def test_hybrid_interrupted_while_tuning_is_only_tuned_on_resume(tmp_path_factory, tmp_path, monkeypatch):
    workdir = tiny_workdir(tmp_path_factory)
    config = with_overrides(
        load_run_config(workdir / "tiny.toml"),
        {
            "train.num_threads": None,
            "train.epochs": 1,
            "retriever.kind": "hybrid",
            "retriever.parts": ("popularity",),
            "retriever.validation_fraction": 0.2,
        },
    )
    out = tmp_path / "hybrid"
    real_tune = pipeline.tune_hybrid

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "tune_hybrid", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.train(workdir, config, out_dir=out, progress=False)
    trained = (out / "model.safetensors").read_bytes()
    assert not (out / "retriever.json").exists()
    monkeypatch.setattr(pipeline, "tune_hybrid", real_tune)
    run = pipeline.train(workdir, config, out_dir=out, progress=False, resume=True)
    assert (out / "model.safetensors").read_bytes() == trained  # not trained again
    assert run.retriever is not None and run.retriever["weights_sha256"] == run.weights_sha256
    split = pipeline.Split.load(pipeline.Workdir(workdir).split("paper", 42))
    assert run.is_complete(config, split.content_hash())
    # a record tuned with other retriever settings (here: before `bagging` existed) is not complete: reusing
    # the run tunes it again and leaves the bridge as it is
    record = json.loads((out / "retriever.json").read_text())
    del record["config"]["bagging"]
    (out / "retriever.json").write_text(json.dumps(record))
    assert not run.is_complete(config, split.content_hash())
    run = pipeline.train(workdir, config, out_dir=out, progress=False, reuse=True)
    assert (out / "model.safetensors").read_bytes() == trained
    assert run.retriever["config"]["bagging"] == config.retriever.bagging
    assert run.is_complete(config, split.content_hash())
    # settings that only tune the hybrid may change on resume: the bridge is kept, the hybrid tuned again and
    # config.json names the new settings; one that changes what the bridge is trained on may not
    log_before = (out / "train_log.jsonl").read_bytes()
    retuned = with_overrides(config, {"retriever.bagging": 0, "retriever.step": 0.5})
    run = pipeline.train(workdir, retuned, out_dir=out, progress=False, resume=True)
    assert (out / "model.safetensors").read_bytes() == trained
    assert (out / "train_log.jsonl").read_bytes() == log_before
    assert run.retriever["config"] == retuned.retriever.settings()
    assert TrainedRun.open(out).run_config == retuned
    split_hash = split.content_hash()
    assert run.is_complete(retuned, split_hash) and not run.is_complete(config, split_hash)
    reused = pipeline.train(workdir, retuned, out_dir=out, progress=False, reuse=True)
    assert reused.retriever == run.retriever
    with pytest.raises(InputError, match=r"other settings \(retriever.validation_fraction\)"):
        pipeline.train(
            workdir,
            with_overrides(retuned, {"retriever.validation_fraction": 0.3}),
            out_dir=out,
            progress=False,
            resume=True,
        )


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_checkpoint_every_steps_is_validated(value):
    with pytest.raises(ValueError, match="checkpoint_every_steps"):
        TrainConfig(checkpoint_every_steps=value)
