"""Convert the released BioBridge checkpoint (RyanWangZf/BioBridge ``BindingModel``) to a biobridge one.

Source directory: ``model_config.json`` (``{"n_node", "n_relation", "proj_dim": {"<type id>": dim},
"hidden_dim", "n_layer"}``), ``pytorch_model.bin`` (a state dict; read only with
``torch.load(..., weights_only=True)``) and optionally ``data_config.json`` (type and relation name -> id).
Without one, the copy packaged in ``biobridge/data/biobridge_schema/`` is used.

Mapping onto :class:`~biobridge.bridge.model.BridgeModel` (same computation, so outputs are identical):

- ``proj_layer.<type id>.weight`` -> ``projections.<type>.weight``; types are renamed with
  :func:`biobridge.kg.primekg_names.node_type_name` (``gene/protein`` -> ``protein``, others unchanged).
- ``node_type_embed.0.weight`` rows are re-ordered to our type ids (sorted type names); LayerNorm copied.
  Our model only has type embeddings for types with a projection, so the original types without one
  (``effect/phenotype``, ``anatomy``, ``pathway``, ``exposure``) are dropped (listed in ``config.json``
  ``original_ids.dropped_node_types``): no triple whose head or tail is one of them can be scored anyway.
- Relations are renamed with :func:`biobridge.kg.primekg_names.relation_name` (the PrimeKG loader's rule). The
  original has one relation embedding per PrimeKG display relation, used for both directions, so our schema
  holds ``r`` and ``rev_r`` for each kept relation and both get the original row of ``r`` (for relations the
  PrimeKG loader makes symmetric, ``rev_r`` is unused there but lets a KG that splits the direction, such as
  the default KG's ``parent_child`` / ``rev_parent_child``, use the checkpoint). Relations that only join
  dropped types (``side effect``, ``phenotype present`` ...) are dropped and listed; relations not in
  :data:`biobridge.kg.primekg_names.PRIMEKG_RELATION_TYPES` are kept (listed as ``unknown_relation_types``).
- ``encoder.layers.N.*`` are copied unchanged (torch ``TransformerEncoder``, post-LN, GELU, batch_first).
  The number of heads is not stored in the state dict: the original hard-codes 12 (``n_heads``).
  Feed-forward size, hidden size and depth are read from the tensors, checked against ``model_config.json``.
- Any other key in the state dict is an error (nothing is silently ignored).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from biobridge.artifacts import hash_file, read_json
from biobridge.bridge.model import BridgeModel, BridgeSchema
from biobridge.bridge.run import save_run
from biobridge.config import ModelConfig
from biobridge.errors import InputError
from biobridge.kg.primekg_names import PRIMEKG_RELATION_TYPES, node_type_name, relation_name
from biobridge.kg.triples import REVERSE_PREFIX

log = logging.getLogger(__name__)

DEFAULT_DATA_CONFIG = (
    Path(__file__).resolve().parent.parent / "data" / "biobridge_schema" / "data_config.json"
)
MODEL_CONFIG_FILE = "model_config.json"
DATA_CONFIG_FILE = "data_config.json"
WEIGHTS_FILE = "pytorch_model.bin"
ORIGINAL_N_HEADS = 12
ORIGINAL_DROPOUT = 0.1
ORIGINAL_ACTIVATION = "gelu"
_LAYER_KEY = re.compile(r"^encoder\.layers\.(\d+)\.")


class OriginalCheckpointError(InputError):
    """The original checkpoint's files disagree with each other or with the expected layout."""


