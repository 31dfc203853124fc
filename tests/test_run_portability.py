"""Run directories are shareable and portable; ``prepare`` checks before it writes (issue 12, defect 10).

- Every artifact is written with the mode ``open``/``mkdir`` give (0644 / 0755 under umask 022), not the 0600 /
  0700 of ``tempfile``.
- ``prepare`` checks every argument before it writes anything, and does not replace a KG or a split that a
  trained run in the working directory depends on unless ``--overwrite``.
- A working directory moved elsewhere still evaluates and retrieves: the paths inside a run are relative.

The trained run is a tiny bring-your-own KG (proteins and drugs: the fast composition / Morgan encoders) and a
tiny bridge trained for one epoch, built once for the module.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biobridge import pipeline
from biobridge.artifacts import atomic_directory, atomic_write, write_json
from biobridge.bridge.run import TrainedRun
from biobridge.cli import app
from biobridge.config import preset, with_overrides
from biobridge.errors import InputError
from biobridge.kg.graph import KnowledgeGraph

ENCODERS = {"protein": "composition", "molecule": "morgan"}
MODALITIES = {"protein": "protein", "drug": "molecule"}
AMINO = "ACDEFGHIKLMNPQRSTVWY"
SMILES = ["CCO", "CC(=O)O", "c1ccccc1", "CCN", "CC(C)O", "CCCC", "OCCO", "CC=O", "C1CCCCC1", "CCOC"]
runner = CliRunner()


def write_tsv_kg(root: Path, n_proteins: int = 24, n_drugs: int = 10, drop_edge: bool = False) -> list[str]:
    """A small nodes/edges TSV pair under ``root``; returns the ``prepare`` options that read it."""
    root.mkdir(parents=True, exist_ok=True)
    nodes = ["node_type\tnode_id\tname\tfeature"]
    nodes += [
        f"protein\tP{i}\tprotein {i}\tM{''.join(AMINO[(i * 7 + j * 3) % 20] for j in range(30))}"
        for i in range(n_proteins)
    ]
    nodes += [
        f"drug\tD{i}\tdrug {i}\t{SMILES[i % len(SMILES)]}{'C' * (i // len(SMILES))}" for i in range(n_drugs)
    ]
    edges = ["head_type\thead_id\trelation\ttail_type\ttail_id"]
    edges += [
        f"drug\tD{d}\ttarget\tprotein\tP{(d * 5 + k) % n_proteins}" for d in range(n_drugs) for k in range(4)
    ]
    edges += [f"protein\tP{p}\tppi\tprotein\tP{(p + 1) % n_proteins}" for p in range(n_proteins)]
    if drop_edge:
        edges.pop()
    (root / "nodes.tsv").write_text("\n".join(nodes) + "\n", encoding="utf-8")
    (root / "edges.tsv").write_text("\n".join(edges) + "\n", encoding="utf-8")
    return tsv_options(root)


def tsv_options(root: Path) -> list[str]:
    return [
        "--kg",
        "tsv",
        "--nodes",
        str(root / "nodes.tsv"),
        "--edges",
        str(root / "edges.tsv"),
        *(x for t, m in MODALITIES.items() for x in ("--modality", f"{t}={m}")),
    ]


def prepare_tsv(workdir: Path, root: Path, **options):
    options = {
        "nodes": root / "nodes.tsv",
        "edges": root / "edges.tsv",
        "modalities": dict(MODALITIES),
        **options,
    }
    return pipeline.prepare(workdir, "tsv", **options)


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory) -> Path:
    """A working directory (``wd/``) with a prepared TSV KG, its embeddings and a run trained on it."""
    root = tmp_path_factory.mktemp("portable")
    write_tsv_kg(root / "inputs")
    wd = root / "wd"
    prepare_tsv(wd, root / "inputs", protocols=("paper",))
    pipeline.encode(wd, ENCODERS, progress=False)
    config = with_overrides(
        preset("cpu"),
        {
            "model.hidden_dim": 16,
            "model.n_heads": 2,
            "model.ff_dim": 32,
            "model.n_layers": 1,
            "train.epochs": 1,
            "train.n_negatives": 3,
            "train.negative_pool": 10,
            "train.batch_size": 32,
            "retriever.kind": "bridge",
        },
    )
    pipeline.train(wd, config, protocol="paper", progress=False)
    return root


@pytest.fixture
def workdir_copy(trained_workdir, tmp_path) -> tuple[Path, Path]:
    """A fresh copy of the trained module fixture: (inputs dir, working dir)."""
    shutil.copytree(trained_workdir, tmp_path / "copy")
    return tmp_path / "copy" / "inputs", tmp_path / "copy" / "wd"


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


@pytest.fixture
def umask():
    """Set the process umask for one test (restored after)."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


# ---- file modes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    written = write_json(tmp_path / "a" / "x.json", {"a": 1})
    assert stat.S_IMODE(written.stat().st_mode) == file_mode
    atomic_write(tmp_path / "y.bin", lambda p: p.write_bytes(b"y"))
    assert stat.S_IMODE((tmp_path / "y.bin").stat().st_mode) == file_mode

    def fill(directory: Path) -> None:
        (directory / "inner.txt").write_text("inner")

    made = atomic_directory(tmp_path / "d", fill)
    assert stat.S_IMODE(made.stat().st_mode) == dir_mode
    assert stat.S_IMODE((made / "inner.txt").stat().st_mode) == file_mode


