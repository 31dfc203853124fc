"""Atomic artifact writing and content hashing shared by every pipeline stage."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from biobridge.errors import InputError


def _umask() -> int:
    """The process umask (read from /proc where it can be, so no thread sees it changed)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _normal_mode(path: Path, directory: bool = False) -> None:
    """Give a file made by ``mkstemp`` (0600) or a directory made by ``mkdtemp`` (0700) the mode ``open`` /
    ``mkdir`` would have given it: 0666 / 0777 less the umask, so run directories can be shared."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temp file onto ``path``.

    An interrupted run leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        _normal_mode(tmp_path)  # after writing: a writer may have made the file anew
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def atomic_directory(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_dir)`` then put the directory in place of ``path``: at any moment ``path`` is the old
    complete directory, the new complete one, or (between two renames) absent with the old one beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    _normal_mode(tmp, directory=True)
    old = None
    try:
        write(tmp)
        if path.exists():
            old = path.with_name(f".{path.name}.{os.getpid()}.old")
            os.replace(path, old)
        os.replace(tmp, path)
    finally:
        import shutil

        for leftover in (tmp, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def replace_section(path: str | Path, start: str, end: str, block: str) -> Path:
    """Write ``block`` (which begins with ``start`` and ends with ``end``) in place of the text between those
    markers in ``path`` (appended when the markers are absent); the rest of the file is kept."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    return write_text(path, text)


def read_json(path: str | Path) -> Any:
    """The JSON value in ``path``; text that is not UTF-8 or not JSON raises ``InputError`` naming the file
    and the line (a missing file: ``FileNotFoundError``)."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply") from None


def read_json_object(path: str | Path, required: Iterable[str] = ()) -> dict[str, Any]:
    """``read_json`` of a file that must hold a JSON object with the ``required`` keys (``InputError`` naming
    the file otherwise)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(data).__name__}")
    missing = [k for k in required if k not in data]
    if missing:
        raise InputError(f"{path}: missing keys {missing}")
    return data


def read_parquet(path: str | Path, columns: Iterable[str] = ()):
    """The table in a parquet file that must have ``columns``; a missing, unreadable or incomplete file raises
    ``InputError`` naming it."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} not found (incomplete artifact directory?)")
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a corrupt file
        raise InputError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing columns {missing} (has {list(table.columns)})")
    return table


def read_csv(path: str | Path, **options):
    """``pandas.read_csv(path, **options)``; text that is not UTF-8, an empty file or a row that cannot be
    parsed raises ``InputError`` naming the file (and the line where it is known).
    ``FileNotFoundError`` for a missing file."""
    import pandas as pd

    path = Path(path)
    try:
        return pd.read_csv(path, **options)
    except UnicodeDecodeError:
        check_utf8(path)  # raises naming the line
        raise InputError(f"{path}: not UTF-8 text") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file, expected a header line") from None
    except (pd.errors.ParserError, ValueError, OverflowError) as exc:  # the message names the line
        raise InputError(f"{path}: cannot be read as CSV: {' '.join(str(exc).split())}") from None


def check_utf8(path: str | Path) -> None:
    """Raise ``InputError`` naming the file, the line and the byte when ``path`` is not UTF-8 text (read in
    blocks cut at line ends, so a large file costs one pass of I/O)."""
    line = 1
    carry = b""
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 24)
            data = carry + block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            chunk, carry = data[:cut], data[cut:]
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                where = line + chunk[: exc.start].count(b"\n")
                raise InputError(
                    f"{path}:{where}: not UTF-8 text (byte 0x{chunk[exc.start]:02x}); save it as UTF-8"
                ) from None
            line += chunk.count(b"\n")
            if not block:
                return


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``None`` (JSON has no NaN) and numpy scalars made
    Python numbers; dict keys become strings."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(float(obj)) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


_HASH_CHUNK = 1 << 14


def hash_strings(parts: Iterable[str]) -> str:
    """SHA-256 over a sequence of strings (each terminated so boundaries count)."""
    if hasattr(parts, "tolist"):  # a pandas Series / numpy array: iterating a list is far faster
        parts = parts.tolist()
    h = hashlib.sha256()
    chunk: list[str] = []
    for part in parts:  # joined in chunks: the same bytes as one update per part, without the per-call cost
        chunk.append(part)
        if len(chunk) == _HASH_CHUNK:
            h.update(("\x00".join(chunk) + "\x00").encode("utf-8"))
            chunk.clear()
    if chunk:
        h.update(("\x00".join(chunk) + "\x00").encode("utf-8"))
    return h.hexdigest()


def hash_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
