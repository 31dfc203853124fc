"""A model directory that carries its own Python code is refused before transformers can run it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from biobridge.applications.generators import HFLocalGenerator
from biobridge.encoders.hf_text import HuggingFaceTextEncoder
from biobridge.errors import InputError
from tests.encoders.tiny_models import make_tiny_bert

PAYLOAD = "open({marker!r}, 'w').write('ran')\n"


def _with_custom_code(directory, marker):
    make_tiny_bert(directory)
    (directory / "modeling_evil.py").write_text(PAYLOAD.format(marker=str(marker)))
    config = json.loads((directory / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def test_text_encoder_refuses_a_directory_with_python_code(tmp_path):
    marker = tmp_path / "ran.txt"
    model_dir = _with_custom_code(tmp_path / "model", marker)
    encoder = HuggingFaceTextEncoder(model_dir)
    with pytest.raises(InputError, match="modeling_evil.py"):
        encoder.encode(["a text"], progress=False)
    assert not marker.exists()


def test_auto_map_alone_is_refused(tmp_path):
    model_dir = _with_custom_code(tmp_path / "model", tmp_path / "ran.txt")
    (model_dir / "modeling_evil.py").unlink()
    with pytest.raises(InputError, match="auto_map"):
        HuggingFaceTextEncoder(model_dir).encode(["a text"], progress=False)


def test_local_generator_refuses_remote_code(tmp_path):
    model_dir = _with_custom_code(tmp_path / "model", tmp_path / "ran.txt")
    with pytest.raises(InputError, match="never runs code"):
        HFLocalGenerator(model_dir)._load()


def test_a_piped_yes_cannot_run_the_code(tmp_path):
    """transformers asks "run the custom code? [y/N]" when remote code is not refused; a piped ``y`` ran it."""
    marker = tmp_path / "ran.txt"
    model_dir = _with_custom_code(tmp_path / "model", marker)
    script = (
        "from biobridge.encoders.hf_text import HuggingFaceTextEncoder\n"
        f"HuggingFaceTextEncoder({str(model_dir)!r}).encode(['a text'], progress=False)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], input="y\ny\n", capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0
    assert "never runs code" in proc.stderr
    assert not marker.exists()


def test_standard_directory_still_loads(tmp_path):
    model_dir = make_tiny_bert(tmp_path / "model")
    assert HuggingFaceTextEncoder(model_dir).encode(["a text"], progress=False).shape[0] == 1
