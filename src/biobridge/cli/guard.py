"""The CLI's error contract, applied to every command by ``cli/app.py``.

- A user mistake (``biobridge.errors.InputError``, a missing or unreadable file, or a ``ValueError`` raised by
  biobridge's own code) prints ``error: <message>`` on one line and exits 2.
- Ctrl-C prints ``interrupted`` and exits 130.
- Anything else is an internal error: one line naming the exception, and the full traceback written to a log
  file whose path is printed; exit 1. ``biobridge --debug ...`` re-raises instead (full traceback).
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
import traceback
from pathlib import Path

import typer

from biobridge.errors import InputError

_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
# typer's own usage errors (BadParameter and the rest): typer prints them with the usage and exits 2.
_USAGE_ERRORS = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
DEBUG = {"on": False}


def _raised_by_biobridge(exc: BaseException) -> bool:
    """True when the innermost frame of the traceback is biobridge code (its own validation)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    return str(last.tb_frame.f_globals.get("__name__", "")).startswith("biobridge")


def is_user_error(exc: BaseException) -> bool:
    if isinstance(exc, (InputError, *_FILE_ERRORS)):
        return True
    return isinstance(exc, ValueError) and _raised_by_biobridge(exc)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, _FILE_ERRORS) and getattr(exc, "filename", None) and exc.filename not in text:
        text = f"{text}: {exc.filename}"
    return " ".join(text.split())


def write_crash_log(exc: BaseException) -> Path:
    """The traceback of ``exc`` in a new file under the temp directory; returns its path."""
    directory = Path(os.environ.get("BIOBRIDGE_LOG_DIR") or tempfile.gettempdir())
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"biobridge-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return path


def guarded(command):
    """``command`` with the error contract above; typer still sees its signature."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            if isinstance(exc, _USAGE_ERRORS) or DEBUG["on"]:
                raise
            if is_user_error(exc):
                typer.echo(f"error: {_one_line(exc)}", err=True)
                raise typer.Exit(2) from None
            log = write_crash_log(exc)
            typer.echo(
                f"internal error: {type(exc).__name__}: {_one_line(exc)[:300]} "
                f"(traceback in {log}; rerun with --debug to see it here)",
                err=True,
            )
            raise typer.Exit(1) from None

    return run
