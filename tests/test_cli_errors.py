"""The exit-code and no-traceback contract of every command (``biobridge.cli.guard``).

A user mistake prints one ``error:`` line (or typer's usage message for a bad option value) and exits 2;
an internal error prints one line with the path of a log holding the traceback and exits 1.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from biobridge.cli import app, guard

runner = CliRunner()

# command -> arguments that are a user mistake (run in an empty temporary directory)
USER_MISTAKES = {
    "prepare-source": ["prepare", "-w", "{wd}", "--kg", "nope"],
    "prepare-tsv": ["prepare", "-w", "{wd}", "--kg", "tsv"],
    "prepare-fraction": ["prepare", "-w", "{wd}", "--test-fraction", "1.5"],
    "encode": ["encode", "-w", "{wd}/missing", "--no-progress"],
    "encode-spec": ["encode", "-w", "{wd}", "--encoder", "protein"],
    "train": ["train", "-w", "{wd}/missing", "--no-progress"],
    "train-epochs": ["train", "-w", "{wd}", "--epochs", "0"],
    "train-preset": ["train", "-w", "{wd}", "--preset", "gpu"],
    "train-config": ["train", "-w", "{wd}", "--config", "{wd}/none.toml"],
    "evaluate": ["evaluate", "-w", "{wd}/missing"],
    "retrieve": ["retrieve", "-w", "{wd}/missing", "-q", "drug", "-t", "protein", "CCO"],
    "retrieve-k": ["retrieve", "-w", "{wd}", "-q", "drug", "-t", "protein", "-k", "0", "CCO"],
    "similarity": ["similarity", "-w", "{wd}/missing"],
    "context": ["context", "-w", "{wd}/missing", "-q", "drug", "CCO"],
    "generate": ["generate", "-w", "{wd}/missing", "--target", "P04637"],
    "benchmark": ["benchmark", "-w", "{wd}", "--config", "{wd}/none.toml"],
    "demo": ["demo", "-w", "{wd}", "--epochs", "0"],
    "import-original": ["import-original", "{wd}/missing", "{wd}/out"],
}


@pytest.mark.parametrize("case", sorted(USER_MISTAKES))
def test_user_mistakes_exit_2_in_one_line(tmp_path, case):
    args = [a.format(wd=tmp_path) for a in USER_MISTAKES[case]]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (case, result.exit_code, result.output)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    usage = "Usage:" in result.output  # typer's own message for an option it validated
    assert usage or len(errors) == 1, result.output


def test_internal_errors_point_to_a_log(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOBRIDGE_LOG_DIR", str(tmp_path / "logs"))

    def broken(*args, **kwargs):
        return {}["missing key"]  # a bug, not a user mistake

    monkeypatch.setattr("biobridge.pipeline.run_evaluation", broken)
    result = runner.invoke(app, ["evaluate", "-w", str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "internal error: KeyError" in result.output
    logs = list((tmp_path / "logs").glob("biobridge-error-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text()


def test_debug_shows_the_traceback(tmp_path):
    result = runner.invoke(app, ["--debug", "evaluate", "-w", str(tmp_path / "missing")])
    guard.DEBUG["on"] = False
    assert result.exit_code != 0
    assert isinstance(result.exception, FileNotFoundError)


def test_value_errors_from_libraries_are_internal():
    try:
        import numpy as np

        np.zeros(2).reshape(3)
    except ValueError as exc:
        assert not guard.is_user_error(exc)
