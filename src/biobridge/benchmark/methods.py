"""The benchmark's one method registry: every method of a config by name, with its kind, the settings that
identify its results (they go into the result fingerprint, so a change of settings recomputes) and how to
build its scorer on one split.

Kinds: ``bridge`` (trained through ``biobridge.pipeline.train``, reused when a finished run with the same
config and split exists), ``hybrid`` (a bridge mixed with baselines, weights tuned on its validation heads),
``fusion`` (untuned reciprocal-rank fusion), ``kge`` (PyKEEN; not applicable under ``inductive``) and
``baseline`` (``biobridge.baselines.build_baseline``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biobridge import pipeline
from biobridge.baselines import RankFusionScorer, build_baseline
from biobridge.baselines.registry import VOTE_BASELINE_NAMES
from biobridge.baselines.vote_tuning import fit_tuned_baseline
from biobridge.benchmark.config import BenchmarkConfig, BridgeVariant, FusionSpec, HybridSpec
from biobridge.benchmark.data import BenchmarkData
from biobridge.benchmark.kge_tuning import searched, tuned_kge_settings
from biobridge.bridge.run import TrainedRun
from biobridge.config import preset, with_overrides
from biobridge.encoders.homology import DEFAULT_SEARCH
from biobridge.evaluation.scorer import NotApplicableScorer, Scorer
from biobridge.evaluation.tasks import Task
from biobridge.kg.split import Split, load_or_create_validation_split
from biobridge.retrieval.retriever import build_retriever
from biobridge.retrieval.scorer import BridgeScorer

__all__ = ["Method", "MethodContext", "method_registry"]

Built = tuple[Scorer, dict[str, Any]]


@dataclass
class MethodContext:
    """One (protocol, seed) split and what building a method on it needs."""

    data: BenchmarkData
    split: Split
    split_dir: Path
    seed: int
    models_dir: Path
    tasks: list[Task]
    config: BenchmarkConfig
    registry: dict[str, Method]
    progress: bool = False
    _bridges: dict[str, Built] = field(default_factory=dict)
    runs: dict[str, TrainedRun] = field(default_factory=dict)  # bridge name -> its run on this split

    @property
    def out_dir(self) -> Path:
        """The benchmark's output directory (``models_dir`` is ``<out>/models/<protocol>-seed<seed>``)."""
        return self.models_dir.parent.parent

    def build(self, name: str) -> Built:
        """The scorer of method ``name`` and the details to record. Bridges are built once per split (the
        hybrids and fusions on them share it); other methods are cheap to fit and are built afresh."""
        method = self.registry[name]
        if method.kind != "bridge":
            return method.build(self)
        if name not in self._bridges:
            self._bridges[name] = method.build(self)
        return self._bridges[name]


@dataclass(frozen=True)
class Method:
    name: str
    kind: str
    settings: dict[str, Any]
    build: Callable[[MethodContext], Built]


def method_registry(config: BenchmarkConfig) -> dict[str, Method]:
    """Every method of ``config``, in ``config.method_names`` order."""
    methods: dict[str, Method] = {}
    for b in config.bridges:
        methods[b.name] = Method(b.name, "bridge", {"kind": "bridge", **asdict(b)}, _bridge_builder(b))
    for h in config.hybrids:
        methods[h.name] = Method(h.name, "hybrid", {}, _hybrid_builder(h))
    for f in config.fusions:
        methods[f.name] = Method(f.name, "fusion", {}, _fusion_builder(f))
    for m in config.kge_models:
        settings = {"kind": "kge", "model": m, **config.kge}
        if searched(config, m):
            settings["search"] = {
                "grid": config.kge_search,
                "samples": config.kge_search_samples,
                "split": list(config.kge_search_split),
            }
        methods[m.lower()] = Method(m.lower(), "kge", settings, _kge_builder(m))
    for name in config.baselines:
        methods[name] = Method(name, "baseline", _baseline_settings(name, config), _baseline_builder(name))
    # combinations record their parts' settings
    for h in config.hybrids:
        variant = next(b for b in config.bridges if b.name == h.bridge)
        retriever = asdict(variant.run_config().retriever)
        settings = {"kind": "hybrid", "bridge": methods[h.bridge].settings, "retriever": retriever}
        methods[h.name] = Method(h.name, "hybrid", settings, methods[h.name].build)
    for f in config.fusions:
        settings = {
            "kind": "fusion",
            "k": config.fusion_k,
            "parts": {p: methods[p].settings for p in f.parts},
        }
        methods[f.name] = Method(f.name, "fusion", settings, methods[f.name].build)
    return {name: methods[name] for name in config.method_names}


