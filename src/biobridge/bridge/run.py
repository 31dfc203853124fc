"""A trained run directory: the one writer and the one reader of its files (DESIGN.md §5).

Layout::

    config.json         format, schema (node types with input dims, relations by name), model config,
                        run config, training summary, sources (below), versions, any extra provenance
    model.safetensors   the weights
    train_log.jsonl     one JSON row per logged step (written by the training loop)
    loss_curve.png      the loss curve
    retriever.json      what the run ships as its retriever when it is not the bridge alone: the tuned
                        hybrid's parts, weights per task and the validation split they were tuned on
                        (``biobridge.retrieval.retriever``)
    smoothing_graphs.safetensors
                        the nearest-candidate graphs the hybrid's candidate smoothing uses, each with a
                        fingerprint of its pool's embeddings (a cache: rebuilt where it does not match;
                        ``biobridge.baselines.candidate_smoothing``)

``sources`` says what the run was trained from: the KG directory, the embedding store and the split
directory (stored as paths relative to the run directory, so a working directory can be moved or copied
with its runs), the KG content hash, the split (protocol, seed, fraction, content hash) and the encoder
manifest entries. Loading checks every hash, so a run is only ever read with the data it was trained on.
A run imported from the original BioBridge checkpoint (``biobridge import-original``) has no sources: its
reader must say which KG, store and split to use.

A checkpoint is one atomic unit: ``config.json`` is written last and names the weights (and, while training
is under way, ``train_state.safetensors``: optimizer, scheduler, RNG and sampler state, see
``biobridge.bridge.resume``) by their SHA-256. ``save_run`` writes each blob first under a content-addressed
name (``model.<sha16>.safetensors``), then replaces ``config.json`` (the commit), then renames the blob onto
its plain name; a reader takes the content-addressed file when it exists, else the plain one. A process
killed at any point leaves the previous checkpoint or the new one, never a config with weights that are not
its own; leftovers of an unfinished write are removed by the next one.

Reading is ``TrainedRun.open(directory)`` and then ``load_model`` / ``load_data``. ``load_model`` checks the
weights' SHA-256 against the config and refuses non-finite parameters (``InputError`` naming the file); a
run written before the hash was recorded loads with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_bytes

from biobridge.artifacts import atomic_write, read_json, write_json
from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.model import BridgeModel, BridgeSchema
from biobridge.config import ModelConfig, RetrieverConfig, RunConfig, build_dataclass
from biobridge.encoders import EmbeddingStore
from biobridge.errors import InputError
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.split import Split

__all__ = [
    "CONFIG_FILE",
    "RETRIEVER_FILE",
    "SMOOTHING_GRAPHS_FILE",
    "TRAIN_STATE_FILE",
    "WEIGHTS_FILE",
    "LoadedRun",
    "RunSources",
    "TrainedRun",
    "save_run",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
RETRIEVER_FILE = "retriever.json"
SMOOTHING_GRAPHS_FILE = "smoothing_graphs.safetensors"
TRAIN_STATE_FILE = "train_state.safetensors"
RUN_FORMAT = "biobridge-checkpoint-v1"
# manifest fields of each node type's encoder that a run records
ENCODER_FIELDS = ("encoder", "spec", "dim", "input_hash", "n_failures")
# the blobs a checkpoint's config.json names by hash: config key -> plain file name
BLOBS = {"weights": WEIGHTS_FILE, "train_state": TRAIN_STATE_FILE}
_STAGED = re.compile(r"^(model|train_state)\.[0-9a-f]{16}\.safetensors$")
_TEMPORARY = re.compile(r"^\.(model|train_state|config)\..*\.tmp$")
_warned_unhashed: set[str] = set()

log = logging.getLogger(__name__)


def versions() -> dict[str, str]:
    import numpy

    import biobridge

    return {
        "biobridge": biobridge.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


@dataclass(frozen=True)
class RunSources:
    """The KG, embedding store and split a run was trained from (absolute paths in memory)."""

    kg_dir: Path
    store_dir: Path
    split_dir: Path | None
    kg_hash: str
    split: dict[str, Any] | None  # protocol, seed, test_fraction, hash
    encoders: dict[str, dict[str, Any]]

    @classmethod
    def describe(
        cls, kg_dir: Path, kg: KnowledgeGraph, store: EmbeddingStore, split_dir: Path, split: Split
    ) -> RunSources:
        return cls(
            kg_dir=Path(kg_dir).resolve(),
            store_dir=Path(store.directory).resolve(),
            split_dir=Path(split_dir).resolve(),
            kg_hash=kg.content_hash(),
            split={
                "protocol": split.protocol,
                "seed": split.seed,
                "test_fraction": split.test_fraction,
                "hash": split.content_hash(),
            },
            encoders={t: {k: store.manifest[t].get(k) for k in ENCODER_FIELDS} for t in store.node_types},
        )

    def to_config(self, base: Path) -> dict[str, Any]:
        """The entries of config.json, with paths relative to ``base`` (the run directory)."""
        base = Path(base).resolve()
        artifacts = {
            "kg_dir": os.path.relpath(self.kg_dir, base),
            "store_dir": os.path.relpath(self.store_dir, base),
        }
        if self.split_dir is not None:
            artifacts["split_dir"] = os.path.relpath(self.split_dir, base)
        return {
            "artifacts": artifacts,
            "kg_hash": self.kg_hash,
            "split": self.split,
            "encoders": self.encoders,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], base: Path) -> RunSources | None:
        art = config.get("artifacts")
        if not art:
            return None
        base = Path(base)
        return cls(
            kg_dir=(base / art["kg_dir"]).resolve(),
            store_dir=(base / art["store_dir"]).resolve(),
            split_dir=(base / art["split_dir"]).resolve() if art.get("split_dir") else None,
            kg_hash=config.get("kg_hash", ""),
            split=config.get("split"),
            encoders=config.get("encoders", {}),
        )


@dataclass
class LoadedRun:
    """A run with everything it needs to score: the model and the data it was trained from."""

    run: TrainedRun
    kg: KnowledgeGraph
    split: Split | None
    store: EmbeddingStore
    table: EmbeddingTable
    model: BridgeModel


def staged_name(name: str, sha256: str) -> str:
    """The content-addressed name of a blob before its commit: ``model.safetensors`` -> ``model.<sha16>...``."""
    stem, _, suffix = name.partition(".")
    return f"{stem}.{sha256[:16]}.{suffix}"


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _stage_blob(directory: Path, name: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str]):
    """Write a safetensors blob under its content-addressed name; returns (sha256, staged path)."""
    import hashlib

    data = safetensors_bytes(tensors, metadata=metadata)
    sha = hashlib.sha256(data).hexdigest()
    path = directory / staged_name(name, sha)
    atomic_write(path, lambda p: _write_synced(p, data))
    return sha, path


def non_finite_tensors(state: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors of ``state`` holding NaN or Inf."""
    return [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def save_run(
    directory: str | Path,
    model: BridgeModel,
    sources: RunSources | None,
    run_config: RunConfig | None = None,
    training: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    train_state: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None,
) -> TrainedRun:
    """Write one checkpoint atomically (see the module docstring): the weights (and ``train_state``, tensors
    and a JSON-able record, when training is to be resumable), then ``config.json`` naming them by SHA-256.
    Non-finite weights are refused before anything is written, so the previous checkpoint stays."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    bad = non_finite_tensors(state)
    if bad:
        raise ValueError(
            f"the model has non-finite (NaN/Inf) parameters ({', '.join(bad[:5])}): training diverged; "
            f"nothing written, the last checkpoint in {directory} is kept"
        )
    blobs: dict[str, tuple[dict[str, torch.Tensor], dict[str, str]]] = {"weights": (state, {"format": "pt"})}
    if train_state is not None:
        tensors, record = train_state
        tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        blobs["train_state"] = (tensors, {"format": "pt", "state": json.dumps(record)})
    staged: dict[str, Path] = {}
    config: dict[str, Any] = {
        "format": RUN_FORMAT,
        "schema": model.schema.to_dict(),
        "model": asdict(model.config),
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "versions": versions(),
    }
    for key, (tensors, metadata) in blobs.items():
        sha, staged[key] = _stage_blob(directory, BLOBS[key], tensors, metadata)
        config[key] = {"file": BLOBS[key], "sha256": sha}
    if run_config is not None:
        config["run_config"] = run_config.to_dict()
    if training is not None:
        config["training"] = training
    if sources is not None:
        config.update(sources.to_config(directory))
    config.update(extra or {})
    write_json(directory / CONFIG_FILE, config)  # the commit
    for key, path in staged.items():
        os.replace(path, directory / BLOBS[key])
    _remove_leftovers(directory, keep_state=train_state is not None)
    return TrainedRun(directory, config)


def _remove_leftovers(directory: Path, keep_state: bool) -> None:
    """Staged blobs no config names (an interrupted write), and the training state of a finished run."""
    for path in directory.iterdir():
        stale_state = path.name == TRAIN_STATE_FILE and not keep_state
        if _STAGED.match(path.name) or _TEMPORARY.match(path.name) or stale_state:
            path.unlink(missing_ok=True)


class TrainedRun:
    """Read access to a run directory (see the module docstring)."""

    def __init__(self, directory: str | Path, config: dict[str, Any]) -> None:
        self.directory = Path(directory)
        self.config = config

    @classmethod
    def open(cls, directory: str | Path) -> TrainedRun:
        directory = Path(directory)
        path = directory / CONFIG_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: not a biobridge run directory")
        config = read_json(path)
        _check_config(path, config, directory)
        run = cls(directory, config)
        if not run.weights_path.exists():
            raise FileNotFoundError(f"{directory / WEIGHTS_FILE} not found")
        return run

    # ---- the blobs config.json names -----------------------------------------------------------
    def blob_sha256(self, key: str) -> str | None:
        """The SHA-256 config.json records for blob ``key`` ("weights", "train_state"); None if none."""
        entry = self.config.get(key)
        return entry.get("sha256") if isinstance(entry, dict) else None

    def blob_path(self, key: str) -> Path:
        """Where blob ``key`` is: its content-addressed name while a write is being finished, else its
        plain name."""
        sha = self.blob_sha256(key)
        if sha:
            staged = self.directory / staged_name(BLOBS[key], sha)
            if staged.exists():
                return staged
        return self.directory / BLOBS[key]

    @property
    def weights_path(self) -> Path:
        return self.blob_path("weights")

    @property
    def weights_sha256(self) -> str | None:
        return self.blob_sha256("weights")

    def _verified_blob(self, key: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        """The tensors and metadata of blob ``key``, read once and checked against the recorded SHA-256
        (``InputError`` naming the file)."""
        import hashlib

        sha = self.blob_sha256(key)
        for attempt in range(2):  # a writer may rename the staged file between resolving and reading
            path = self.blob_path(key)
            try:
                data = path.read_bytes()
                break
            except FileNotFoundError:
                if attempt:
                    raise
        if sha is None:
            if str(self.directory) not in _warned_unhashed:
                _warned_unhashed.add(str(self.directory))
                log.warning(
                    "%s records no SHA-256 of %s (written by an older biobridge): its integrity is not "
                    "checked; re-save the run to record it",
                    self.directory / CONFIG_FILE,
                    path.name,
                )
        elif hashlib.sha256(data).hexdigest() != sha:
            raise InputError(
                f"{path} does not match the SHA-256 recorded in {self.directory / CONFIG_FILE} "
                f"(corrupted or replaced): retrain, or restore the run directory from a copy"
            )
        try:
            tensors = safetensors_load(data)
            n = int.from_bytes(data[:8], "little")
            metadata = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
        except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{path} is not a readable safetensors file ({exc})") from None
        return tensors, metadata

    # ---- what the run records ------------------------------------------------------------------
    @property
    def sources(self) -> RunSources | None:
        return RunSources.from_config(self.config, self.directory)

    @property
    def run_config(self) -> RunConfig | None:
        data = self.config.get("run_config")
        return RunConfig.from_dict(data) if data is not None else None

    @property
    def training(self) -> dict[str, Any]:
        return dict(self.config.get("training", {}))

    def is_complete(self, run_config: RunConfig, split_hash: str) -> bool:
        """Trained to the end with ``run_config`` on the split with ``split_hash``, its retriever written (a
        hybrid's tuned with ``run_config.retriever``'s settings). Configs are compared through ``RunConfig`` so
        that a run saved before a new config field (at its default) matches; a hybrid's record says what it
        was tuned with, so one tuned before a new retriever setting does not."""
        saved = self.run_config
        split = (self.sources.split or {}) if self.sources else {}
        return (
            saved is not None
            and self.training.get("epochs_completed") == run_config.train.epochs
            and _plain(saved.to_dict()) == _plain(run_config.to_dict())
            and split.get("hash") == split_hash
            and (run_config.retriever.kind == "bridge" or self.tuned_with(run_config.retriever))
        )

    def tuned_with(self, retriever: RetrieverConfig) -> bool:
        """A hybrid's record is here, tuned for these weights with ``retriever``'s settings."""
        record = self.retriever
        return record is not None and record.get("config") == retriever.settings()

    def record_retriever_settings(self, retriever: RetrieverConfig) -> None:
        """Make ``config.json``'s run config name ``retriever`` (a finished run kept for other settings that only
        tune the hybrid: its config then says what it ships). Written before the hybrid's new record, so a run
        interrupted in between is tuned again rather than taken as finished."""
        saved = self.config.get("run_config")
        if saved is None or saved.get("retriever") == retriever.settings():
            return
        self.config = {**self.config, "run_config": {**saved, "retriever": retriever.settings()}}
        write_json(self.directory / CONFIG_FILE, self.config)

    @property
    def retriever(self) -> dict[str, Any] | None:
        """The shipped retriever's record (``retriever.json``), None when the run ships the bridge alone."""
        path = self.directory / RETRIEVER_FILE
        if not path.exists():
            return None
        record = read_json(path)
        tuned_for = record.get("weights_sha256")
        if tuned_for and self.weights_sha256 and tuned_for != self.weights_sha256:
            return None  # tuned for weights this checkpoint replaced (a run trained again over it)
        return record

    @property
    def smoothing_graphs_path(self) -> Path:
        """Where the hybrid's candidate smoothing keeps its graphs (``CandidateSmoothing.save``)."""
        return self.directory / SMOOTHING_GRAPHS_FILE

    def save_retriever(self, record: dict[str, Any]) -> None:
        """Write ``retriever.json`` (atomically); ``record["validation"]["split_dir"]``, if given as a path,
        is stored relative to the run directory."""
        record = dict(record)
        if self.weights_sha256:
            record["weights_sha256"] = self.weights_sha256  # the bridge weights the hybrid was tuned with
        validation = dict(record.get("validation", {}))
        if "split_dir" in validation:
            validation["split_dir"] = os.path.relpath(
                Path(validation["split_dir"]).resolve(), self.directory.resolve()
            )
            record["validation"] = validation
        write_json(self.directory / RETRIEVER_FILE, record)

    # ---- loading -------------------------------------------------------------------------------
    def load_model(self, map_location: str = "cpu") -> BridgeModel:
        """The model, its weights checked against the recorded SHA-256 and for NaN/Inf (``InputError``)."""
        state, _ = self._verified_blob("weights")
        path = self.weights_path
        bad = non_finite_tensors(state)
        if bad:
            raise InputError(
                f"{path} holds non-finite (NaN/Inf) values in {len(bad)} parameter(s) "
                f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}): the run is unusable, retrain it"
            )
        schema = BridgeSchema.from_dict(self.config["schema"])
        model = BridgeModel(schema, build_dataclass(ModelConfig, self.config["model"]))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            first = " ".join(str(exc).split())[:300]
            raise InputError(
                f"{path} does not fit the model {self.directory / CONFIG_FILE} describes: {first}"
            ) from None
        return model.to(map_location).eval()

    def load_train_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """The resumable training state of the checkpoint (tensors, record), None when it has none (a
        finished run, or one written before runs could be resumed)."""
        if self.blob_sha256("train_state") is None:
            return None
        tensors, metadata = self._verified_blob("train_state")
        return tensors, json.loads(metadata.get("state", "{}"))

    def load_data(
        self,
        kg_dir: str | Path | None = None,
        store_dir: str | Path | None = None,
        split_dir: str | Path | None = None,
    ) -> LoadedRun:
        """The model with its KG, split, embedding store and table. Directories default to the run's
        sources; a run without sources (imported) needs ``kg_dir`` and ``store_dir``. The KG and the
        split are checked against the hashes the run recorded."""
        sources = self.sources
        kg_dir = kg_dir or (sources.kg_dir if sources else None)
        store_dir = store_dir or (sources.store_dir if sources else None)
        if kg_dir is None or store_dir is None:
            raise ValueError(f"{self.directory} records no KG or embedding store (imported?): pass both")
        kg = KnowledgeGraph.load(kg_dir)
        if sources and sources.kg_hash and kg.content_hash() != sources.kg_hash:
            raise ValueError(
                f"{kg_dir} is not the KG the run in {self.directory} was trained on (hash mismatch)"
            )
        split = self._load_split(kg, split_dir or (sources.split_dir if sources else None))
        model = self.load_model()
        store = EmbeddingStore.load(store_dir)
        table = EmbeddingTable.from_store(store, kg.num_nodes, node_types=list(model.schema.node_types))
        return LoadedRun(self, kg, split, store, table, model)

    def _load_split(self, kg: KnowledgeGraph, split_dir: Path | None) -> Split | None:
        if split_dir is None:
            return None
        split = Split.load(split_dir)
        recorded = (self.sources.split or {}) if self.sources else {}
        if recorded.get("hash") and split.content_hash() != recorded["hash"]:
            raise ValueError(f"the split in {split_dir} differs from the one the run was trained on")
        if split.kg_hash != kg.content_hash():
            raise ValueError(f"the split in {split_dir} was made for another KG")
        return split


def _check_config(path: Path, config: Any, directory: Path) -> None:
    """Raise ``InputError`` naming ``path`` unless ``config`` is a run config whose parts can be read."""
    if not isinstance(config, dict) or config.get("format") != RUN_FORMAT or "schema" not in config:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise InputError(f"{path} is not a biobridge run config (format {found!r})")
    for key in ("training", "split", "artifacts", "run_config"):
        if config.get(key) is not None and not isinstance(config[key], dict):
            raise InputError(f"{path}: {key} must be a JSON object, found {type(config[key]).__name__}")
    try:
        BridgeSchema.from_dict(config["schema"])
        build_dataclass(ModelConfig, config["model"])
        if config.get("run_config") is not None:
            RunConfig.from_dict(config["run_config"])
        RunSources.from_config(config, directory)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing key {exc}" if type(exc) is KeyError else f"{type(exc).__name__}: {exc}"
        raise InputError(f"{path}: not a valid run config ({what})") from None


def _plain(obj: Any) -> Any:
    return json.loads(json.dumps(obj))