def original_parameter_count(model_config: dict[str, Any], ff_dim: int = 2048) -> int:
    """Parameters of the original ``BindingModel`` for a ``model_config.json`` (release: 37,827,072)."""
    h = int(model_config["hidden_dim"])
    n_layer = int(model_config["n_layer"])
    embeds = (int(model_config["n_node"]) + int(model_config["n_relation"])) * h + 2 * (2 * h)
    proj = sum(int(d) for d in model_config["proj_dim"].values()) * h
    layer = (3 * h * h + 3 * h) + (h * h + h) + (ff_dim * h + ff_dim) + (h * ff_dim + h) + 2 * (2 * h)
    return embeds + proj + n_layer * layer


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: the original checkpoint ships its weights as {WEIGHTS_FILE}"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to read the user's file as plain tensors is a refusal of it
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise OriginalCheckpointError(
            f"{path}: refused: not a plain state dict of tensors (only weights are ever loaded, never "
            f"pickled code; torch said: {reason})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise OriginalCheckpointError(f"{path}: expected a state dict of tensors")
    if state and all(k.startswith("module.") for k in state):  # saved from a DataParallel wrapper
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _id_map(data_config: dict, key: str, expected: int, path: Path) -> dict[str, int]:
    ids = {str(k): int(v) for k, v in data_config.get(key, {}).items()}
    if sorted(ids.values()) != list(range(expected)):
        raise OriginalCheckpointError(
            f"{path}: {key} ids {sorted(ids.values())} are not 0..{expected - 1} "
            f"(model_config says {expected})"
        )
    return ids


@dataclass(frozen=True)
class _OriginalFiles:
    """What was read from an original checkpoint directory, with the type and relation ids checked."""

    src_dir: Path
    model_config_path: Path
    model_config: dict[str, Any]
    data_config_path: Path
    weights_path: Path
    state: dict[str, torch.Tensor]
    type_ids: dict[str, int]  # original node type name -> id
    relation_ids: dict[str, int]  # original relation name -> id

    @property
    def id_to_type(self) -> dict[int, str]:
        return {v: k for k, v in self.type_ids.items()}

    def tensor(self, key: str) -> torch.Tensor:
        if key not in self.state:
            raise OriginalCheckpointError(f"{self.weights_path}: missing {key!r}")
        return self.state[key]


@dataclass(frozen=True)
class _Dimensions:
    """Sizes read from the tensors (and checked against ``model_config.json``)."""

    hidden: int
    n_layers: int
    ff_dim: int


@dataclass(frozen=True)
class _NodeTypeMapping:
    input_dims: dict[str, int]  # our type name -> input dimension
    original_ids: dict[str, int]  # our type name -> original type id
    kept_original_names: set[str]  # original names of the kept types
    dropped: dict[str, int]  # original types without a projection -> their id


@dataclass(frozen=True)
class _RelationMapping:
    rows: dict[str, int]  # our relation name (``r`` and ``rev_r``) -> original embedding row
    dropped: dict[str, int]  # original relations joining only dropped types -> their id
    unknown: list[str]  # original relations not in PRIMEKG_RELATION_TYPES (kept)


def _resolve_data_config(src_dir: Path, data_config: str | Path | None) -> Path:
    """The given path, else ``src_dir/data_config.json`` when it exists, else the packaged copy."""
    if data_config is None:
        data_config = (
            src_dir / DATA_CONFIG_FILE if (src_dir / DATA_CONFIG_FILE).exists() else DEFAULT_DATA_CONFIG
        )
    return Path(data_config)


def _read_original_files(src_dir: Path, data_config: str | Path | None) -> _OriginalFiles:
    """Read ``model_config.json``, the data config and the weights; check the ids against model_config."""
    mc_path = src_dir / MODEL_CONFIG_FILE
    if not mc_path.exists():
        raise FileNotFoundError(f"{mc_path} not found: not an original BioBridge checkpoint directory")
    model_config = read_json(mc_path)
    dc_path = _resolve_data_config(src_dir, data_config)
    if not dc_path.exists():
        raise FileNotFoundError(f"{dc_path} not found")
    dc = read_json(dc_path)
    weights_path = src_dir / WEIGHTS_FILE
    state = _load_state_dict(weights_path)
    n_node, n_relation = int(model_config["n_node"]), int(model_config["n_relation"])
    return _OriginalFiles(
        src_dir=src_dir,
        model_config_path=mc_path,
        model_config=model_config,
        data_config_path=dc_path,
        weights_path=weights_path,
        state=state,
        type_ids=_id_map(dc, "node_type", n_node, dc_path),
        relation_ids=_id_map(dc, "relation_type", n_relation, dc_path),
    )


def _dimensions_from_tensors(files: _OriginalFiles, n_heads: int) -> _Dimensions:
    """Hidden size, depth and feed-forward size of the weights, checked against ``model_config.json``."""
    model_config = files.model_config
    n_node, n_relation = int(model_config["n_node"]), int(model_config["n_relation"])
    type_table = files.tensor("node_type_embed.0.weight")
    rel_table = files.tensor("relation_type_embed.0.weight")
    hidden = int(type_table.shape[1])
    layers = sorted({int(m.group(1)) for k in files.state if (m := _LAYER_KEY.match(k))})
    problems = []
    if hidden != int(model_config["hidden_dim"]):
        problems.append(f"hidden size {hidden} in the weights, {model_config['hidden_dim']} in model_config")
    if type_table.shape[0] != n_node or rel_table.shape[0] != n_relation:
        problems.append(
            f"embedding tables {tuple(type_table.shape)} / {tuple(rel_table.shape)} vs n_node={n_node}, "
            f"n_relation={n_relation}"
        )
    if layers != list(range(int(model_config["n_layer"]))):
        problems.append(f"encoder layers {layers} in the weights, n_layer={model_config['n_layer']}")
    if problems:
        raise OriginalCheckpointError(f"{files.src_dir}: " + "; ".join(problems))
    if hidden % n_heads:
        raise OriginalCheckpointError(f"hidden size {hidden} is not divisible by n_heads={n_heads}")
    ff_dim = int(files.tensor("encoder.layers.0.linear1.weight").shape[0]) if layers else 2048
    return _Dimensions(hidden=hidden, n_layers=len(layers), ff_dim=ff_dim)


def _map_node_types(files: _OriginalFiles, hidden: int) -> _NodeTypeMapping:
    """Our node types: the original types with a projection, renamed; the others are dropped."""
    id_to_type = files.id_to_type
    input_dims: dict[str, int] = {}
    ours_to_orig_type: dict[str, int] = {}
    for tid_str, dim in files.model_config["proj_dim"].items():
        tid = int(tid_str)
        if tid not in id_to_type:
            raise OriginalCheckpointError(
                f"proj_dim names type id {tid}, absent from {files.data_config_path}"
            )
        name = node_type_name(id_to_type[tid])
        w = files.tensor(f"proj_layer.{tid}.weight")
        if tuple(w.shape) != (hidden, int(dim)):
            raise OriginalCheckpointError(
                f"proj_layer.{tid}.weight has shape {tuple(w.shape)}, expected {(hidden, dim)}"
            )
        input_dims[name] = int(dim)
        ours_to_orig_type[name] = tid
    if len(input_dims) != len(files.model_config["proj_dim"]):
        raise OriginalCheckpointError("two original node types map to the same biobridge name")
    kept_primekg_types = {id_to_type[t] for t in ours_to_orig_type.values()}
    dropped_types = {
        t: i for t, i in sorted(files.type_ids.items(), key=lambda kv: kv[1]) if t not in kept_primekg_types
    }
    return _NodeTypeMapping(input_dims, ours_to_orig_type, kept_primekg_types, dropped_types)


def _map_relations(files: _OriginalFiles, kept_primekg_types: set[str]) -> _RelationMapping:
    """Our relations ``r`` and ``rev_r`` (both on the original row of ``r``) for every relation that joins
    kept types; relations joining only dropped types are dropped, unknown ones kept."""
    relations: dict[str, int] = {}  # our name -> original row
    dropped_relations: dict[str, int] = {}
    unknown_relations: list[str] = []
    for name, rid in sorted(files.relation_ids.items(), key=lambda kv: kv[1]):
        pairs = PRIMEKG_RELATION_TYPES.get(name)
        if pairs is None:
            unknown_relations.append(name)
        elif not any(a in kept_primekg_types and b in kept_primekg_types for a, b in pairs):
            dropped_relations[name] = rid
            continue
        ours = relation_name(name)
        if ours in relations:
            raise OriginalCheckpointError(f"two original relations map to {ours!r}")
        relations[ours] = rid
        relations[REVERSE_PREFIX + ours] = rid
    return _RelationMapping(relations, dropped_relations, unknown_relations)


def _model_config(dims: _Dimensions, n_heads: int) -> ModelConfig:
    """The original architecture: post-LN GELU encoder with residual, dropout 0.1, raw inputs."""
    return ModelConfig(
        hidden_dim=dims.hidden,
        n_layers=dims.n_layers,
        n_heads=n_heads,
        ff_dim=dims.ff_dim,
        dropout=ORIGINAL_DROPOUT,
        activation=ORIGINAL_ACTIVATION,
        residual=True,
        standardize_inputs=False,
    )


def _converted_weights(
    files: _OriginalFiles, schema: BridgeSchema, types: _NodeTypeMapping, relations: _RelationMapping
) -> dict[str, torch.Tensor]:
    """The original tensors under our state-dict names, embedding rows re-ordered to our ids.

    Any key of the original state dict that is not used is an error.
    """
    used: set[str] = set()

    def take(key: str) -> torch.Tensor:
        used.add(key)
        return files.tensor(key)

    new: dict[str, torch.Tensor] = {}
    for name in schema.node_types:
        new[f"projections.{name}.weight"] = take(f"proj_layer.{types.original_ids[name]}.weight")
    type_rows = torch.tensor([types.original_ids[t] for t in schema.node_types], dtype=torch.long)
    new["node_type_embed.0.weight"] = take("node_type_embed.0.weight")[type_rows]
    rel_rows = torch.tensor([relations.rows[r] for r in schema.relations], dtype=torch.long)
    new["relation_embed.0.weight"] = take("relation_type_embed.0.weight")[rel_rows]
    for part in ("weight", "bias"):
        new[f"node_type_embed.1.{part}"] = take(f"node_type_embed.1.{part}")
        new[f"relation_embed.1.{part}"] = take(f"relation_type_embed.1.{part}")
    for key in files.state:
        if key.startswith("encoder.layers."):
            new[key] = take(key)
    projection_keys = {f"proj_layer.{t}.weight" for t in types.original_ids.values()}
    unused = sorted(set(files.state) - used - projection_keys)
    if unused:
        raise OriginalCheckpointError(
            f"{files.weights_path}: keys the import does not understand: {unused[:10]}"
        )
    return new


def _load_weights(model: BridgeModel, weights: dict[str, torch.Tensor], weights_path: Path) -> None:
    """Check that ``weights`` covers ``model`` exactly with the right shapes, load it strictly, set eval."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise OriginalCheckpointError(f"{weights_path}: no source for {missing[:10]}")
    for key, value in weights.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise OriginalCheckpointError(
                f"{key}: shape {tuple(value.shape)} in the original, {tuple(expected[key].shape)} expected"
            )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in weights.items()}, strict=True)
    model.eval()


def _provenance(
    files: _OriginalFiles,
    n_heads: int,
    schema: BridgeSchema,
    types: _NodeTypeMapping,
    relations: _RelationMapping,
) -> dict[str, Any]:
    """The ``imported_from`` (source files and their hashes) and ``original_ids`` records of ``config.json``."""
    dc_path = files.data_config_path
    id_to_type = files.id_to_type
    return {
        "imported_from": {
            "format": "BioBridge BindingModel (github.com/RyanWangZf/BioBridge)",
            "path": str(files.src_dir.resolve()),
            "files_sha256": {
                MODEL_CONFIG_FILE: hash_file(files.model_config_path),
                WEIGHTS_FILE: hash_file(files.weights_path),
                DATA_CONFIG_FILE: hash_file(dc_path),
            },
            "data_config": str(dc_path.resolve()) if dc_path != DEFAULT_DATA_CONFIG else "packaged copy",
            "model_config": files.model_config,
            "original_parameters": sum(int(v.numel()) for v in files.state.values()),
            "n_heads_assumed": n_heads,
        },
        "original_ids": {
            "node_types": {t: types.original_ids[t] for t in schema.node_types},
            "node_type_names": {t: id_to_type[types.original_ids[t]] for t in schema.node_types},
            "relations": {r: relations.rows[r] for r in schema.relations},
            "dropped_node_types": types.dropped,
            "dropped_relations": relations.dropped,
            "unknown_relation_types": relations.unknown,
            "rule": "node types: gene/protein -> protein; relations: biobridge.kg.primekg_names.relation_name; "
            "r and rev_r share the original's single embedding row of r",
        },
    }


def import_original_checkpoint(
    src_dir: str | Path,
    out_dir: str | Path,
    data_config: str | Path | None = None,
    *,
    n_heads: int = ORIGINAL_N_HEADS,
) -> Path:
    """Convert an original BioBridge checkpoint directory into a biobridge checkpoint at ``out_dir``.

    ``data_config``: path of the original ``data_config.json``; default ``src_dir/data_config.json`` when it
    exists, else the packaged copy. ``n_heads``: attention heads (not stored in the weights; the original
    uses 12). Returns ``out_dir``.
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    files = _read_original_files(src_dir, data_config)
    dims = _dimensions_from_tensors(files, n_heads)
    types = _map_node_types(files, dims.hidden)
    relations = _map_relations(files, types.kept_original_names)
    schema = BridgeSchema(input_dims=types.input_dims, relations=tuple(sorted(relations.rows)))
    model = BridgeModel(schema, _model_config(dims, n_heads))
    _load_weights(model, _converted_weights(files, schema, types, relations), files.weights_path)
    metadata = _provenance(files, n_heads, schema, types, relations)
    save_run(out_dir, model, sources=None, extra=metadata)
    log.info(
        "imported %s -> %s: %d node types, %d relations (dropped types %s, relations %s)",
        src_dir,
        out_dir,
        len(types.input_dims),
        len(relations.rows),
        list(types.dropped),
        list(relations.dropped),
    )
    return out_dir
