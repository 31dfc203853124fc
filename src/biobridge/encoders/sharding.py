"""Shards of an encoding run: which slice of a node type a shard encodes, where it is stored, torchrun ranks.

Shard ``i`` of ``n`` (``biobridge encode --shard i/n``) encodes, for every node type, the valid items at
positions ``i, i + n, i + 2n, ...`` of the type's valid items in KG order (round robin: balanced to within one
item, and, since node order is unrelated to sequence length, balanced in cost too). The invalid items
(recorded failures) are split the same way over the type's rows, so every node is reported by exactly one
shard. Shards are written to ``<store>/shards/``::

    <node_type>.<i>-of-<n>.safetensors   ``embeddings`` float32 (n_encoded, dim) and ``node_index`` int64
    <node_type>.<i>-of-<n>.json          the shard's manifest entry (one file per shard, so shards running
                                         at the same time on different machines never write the same file)

Writing, skipping and merging shards is ``biobridge.encoders.shard_merge``: ``merge_shards`` assembles them
into the ordinary ``<node_type>.safetensors`` + ``manifest.json`` entry, identical to what an unsharded run
writes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

SHARD_DIR = "shards"
SHARD_FORMAT = "biobridge-embedding-shard"
_SHARD_FILE = re.compile(r"^(?P<node_type>.+)\.(?P<index>\d+)-of-(?P<count>\d+)\.json$")


@dataclass(frozen=True, order=True)
class Shard:
    """Shard ``index`` of ``count`` (0 <= index < count)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not isinstance(self.index, int) or not isinstance(self.count, int):
            raise TypeError("shard index and count must be integers")
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"invalid shard {self.index}/{self.count}: need 0 <= i < n and n >= 1")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def tag(self) -> str:
        return f"{self.index}-of-{self.count}"

    @classmethod
    def parse(cls, value: str | tuple[int, int] | Shard) -> Shard:
        """``"i/n"``, ``(i, n)`` or a ``Shard``."""
        if isinstance(value, Shard):
            return value
        if isinstance(value, tuple | list):
            if len(value) != 2:
                raise ValueError(f"a shard is (index, count), got {value!r}")
            return cls(int(value[0]), int(value[1]))
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(value))
        if not m:
            raise ValueError(f"a shard looks like 'i/n' (e.g. '0/4'), got {value!r}")
        return cls(int(m.group(1)), int(m.group(2)))


def shard_from_env(environ: dict[str, str] | None = None) -> Shard | None:
    """This process's shard under ``torchrun`` (``RANK`` of ``WORLD_SIZE`` when WORLD_SIZE > 1), else None."""
    env = os.environ if environ is None else environ
    world = env.get("WORLD_SIZE")
    if world is None or int(world) <= 1:
        return None
    if "RANK" not in env:
        raise RuntimeError("WORLD_SIZE > 1 but RANK is not set: launch with torchrun or pass --shard i/n")
    return Shard(int(env["RANK"]), int(world))


def resolve_shard(shard: str | tuple[int, int] | Shard | None) -> Shard | None:
    """``None`` -> unsharded; ``"auto"`` -> ``shard_from_env()``; otherwise ``Shard.parse``.

    A shard ``0/1`` is the whole type, i.e. an ordinary unsharded run, so it resolves to None.
    """
    if shard is None:
        return None
    resolved = shard_from_env() if shard == "auto" else Shard.parse(shard)
    if resolved is not None and resolved.count == 1:
        return None
    return resolved


def bind_local_device(environ: dict[str, str] | None = None) -> None:
    """Under torchrun, make ``cuda`` mean this rank's GPU (``LOCAL_RANK``) so ranks do not share GPU 0."""
    env = os.environ if environ is None else environ
    if "LOCAL_RANK" not in env:
        return
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() > 1:
        torch.cuda.set_device(int(env["LOCAL_RANK"]) % torch.cuda.device_count())


def shard_positions(n_items: int, shard: Shard) -> range:
    """Positions ``shard.index, shard.index + count, ...`` of ``range(n_items)`` (round robin)."""
    return range(shard.index, n_items, shard.count)


def shard_dir(store_dir: str | Path) -> Path:
    return Path(store_dir) / SHARD_DIR


def shard_paths(store_dir: str | Path, node_type: str, shard: Shard) -> tuple[Path, Path]:
    """(tensor file, manifest-entry file) of one shard of one node type."""
    base = shard_dir(store_dir) / f"{node_type}.{shard.tag}"
    return base.with_name(base.name + ".safetensors"), base.with_name(base.name + ".json")


def list_shard_entries(store_dir: str | Path) -> list[tuple[str, Shard, Path]]:
    """(node_type, shard, entry path) for every shard-entry file in the store, sorted."""
    directory = shard_dir(store_dir)
    if not directory.is_dir():
        return []
    out = []
    for path in directory.iterdir():
        m = _SHARD_FILE.match(path.name)
        if m and not path.name.startswith("."):
            shard = Shard(int(m.group("index")), int(m.group("count")))
            out.append((m.group("node_type"), shard, path))
    return sorted(out, key=lambda t: (t[0], t[1].count, t[1].index))