def test_prepared_and_trained_artifacts_are_readable_by_others(trained_workdir, tmp_path, umask):
    """Under umask 022 every file of a working directory is 0644 and every directory 0755 (a shared run)."""
    umask(0o022)
    wd = tmp_path / "wd"
    prepare_tsv(wd, trained_workdir / "inputs", protocols=("paper",))
    found = modes(wd)
    assert found and all(m == (0o755 if (wd / p).is_dir() else 0o644) for p, m in found.items()), found
    # the module's run was trained under the test session's umask; its files follow that umask, not 0600
    mask = os.umask(0o022)
    os.umask(mask)
    run = modes(trained_workdir / "wd" / "model")
    assert {m for p, m in run.items() if (trained_workdir / "wd" / "model" / p).is_file()} == {0o666 & ~mask}


# ---- prepare checks before it writes ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--protocol", "bogus"], "unknown protocols ['bogus']"),
        (["--test-fraction", "1.5"], "--test-fraction must be a number in (0, 1)"),
        (["--test-fraction", "0"], "--test-fraction must be a number in (0, 1)"),
        (["--max-nodes-per-type", "0"], "--max-nodes-per-type must be a whole number >= 1"),
        (["--nodes", "nodes.tsv"], "--nodes: only for --kg tsv"),
    ],
)
def test_prepare_with_bad_arguments_writes_nothing(tmp_path, args, problem):
    wd = tmp_path / "wd"
    result = runner.invoke(app, ["prepare", "-w", str(wd), *args])
    assert result.exit_code == 2, result.output
    assert problem in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert not wd.exists()


def test_prepare_api_with_bad_arguments_writes_nothing(tmp_path):
    wd = tmp_path / "wd"
    root = tmp_path / "inputs"
    write_tsv_kg(root)
    for options in (
        {"protocols": ("paper", "sideways")},
        {"test_fraction": 1.0},
        {"modalities": {"protein": "protein", "drug": "smiles"}},
    ):
        with pytest.raises(InputError):
            prepare_tsv(wd, root, **options)
        assert not wd.exists(), options


def test_prepare_with_a_bad_input_file_writes_nothing(tmp_path):
    root = tmp_path / "inputs"
    write_tsv_kg(root)
    (root / "edges.tsv").write_text("head_type\thead_id\trelation\ttail_type\ttail_id\n", encoding="utf-8")
    wd = tmp_path / "wd"
    with pytest.raises(InputError, match="edges.tsv: no edges"):
        prepare_tsv(wd, root)
    assert not wd.exists()


# ---- prepare keeps what a trained run depends on ------------------------------------------------------
def test_prepare_refuses_to_replace_the_kg_a_run_depends_on(workdir_copy, tmp_path):
    inputs, wd = workdir_copy
    before = KnowledgeGraph.load(wd / "kg").content_hash()
    other = tmp_path / "other"
    write_tsv_kg(other, drop_edge=True)
    # API: InputError naming the run; the KG is kept
    with pytest.raises(InputError, match=f"trained run in {wd / 'model'}.*--overwrite"):
        prepare_tsv(wd, other, protocols=("paper",))
    assert KnowledgeGraph.load(wd / "kg").content_hash() == before
    # CLI: one line, exit 2
    result = runner.invoke(app, ["prepare", "-w", str(wd), *tsv_options(other), "--protocol", "paper"])
    assert result.exit_code == 2, result.output
    assert "--overwrite" in result.stderr and str(wd / "model") in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert KnowledgeGraph.load(wd / "kg").content_hash() == before
    TrainedRun.open(wd / "model").load_data()  # the run still loads with its KG
    # the same KG again is no replacement: allowed
    prepare_tsv(wd, inputs, protocols=("paper",))
    TrainedRun.open(wd / "model").load_data()
    # --overwrite replaces it, and the run then refuses the new KG
    result = runner.invoke(
        app, ["prepare", "-w", str(wd), *tsv_options(other), "--protocol", "paper", "--overwrite"]
    )
    assert result.exit_code == 0, result.output
    assert KnowledgeGraph.load(wd / "kg").content_hash() != before
    with pytest.raises(ValueError, match="hash mismatch"):
        TrainedRun.open(wd / "model").load_data()


def test_prepare_refuses_to_replace_the_split_a_run_depends_on(workdir_copy):
    inputs, wd = workdir_copy
    split = json.loads((wd / "splits" / "paper-seed42" / "split.json").read_text())
    with pytest.raises(InputError, match="split in .*paper-seed42.*--overwrite"):
        prepare_tsv(wd, inputs, protocols=("paper",), test_fraction=0.3)
    assert json.loads((wd / "splits" / "paper-seed42" / "split.json").read_text()) == split
    prepare_tsv(wd, inputs, protocols=("paper", "inductive"))  # the same split, and a new one: allowed
    TrainedRun.open(wd / "model").load_data()


# ---- a moved working directory ------------------------------------------------------------------------
def test_moved_workdir_still_evaluates_and_retrieves(workdir_copy, tmp_path):
    _, wd = workdir_copy
    moved = tmp_path / "elsewhere" / "moved-wd"
    moved.parent.mkdir()
    shutil.move(wd, moved)
    assert not wd.exists()
    for path in (moved / "model").rglob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert str(wd) not in text and str(tmp_path) not in text, path  # only relative paths
    result = pipeline.run_evaluation(moved, baselines=False)
    assert result.to_dict()["tasks"]
    out = runner.invoke(app, ["evaluate", "-w", str(moved)])
    assert out.exit_code == 0, out.output
    assert (moved / "eval" / "metrics.json").exists()
    out = runner.invoke(
        app, ["retrieve", "D0", "-q", "drug", "-t", "protein", "-k", "3", "-w", str(moved), "--json"]
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout[out.stdout.index("[") :])
    assert len(rows) == 3 and all(r["node_id"].startswith("P") for r in rows)
    # the moved directory's files stay shareable (group/other read where the umask allows)
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE((moved / "model" / "config.json").stat().st_mode) == 0o666 & ~mask
