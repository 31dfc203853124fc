"""Checkpoint directory: ``config.json`` (names, not ids) + ``model.safetensors``.

config.json holds the schema (node types with input dims, relations by name), the model and training
configuration, and the provenance a later stage needs: KG hash, split hash, encoder manifest, versions.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from biobridge.artifacts import atomic_write, read_json, write_json
from biobridge.bridge.model import BridgeModel, BridgeSchema
from biobridge.config import ModelConfig, _build

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def versions() -> dict[str, str]:
    import numpy

    import biobridge

    return {
        "biobridge": biobridge.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def save_checkpoint(model: BridgeModel, directory: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS_FILE, lambda p: save_file(state, str(p), metadata={"format": "pt"}))
    config = {"format": "biobridge-checkpoint-v1", **model.describe(), "versions": versions(), **(metadata or {})}
    write_json(directory / CONFIG_FILE, config)
    return directory


def read_checkpoint_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: not a biobridge checkpoint directory")
    return read_json(path)


def load_checkpoint(directory: str | Path, map_location: str = "cpu") -> BridgeModel:
    directory = Path(directory)
    config = read_checkpoint_config(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.exists():
        raise FileNotFoundError(f"{weights} not found")
    model = BridgeModel(BridgeSchema.from_dict(config["schema"]), _build(ModelConfig, config["model"]))
    model.load_state_dict(load_file(str(weights), device=map_location))
    model.eval()
    return model
