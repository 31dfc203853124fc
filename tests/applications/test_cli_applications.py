"""The similarity / context / generate commands on the tiny run."""

import json

from typer.testing import CliRunner

from biobridge.cli import app

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_similarity_command(tiny_run, tmp_path):
    out_file = tmp_path / "sim.json"
    out = invoke(
        "similarity", "-w", tiny_run, "--aspect", "CC", "--n-pairs", 30, "--bootstrap", 0, "--out", out_file
    )
    assert "CC" in out and "bridge" in out
    data = json.loads(out_file.read_text())
    entry = data["aspects"]["CC"]
    assert entry["n_pairs"] > 0 and -1 <= entry["spearman"]["bridge"] <= 1


def test_context_and_generate_commands(tiny_run, tmp_path):
    out = invoke(
        "context",
        "CCOc1ccc(cc1)C(=O)NCCN1CCOCC1",
        "-q",
        "drug",
        "-k",
        2,
        "-w",
        tiny_run,
        "--out",
        tmp_path / "ctx.json",
    )
    assert "Question:" in out
    assert json.loads((tmp_path / "ctx.json").read_text())["query"]["type"] == "drug"
    out = invoke(
        "generate",
        "--disease",
        "Name: hypertension.",
        "-n",
        3,
        "--n-targets",
        2,
        "--max-seeds",
        5,
        "--n-brics",
        60,
        "--n-mutations",
        30,
        "-w",
        tiny_run,
        "--out",
        tmp_path / "gen.json",
    )
    assert "guided" in out and "unguided" in out
    data = json.loads((tmp_path / "gen.json").read_text())
    assert len(data["guided"]["candidates"]) <= 3 and "validity" in data["unguided"]["stats"]
