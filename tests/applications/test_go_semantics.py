"""Lin similarity and best-match average on a hand-built GO fragment, checked against hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest

from biobridge.applications.go_semantics import GOSemantics, best_match_average

R, A, B, C, D, E = "GO:0008150", "GO:1", "GO:2", "GO:3", "GO:4", "GO:5"


@pytest.fixture(scope="module")
def sem():
    terms = pd.DataFrame({"go_id": [R, A, B, C, D, E, "GO:9"], "aspect": ["BP"] * 6 + ["MF"]})
    parents = pd.DataFrame(
        [
            (A, R, "isa"),
            (B, R, "isa"),
            (C, A, "isa"),
            (D, A, "isa"),
            (E, C, "part of"),
            (D, B, "regulates"),  # ignored for ancestry
        ],
        columns=["child", "parent", "relationship_type"],
    )
    ann = pd.DataFrame(
        [
            ("p1", C, "BP", "IDA"),
            ("p2", D, "BP", "IEA"),
            ("p3", B, "BP", "IMP"),
            ("p4", E, "BP", "IDA"),
            ("p4", B, "BP", "IDA"),
            ("p5", R, "BP", "ND"),  # no-data annotation: excluded
            ("p6", "GO:9", "MF", "IDA"),  # other aspect
        ],
        columns=["uniprot_acc", "go_id", "aspect", "evidence"],
    )
    return GOSemantics.from_tables("biological_process", terms, parents, ann)


def test_counts_and_information_content(sem):
    # propagated: p1 {C,A,R}, p2 {D,A,R}, p3 {B,R}, p4 {E,C,A,R,B}
    counts = dict(zip(sem.terms, sem.counts, strict=True))
    assert counts == {R: 4, A: 3, B: 2, C: 2, D: 1, E: 1}
    ic = dict(zip(sem.terms, sem.ic, strict=True))
    assert ic[R] == 0.0
    assert ic[A] == pytest.approx(math.log(4 / 3))
    assert ic[D] == pytest.approx(math.log(4))
    assert set(sem.protein_terms) == {"p1", "p2", "p3", "p4"}


def test_lin_hand_computed(sem):
    assert sem.lin(C, D) == pytest.approx(2 * math.log(4 / 3) / (math.log(2) + math.log(4)))
    assert sem.lin(C, E) == pytest.approx(2 / 3)  # MICA = C itself
    assert sem.lin(B, C) == 0.0  # only the root in common
    assert sem.lin(B, D) == 0.0  # 'regulates' is not ancestry
    assert sem.lin(D, D) == 1.0
    m = sem.lin_matrix(sem.term_index([C, E]), sem.term_index([D, E, B]))
    assert m.shape == (2, 3)
    assert m[1, 1] == 1.0 and m[0, 1] == pytest.approx(2 / 3)


def test_best_match_average(sem):
    # p1 = {C}, p4 = {E, B}: matrix [[2/3, 0]] -> (2/3 + (2/3 + 0) / 2) / 2 = 0.5
    assert sem.protein_similarity("p1", "p4") == pytest.approx(0.5)
    assert sem.protein_similarity("p4", "p1") == pytest.approx(0.5)
    assert sem.protein_similarity("p2", "p2") == 1.0
    assert best_match_average(np.array([[1.0, 0.2], [0.4, 0.6]])) == pytest.approx((0.8 + 0.8) / 2)
    with pytest.raises(KeyError):
        sem.term_index(["GO:9"])  # an MF term is not in the BP table


def test_packaged_go_loads():
    sem = GOSemantics.from_files("CC")
    assert sem.counts[sem.term_index(["GO:0005575"])[0]] == sem.counts.max()
    # nucleus vs nuclear lumen share a specific ancestor; nucleus vs itself is 1
    nucleus, lumen, membrane = "GO:0005634", "GO:0031981", "GO:0016020"
    assert sem.lin(nucleus, nucleus) == 1.0
    assert sem.lin(nucleus, lumen) > sem.lin(nucleus, membrane)
