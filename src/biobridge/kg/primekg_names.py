"""PrimeKG names: its node types and display relations as biobridge identifiers, and the type priority.

The rules (stated in full in ``biobridge.kg.primekg``): node type ``gene/protein`` -> ``protein``, every
other type and every ``display_relation`` through :func:`identifier` (lower case, each run of characters
other than ``a-z0-9`` -> one ``_``). ``TYPE_PRIORITY`` orders node types: the head of a directed relation's
forward triple is the endpoint whose type comes first. The importer of the original checkpoint
(``biobridge.bridge.import_original``) uses the same functions, so names agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from biobridge.kg.graph import KGFormatError
from biobridge.kg.triples import is_reverse_name

DEFAULT_TYPES: tuple[str, ...] = (
    "protein",
    "biological_process",
    "molecular_function",
    "cellular_component",
    "drug",
    "disease",
)
# Head of a directed relation's forward triple = the endpoint whose type comes first here.
TYPE_PRIORITY: tuple[str, ...] = (
    "drug",
    "disease",
    "protein",
    "biological_process",
    "molecular_function",
    "cellular_component",
    "effect_phenotype",
    "anatomy",
    "pathway",
    "exposure",
)
SPECIAL_TYPE_NAMES = {"gene/protein": "protein"}

# PrimeKG's 18 display relations and the (x_type, y_type) pairs each joins (PrimeKG names; from the
# PrimeKG paper's 30 relation types). Used by the original-checkpoint importer, which has no KG to look at.
PRIMEKG_RELATION_TYPES: dict[str, tuple[tuple[str, str], ...]] = {
    "ppi": (("gene/protein", "gene/protein"),),
    "target": (("drug", "gene/protein"),),
    "enzyme": (("drug", "gene/protein"),),
    "transporter": (("drug", "gene/protein"),),
    "carrier": (("drug", "gene/protein"),),
    "contraindication": (("drug", "disease"),),
    "indication": (("drug", "disease"),),
    "off-label use": (("drug", "disease"),),
    "synergistic interaction": (("drug", "drug"),),
    "side effect": (("drug", "effect/phenotype"),),
    "associated with": (("disease", "gene/protein"), ("effect/phenotype", "gene/protein")),
    "phenotype present": (("disease", "effect/phenotype"),),
    "phenotype absent": (("disease", "effect/phenotype"),),
    "linked to": (("exposure", "disease"),),
    "expression present": (("anatomy", "gene/protein"),),
    "expression absent": (("anatomy", "gene/protein"),),
    "interacts with": (
        ("biological_process", "gene/protein"),
        ("molecular_function", "gene/protein"),
        ("cellular_component", "gene/protein"),
        ("pathway", "gene/protein"),
        ("exposure", "gene/protein"),
        ("exposure", "biological_process"),
        ("exposure", "molecular_function"),
        ("exposure", "cellular_component"),
    ),
    "parent-child": (
        ("biological_process", "biological_process"),
        ("molecular_function", "molecular_function"),
        ("cellular_component", "cellular_component"),
        ("disease", "disease"),
        ("effect/phenotype", "effect/phenotype"),
        ("anatomy", "anatomy"),
        ("pathway", "pathway"),
        ("exposure", "exposure"),
    ),
}

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def identifier(name: str) -> str:
    """PrimeKG display name -> biobridge identifier: lower case, runs of non ``[a-z0-9]`` -> ``_``."""
    out = _NON_ALNUM.sub("_", str(name).strip().lower()).strip("_")
    if not out:
        raise KGFormatError(f"cannot make an identifier from {name!r}")
    return out


def node_type_name(primekg_type: str) -> str:
    """PrimeKG node type -> biobridge node type (``gene/protein`` -> ``protein``, else :func:`identifier`)."""
    key = str(primekg_type).strip()
    return SPECIAL_TYPE_NAMES.get(key, identifier(key))


def relation_name(display_relation: str) -> str:
    """PrimeKG ``display_relation`` -> biobridge forward relation (``off-label use`` -> ``off_label_use``)."""
    name = identifier(display_relation)
    if is_reverse_name(name):
        raise KGFormatError(
            f"relation {display_relation!r} maps to {name!r}, which looks like a reverse name"
        )
    return name


def type_priority(node_type: str) -> tuple[int, str]:
    """Sort key: position in ``TYPE_PRIORITY``, unknown types after it alphabetically."""
    try:
        return (TYPE_PRIORITY.index(node_type), "")
    except ValueError:
        return (len(TYPE_PRIORITY), node_type)


def is_symmetric_pairs(type_pairs: Iterable[tuple[str, str]]) -> bool:
    """A relation is symmetric (its own reverse) when every type pair it joins is a same-type pair."""
    pairs = list(type_pairs)
    return bool(pairs) and all(a == b for a, b in pairs)
