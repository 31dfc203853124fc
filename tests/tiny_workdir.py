"""A small working directory for the checkpoint, resume and integrity tests: a seeded 30-nodes-per-type subset
of the default KG, its paper split and an embedding store from cheap encoders (composition, Morgan and a
character-trigram hashing text encoder), built once per test session; plus helpers that run the CLI in a
subprocess under one thread, optionally killed (SIGKILL) at a chosen file replacement."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from biobridge.encoders.base import Encoder

# tiny settings that still exercise every source of randomness: dropout (torch RNG), sampled negatives
# (numpy), in-batch negatives, relation-balanced sampling; a checkpoint every 2 steps
TINY_TOML = """
preset = "cpu"
[model]
hidden_dim = 16
n_heads = 2
ff_dim = 32
n_layers = 1
dropout = 0.1
[train]
epochs = 2
batch_size = 32
n_negatives = 3
negative_pool = 20
log_every = 1
num_threads = 1
max_triples_per_epoch = 192
checkpoint_every_steps = 2
[retriever]
kind = "bridge"
"""


class HashingTextEncoder(Encoder):
    """A cheap deterministic text encoder (character trigram hashing) so the tests need no model."""

    name = "test-hashing-text"
    modality = "text"
    dim = 32

    def invalid_reason(self, item):
        return None if isinstance(item, str) and item.strip() else "empty text"

    def _encode_valid(self, items, batch_size, progress):
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for i, text in enumerate(items):
            for j in range(len(text) - 2):
                out[i, sum(map(ord, text[j : j + 3])) % self.dim] += 1.0
        return out


_CACHE: dict[str, Path] = {}


def build_workdir(directory: Path, max_nodes_per_type: int, seed: int, text_encoder: Encoder):
    """A working directory in ``directory``: a seeded subset of the default KG, its paper split (seed 42) and
    an embedding store from composition, Morgan and ``text_encoder``; returns its ``Workdir``."""
    from biobridge import pipeline
    from biobridge.encoders import build_encoder, encode_kg
    from biobridge.kg.default_kg import build_default_kg
    from biobridge.kg.graph import KnowledgeGraph
    from biobridge.kg.split import load_or_create_split
    from biobridge.kg.subset import subset_kg

    wd = pipeline.Workdir(directory)
    kg = subset_kg(build_default_kg(), max_nodes_per_type=max_nodes_per_type, seed=seed)
    kg.save(wd.kg)
    load_or_create_split(KnowledgeGraph.load(wd.kg), wd.split("paper", 42), "paper", 0.1, 42)
    encoders = {
        "protein": build_encoder("composition"),
        "molecule": build_encoder("morgan"),
        "text": text_encoder,
    }
    encode_kg(kg, wd.embeddings, encoders=encoders, progress=False)
    return wd


def tiny_workdir(tmp_path_factory) -> Path:
    """The working directory (kg/, splits/paper-seed42/, embeddings/, tiny.toml), built once per session."""
    if "wd" in _CACHE:
        return _CACHE["wd"]
    wd = build_workdir(tmp_path_factory.mktemp("ckpt_wd"), 30, 3, HashingTextEncoder())
    (wd.root / "tiny.toml").write_text(TINY_TOML)
    _CACHE["wd"] = wd.root
    return wd.root


# Run in the child: wrap os.replace so that the process SIGKILLs itself at the N-th replacement whose
# destination name is KILL_NAME (before it, or just after it with KILL_AFTER=1), then run the CLI.
_LAUNCH = """
import os, signal, sys
name, nth, after = os.environ.get("KILL_NAME"), int(os.environ.get("KILL_NTH", "0")), os.environ.get("KILL_AFTER")
if name:
    real, count = os.replace, [0]
    def replace(src, dst, *a, **k):
        hit = os.path.basename(os.fspath(dst)) == name
        if hit:
            count[0] += 1
        if hit and count[0] == nth and not after:
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst, *a, **k)
        if hit and count[0] == nth and after:
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace
from biobridge.cli.app import app
sys.argv = ["biobridge"] + sys.argv[1:]
app()
"""


def run_cli(*args: str, kill_name: str | None = None, kill_nth: int = 0, kill_after: bool = False):
    """``biobridge ARGS`` in a subprocess under one thread; with ``kill_name``, killed by SIGKILL at the
    ``kill_nth`` replacement of a file of that name (before it, or after it with ``kill_after``)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "KILL_NAME": kill_name or ""}
    env |= {"KILL_NTH": str(kill_nth), "KILL_AFTER": "1" if kill_after else ""}
    env.pop("WORLD_SIZE", None)
    return subprocess.run(
        [sys.executable, "-c", _LAUNCH, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def train_args(workdir: Path, out: Path, *extra: str) -> list[str]:
    base = ["train", "-w", str(workdir), "--config", str(workdir / "tiny.toml"), "--out", str(out)]
    return [*base, "--no-progress", *extra]


def weights(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(run_dir) / "model.safetensors"))
