"""The text feature of text-modality nodes (GO terms, diseases, other PrimeKG types).

``"Name: {name}. Definition: {definition}"``, or ``"Name: {name}."`` when the definition is empty or not
given. No period is appended after the definition, and nothing is stripped: the strings are used as given.
Every KG builder of ``biobridge.kg`` writes node text through :func:`node_text`, so the default KG and
PrimeKG agree character for character.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

TEXT_TEMPLATE = "Name: {name}. Definition: {definition}"
TEXT_TEMPLATE_NO_DEFINITION = "Name: {name}."


def node_text(
    name: pd.Series | Iterable[str], definition: pd.Series | Iterable[str] | None = None
) -> pd.Series:
    """Node text for every ``name`` (with its ``definition``), vectorised.

    ``name`` and ``definition`` are Series (the result keeps ``name``'s index; a ``definition`` Series is
    aligned on it) or plain lists of strings (``node_text(["nucleus"], [""]).tolist() == ["Name: nucleus."]``).
    ``definition=None`` gives ``"Name: {name}."`` for every name.
    """
    name = name if isinstance(name, pd.Series) else pd.Series(list(name))
    short = "Name: " + name + "."
    if definition is None:
        return short
    if not isinstance(definition, pd.Series):
        definition = pd.Series(list(definition), index=name.index)
    return short.where(definition == "", "Name: " + name + ". Definition: " + definition)
