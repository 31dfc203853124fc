"""Typed, frozen configuration for the bridge model and its training.

Defaults are the CPU preset; ``preset("paper")`` gives the paper's values (DESIGN.md §1). Three sections: the
model, its training, and the retriever the run ships (``RetrieverConfig``). TOML files in
(``load_run_config``), JSON out (``asdict`` into the run's config.json).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from biobridge.errors import InputError

_POSITIVE = "> 0"


def _check_numbers(section: str, obj: Any, rules: dict[str, tuple[type, Any, float | None, bool]]) -> None:
    """Each named field must be of the kind given (``int``: a whole number; ``float``: any real number) and
    lie in [low, high] (None: unbounded; low ``_POSITIVE``: > 0); the flag allows None. ``ValueError``
    names ``section.field``."""
    for name, (kind, low, high, optional) in rules.items():
        value = getattr(obj, name)
        if value is None and optional:
            continue
        whole = isinstance(value, int) and not isinstance(value, bool)
        real = whole or isinstance(value, float)
        if (kind is int and not whole) or (kind is float and not real) or value != value:
            what = "a whole number" if kind is int else "a number"
            raise ValueError(f"{section}.{name} must be {what}, got {value!r}")
        too_low = value <= 0 if low == _POSITIVE else low is not None and value < low
        if too_low or (high is not None and value > high):
            lower = "> 0" if low == _POSITIVE else f">= {low}"
            bounds = lower if high is None else f"{lower} and <= {high}"
            raise ValueError(f"{section}.{name} must be {bounds}, got {value!r}")


DROPOUT_MASKS = ("torch", "fast")


@dataclass(frozen=True)
class ModelConfig:
    hidden_dim: int = 128
    n_layers: int = 2
    n_heads: int = 4
    ff_dim: int = 256
    dropout: float = 0.1
    # "torch": nn.Dropout; "fast": the encoder layers' dropouts draw their masks as 15-bit uniforms, four per
    # 64-bit random number (``biobridge.bridge.dropout``: p rounded to 1/32768, another random stream)
    dropout_mask: str = "torch"
    activation: str = "gelu"
    residual: bool = True
    # Standardise each input dimension with the mean/std of the training nodes of its type (stored in the model).
    standardize_inputs: bool = True
    # Retrieval-augmented bridge (``biobridge.bridge.neighbour_context``): > 0 adds a fifth token, the mean
    # tail embedding of the head's ``context_k`` nearest training heads, weighted with ``context_sharpness``.
    context_k: int = 0
    context_sharpness: float = 16.0

    def __post_init__(self) -> None:
        _check_numbers(
            "model",
            self,
            {
                "hidden_dim": (int, 1, None, False),
                "n_layers": (int, 0, None, False),
                "n_heads": (int, 1, None, False),
                "ff_dim": (int, 1, None, False),
                "dropout": (float, 0.0, 0.99, False),
                "context_k": (int, 0, None, False),
                "context_sharpness": (float, 0.0, None, False),
            },
        )
        if self.dropout_mask not in DROPOUT_MASKS:
            raise ValueError(f"model.dropout_mask must be one of {DROPOUT_MASKS}, got {self.dropout_mask!r}")
        if self.n_layers and self.hidden_dim % self.n_heads:
            raise ValueError(
                f"model.hidden_dim ({self.hidden_dim}) must be a multiple of model.n_heads ({self.n_heads})"
            )
        if self.context_k and not self.n_layers:
            raise ValueError(
                "model.context_k > 0 needs a transformer to read the context (model.n_layers >= 1)"
            )


PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 2
    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.1
    grad_clip: float = 1.0
    temperature: float = 0.1
    n_negatives: int = 40
    negative_pool: int = 200
    # the other tails of the batch as extra negatives
    in_batch_negatives: bool = True
    # sampling-bias correction of in-batch negatives (Yi et al. 2019): subtract log q(tail), q = the tail's share
    # of the training triples' positives, from the positive's and the in-batch negatives' logits
    in_batch_logq: bool = True
    # relation-balanced sampling: relation r's share of an epoch's triples is proportional to n_r ** exponent
    # (1: as in the KG; 0.5: square root; 0: every relation equally), drawn without replacement
    relation_exponent: float = 0.5
    max_triples_per_epoch: int | None = 200_000
    seed: int = 42
    num_threads: int | None = None
    device: str = "auto"
    # "fp32", or "bf16": forward pass and loss under torch.autocast in bfloat16 (weights, gradients and optimizer
    # state stay float32). Fast on CPUs with AMX / AVX512-BF16 and on recent GPUs; slower where bf16 is emulated.
    precision: str = "fp32"
    # the transformer encoder through torch.compile while training (``biobridge.bridge.compiled``): 1.08-1.24x
    # per paper-preset step on CPU after ~1 min of compilation (on in that preset), nothing for the cpu preset;
    # eager if it fails
    compile: bool = False
    log_every: int = 20
    # a resumable checkpoint (weights + optimizer, scheduler, RNG and sampler state) every N optimizer steps,
    # besides the one at every epoch's end; 0: at epoch ends only
    checkpoint_every_steps: int = 500

    def __post_init__(self) -> None:
        _check_numbers(
            "train",
            self,
            {
                "epochs": (int, 1, None, False),
                "batch_size": (int, 1, None, False),
                "lr": (float, _POSITIVE, None, False),
                "weight_decay": (float, 0.0, None, False),
                "warmup_fraction": (float, 0.0, 1.0, False),
                "grad_clip": (float, _POSITIVE, None, False),
                "temperature": (float, _POSITIVE, None, False),
                "n_negatives": (int, 0, None, False),
                "negative_pool": (int, 0, None, False),
                "max_triples_per_epoch": (int, 1, None, True),
                "seed": (int, 0, 2**32 - 1, False),
                "num_threads": (int, 1, None, True),
                "log_every": (int, 1, None, False),
                "checkpoint_every_steps": (int, 0, None, False),  # 0: at epoch ends only
                "relation_exponent": (float, 0.0, 1.0, False),
            },
        )
        if self.precision not in PRECISIONS:
            raise ValueError(f"train.precision must be one of {PRECISIONS}, got {self.precision!r}")
        for flag in ("in_batch_negatives", "in_batch_logq", "compile"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"train.{flag} must be true or false, got {getattr(self, flag)!r}")


RETRIEVER_KINDS = ("bridge", "hybrid")
# the neighbour-vote baselines (``biobridge.baselines``): k and sharpness per task, and a silence that can gate
VOTE_BASELINE_NAMES = ("feature-knn", "graph-context", "homology-knn", "tanimoto-knn")


@dataclass(frozen=True)
class RetrieverConfig:
    """What a trained run ships (``biobridge.retrieval.retriever``): the bridge alone, or the ``hybrid``: the
    bridge's scores mixed with the baselines ``parts`` (``biobridge.baselines.build_baseline`` names), one
    weight vector per task tuned on ``validation_fraction`` of the training heads held out from the bridge's
    training (grid ``step``, at most ``max_queries`` validation queries per task; with ``bagging`` > 0 the mean
    of that many bootstrap resamples' best points among the grid and the finer points around its best, else the
    best grid point refined by hill-climbing). Before the weights, each neighbour vote among the parts gets its
    number of neighbours and sharpness per task from ``vote_k`` x ``vote_sharpness`` on the same validation
    queries (``biobridge.baselines.vote_tuning``); ``k``: the neighbours of a vote for tasks without validation
    queries. ``gate``: when it is one of the ``parts`` (a
    neighbour vote), the queries it is silent for (homology-kNN: a protein without any sequence hit among the
    training proteins) get their task's second weight vector, tuned on the validation queries it is silent for;
    ``""``: one weight vector per task. ``smoothing``: the grid of a task's candidate smoothing ``alpha``
    (``biobridge.baselines.candidate_smoothing``: scores spread to each candidate's ``smoothing_k`` most similar
    candidates by frozen embedding), chosen on the same validation queries after the weights; ``(0,)``: none."""

    # the settings that decide what the bridge is trained on (a hybrid's bridge leaves the validation heads out);
    # the others only tune the hybrid's votes and weights, so changing them re-tunes a trained run's hybrid
    BRIDGE_SETTINGS: ClassVar[tuple[str, ...]] = ("kind", "validation_fraction")

    kind: str = "hybrid"
    parts: tuple[str, ...] = ("homology-knn", "tanimoto-knn", "feature-knn", "graph-context", "popularity")
    validation_fraction: float = 0.05
    k: int = 50
    step: float = 0.2
    max_queries: int = 500
    vote_k: tuple[int, ...] = (5, 10, 20, 50)
    vote_sharpness: tuple[float, ...] = (1.0, 4.0, 16.0)
    gate: str = "homology-knn"
    bagging: int = 100
    smoothing: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0)
    smoothing_k: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))
        if self.gate not in ("", *VOTE_BASELINE_NAMES):
            raise ValueError(f"retriever.gate must be one of {('', *VOTE_BASELINE_NAMES)}, got {self.gate!r}")
        if not self.vote_k or any(isinstance(x, bool) or int(x) != x or x < 1 for x in self.vote_k):
            raise ValueError(f"retriever.vote_k must be integers >= 1, got {list(self.vote_k)}")
        if not self.vote_sharpness or any(not 0 < float(x) < float("inf") for x in self.vote_sharpness):
            raise ValueError(
                f"retriever.vote_sharpness must be positive numbers, got {list(self.vote_sharpness)}"
            )
        object.__setattr__(self, "vote_k", tuple(int(x) for x in self.vote_k))
        object.__setattr__(self, "vote_sharpness", tuple(float(x) for x in self.vote_sharpness))
        if not self.smoothing or any(
            isinstance(x, bool) or not 0 <= float(x) < float("inf") for x in self.smoothing
        ):
            raise ValueError(
                f"retriever.smoothing must be numbers >= 0 (0: no smoothing), got {list(self.smoothing)}"
            )
        object.__setattr__(self, "smoothing", tuple(sorted({float(x) for x in self.smoothing})))
        if self.kind not in RETRIEVER_KINDS:
            raise ValueError(f"retriever.kind must be one of {RETRIEVER_KINDS}, got {self.kind!r}")
        if self.kind == "hybrid" and not 0.0 < self.validation_fraction < 1.0:
            raise ValueError("retriever.validation_fraction must be in (0, 1) for a hybrid retriever")
        _check_numbers(
            "retriever",
            self,
            {
                "k": (int, 1, None, False),
                "step": (float, _POSITIVE, 1.0, False),
                "max_queries": (int, 1, None, False),
                "bagging": (int, 0, None, False),
                "smoothing_k": (int, 1, None, False),
            },
        )

    def settings(self) -> dict[str, Any]:
        """These settings as a hybrid's ``retriever.json`` records them (JSON values), to tell whether a record
        was tuned with them."""
        return json.loads(json.dumps(asdict(self)))


@dataclass(frozen=True)
class RunConfig:
    preset: str = "cpu"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    retriever: RetrieverConfig = field(default_factory=RetrieverConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        return cls(
            preset=data.get("preset", "custom"),
            model=build_dataclass(ModelConfig, data.get("model", {})),
            train=build_dataclass(TrainConfig, data.get("train", {})),
            # runs saved before the retriever existed shipped the bridge alone
            retriever=build_dataclass(RetrieverConfig, data.get("retriever", {"kind": "bridge"})),
        )


PRESETS: dict[str, RunConfig] = {
    # Trains the default KG in 3 minutes on 2 CPU cores: 2 epochs of 200k triples drawn relation-balanced
    # (exponent 0.5), 40 sampled + logQ-corrected in-batch negatives (the ablations of docs/benchmarks.md).
    "cpu": RunConfig(preset="cpu"),
    # The paper's setting (BioBridge, ICLR 2024): 6 layers, H=768, 12 heads, FF 2048, 10 epochs, batch 4096.
    "paper": RunConfig(
        preset="paper",
        model=ModelConfig(
            hidden_dim=768,
            n_layers=6,
            n_heads=12,
            ff_dim=2048,
            dropout=0.1,
            standardize_inputs=False,
        ),
        train=TrainConfig(
            epochs=10,
            batch_size=4096,
            lr=1.6e-3,
            weight_decay=1e-4,
            warmup_fraction=0.1,
            grad_clip=1.0,
            temperature=0.1,
            n_negatives=5,
            negative_pool=50,
            in_batch_negatives=False,
            in_batch_logq=False,
            relation_exponent=1.0,
            max_triples_per_epoch=None,
            compile=True,  # ~1,400 steps at paper scale; compiling (~1 min) pays back within about ten
        ),
        retriever=RetrieverConfig(kind="bridge"),  # the paper's method: the bridge alone
    ),
}


def preset(name: str) -> RunConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


SECTIONS = ("model", "train", "retriever")


def with_overrides(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """Apply ``{"model.n_layers": 4, "train.epochs": 1, "retriever.kind": "bridge", ...}`` (None values are
    ignored)."""
    sections = {name: getattr(config, name) for name in SECTIONS}
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, name = key.partition(".")
        target = sections.get(section)
        if target is None or name not in {f.name for f in fields(target)}:
            raise ValueError(f"unknown config key {key!r}")
        sections[section] = replace(target, **{name: value})
    return replace(config, **sections)


def load_run_config(path: str | Path) -> RunConfig:
    """Read a TOML file: optional ``preset = "paper"`` then ``[model]`` / ``[train]`` / ``[retriever]`` tables
    overriding it. A file that is not UTF-8 TOML, an unknown preset, section or key, or a value of the wrong
    type raises ``InputError`` naming the file (and the line, for TOML syntax)."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"preset", *SECTIONS})
    if unknown:
        raise InputError(f"{path}: unknown keys or sections {unknown}; expected preset and {list(SECTIONS)}")
    for section in SECTIONS:
        if not isinstance(data.get(section, {}), dict):
            raise InputError(f"{path}: {section} must be a table ([{section}]), found {data[section]!r}")
    try:
        base = preset(data.get("preset", "cpu"))
        for section in SECTIONS:
            for key, value in data.get(section, {}).items():
                _check_type(section, key, value, getattr(base, section))
        overrides = {f"{section}.{k}": v for section in SECTIONS for k, v in data.get(section, {}).items()}
        return with_overrides(base, overrides)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: {exc}") from None


def _check_type(section: str, key: str, value: Any, defaults: Any) -> None:
    """Refuse a TOML value whose type is not the field's (ints are accepted for floats; lists for tuples;
    a field whose default is None takes any value of the annotated kinds)."""
    if key not in {f.name for f in fields(defaults)}:
        return  # with_overrides names the unknown key
    default = getattr(defaults, key)
    kinds: tuple[type, ...]
    if isinstance(default, bool):
        kinds = (bool,)
    elif isinstance(default, int):
        kinds = (int,)
    elif isinstance(default, float):
        kinds = (int, float)
    elif isinstance(default, str):
        kinds = (str,)
    elif isinstance(default, tuple | list):
        kinds = (list, tuple)
    else:
        return
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"{section}.{key} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")


def build_dataclass(cls: type, data: dict[str, Any]):
    """``cls(**data)``, refusing keys that are not fields of ``cls``."""
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    return cls(**data)
