from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from biobridge.kg.split import EXCLUDED, TEST, TRAIN, Split, load_or_create_split, split_kg


def _keys(df):
    return set(zip(df["head"].tolist(), df["relation"].tolist(), df["tail"].tolist(), strict=True))


def _reverse(kg, df):
    return pd.DataFrame(
        {"head": df["tail"], "relation": df["relation"].map(kg.reverse_relations), "tail": df["head"]}
    )


@pytest.mark.parametrize("protocol", ["paper", "inductive", "transductive"])
def test_split_is_seeded(small_kg, protocol):
    a = split_kg(small_kg, protocol, 0.1, seed=3)
    b = split_kg(small_kg, protocol, 0.1, seed=3)
    c = split_kg(small_kg, protocol, 0.1, seed=4)
    assert a == b and a.content_hash() == b.content_hash()
    assert not np.array_equal(a.triple_part, c.triple_part)
    assert a.content_hash() != c.content_hash()
    assert a.kg_hash == small_kg.content_hash()
    counts = a.counts()
    assert counts["train"] + counts["test"] + counts["excluded"] == len(small_kg.triples)
    assert counts["test"] > 0 and counts["train"] > 0


def test_paper_holds_out_ten_percent_per_type_and_leaks(small_kg):
    split = split_kg(small_kg, "paper", 0.1, seed=42)
    types = small_kg.node_type_array()
    heads = small_kg.triples["head"].unique()
    for t in small_kg.node_types:
        n = int((types[heads] == t).sum())
        assert int((types[split.held_out_nodes] == t).sum()) == round(0.1 * n), t
    test = split.test_triples(small_kg)
    assert set(test["head"]) == set(split.held_out_nodes)
    assert (split.triple_part != EXCLUDED).all()
    # the leak: the reverse of a test triple is a training triple (unless its tail is held out too)
    leaked = _keys(_reverse(small_kg, test)) & _keys(split.train_triples(small_kg))
    tail_kept = ~np.isin(test["tail"], split.held_out_nodes)
    assert len(leaked) == int(tail_kept.sum()) > 0.8 * len(test)


def test_inductive_has_no_training_triple_touching_held_out(small_kg):
    paper = split_kg(small_kg, "paper", 0.1, seed=42)
    split = split_kg(small_kg, "inductive", 0.1, seed=42)
    assert np.array_equal(paper.held_out_nodes, split.held_out_nodes)
    assert np.array_equal(paper.triple_part == TEST, split.triple_part == TEST)
    held = split.held_out_nodes
    train = split.train_triples(small_kg)
    assert not np.isin(train["head"], held).any()
    assert not np.isin(train["tail"], held).any()
    excluded = small_kg.triples[split.triple_part == EXCLUDED]
    assert np.isin(excluded["tail"], held).all() and not np.isin(excluded["head"], held).any()
    assert (
        split.train_nodes(small_kg).size + 0
        == np.setdiff1d(np.union1d(train["head"], train["tail"]), held).size
    )


def test_transductive_held_out_pairs_lose_the_task_both_ways(small_kg):
    split = split_kg(small_kg, "transductive", 0.1, seed=42)
    types = small_kg.node_type_array()
    t = small_kg.triples.assign(ht=types[small_kg.triples["head"]], tt=types[small_kg.triples["tail"]])
    part = split.triple_part
    test = t[part == TEST]
    train = t[part == TRAIN]
    held_pairs = set(zip(test["head"], test["relation"], test["tt"], strict=True))
    # no training triple of a held-out (head, task) in the forward direction
    fwd = set(zip(train["head"], train["relation"], train["tt"], strict=True))
    assert not held_pairs & fwd
    # ... nor in the reverse direction: (x, rev_r, head) with x of the task's tail type
    rev = set(zip(train["tail"], train["relation"].map(small_kg.reverse_relations), train["ht"], strict=True))
    assert not held_pairs & rev
    # held-out heads keep their edges of other tasks: those in several tasks nearly all still train
    n_tasks = t.groupby("head")[["relation", "tt"]].apply(lambda g: len(g.drop_duplicates()))
    multi = np.intersect1d(split.held_out_nodes, n_tasks.index[n_tasks > 1])
    assert len(multi) > 100
    assert np.isin(multi, np.union1d(train["head"], train["tail"])).mean() > 0.9
    # every task holds out about 10 % of its heads
    for (ht, rel, tt), grp in t.groupby(["ht", "relation", "tt"]):
        n_heads = grp["head"].nunique()
        n_held = grp.loc[part[grp.index] == TEST, "head"].nunique()
        assert n_held == (0 if n_heads < 2 else min(n_heads - 1, max(1, round(0.1 * n_heads)))), (ht, rel, tt)
    # reverse of every test triple is EXCLUDED or itself TEST, never TRAIN
    assert not _keys(_reverse(small_kg, test)) & _keys(train)
    excluded = t[part == EXCLUDED]
    assert _keys(excluded) <= _keys(_reverse(small_kg, test))


