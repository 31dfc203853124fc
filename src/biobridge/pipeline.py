"""The stages a user runs, over one working directory (DESIGN.md §5).

``prepare`` (KG -> tables + splits) -> ``encode`` (features -> embedding store) -> ``train`` (checkpoint dir)
-> ``evaluate`` (metrics.json). Each stage reads only the previous stages' artifacts and records their hashes.

Layout of a working directory::

    kg/                       nodes.parquet, triples.parquet, kg.json
    splits/<protocol>-seed<seed>/   split.json, split.parquet
    embeddings/               <node_type>.safetensors, manifest.json
    model/                    config.json, model.safetensors, train_log.jsonl, loss_curve.png
    eval/                     metrics.json, metrics.md
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.artifacts import write_text
from biobridge.bridge.checkpoint import load_checkpoint, read_checkpoint_config
from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.train import train_bridge
from biobridge.config import RunConfig
from biobridge.encoders.store import EmbeddingStore, encode_kg, merge_shards
from biobridge.evaluation.baselines import PopularityScorer
from biobridge.evaluation.evaluator import EvaluationResult, evaluate
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.split import Split, load_or_create_split
from biobridge.retrieval.bridge import ArtifactPaths
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


def build_kg(source: str = "default", nodes: Path | None = None, edges: Path | None = None,
             modalities: dict[str, str] | None = None, max_nodes_per_type: int | None = None,
             seed: int = 42, kg_csv: Path | None = None, features_dir: Path | None = None) -> KnowledgeGraph:
    """The packaged default KG, a bring-your-own TSV KG, or PrimeKG (kg.csv + a features directory)."""
    if source == "default":
        from biobridge.kg.default_kg import build_default_kg

        kg = build_default_kg()
    elif source == "tsv":
        from biobridge.kg.tsv_kg import load_tsv_kg

        if nodes is None or edges is None or not modalities:
            raise ValueError("--kg tsv needs --nodes, --edges and --modality TYPE=MODALITY for every node type")
        kg = load_tsv_kg(nodes, edges, modalities)
    elif source == "primekg":
        from biobridge.kg.primekg import load_primekg

        if kg_csv is None or features_dir is None:
            raise ValueError("--kg primekg needs --kg-csv and --features-dir")
        kg = load_primekg(kg_csv, features_dir)
    else:
        raise ValueError(f"unknown KG source {source!r}; choose 'default', 'tsv' or 'primekg'")
    if max_nodes_per_type:
        from biobridge.kg.subset import subset_kg

        kg = subset_kg(kg, max_nodes_per_type=max_nodes_per_type, seed=seed)
    return kg


def prepare(workdir: Path, source: str = "default", protocols: tuple[str, ...] = ("paper", "inductive"),
            test_fraction: float = 0.1, seed: int = 42, **kg_options: Any) -> dict[str, Any]:
    wd = Workdir(workdir)
    kg = build_kg(source, seed=seed, **kg_options)
    kg.save(wd.kg)
    splits = {p: load_or_create_split(kg, wd.split(p, seed), p, test_fraction, seed) for p in protocols}
    return {
        "kg_dir": str(wd.kg),
        "kg_hash": kg.content_hash(),
        "nodes_per_type": kg.nodes["node_type"].value_counts().sort_index().to_dict(),
        "triples": len(kg.triples),
        "splits": {p: {"dir": str(wd.split(p, seed)), **s.counts()} for p, s in splits.items()},
    }


def encode(workdir: Path, encoder_specs: dict[str, str] | None = None, progress: bool = True,
           shard: str | tuple[int, int] | None = None, merge_only: bool = False) -> EmbeddingStore:
    """Encode the KG into the store. ``shard``: None (all), ``"i/n"`` or ``"auto"`` (one shard per torchrun
    rank); finished shards are skipped and a node type is merged once all its shards exist. ``merge_only``:
    just merge the shards already in the store (an error names any missing shard)."""
    wd = Workdir(workdir)
    if merge_only:
        return merge_shards(wd.embeddings)
    kg = KnowledgeGraph.load(wd.kg)
    return encode_kg(kg, wd.embeddings, encoder_specs=encoder_specs, progress=progress, shard=shard)


def train(workdir: Path, config: RunConfig, protocol: str = "paper", seed: int = 42, test_fraction: float = 0.1,
          out_dir: Path | None = None, progress: bool = True) -> dict[str, Any]:
    wd = Workdir(workdir)
    kg = KnowledgeGraph.load(wd.kg)
    split = load_or_create_split(kg, wd.split(protocol, seed), protocol, test_fraction, seed)
    store = EmbeddingStore.load(wd.embeddings)
    table = EmbeddingTable.from_store(store, kg.num_nodes)
    out_dir = Path(out_dir) if out_dir else wd.model
    out_dir.mkdir(parents=True, exist_ok=True)
    metadata = {
        "artifacts": ArtifactPaths(wd.kg.resolve(), wd.embeddings.resolve()).to_relative(out_dir.resolve())
        | {"split_dir": str(Path(wd.split(protocol, seed)).resolve())},
        "kg_hash": kg.content_hash(),
        "split": {"protocol": split.protocol, "seed": split.seed, "test_fraction": split.test_fraction,
                  "hash": split.content_hash()},
        "encoders": {t: {k: store.manifest[t].get(k) for k in ("encoder", "spec", "dim", "input_hash", "n_failures")}
                     for t in store.node_types},
    }
    return train_bridge(kg, split, table, config, out_dir, metadata=metadata, progress=progress)


def load_trained(workdir: Path, model_dir: Path | None = None, protocol: str | None = None,
                 seed: int | None = None):
    """The KG, the split the model was trained on, the embedding table and the model.

    A checkpoint trained here records its KG hash and split and is evaluated on exactly that split. An imported
    checkpoint (``biobridge import-original``) records neither: pass ``protocol`` and ``seed``.
    """
    wd = Workdir(workdir)
    model_dir = Path(model_dir) if model_dir else wd.model
    config = read_checkpoint_config(model_dir)
    kg = KnowledgeGraph.load(wd.kg)
    if "kg_hash" in config and kg.content_hash() != config["kg_hash"]:
        raise ValueError(f"{wd.kg} is not the KG the model in {model_dir} was trained on")
    if "split" in config:
        s = config["split"]
        if (protocol, seed) != (None, None) and (protocol, seed) != (s["protocol"], s["seed"]):
            raise ValueError(f"the model was trained on the {s['protocol']} split with seed {s['seed']}; "
                             "evaluating it on another split would leak test edges into training")
        split = Split.load(wd.split(s["protocol"], s["seed"]))
        if split.content_hash() != s["hash"]:
            raise ValueError("the split on disk differs from the one the model was trained on")
    else:
        if protocol is None:
            raise ValueError(f"{model_dir} records no training split (imported checkpoint?): pass a protocol")
        seed = 42 if seed is None else seed
        split = load_or_create_split(kg, wd.split(protocol, seed), protocol, seed=seed)
    model = load_checkpoint(model_dir)
    store = EmbeddingStore.load(wd.embeddings)
    table = EmbeddingTable.from_store(store, kg.num_nodes, node_types=list(model.schema.node_types))
    return kg, split, table, model


def run_evaluation(workdir: Path, model_dir: Path | None = None, out_dir: Path | None = None,
                   candidate_policy: str = "relation", baselines: bool = True, protocol: str | None = None,
                   seed: int | None = None) -> EvaluationResult:
    """Evaluate a trained bridge (and the popularity baseline) on the split it was trained with."""
    wd = Workdir(workdir)
    kg, split, table, model = load_trained(wd.root, model_dir, protocol, seed)
    scorers = [BridgeScorer(model, table)]
    if baselines:
        scorers.append(PopularityScorer(kg, split))
    start = time.perf_counter()
    result = evaluate(kg, split, scorers, candidate_policy=candidate_policy,
                      scorable=table.has_embedding(np.arange(kg.num_nodes)))
    log.info("evaluation took %.1f s", time.perf_counter() - start)
    out_dir = Path(out_dir) if out_dir else wd.eval_dir
    result.to_json(out_dir / "metrics.json")
    write_text(out_dir / "metrics.md", result.to_markdown())
    return result
