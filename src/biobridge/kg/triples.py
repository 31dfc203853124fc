"""Reverse relations and reverse triples: the one rule every KG builder uses.

biobridge needs every triple's reverse, under an explicit reverse relation name:

- A **directed** relation ``r`` has the reverse ``rev_r`` (:data:`REVERSE_PREFIX` + ``r``); each forward
  triple ``(h, r, t)`` gets the reverse triple ``(t, rev_r, h)``.
- A **symmetric** relation (PrimeKG's ``ppi``, ``synergistic_interaction``, ``parent_child``) is its own
  reverse: ``(h, r, t)`` gets the mirror ``(t, r, h)`` under the same name, and no ``rev_`` name exists.

:func:`reverse_relation_map` writes the ``reverse_relations`` table of a ``KnowledgeGraph`` and
:func:`with_reverse_triples` turns forward triples into the stored triple table (both directions, duplicates
merged, sorted by (relation, head, tail)).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from biobridge.kg.graph import TRIPLE_COLUMNS, KGFormatError

REVERSE_PREFIX = "rev_"


def reverse_name(relation: str, *, symmetric: bool = False) -> str:
    """Name of the reverse of ``relation``: ``rev_<relation>``, or ``relation`` itself when ``symmetric``."""
    return relation if symmetric else REVERSE_PREFIX + relation


def is_reverse_name(relation: str) -> bool:
    """Whether ``relation`` is written as a reverse name (starts with :data:`REVERSE_PREFIX`)."""
    return relation.startswith(REVERSE_PREFIX)


def reverse_relation_map(
    directed: Iterable[str], symmetric: Iterable[str] = (), *, interleave: bool = False
) -> dict[str, str]:
    """``reverse_relations`` for the given forward relations: ``r <-> rev_r`` and ``s -> s`` (symmetric).

    The dict order is kept as given (it is written to ``kg.json``): symmetric relations first, then every
    directed relation, then every reverse name; with ``interleave`` each directed relation is directly
    followed by its reverse name.
    """
    directed = list(directed)
    out = {s: reverse_name(s, symmetric=True) for s in symmetric}
    if interleave:
        for r in directed:
            out[r] = reverse_name(r)
            out[reverse_name(r)] = r
    else:
        out.update({r: reverse_name(r) for r in directed})
        out.update({reverse_name(r): r for r in directed})
    return out


def with_reverse_triples(forward: pd.DataFrame, reverse_of: Mapping[str, str]) -> pd.DataFrame:
    """The triple table of a KG from its forward triples: each ``(h, r, t)`` plus ``(t, reverse_of[r], h)``.

    ``forward`` has the columns ``head``, ``relation``, ``tail``. Duplicate triples are merged (for a
    symmetric relation a mirror already present is not added twice), and the result is sorted by
    (relation, head, tail) with a fresh 0..N-1 index and int64 ``head`` / ``tail``. The number of merged rows
    is ``2 * len(forward) - len(result)``.
    """
    codes, relations = pd.factorize(forward["relation"])
    missing = sorted(set(relations) - set(reverse_of))
    if missing:
        raise KGFormatError(f"relations without a reverse name: {missing}")
    reverse_names = np.asarray([reverse_of[r] for r in relations], dtype=object)
    reverse = pd.DataFrame(
        {
            "head": forward["tail"].to_numpy(),
            "relation": reverse_names[codes],
            "tail": forward["head"].to_numpy(),
        }
    )
    triples = pd.concat([forward[list(TRIPLE_COLUMNS)], reverse], ignore_index=True).drop_duplicates()
    triples = triples.sort_values(["relation", "head", "tail"], kind="mergesort").reset_index(drop=True)
    triples["head"] = triples["head"].astype(np.int64)
    triples["tail"] = triples["tail"].astype(np.int64)
    return triples