def test_full_kg_split_speed(default_kg):
    t0 = time.perf_counter()
    split = split_kg(default_kg, "transductive", 0.1, seed=42)
    assert time.perf_counter() - t0 < 15
    assert split.counts()["test"] > 0.08 * len(default_kg.triples)


def test_save_load_and_reuse(small_kg, tmp_path):
    d = tmp_path / "split"
    split = load_or_create_split(small_kg, d, "inductive", 0.1, 7)
    assert {p.name for p in d.iterdir()} == {"split.json", "split.parquet", "held_out_nodes.parquet"}
    back = Split.load(d)
    assert back == split and back.triple_part.dtype == np.int8
    assert back.counts() == split.counts()
    stamp = (d / "split.json").stat().st_mtime_ns
    time.sleep(0.01)
    again = load_or_create_split(small_kg, d, "inductive", 0.1, 7)
    assert again == split and (d / "split.json").stat().st_mtime_ns == stamp  # reused, not rewritten
    other = load_or_create_split(small_kg, d, "inductive", 0.1, 8)
    assert other.seed == 8 and Split.load(d) == other  # different settings: rewritten


def test_load_rejects_tampered_split(small_kg, tmp_path):
    split = split_kg(small_kg, "paper", 0.1, 1)
    split.save(tmp_path)
    parts = split.triple_part.copy()
    parts[0] = EXCLUDED if parts[0] != EXCLUDED else TRAIN
    pd.DataFrame({"triple_part": parts}).to_parquet(tmp_path / "split.parquet", index=False)
    with pytest.raises(ValueError, match="content hash"):
        Split.load(tmp_path)
    # load_or_create_split recovers by recreating it
    fixed = load_or_create_split(small_kg, tmp_path, "paper", 0.1, 1)
    assert fixed == split


def test_bad_arguments(small_kg, default_kg):
    with pytest.raises(ValueError, match="protocol"):
        split_kg(small_kg, "random")
    with pytest.raises(ValueError, match="test_fraction"):
        split_kg(small_kg, "paper", 1.0)
    with pytest.raises(ValueError, match="another KG"):
        split_kg(small_kg, "paper").train_triples(default_kg)


@pytest.mark.parametrize("protocol", ["paper", "inductive", "transductive"])
def test_validation_split_lies_inside_the_training_part(small_kg, protocol):
    from biobridge.kg.split import validation_split

    outer = split_kg(small_kg, protocol, 0.1, seed=42)
    val = validation_split(small_kg, outer, 0.1)
    assert val == validation_split(small_kg, outer, 0.1)  # seeded
    assert val.protocol == protocol and val.seed != outer.seed
    # nothing the outer split did not train on is used, for training or validation
    assert (val.triple_part[outer.triple_part != TRAIN] == EXCLUDED).all()
    assert (val.triple_part == TEST).sum() > 0 and (val.triple_part == TRAIN).sum() > 0
    # validation heads are training heads of the outer split, never its held-out nodes (paper/inductive)
    val_heads = np.unique(small_kg.triples["head"].to_numpy()[val.triple_part == TEST])
    outer_train_heads = np.unique(small_kg.triples["head"].to_numpy()[outer.triple_part == TRAIN])
    assert np.isin(val_heads, outer_train_heads).all()
    if protocol == "inductive":
        train = val.train_triples(small_kg)
        assert not np.isin(train["head"], val.held_out_nodes).any()
        assert not np.isin(train["tail"], val.held_out_nodes).any()
    if protocol == "transductive":
        # a validation edge's reverse is not trained on
        test = val.test_triples(small_kg)
        assert not _keys(_reverse(small_kg, test)) & _keys(val.train_triples(small_kg))


def test_validation_split_rejects_a_bad_fraction(small_kg):
    from biobridge.kg.split import validation_split

    outer = split_kg(small_kg, "paper", 0.1, seed=42)
    with pytest.raises(ValueError, match="test_fraction"):
        validation_split(small_kg, outer, 1.0)