def _baseline_settings(name: str, config: BenchmarkConfig) -> dict[str, Any]:
    settings: dict[str, Any] = {"kind": "baseline"}
    if name == "graph-context":
        settings["context"] = "both edge directions"
    if name == "homology-knn":
        settings["search"] = DEFAULT_SEARCH.identity()
        settings["protein_tails"] = "query-type kNN spread to homologs (0.5)"
    if name == "tanimoto-knn":
        settings["fingerprint"] = "Morgan r=2, 2048 bits"
    if name in VOTE_BASELINE_NAMES:
        settings["k"] = min(config.knn_k, 20) if name == "homology-knn" else config.knn_k
        if config.knn_grid:
            settings["tuned_on_validation"] = {
                "grid": config.knn_grid,
                "fraction": config.knn_validation_fraction,
                "max_queries": config.knn_max_queries,
            }
    return settings


# ---- builders ------------------------------------------------------------------------------------
def train_variant(ctx: MethodContext, variant: BridgeVariant):
    """The run of ``variant`` on this split (a hybrid retriever trains its bridge without its validation heads
    and tunes on them), trained through the pipeline or reused when finished with the same config and split."""
    overrides = {"train.seed": ctx.seed, **variant.overrides}
    if ctx.config.num_threads:
        overrides.setdefault("train.num_threads", ctx.config.num_threads)
    run_config = with_overrides(preset(variant.preset), overrides)
    run = pipeline.train(
        ctx.data.workdir.root,
        run_config,
        split_dir=ctx.split_dir,
        out_dir=ctx.models_dir / variant.name,
        progress=ctx.progress,
        reuse=True,
    )
    return run, run_config


def _bridge_builder(variant: BridgeVariant) -> Callable[[MethodContext], Built]:
    def build(ctx: MethodContext) -> Built:
        run, run_config = train_variant(ctx, variant)
        details = {"run_config": run_config.to_dict(), "training": run.training, "note": variant.note}
        ctx.runs[variant.name] = run
        scorer = BridgeScorer.of(run.load_model(), ctx.data.kg, ctx.split, ctx.data.table, name=variant.name)
        return scorer, details

    return build


def _hybrid_builder(spec: HybridSpec) -> Callable[[MethodContext], Built]:
    def build(ctx: MethodContext) -> Built:
        bridge, details = ctx.build(spec.bridge)
        run = ctx.runs[spec.bridge]
        data = ctx.data
        scorer = build_retriever(run, bridge.model, data.kg, ctx.split, data.table, data.store)
        scorer.name = spec.name
        record = run.retriever
        return scorer, {
            "settings": scorer.settings,
            "tuning": record["tuning"],
            "tuning_seconds": record["tuning_seconds"],
            "validation_split_hash": record["validation"]["hash"],
            "bridge_training": details["training"],
        }

    return build


def _fusion_builder(spec: FusionSpec) -> Callable[[MethodContext], Built]:
    def build(ctx: MethodContext) -> Built:
        built = [ctx.build(p) for p in spec.parts]
        scorer = RankFusionScorer([b[0] for b in built], k=ctx.config.fusion_k, name=spec.name)
        return scorer, {
            "settings": scorer.settings,
            "parts": {p: b[1] for p, b in zip(spec.parts, built, strict=True)},
        }

    return build


def _kge_builder(model: str) -> Callable[[MethodContext], Built]:
    def build(ctx: MethodContext) -> Built:
        name = model.lower()
        if ctx.split.protocol == "inductive":
            reason = "inductive protocol: held-out nodes have no training triple, hence no KG embedding"
            return NotApplicableScorer(name, reason), {"trained": False}
        from biobridge.baselines.kge import KGEScorer, KGESettings

        chosen = tuned_kge_settings(ctx.data, ctx.config, model, ctx.tasks, ctx.out_dir)
        settings = KGESettings(model=model, seed=ctx.seed, num_threads=ctx.config.num_threads, **chosen)
        scorer = KGEScorer(ctx.data.kg, ctx.split, settings, name=name)
        return scorer, {"settings": scorer.settings, "tuned": chosen != dict(ctx.config.kge)}

    return build


def _baseline_builder(name: str) -> Callable[[MethodContext], Built]:
    def build(ctx: MethodContext) -> Built:
        data, config = ctx.data, ctx.config
        hits = data.protein_hits() if name == "homology-knn" else None
        if name not in VOTE_BASELINE_NAMES or not config.knn_grid:
            scorer = build_baseline(name, data.kg, ctx.split, data.table, k=config.knn_k, hits=hits)
            return scorer, {"settings": getattr(scorer, "settings", {})}
        # the validation heads the hybrid's parts are tuned on (same split, same query sample)
        validation, _ = load_or_create_validation_split(
            data.kg, ctx.split, ctx.split_dir, config.knn_validation_fraction
        )
        _, scorer, record = fit_tuned_baseline(
            name,
            data.kg,
            ctx.split,
            validation,
            ctx.tasks,
            data.table,
            config.knn_k,
            hits,
            config.knn_grid,
            max_queries=config.knn_max_queries,
            candidate_policy=config.candidate_policy,
            scorable=data.table.has_embedding(np.arange(data.kg.num_nodes)),
            seed=ctx.seed,
        )
        return scorer, {"settings": scorer.settings, "vote_tuning": record}

    return build
