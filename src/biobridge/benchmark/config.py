"""A benchmark as data: frozen dataclasses loaded from TOML (the presets in ``presets/`` or a user's file).

A TOML file holds the fields of ``BenchmarkConfig``; ``[[bridges]]``, ``[[hybrids]]`` and ``[[fusions]]``
tables list the methods built on the bridge. ``preset = "quick"`` (or ``"full"``) at the top starts from a
packaged preset and replaces the keys the file sets (lists are replaced whole)::

    preset = "full"
    seeds = [42]
    kge_models = ["RotatE"]
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from biobridge.baselines import BASELINE_NAMES
from biobridge.baselines.kge import KGE_MODELS
from biobridge.config import RetrieverConfig
from biobridge.kg.split import PROTOCOLS

__all__ = [
    "BenchmarkConfig",
    "BridgeVariant",
    "FusionSpec",
    "HybridSpec",
    "load_benchmark_config",
]

PRESET_DIR = Path(__file__).resolve().parent / "presets"
# report order: the leaky protocol of the paper first, then the fair ones
BENCHMARK_PROTOCOLS = ("paper", "transductive", "inductive")


@dataclass(frozen=True)
class BridgeVariant:
    """A run to train: a preset plus ``with_overrides`` keys (``model.*``, ``train.*``, ``retriever.*``);
    ``note`` says what was reduced. Its bridge alone is reported under ``name``; a run whose retriever is a
    hybrid (the ``cpu`` preset's default) trains its bridge without its validation heads, and a ``HybridSpec``
    reports that retriever."""

    name: str
    preset: str = "cpu"
    overrides: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def run_config(self):
        from biobridge.config import preset, with_overrides

        return with_overrides(preset(self.preset), self.overrides)

    @classmethod
    def parse(cls, spec: str) -> BridgeVariant:
        """``NAME=PRESET[,key=value...]``; values are read as JSON when they parse (numbers, booleans) and as
        strings otherwise."""
        name, sep, rest = spec.partition("=")
        if not sep or not name or not rest:
            raise ValueError(f"a bridge variant looks like NAME=PRESET[,key=value...], got {spec!r}")
        preset_name, *pairs = rest.split(",")
        overrides = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key or not value:
                raise ValueError(f"variant settings look like key=value, got {pair!r} in {spec!r}")
            overrides[key] = _json_or_str(value)
        note = f"{preset_name} preset with {overrides}"
        if preset_name == "paper" and overrides:
            note += " (REDUCED for CPU; the paper trains 10 full epochs)"
        return cls(name, preset_name, overrides, note)


@dataclass(frozen=True)
class HybridSpec:
    """The hybrid retriever a bridge run ships (``biobridge.retrieval.retriever``: the bridge's and the
    baselines' standardised scores mixed with per-task weights tuned on the run's validation heads), reported
    under ``name``; the run's retriever must be a hybrid."""

    name: str
    bridge: str


@dataclass(frozen=True)
class FusionSpec:
    """Untuned reciprocal-rank fusion of bridges and baselines."""

    name: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class BenchmarkConfig:
    name: str = "custom"
    protocols: tuple[str, ...] = BENCHMARK_PROTOCOLS
    seeds: tuple[int, ...] = (42, 43, 44)
    bridges: tuple[BridgeVariant, ...] = ()
    kge_models: tuple[str, ...] = KGE_MODELS
    kge: dict[str, Any] = field(default_factory=dict)  # KGESettings fields shared by every KGE model
    # a tuning budget for the KGE models (``biobridge.benchmark.kge_tuning``): grid of KGESettings values,
    # how many grid points to try besides ``kge``, and the split whose validation heads choose
    kge_search: dict[str, list] = field(default_factory=dict)
    kge_search_samples: int = 0
    kge_search_split: tuple[str, int] = ("transductive", 42)
    # models trained with ``kge`` only, without the search (a CPU budget: say why in the config)
    kge_search_skip: tuple[str, ...] = ()
    baselines: tuple[str, ...] = BASELINE_NAMES
    knn_k: int = 50
    # every neighbour-vote baseline's k and sharpness per task, chosen on the validation heads the hybrid is
    # tuned on (``biobridge.baselines.vote_tuning``; the same grid as the hybrid's parts); {} keeps knn_k and
    # sharpness 1 everywhere
    knn_grid: dict[str, list] = field(
        default_factory=lambda: {
            "k": list(RetrieverConfig.vote_k),
            "sharpness": list(RetrieverConfig.vote_sharpness),
        }
    )
    knn_validation_fraction: float = RetrieverConfig.validation_fraction
    knn_max_queries: int = RetrieverConfig.max_queries
    fusions: tuple[FusionSpec, ...] = ()
    fusion_k: float = 60.0
    hybrids: tuple[HybridSpec, ...] = ()
    test_fraction: float = 0.1
    max_nodes_per_type: int | None = None
    candidate_policy: str = "relation"
    tasks: str = "all"  # "all" or "paper"
    num_threads: int | None = None

    def __post_init__(self) -> None:
        unknown = [p for p in self.protocols if p not in PROTOCOLS]
        if unknown:
            raise ValueError(f"unknown protocols {unknown}; choose from {PROTOCOLS}")
        if self.tasks not in ("all", "paper"):
            raise ValueError(f"tasks must be 'all' or 'paper', got {self.tasks!r}")
        stray = [m for m in self.kge_search_skip if m not in self.kge_models]
        if stray:
            raise ValueError(f"kge_search_skip names models not in kge_models: {stray}")
        bridges = {b.name: b for b in self.bridges}
        for f in self.fusions:
            wrong = [p for p in f.parts if p not in bridges and p not in self.baselines]
            if wrong:
                raise ValueError(f"fusion {f.name!r}: parts must be bridges or baselines, not {wrong}")
        for h in self.hybrids:
            if h.bridge not in bridges or bridges[h.bridge].run_config().retriever.kind != "hybrid":
                raise ValueError(
                    f"hybrid {h.name!r}: {h.bridge!r} must be a bridge whose retriever is a hybrid"
                )

    @property
    def method_names(self) -> list[str]:
        return (
            [b.name for b in self.bridges]
            + [h.name for h in self.hybrids]
            + [f.name for f in self.fusions]
            + [m.lower() for m in self.kge_models]
            + list(self.baselines)
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchmarkConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown benchmark config keys: {sorted(unknown)}")
        d = dict(data)
        d["bridges"] = tuple(BridgeVariant(**b) for b in d.get("bridges", ()))
        d["hybrids"] = tuple(HybridSpec(h["name"], h["bridge"]) for h in d.get("hybrids", ()))
        d["fusions"] = tuple(FusionSpec(f["name"], tuple(f["parts"])) for f in d.get("fusions", ()))
        for key in ("protocols", "seeds", "kge_models", "baselines", "kge_search_split", "kge_search_skip"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)

    def with_bridges(self, variants: tuple[BridgeVariant, ...]) -> BenchmarkConfig:
        """These runs instead of the configured ones: hybrids and fusions built on a run they replace are
        dropped, and every run whose retriever is a hybrid reports it as ``<name>-hybrid``."""
        names = {v.name for v in variants} | set(self.baselines)
        hybrids = [
            HybridSpec(f"{v.name}-hybrid", v.name)
            for v in variants
            if v.run_config().retriever.kind == "hybrid"
        ]
        return replace(
            self,
            bridges=tuple(variants),
            hybrids=tuple(hybrids),
            fusions=tuple(f for f in self.fusions if set(f.parts) <= names),
        )


def load_benchmark_config(source: str | Path = "full") -> BenchmarkConfig:
    """A packaged preset by name (``"full"``, ``"quick"``) or a TOML file (see the module docstring)."""
    path = PRESET_DIR / f"{source}.toml" if str(source) in _preset_names() else Path(source)
    if not path.exists():
        raise FileNotFoundError(
            f"no benchmark config {source!r}: presets are {_preset_names()}, or give a TOML file"
        )
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    base = data.pop("preset", None)
    if base is not None:
        if base not in _preset_names():
            raise ValueError(f"{path}: unknown preset {base!r}; presets are {_preset_names()}")
        parent = tomllib.loads((PRESET_DIR / f"{base}.toml").read_text(encoding="utf-8"))
        data = {**parent, **data, "name": data.get("name", path.stem)}
    return BenchmarkConfig.from_dict(data)


def _preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def _json_or_str(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
