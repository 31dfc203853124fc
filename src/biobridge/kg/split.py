"""Train/test splits of a knowledge graph's triples by held-out head nodes (DESIGN.md section 2).

Every triple of ``kg.triples`` gets one part: ``TRAIN`` (0), ``TEST`` (1) or ``EXCLUDED`` (2, used by nobody).

- ``paper``: for each node type, ``test_fraction`` of the nodes that head at least one triple are held out
  (seeded). Every triple whose head is held out is TEST, everything else TRAIN. The reverse triples
  ``(x, rev_r, held_out)`` therefore stay in training: a held-out node is still seen as a target. This is
  the leak of the original protocol, kept on purpose so its numbers can be reproduced.
- ``inductive``: the same held-out nodes; head held out -> TEST; otherwise tail held out -> EXCLUDED. No
  training triple touches a held-out node.
- ``transductive``: per task ``(head_type, relation, tail_type)``, reverse relations included, hold out
  ``test_fraction`` of the task's head nodes. Their triples of that task are TEST and the reverse triples of
  those edges are EXCLUDED, so the (node, task) pair loses its edges in both directions while the node keeps
  its edges of every other task. When the reverse of a TEST edge is itself TEST (its head was held out for the
  reverse task), it stays TEST: both directions are then evaluated and neither is trained on.
  ``held_out_nodes`` is the union of the held-out heads over all tasks.

``validation_split(kg, split, fraction)`` splits a split's TRAIN part again under the same protocol (its own
seed): a validation set for tuning that never touches the outer split's test triples.

Held-out counts: ``round(test_fraction * n)`` of the ``n`` candidates, at least 1 and at most ``n - 1`` when
``n >= 2`` (none when ``n < 2``). Candidates are sorted by node index, groups are visited in sorted name order
and one ``numpy.random.Generator(PCG64(seed))`` draws them all, so the same KG and seed give the same split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biobridge.artifacts import atomic_write, hash_strings, read_json_object, read_parquet, write_json
from biobridge.errors import InputError
from biobridge.kg.graph import KnowledgeGraph

log = logging.getLogger(__name__)

PROTOCOLS = ("paper", "inductive", "transductive")
TRAIN, TEST, EXCLUDED = 0, 1, 2
PART_NAMES = {TRAIN: "train", TEST: "test", EXCLUDED: "excluded"}
SPLIT_JSON = "split.json"
SPLIT_PARQUET = "split.parquet"
HELD_OUT_PARQUET = "held_out_nodes.parquet"


@dataclass(frozen=True)
class Split:
    protocol: str
    seed: int
    test_fraction: float
    kg_hash: str
    held_out_nodes: np.ndarray  # int64, sorted
    triple_part: np.ndarray  # int8 per kg.triples row
    per_relation: dict[str, dict[str, int]] = field(default_factory=dict)

    def _check(self, kg: KnowledgeGraph) -> None:
        if len(kg.triples) != len(self.triple_part):
            raise ValueError(
                f"split has {len(self.triple_part)} triples, the KG {len(kg.triples)}: split of another KG"
            )

    def train_triples(self, kg: KnowledgeGraph) -> pd.DataFrame:
        self._check(kg)
        return kg.triples[self.triple_part == TRAIN]

    def test_triples(self, kg: KnowledgeGraph) -> pd.DataFrame:
        self._check(kg)
        return kg.triples[self.triple_part == TEST]

    def train_nodes(self, kg: KnowledgeGraph) -> np.ndarray:
        """Sorted node indices that appear in at least one TRAIN triple (the pool for training negatives)."""
        train = self.train_triples(kg)
        return np.union1d(train["head"].to_numpy(np.int64), train["tail"].to_numpy(np.int64))

    def content_hash(self) -> str:
        return hash_strings(
            [
                self.protocol,
                str(int(self.seed)),
                repr(float(self.test_fraction)),
                self.kg_hash,
                np.ascontiguousarray(self.held_out_nodes, dtype="<i8").tobytes().hex(),
                np.ascontiguousarray(self.triple_part, dtype=np.int8).tobytes().hex(),
            ]
        )[:16]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return (
            (self.protocol, self.seed, self.test_fraction, self.kg_hash)
            == (other.protocol, other.seed, other.test_fraction, other.kg_hash)
            and np.array_equal(self.held_out_nodes, other.held_out_nodes)
            and np.array_equal(self.triple_part, other.triple_part)
        )

    def __hash__(self) -> int:
        return hash(self.content_hash())

    def counts(self) -> dict[str, Any]:
        parts = np.bincount(self.triple_part, minlength=3)
        return {
            "train": int(parts[TRAIN]),
            "test": int(parts[TEST]),
            "excluded": int(parts[EXCLUDED]),
            "held_out_nodes": len(self.held_out_nodes),
            "per_relation": self.per_relation,
        }

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        parts = pd.DataFrame({"triple_part": self.triple_part.astype(np.int8)})
        held = pd.DataFrame({"node_index": self.held_out_nodes.astype(np.int64)})
        atomic_write(directory / SPLIT_PARQUET, lambda p: parts.to_parquet(p, index=False))
        atomic_write(directory / HELD_OUT_PARQUET, lambda p: held.to_parquet(p, index=False))
        # split.json last: it carries the content hash that load() checks the two tables against
        write_json(
            directory / SPLIT_JSON,
            {
                "protocol": self.protocol,
                "seed": int(self.seed),
                "test_fraction": float(self.test_fraction),
                "kg_hash": self.kg_hash,
                "content_hash": self.content_hash(),
                "parts": PART_NAMES,
                "counts": self.counts(),
            },
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Split:
        directory = Path(directory)
        meta_path = directory / SPLIT_JSON
        if not meta_path.exists():
            raise FileNotFoundError(f"{meta_path} not found: not a split directory (run `biobridge prepare`)")
        meta = read_json_object(meta_path, ("protocol", "seed", "test_fraction", "kg_hash", "content_hash"))
        held = read_parquet(directory / HELD_OUT_PARQUET, ("node_index",))
        parts = read_parquet(directory / SPLIT_PARQUET, ("triple_part",))
        try:
            counts = meta.get("counts") or {}
            split = cls(
                protocol=str(meta["protocol"]),
                seed=int(meta["seed"]),
                test_fraction=float(meta["test_fraction"]),
                kg_hash=str(meta["kg_hash"]),
                held_out_nodes=held["node_index"].to_numpy(np.int64),
                triple_part=parts["triple_part"].to_numpy(np.int8),
                per_relation=counts.get("per_relation", {}),
            )
            same = split.content_hash() == meta["content_hash"]
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{directory}: not a valid split ({type(exc).__name__}: {exc})") from None
        if not same:
            raise InputError(f"{directory}: split tables do not match the content hash in {SPLIT_JSON}")
        return split


def _n_hold(n: int, fraction: float) -> int:
    if n < 2:
        return 0
    return int(min(n - 1, max(1, round(fraction * n))))


def _choose(rng: np.random.Generator, candidates: np.ndarray, fraction: float) -> np.ndarray:
    k = _n_hold(len(candidates), fraction)
    return np.sort(rng.permutation(candidates)[:k]) if k else np.empty(0, np.int64)


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    names, codes = np.unique(values.to_numpy().astype(str), return_inverse=True)
    return names, codes.astype(np.int64)


def _held_out_heads_per_type(kg: KnowledgeGraph, heads: np.ndarray, rng: np.random.Generator, frac: float):
    node_types = kg.node_type_array()
    unique_heads = np.unique(heads)
    head_types = node_types[unique_heads]
    chosen = [
        _choose(rng, unique_heads[head_types == t], frac)
        for t in sorted(set(head_types.astype(str).tolist()))
    ]
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, np.int64)


def _reverse_positions(kg: KnowledgeGraph, heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """Row of the reverse triple of every triple (-1 if absent)."""
    rel_names, rel = _codes(kg.triples["relation"])
    code = {name: i for i, name in enumerate(rel_names)}
    rev_code = np.array([code.get(kg.reverse_relations[name], -1) for name in rel_names], dtype=np.int64)
    n, r = np.int64(kg.num_nodes), np.int64(len(rel_names))
    keys = (heads * r + rel) * n + tails
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    rev_rel = rev_code[rel]
    want = (tails * r + rev_rel) * n + heads
    pos = np.searchsorted(sorted_keys, want)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    found = (rev_rel >= 0) & (sorted_keys[pos] == want)
    return np.where(found, order[pos], -1)


def split_kg(
    kg: KnowledgeGraph, protocol: str = "paper", test_fraction: float = 0.1, seed: int = 42
) -> Split:
    """Split ``kg.triples`` into TRAIN / TEST / EXCLUDED under one of ``PROTOCOLS`` (see module docstring)."""
    _check_protocol(protocol, test_fraction)
    rng = np.random.Generator(np.random.PCG64(seed))
    active = np.ones(len(kg.triples), dtype=bool)
    part, held = _assign_parts(kg, protocol, test_fraction, rng, active)
    return _make_split(kg, protocol, seed, test_fraction, part, held)


VALIDATION_SEED_OFFSET = 1_000_003


def validation_split(kg: KnowledgeGraph, split: Split, fraction: float = 0.05) -> Split:
    """A split *inside* ``split``'s training triples, under the same protocol, for tuning without test data.

    The training triples of ``split`` are split again as if they were the whole KG (``fraction`` of their
    heads held out, seed ``split.seed + VALIDATION_SEED_OFFSET``): the result's TRAIN part is a subset of
    ``split``'s, its TEST part is the validation set, and every triple that ``split`` did not train on (its
    TEST and EXCLUDED parts) is EXCLUDED. A model trained on the result's TRAIN part can be tuned on its
    TEST part and then evaluated on ``split``'s TEST part without ever having seen a test triple.
    """
    split._check(kg)
    _check_protocol(split.protocol, fraction)
    seed = int(split.seed) + VALIDATION_SEED_OFFSET
    rng = np.random.Generator(np.random.PCG64(seed))
    active = split.triple_part == TRAIN
    part, held = _assign_parts(kg, split.protocol, fraction, rng, active)
    return _make_split(kg, split.protocol, seed, fraction, part, held)


def load_or_create_validation_split(
    kg: KnowledgeGraph, split: Split, split_dir: str | Path, fraction: float
) -> tuple[Split, Path]:
    """``validation_split(kg, split, fraction)``, saved beside ``split`` (``<split_dir>-validation<f>``) so
    that runs trained on it can be opened later; reused when the saved one is the same."""
    directory = Path(split_dir).with_name(f"{Path(split_dir).name}-validation{fraction:g}")
    validation = validation_split(kg, split, fraction)
    if not (directory / SPLIT_JSON).exists() or Split.load(directory) != validation:
        validation.save(directory)
    return validation, directory


def _check_protocol(protocol: str, fraction: float) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown split protocol {protocol!r}; expected one of {PROTOCOLS}")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {fraction}")


def _assign_parts(
    kg: KnowledgeGraph, protocol: str, fraction: float, rng: np.random.Generator, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Part of every triple and the held-out nodes; only ``active`` triples take part, the others are
    EXCLUDED."""
    heads = kg.triples["head"].to_numpy(np.int64)
    tails = kg.triples["tail"].to_numpy(np.int64)
    part = np.full(len(heads), TRAIN, dtype=np.int8)

    if protocol in ("paper", "inductive"):
        held = _held_out_heads_per_type(kg, heads[active], rng, fraction)
        head_held = np.isin(heads, held)
        part[head_held] = TEST
        if protocol == "inductive":
            part[~head_held & np.isin(tails, held)] = EXCLUDED
    else:
        node_types = kg.node_type_array().astype(str)
        task_names = pd.DataFrame(
            {
                "head_type": node_types[heads],
                "relation": kg.triples["relation"].to_numpy().astype(str),
                "tail_type": node_types[tails],
            }
        )
        tasks = task_names[active].drop_duplicates().sort_values(["head_type", "relation", "tail_type"])
        task_id = pd.MultiIndex.from_frame(task_names).map(
            {tuple(row): i for i, row in enumerate(tasks.itertuples(index=False))}
        )
        task_id = np.asarray(task_id.fillna(-1), dtype=np.int64)
        n = np.int64(kg.num_nodes)
        held_keys = []
        held_nodes = []
        for i in range(len(tasks)):
            chosen = _choose(rng, np.unique(heads[active & (task_id == i)]), fraction)
            held_keys.append(i * n + chosen)
            held_nodes.append(chosen)
        held_keys_arr = np.sort(np.concatenate(held_keys)) if held_keys else np.empty(0, np.int64)
        is_test = active & (task_id >= 0) & np.isin(task_id * n + heads, held_keys_arr)
        part[is_test] = TEST
        rev = _reverse_positions(kg, heads, tails)
        rev_of_test = rev[is_test & (rev >= 0)]
        rev_of_test = rev_of_test[part[rev_of_test] != TEST]
        part[rev_of_test] = EXCLUDED
        held = np.unique(np.concatenate(held_nodes)) if held_nodes else np.empty(0, np.int64)
    part[~active] = EXCLUDED
    return part, held


