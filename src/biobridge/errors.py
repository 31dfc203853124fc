"""The error types a user can act on.

``InputError`` is a mistake in what the user gave (a file, an option value, a query, a run directory): the CLI
prints its message on one line and exits 2. It subclasses ``ValueError`` so library callers that catch
``ValueError`` keep working. ``UnknownNameError`` (also a ``KeyError``) names an unknown node type, relation or
node. ``LockedError`` says that another process holds the working directory.
Anything else reaching the CLI is an internal error (a short message, the traceback in a log file).
"""

from __future__ import annotations

__all__ = ["InputError", "LockedError", "UnknownNameError"]


class InputError(ValueError):
    """Bad input from the user; the message says what and where (file, line, option)."""


class LockedError(InputError):
    """Another process is writing the same working directory (or artifact)."""


class UnknownNameError(InputError, KeyError):
    """An unknown node type, relation, task or node id; also a ``KeyError`` for callers that catch that."""

    __str__ = BaseException.__str__  # the message as given, not KeyError's quoted repr
