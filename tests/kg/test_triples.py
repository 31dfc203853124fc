from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biobridge.kg.graph import KGFormatError
from biobridge.kg.triples import (
    REVERSE_PREFIX,
    is_reverse_name,
    reverse_name,
    reverse_relation_map,
    with_reverse_triples,
)


def test_reverse_names():
    assert REVERSE_PREFIX == "rev_"
    assert reverse_name("target") == "rev_target"
    assert reverse_name("ppi", symmetric=True) == "ppi"
    assert is_reverse_name("rev_target") and not is_reverse_name("target")


def test_reverse_relation_map_orders():
    grouped = reverse_relation_map(["b", "a"], ["s"])
    assert list(grouped.items()) == [
        ("s", "s"),
        ("b", "rev_b"),
        ("a", "rev_a"),
        ("rev_b", "b"),
        ("rev_a", "a"),
    ]
    paired = reverse_relation_map(["a", "b"], ["s"], interleave=True)
    assert list(paired.items()) == [
        ("s", "s"),
        ("a", "rev_a"),
        ("rev_a", "a"),
        ("b", "rev_b"),
        ("rev_b", "b"),
    ]


def test_with_reverse_triples_directed_and_symmetric():
    forward = pd.DataFrame(
        {
            "head": np.asarray([5, 5, 2, 1, 0], np.int64),
            "relation": ["target", "target", "ppi", "ppi", "ppi"],
            "tail": np.asarray([1, 1, 1, 2, 3], np.int64),
        },
        index=[10, 11, 12, 13, 14],
    )
    out = with_reverse_triples(forward, reverse_relation_map(["target"], ["ppi"]))
    assert out.index.tolist() == list(range(len(out)))
    assert out["head"].dtype == np.int64 and out["tail"].dtype == np.int64
    assert list(map(tuple, out.values.tolist())) == [
        (0, "ppi", 3),
        (1, "ppi", 2),
        (2, "ppi", 1),
        (3, "ppi", 0),  # mirror added
        (1, "rev_target", 5),
        (5, "target", 1),  # duplicate merged
    ]
    assert 2 * len(forward) - len(out) == 4


def test_with_reverse_triples_needs_every_reverse():
    forward = pd.DataFrame({"head": [0], "relation": ["x"], "tail": [1]})
    with pytest.raises(KGFormatError, match="'x'"):
        with_reverse_triples(forward, {"y": "rev_y"})