def _make_split(
    kg: KnowledgeGraph, protocol: str, seed: int, test_fraction: float, part: np.ndarray, held: np.ndarray
) -> Split:
    per_relation: dict[str, dict[str, int]] = {}
    rel = kg.triples["relation"].to_numpy().astype(str)
    table = pd.crosstab(rel, part)
    for name in sorted(table.index):
        per_relation[name] = {PART_NAMES[p]: int(table.loc[name].get(p, 0)) for p in (TRAIN, TEST, EXCLUDED)}
    split = Split(
        protocol=protocol,
        seed=int(seed),
        test_fraction=float(test_fraction),
        kg_hash=kg.content_hash(),
        held_out_nodes=held.astype(np.int64),
        triple_part=part,
        per_relation=per_relation,
    )
    log.info(
        "split %s seed=%d: %s",
        protocol,
        seed,
        {k: v for k, v in split.counts().items() if k != "per_relation"},
    )
    return split


def load_or_create_split(
    kg: KnowledgeGraph,
    directory: str | Path,
    protocol: str = "paper",
    test_fraction: float = 0.1,
    seed: int = 42,
) -> Split:
    """Reuse the split saved in ``directory`` if its settings and KG hash match, else create and save one."""
    directory = Path(directory)
    meta_path = directory / SPLIT_JSON
    kg_hash = kg.content_hash()
    if meta_path.exists():
        try:
            meta = read_json_object(meta_path)
            same = (
                meta.get("protocol") == protocol
                and int(meta.get("seed", -1)) == int(seed)
                and float(meta.get("test_fraction", -1.0)) == float(test_fraction)
                and meta.get("kg_hash") == kg_hash
            )
        except (ValueError, TypeError) as exc:  # a damaged split.json: the split is made again
            log.warning("saved split in %s is unreadable (%s); recreating it", directory, exc)
            same = None
        if same:
            try:
                split = Split.load(directory)
                log.info("reusing split %s (%s)", directory, split.content_hash())
                return split
            except (ValueError, OSError, KeyError) as exc:
                log.warning("saved split in %s is unreadable (%s); recreating it", directory, exc)
        elif same is not None:
            log.info("saved split in %s has other settings or another KG; recreating it", directory)
    split = split_kg(kg, protocol=protocol, test_fraction=test_fraction, seed=seed)
    split.save(directory)
    return split
