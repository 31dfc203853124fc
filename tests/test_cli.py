"""The CLI end to end on a small subset of the default KG."""

import json

import pytest
from typer.testing import CliRunner

from biobridge.cli import app

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.mark.slow
def test_cli_prepare_encode_train_evaluate_retrieve(tmp_path):
    wd = tmp_path / "run"
    out = invoke("prepare", "-w", wd, "--max-nodes-per-type", 60)
    summary = json.loads(out)
    assert summary["splits"]["paper"]["test"] > 0 and summary["splits"]["inductive"]["excluded"] > 0
    out = invoke("encode", "-w", wd, "--no-progress")
    assert "homology-mmseqs" in out and "failures=0" in out
    again = invoke("encode", "-w", wd, "--no-progress")  # cache hit: same store, no work

    def summary_lines(text):
        # transformers may print a weight-loading progress bar on the same line as the first summary line
        return [line.split("it/s]")[-1] for line in text.splitlines() if "dim=" in line]

    assert summary_lines(again) == summary_lines(out) and len(summary_lines(out)) == 6
    invoke("train", "-w", wd, "--epochs", 2, "--hidden-dim", 32, "--no-progress")
    assert (wd / "model" / "model.safetensors").exists()
    out = invoke("evaluate", "-w", wd)
    assert "Prot2BP" in out and "popularity" in out
    metrics = json.loads((wd / "eval" / "metrics.json").read_text())
    task = metrics["tasks"]["Prot2BP"]["methods"]["biobridge-hybrid"]  # the shipped retriever
    for key in ("mrr", "hits@1", "hits@3", "hits@10", "recall@10", "n_queries", "n_candidates"):
        assert key in task
    assert 0 < task["mrr"] <= 1
    out = invoke(
        "retrieve", "CC(=O)Oc1ccccc1C(=O)O", "-q", "drug", "-t", "protein", "-k", 4, "-w", wd, "--json"
    )
    rows = json_records(out)
    assert len(rows) == 4 and {"rank", "node_id", "name", "score", "known_edge"} <= set(rows[0])


def test_cli_reports_bad_input_clearly(tmp_path):
    result = runner.invoke(app, ["evaluate", "-w", str(tmp_path / "missing")])
    assert result.exit_code != 0
    assert "not found" in str(result.exception) or "not found" in result.output


def json_records(out):
    """The JSON array in the output (a model-loading progress line may precede it)."""
    return json.loads(out[out.index("[\n") :])


def test_cli_zero_shot_candidates_and_multi_hop(tiny_run, tmp_path):
    cands = tmp_path / "cands.tsv"
    cands.write_text(
        "id\tname\tfeature\nc1\tapoptosis\tName: apoptotic process.\n"
        "c2\tkinase\tName: protein kinase activity.\nc3\tmembrane\tName: plasma membrane.\n"
    )
    out = invoke(
        "retrieve",
        "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ",
        "-q",
        "protein",
        "--candidates",
        cands,
        "--as-type",
        "biological_process",
        "-w",
        tiny_run,
        "--json",
    )
    rows = json_records(out)
    assert sorted(r["id"] for r in rows) == ["c1", "c2", "c3"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    out = invoke(
        "retrieve",
        "Name: a neuromuscular disorder.",
        "-q",
        "disease",
        "-k",
        3,
        "--path",
        "disease:associated_with:protein,protein:rev_target:drug",
        "-w",
        tiny_run,
        "--json",
    )
    assert len(json_records(out)) == 3


def test_cli_benchmark_with_replacing_variants(tiny_run, tmp_path):
    # replacing the default bridges drops the hybrid and fusion built on them instead of failing
    out = invoke(
        "benchmark",
        "-w",
        tiny_run,
        "--quick",
        "--protocol",
        "inductive",
        "--out",
        tmp_path / "b",
        "--variant",
        "tiny=cpu,train.epochs=1,model.hidden_dim=16,retriever.validation_fraction=0.2",
        "--method",
        "tiny",
        "--method",
        "feature-knn",
    )
    assert "tiny" in out and "feature-knn" in out and "biobridge-hybrid" not in out
    record = json.loads((tmp_path / "b" / "runs" / "inductive-seed42" / "tiny.json").read_text())
    assert record["settings"]["overrides"]["retriever.validation_fraction"] == 0.2
