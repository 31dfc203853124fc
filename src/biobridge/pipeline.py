"""The stages a user runs, over one working directory (DESIGN.md §5).

``prepare`` (KG -> tables + splits) -> ``encode`` (features -> embedding store) -> ``train`` (a run directory,
``biobridge.bridge.run``) -> ``evaluate`` (metrics.json). Each stage reads only the previous stages' artifacts
and records their hashes.

Layout of a working directory::

    kg/                       nodes.parquet, triples.parquet, kg.json
    splits/<protocol>-seed<seed>/   split.json, split.parquet
    embeddings/               <node_type>.safetensors, manifest.json
    model/                    config.json, model.safetensors, train_log.jsonl, loss_curve.png
    eval/                     metrics.json, metrics.md
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.artifacts import read_json_object, write_text
from biobridge.baselines import PopularityScorer, build_baseline
from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.resume import existing_run
from biobridge.bridge.run import CONFIG_FILE, RUN_FORMAT, LoadedRun, RunSources, TrainedRun
from biobridge.bridge.train import train_bridge
from biobridge.config import RunConfig
from biobridge.encoders import EmbeddingStore, encode_kg, merge_shards
from biobridge.errors import InputError
from biobridge.evaluation.evaluator import evaluate
from biobridge.evaluation.result import EvaluationResult
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.split import Split, load_or_create_split, load_or_create_validation_split
from biobridge.locks import locked, workdir_lock
from biobridge.retrieval.retriever import (
    BRIDGE_NAME,
    build_retriever,
    part_votes,
    protein_hits,
    save_smoothing_graphs,
    tune_hybrid,
)
from biobridge.retrieval.scorer import BridgeScorer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Workdir:
    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def kg(self) -> Path:
        return self.root / "kg"

    def split(self, protocol: str, seed: int) -> Path:
        return self.root / "splits" / f"{protocol}-seed{seed}"

    @property
    def embeddings(self) -> Path:
        return self.root / "embeddings"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"


def build_kg(
    source: str = "default",
    nodes: Path | None = None,
    edges: Path | None = None,
    modalities: dict[str, str] | None = None,
    max_nodes_per_type: int | None = None,
    seed: int = 42,
    kg_csv: Path | None = None,
    features_dir: Path | None = None,
) -> KnowledgeGraph:
    """The packaged default KG, a bring-your-own TSV KG, or PrimeKG (kg.csv + a features directory)."""
    if source == "default":
        from biobridge.kg.default_kg import build_default_kg

        kg = build_default_kg()
    elif source == "tsv":
        from biobridge.kg.tsv_kg import load_tsv_kg

        if nodes is None or edges is None or not modalities:
            raise InputError(
                "--kg tsv needs --nodes, --edges and --modality TYPE=MODALITY for every node type"
            )
        kg = load_tsv_kg(nodes, edges, modalities)
    elif source == "primekg":
        from biobridge.kg.primekg import load_primekg

        if kg_csv is None or features_dir is None:
            raise InputError("--kg primekg needs --kg-csv and --features-dir")
        kg = load_primekg(kg_csv, features_dir)
    else:
        raise InputError(f"unknown KG source {source!r}; choose 'default', 'tsv' or 'primekg'")
    if max_nodes_per_type:
        from biobridge.kg.subset import subset_kg

        kg = subset_kg(kg, max_nodes_per_type=max_nodes_per_type, seed=seed)
    return kg


KG_SOURCES = ("default", "tsv", "primekg")
_KG_OPTIONS = {"tsv": ("nodes", "edges", "modalities"), "primekg": ("kg_csv", "features_dir")}
_FLAGS = {"modalities": "--modality"}


def _is_main_process() -> bool:
    """Not a torchrun rank other than 0 (only rank 0 writes a run)."""
    return os.environ.get("RANK", "0") == "0"


def _writes_whole_store(shard) -> bool:
    """Unsharded encoding (one writer); shards are made to be encoded by concurrent processes."""
    return shard is None or (shard == "auto" and os.environ.get("WORLD_SIZE", "1") == "1")


def prepare(
    workdir: Path,
    source: str = "default",
    protocols: tuple[str, ...] = ("paper", "inductive"),
    test_fraction: float = 0.1,
    seed: int = 42,
    overwrite: bool = False,
    **kg_options: Any,
) -> dict[str, Any]:
    """Build the KG (``build_kg``) and write it to WORKDIR/kg with a split per protocol.

    Nothing is written (not even the working directory or its lock) until every argument is checked and the
    KG is built (``InputError`` otherwise); the writing then holds the working directory's lock. A KG or
    split that a trained run in the working directory was trained on (its config records their hashes) is
    not replaced by another one unless ``overwrite``: ``InputError`` naming the run."""
    wd = Workdir(workdir)
    _check_prepare_arguments(source, tuple(protocols), test_fraction, seed, kg_options)
    if wd.root.is_dir():
        with workdir_lock(wd.root, "prepare"):  # refused at once while another writer holds it
            pass
    kg = build_kg(source, seed=seed, **kg_options)
    return _write_prepared(wd.root, kg, tuple(protocols), test_fraction, seed, overwrite)


@locked("prepare")
def _write_prepared(
    workdir: Path,
    kg: KnowledgeGraph,
    protocols: tuple[str, ...],
    test_fraction: float,
    seed: int,
    overwrite: bool,
) -> dict[str, Any]:
    wd = Workdir(workdir)
    kg_hash = kg.content_hash()
    if not overwrite:
        _refuse_replacing_what_runs_use(wd, kg_hash, tuple(protocols), test_fraction, seed)
    kg.save(wd.kg)
    splits = {p: load_or_create_split(kg, wd.split(p, seed), p, test_fraction, seed) for p in protocols}
    return {
        "kg_dir": str(wd.kg),
        "kg_hash": kg_hash,
        "nodes_per_type": kg.nodes["node_type"].value_counts().sort_index().to_dict(),
        "triples": len(kg.triples),
        "splits": {p: {"dir": str(wd.split(p, seed)), **s.counts()} for p, s in splits.items()},
    }


def _check_prepare_arguments(
    source: str, protocols: tuple[str, ...], test_fraction: float, seed: int, kg_options: dict[str, Any]
) -> None:
    """``InputError`` for any argument of ``prepare`` that is not usable (before anything is read or written)."""
    from biobridge.kg.graph import MODALITIES
    from biobridge.kg.split import PROTOCOLS

    if source not in KG_SOURCES:
        raise InputError(f"unknown KG source {source!r}; choose one of {list(KG_SOURCES)}")
    unknown = sorted(set(kg_options) - {"max_nodes_per_type", *_KG_OPTIONS["tsv"], *_KG_OPTIONS["primekg"]})
    if unknown:
        raise InputError(f"unknown prepare options {unknown}")
    for other, names in _KG_OPTIONS.items():
        given = [n for n in names if kg_options.get(n) is not None]
        if other != source and given:
            flags = ", ".join(_FLAGS.get(n, "--" + n.replace("_", "-")) for n in given)
            raise InputError(f"{flags}: only for --kg {other} (this is --kg {source})")
    if source == "tsv":
        missing = [n for n in _KG_OPTIONS["tsv"] if not kg_options.get(n)]
        if missing:
            raise InputError(
                "--kg tsv needs --nodes, --edges and --modality TYPE=MODALITY for every node type"
            )
        bad = {t: m for t, m in kg_options["modalities"].items() if m not in MODALITIES}
        if bad:
            raise InputError(f"--modality: unknown modalities {bad}; each is one of {list(MODALITIES)}")
    if source == "primekg" and (kg_options.get("kg_csv") is None or kg_options.get("features_dir") is None):
        raise InputError("--kg primekg needs --kg-csv and --features-dir")
    bad_protocols = [p for p in protocols if p not in PROTOCOLS]
    if bad_protocols:
        raise InputError(f"--protocol: unknown protocols {bad_protocols}; choose from {list(PROTOCOLS)}")
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, int | float)
        or not 0 < test_fraction < 1
    ):
        raise InputError(f"--test-fraction must be a number in (0, 1), got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"--seed must be a whole number, got {seed!r}")
    limit = kg_options.get("max_nodes_per_type")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"--max-nodes-per-type must be a whole number >= 1, got {limit!r}")


def _refuse_replacing_what_runs_use(
    wd: Workdir, kg_hash: str, protocols: tuple[str, ...], test_fraction: float, seed: int
) -> None:
    """``InputError`` naming the run when writing a KG with ``kg_hash`` and these splits would replace a KG or
    a split that a trained run in the working directory depends on."""
    replaced_kg = _saved_hash(wd.kg / "kg.json")
    if replaced_kg == kg_hash:
        replaced_kg = None
    replaced_splits: dict[Path, str] = {}
    for protocol in protocols:
        directory = wd.split(protocol, seed)
        meta = _saved_meta(directory / "split.json")
        if meta is None or not isinstance(meta.get("content_hash"), str):
            continue
        settings = (meta.get("protocol"), meta.get("seed"), meta.get("test_fraction"), meta.get("kg_hash"))
        if settings != (protocol, seed, float(test_fraction), kg_hash):
            replaced_splits[directory.resolve()] = meta["content_hash"]
    if replaced_kg is None and not replaced_splits:
        return
    for run_dir, sources in _runs_in(wd.root):
        on_kg = (
            replaced_kg is not None and sources.kg_dir == wd.kg.resolve() and sources.kg_hash == replaced_kg
        )
        split_hash = (sources.split or {}).get("hash")
        on_split = sources.split_dir is not None and replaced_splits.get(sources.split_dir) == split_hash
        if on_kg or on_split:
            what = f"the KG in {wd.kg}" if on_kg else f"the split in {sources.split_dir}"
            raise InputError(
                f"the trained run in {run_dir} was trained on {what}, which this prepare would replace with "
                "another; pass --overwrite to replace it anyway (that run will no longer load), or prepare "
                "into another --workdir"
            )


def _saved_meta(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return read_json_object(path)
    except (ValueError, OSError):  # an unreadable artifact: no run can be using it
        return None


def _saved_hash(path: Path) -> str | None:
    meta = _saved_meta(path)
    return meta.get("content_hash") if meta else None


def _runs_in(root: Path) -> list[tuple[Path, RunSources]]:
    """(run directory, its sources) of every trained run under ``root`` that records them."""
    runs = []
    if not root.is_dir():
        return runs
    for path in sorted(root.rglob(CONFIG_FILE)):
        meta = _saved_meta(path)
        if not meta or meta.get("format") != RUN_FORMAT:
            continue
        try:
            sources = RunSources.from_config(meta, path.parent)
        except (KeyError, TypeError, ValueError):
            continue
        if sources is not None:
            runs.append((path.parent, sources))
    return runs


@locked("encode", when=lambda *a, shard=None, **k: _writes_whole_store(shard))
def encode(
    workdir: Path,
    encoder_specs: dict[str, str] | None = None,
    progress: bool = True,
    shard: str | tuple[int, int] | None = None,
    merge_only: bool = False,
) -> EmbeddingStore:
    """Encode the KG into the store. ``shard``: None (all), ``"i/n"`` or ``"auto"`` (one shard per torchrun
    rank); finished shards are skipped and a node type is merged once all its shards exist. ``merge_only``:
    just merge the shards already in the store (an error names any missing shard)."""
    wd = Workdir(workdir)
    if merge_only:
        return merge_shards(wd.embeddings)
    kg = KnowledgeGraph.load(wd.kg)
    return encode_kg(kg, wd.embeddings, encoder_specs=encoder_specs, progress=progress, shard=shard)


@locked("train", when=lambda *a, **k: _is_main_process())
def train(
    workdir: Path,
    config: RunConfig,
    protocol: str = "paper",
    seed: int = 42,
    test_fraction: float = 0.1,
    out_dir: Path | None = None,
    progress: bool = True,
    split_dir: Path | None = None,
    extra: dict[str, Any] | None = None,
    reuse: bool = False,
    resume: bool = False,
    overwrite: bool = False,
) -> TrainedRun:
    """Train a run on a split of the working directory; the run goes to ``out_dir`` (default WORKDIR/model).

    The split is ``protocol``/``seed`` (created when missing) or the one saved in ``split_dir``; the run is
    evaluated on its test part. With a hybrid retriever (``config.retriever``) the bridge is trained on the
    training part minus a validation split's heads, whose queries then tune the hybrid's weights
    (``biobridge.retrieval.retriever``). ``extra`` is recorded in the run's config.

    A run already in ``out_dir`` is refused (``InputError``) unless ``resume``: continue it from its last
    checkpoint (``biobridge.bridge.train``; a run interrupted while its hybrid was tuned is only tuned, and so is
    a finished one when only settings that tune the hybrid differ: all but ``RetrieverConfig.BRIDGE_SETTINGS``), or
    ``overwrite``: train anew (the old run stays until the new one's first checkpoint). ``reuse``: return
    the run already in ``out_dir`` when it finished with the same config on the same split, else resume it
    when it can be, else train anew."""
    wd = Workdir(workdir)
    out_dir = Path(out_dir) if out_dir else wd.model
    existing_run(out_dir, resume or reuse, overwrite or reuse)  # refused before anything is written
    kg = KnowledgeGraph.load(wd.kg)
    if split_dir is None:
        split_dir = wd.split(protocol, seed)
        split = load_or_create_split(kg, split_dir, protocol, test_fraction, seed)
    else:
        split = Split.load(split_dir)
        if split.kg_hash != kg.content_hash():
            raise ValueError(f"the split in {split_dir} was made for another KG than {wd.kg}")
    if reuse and (out_dir / CONFIG_FILE).exists():
        run = TrainedRun.open(out_dir)
        if run.is_complete(config, split.content_hash()):
            log.info("reusing the finished run in %s", out_dir)
            return run
        resume = overwrite = True
    store = EmbeddingStore.load(wd.embeddings)
    table = EmbeddingTable.from_store(store, kg.num_nodes)
    sources = RunSources.describe(wd.kg, kg, store, split_dir, split)
    rc = config.retriever
    trained_split, bridge_extra = split, extra
    if rc.kind == "hybrid":  # the bridge is trained without the validation heads that tune the hybrid
        validation, validation_dir = load_or_create_validation_split(
            kg, split, split_dir, rc.validation_fraction
        )
        trained_on = {"trained_on": {"split": "validation", "hash": validation.content_hash()}}
        trained_split, bridge_extra = validation, {**(extra or {}), **trained_on}
    run = train_bridge(
        kg,
        trained_split,
        table,
        config,
        out_dir,
        sources=sources,
        extra=bridge_extra,
        progress=progress,
        resume=resume,
        overwrite=overwrite,
    )
    # a finished bridge is kept when only the hybrid's tuning settings differ
    run.record_retriever_settings(rc)
    if rc.kind == "bridge":
        return run
    if (
        resume
        and run.tuned_with(rc)
        and run.retriever.get("validation", {}).get("hash") == validation.content_hash()
    ):
        return run
    # the bridge was trained on the validation split: its neighbour context (if any) comes from there
    bridge = BridgeScorer.of(run.load_model(), kg, validation, table, name=BRIDGE_NAME)
    fusion, record = tune_hybrid(
        kg, split, validation, validation_dir, bridge, table, store, rc, seed=config.train.seed
    )
    save_smoothing_graphs(fusion, kg, run)
    run.save_retriever(record)
    return run


def load_run(
    workdir: Path, model_dir: Path | None = None, protocol: str | None = None, seed: int | None = None
) -> LoadedRun:
    """A trained run (default WORKDIR/model) with the KG, split and embeddings it was trained on.

    A run trained here records them (and is evaluated on exactly its split). A run imported with
    ``biobridge import-original`` records none: it reads the working directory's KG and embeddings, and the
    split ``protocol``/``seed`` (created when missing).
    """
    wd = Workdir(workdir)
    run = TrainedRun.open(Path(model_dir) if model_dir else wd.model)
    sources = run.sources
    if sources is None:
        if protocol is None:
            raise ValueError(
                f"{run.directory} records no training split (imported checkpoint?): pass a protocol"
            )
        loaded = run.load_data(kg_dir=wd.kg, store_dir=wd.embeddings)
        seed = 42 if seed is None else seed
        loaded.split = load_or_create_split(loaded.kg, wd.split(protocol, seed), protocol, seed=seed)
        return loaded
    trained_on = (sources.split["protocol"], sources.split["seed"])
    if (protocol, seed) != (None, None) and (protocol, seed) != trained_on:
        raise ValueError(
            f"the model was trained on the {trained_on[0]} split with seed {trained_on[1]}; "
            "evaluating it on another split would leak test edges into training"
        )
    return run.load_data()


def evaluate_run(
    loaded: LoadedRun, out_dir: Path, candidate_policy: str = "relation", baselines: bool = True
) -> EvaluationResult:
    """Evaluate a loaded run's shipped retriever (and, with ``baselines``, popularity and homology-kNN, the
    biologist's first try) on its split; write metrics.json and metrics.md."""
    kg, split, table = loaded.kg, loaded.split, loaded.table
    retriever = build_retriever(loaded.run, loaded.model, kg, split, table, loaded.store)
    scorers = [retriever]
    if baselines:
        scorers.append(PopularityScorer(kg, split))
        hits = protein_hits(kg, loaded.store, ["homology-knn"])
        if hits is not None:
            # with the votes' settings the run's hybrid chose on its validation heads, if any
            votes = part_votes(loaded.run.retriever, "homology-knn")
            homology = build_baseline("homology-knn", kg, split, table, hits=hits, per_task=votes)
            scorers.append(_own_part(retriever, homology))
    start = time.perf_counter()
    result = evaluate(
        kg,
        split,
        scorers,
        candidate_policy=candidate_policy,
        scorable=table.has_embedding(np.arange(kg.num_nodes)),
    )
    log.info("evaluation took %.1f s", time.perf_counter() - start)
    result.to_json(Path(out_dir) / "metrics.json")
    write_text(Path(out_dir) / "metrics.md", result.to_markdown())
    return result


def _own_part(retriever, baseline):
    """The retriever's own part when it is ``baseline``'s method with the same settings (a hybrid's
    homology-kNN): the same scores, from state fitted once; else ``baseline``."""
    for part in getattr(retriever, "scorers", ()):
        if part.name == baseline.name and part.settings == baseline.settings:
            return part
    return baseline


def run_evaluation(
    workdir: Path,
    model_dir: Path | None = None,
    out_dir: Path | None = None,
    candidate_policy: str = "relation",
    baselines: bool = True,
    protocol: str | None = None,
    seed: int | None = None,
) -> EvaluationResult:
    """``evaluate_run`` on ``load_run(...)``; results in ``out_dir`` (default WORKDIR/eval)."""
    loaded = load_run(workdir, model_dir, protocol, seed)
    return evaluate_run(loaded, out_dir or Workdir(workdir).eval_dir, candidate_policy, baselines)
