import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from biobridge.encoders import encode_kg, merge_shards, shard_status
from biobridge.encoders.base import Encoder
from biobridge.encoders.morgan import MorganEncoder
from biobridge.encoders.protein_composition import ProteinCompositionEncoder
from biobridge.encoders.sharding import Shard, resolve_shard, shard_from_env, shard_positions

from .conftest import make_kg
from .test_store import CountingEncoder, FakeText

# 11 proteins (2 invalid), 9 drugs (2 invalid), 5 texts (1 invalid): uneven over 3 shards on purpose
PROTEINS = [
    ("P1", "MKTAYIAKQRQISFVKSHFSRQ"),
    ("P2", "ACDEFGHIKLMNPQRSTVWY"),
    ("P3", "MKX12"),
    ("P4", "GGGGAAAAC"),
    ("P5", "MSTNPKPQRKTKRNTNRRPQDVKFPGG"),
    ("P6", "MADEEKLPPGWEKRMSRSSGRVYYFNHITNASQWERPSG"),
    ("P7", None),
    ("P8", "MWWWWCCCHHHKKK"),
    ("P9", "MAAALLLKKKEEEDDD"),
    ("P10", "MPPPPGGGSSS"),
    ("P11", "MNNNQQQTTTYYY"),
]
DRUGS = [
    ("D1", "CCO"),
    ("D2", "CC(=O)Oc1ccccc1C(=O)O"),
    ("D3", "C1CC"),
    ("D4", "c1ccccc1"),
    ("D5", "CCN(CC)CC"),
    ("D6", "not a smiles"),
    ("D7", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"),
    ("D8", "O=C(O)c1ccccc1O"),
    ("D9", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"),
]
TEXTS = [
    ("GO:1", "Name: kinase activity. Definition: Catalysis of the transfer of a phosphate group."),
    ("GO:2", "Name: nucleus. Definition: A membrane-bounded organelle containing the chromosomes."),
    ("GO:3", "   "),
    ("GO:4", "Name: apoptotic process."),
    ("GO:5", "Name: ribosome. Definition: An intracellular organelle, about 200 A in diameter."),
]


def big_kg():
    return make_kg(proteins=PROTEINS, drugs=DRUGS, texts=TEXTS)


def encoders(text=None):
    return {
        "protein": CountingEncoder(ProteinCompositionEncoder()),
        "molecule": CountingEncoder(MorganEncoder()),
        "text": text if text is not None else FakeText(),
    }


def manifest(store_dir):
    return json.loads((store_dir / "manifest.json").read_text())["node_types"]


def assert_same_store(a, b, node_types=("protein", "drug", "go"), atol=None):
    ma, mb = manifest(a), manifest(b)
    for t in node_types:
        ea, eb = ma[t], mb[t]
        for key in (
            "encoder",
            "encoder_config",
            "spec",
            "modality",
            "dim",
            "n_nodes",
            "n_encoded",
            "n_failures",
        ):
            assert ea[key] == eb[key], (t, key)
        assert ea["input_hash"] == eb["input_hash"]
        assert ea["failures"] == eb["failures"]
        ta, tb = load_file(str(a / f"{t}.safetensors")), load_file(str(b / f"{t}.safetensors"))
        np.testing.assert_array_equal(ta["node_index"], tb["node_index"])
        assert ta["embeddings"].dtype == tb["embeddings"].dtype == np.float32
        if atol is None:
            assert ta["embeddings"].tobytes() == tb["embeddings"].tobytes(), t  # bitwise
        else:
            np.testing.assert_allclose(ta["embeddings"], tb["embeddings"], rtol=0, atol=atol)


def test_shard_parsing_and_env(monkeypatch):
    assert Shard.parse("1/4") == Shard(1, 4) == Shard.parse((1, 4))
    assert str(Shard(2, 3)) == "2/3" and Shard(2, 3).tag == "2-of-3"
    for bad in ("4/4", "-1/2", "1", "a/b", "1/0"):
        with pytest.raises(ValueError):
            Shard.parse(bad)
    assert list(shard_positions(7, Shard(1, 3))) == [1, 4]
    assert resolve_shard(None) is None and resolve_shard("0/1") is None
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert resolve_shard("auto") is None
    assert shard_from_env({"WORLD_SIZE": "1", "RANK": "0"}) is None
    assert shard_from_env({"WORLD_SIZE": "4", "RANK": "3"}) == Shard(3, 4)
    with pytest.raises(RuntimeError, match="RANK"):
        shard_from_env({"WORLD_SIZE": "2"})
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert resolve_shard("auto") == Shard(1, 2)


def test_sharded_equals_unsharded_bitwise(tmp_path):
    kg = big_kg()
    encode_kg(kg, tmp_path / "full", encoders=encoders(), progress=False)
    sharded = tmp_path / "sharded"
    for i in range(3):
        encode_kg(kg, sharded, encoders=encoders(), progress=False, shard=(i, 3))
        merged = set(manifest(sharded))
        assert merged == (set() if i < 2 else {"protein", "drug", "go"})  # merged when the last shard lands
    assert_same_store(tmp_path / "full", sharded)

    shard_files = sorted(p.name for p in (sharded / "shards").iterdir() if not p.name.startswith("."))
    assert shard_files == sorted(
        f"{t}.{i}-of-3.{ext}"
        for t in ("protein", "drug", "go")
        for i in range(3)
        for ext in ("json", "safetensors")
    )
    m = manifest(sharded)
    # valid items are dealt round robin: 9 proteins -> 3/3/3, 7 drugs -> 3/2/2, 4 texts -> 2/1/1
    assert m["protein"]["shards"]["n_encoded"] == [3, 3, 3]
    assert m["drug"]["shards"]["n_encoded"] == [3, 2, 2]
    assert m["go"]["shards"]["n_encoded"] == [2, 1, 1]
    # failures of every shard are in the merged entry
    assert [f["node_id"] for f in m["protein"]["failures"]] == ["P3", "P7"]
    assert [f["node_id"] for f in m["drug"]["failures"]] == ["D3", "D6"]
    per_shard = [json.loads((sharded / "shards" / f"protein.{i}-of-3.json").read_text()) for i in range(3)]
    assert sum(e["n_failures"] for e in per_shard) == 2
    assert all(e["input_hash"] == m["protein"]["input_hash"] for e in per_shard)


def test_interrupted_run_resumes_without_redoing_finished_shards(tmp_path):
    kg = big_kg()
    store = tmp_path / "emb"
    first = encoders()
    encode_kg(kg, store, encoders=first, progress=False, shard="0/2", node_types=["protein", "drug"])
    assert first["protein"].items == 5 and first["molecule"].items == 4  # ceil(9/2), ceil(7/2)

    class Crash(CountingEncoder):
        def _encode_valid(self, items, batch_size, progress):
            raise RuntimeError("node died")

    crashing = encoders()
    crashing["protein"] = Crash(ProteinCompositionEncoder())
    with pytest.raises(RuntimeError, match="node died"):
        encode_kg(kg, store, encoders=crashing, progress=False, shard="1/2", node_types=["protein", "drug"])
    assert not (store / "shards" / "protein.1-of-2.json").exists()  # nothing half-written
    status = {v["node_type"]: v["missing"] for v in shard_status(store).values()}
    assert status == {"protein": [1], "drug": [1]}
    with pytest.raises(ValueError, match=r"protein: 2 shards, missing \[1\]"):
        merge_shards(store)

    # rerun every shard, as a restarted job would: shard 0 is skipped, shard 1 is encoded
    rerun = encoders()
    for i in range(2):
        encode_kg(kg, store, encoders=rerun, progress=False, shard=(i, 2), node_types=["protein", "drug"])
    assert rerun["protein"].calls == 1 and rerun["protein"].items == 4
    assert rerun["molecule"].calls == 1 and rerun["molecule"].items == 3

    encode_kg(kg, tmp_path / "full", encoders=encoders(), progress=False, node_types=["protein", "drug"])
    assert_same_store(tmp_path / "full", store, node_types=("protein", "drug"))

    # a further sharded or unsharded run is a cache hit of the merged type: no work at all
    again = encoders()
    encode_kg(kg, store, encoders=again, progress=False, shard="1/2", node_types=["protein", "drug"])
    encode_kg(kg, store, encoders=again, progress=False, node_types=["protein", "drug"])
    assert again["protein"].calls == 0 and again["molecule"].calls == 0


def test_corrupt_shard_is_recomputed_and_explicit_merge(tmp_path):
    kg = big_kg()
    store = tmp_path / "emb"
    for i in range(2):
        encode_kg(
            kg, store, encoders=encoders(), progress=False, shard=(i, 2), merge=False, node_types=["protein"]
        )
    assert manifest(store) == {}  # merge=False: shards only
    (store / "shards" / "protein.1-of-2.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="re-run shard 1/2"):
        merge_shards(store)
    redo = encoders()
    encode_kg(kg, store, encoders=redo, progress=False, shard=(1, 2), merge=False, node_types=["protein"])
    assert redo["protein"].calls == 1
    result = merge_shards(store)
    assert result.node_types == ["protein"]
    encode_kg(kg, tmp_path / "full", encoders=encoders(), progress=False, node_types=["protein"])
    assert_same_store(tmp_path / "full", store, node_types=("protein",))


def test_changed_inputs_drop_stale_shards(tmp_path):
    store = tmp_path / "emb"
    encode_kg(big_kg(), store, encoders=encoders(), progress=False, shard="0/2", node_types=["protein"])
    changed = list(PROTEINS)
    changed[0] = ("P1", "MMMMMMMMKK")
    kg2 = make_kg(proteins=changed, drugs=DRUGS, texts=TEXTS)
    fresh = encoders()
    encode_kg(kg2, store, encoders=fresh, progress=False, shard="1/2", node_types=["protein"])
    # the old shard 0 came from other inputs: it was deleted, not merged with the new shard 1
    assert not (store / "shards" / "protein.0-of-2.json").exists()
    assert manifest(store) == {}
    encode_kg(kg2, store, encoders=fresh, progress=False, shard="0/2", node_types=["protein"])
    encode_kg(kg2, tmp_path / "full", encoders=encoders(), progress=False, node_types=["protein"])
    assert_same_store(tmp_path / "full", store, node_types=("protein",))


def test_more_shards_than_items_and_model_failures(tmp_path):
    class FailsInModel(Encoder):
        """Text encoder whose model rejects texts containing 'ribosome' (like UniMol's conformer failures)."""

        name, modality, dim = "fails-in-model", "text", 2

        def invalid_reason(self, item):
            return None if item.strip() else "empty text"

        def _encode_valid(self, items, batch_size, progress):
            return np.array([[len(t), t.count("a")] for t in items], dtype=np.float32)

        def encode_with_failures(self, items, batch_size=None, progress=False):
            emb = self.encode_prevalidated(items)
            return emb, {j: "model failed" for j, t in enumerate(items) if "ribosome" in t}

    kg = big_kg()
    encode_kg(kg, tmp_path / "full", encoders={"text": FailsInModel()}, node_types=["go"], progress=False)
    for i in range(7):  # 5 GO nodes over 7 shards: some shards are empty
        encode_kg(
            kg,
            tmp_path / "s",
            encoders={"text": FailsInModel()},
            node_types=["go"],
            progress=False,
            shard=(i, 7),
        )
    assert_same_store(tmp_path / "full", tmp_path / "s", node_types=("go",))
    assert [f["node_id"] for f in manifest(tmp_path / "s")["go"]["failures"]] == ["GO:3", "GO:5"]


def test_torchrun_ranks_take_their_own_shard(tmp_path, monkeypatch):
    kg = big_kg()
    encode_kg(kg, tmp_path / "full", encoders=encoders(), progress=False)
    counts = []
    for rank in range(2):
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("RANK", str(rank))
        encs = encoders()
        encode_kg(kg, tmp_path / "ddp", encoders=encs, progress=False, shard="auto")
        counts.append(encs["protein"].items)
    assert counts == [5, 4]
    assert_same_store(tmp_path / "full", tmp_path / "ddp")


def test_text_shards_match_unsharded_minilm(tmp_path, minilm):
    kg = big_kg()
    encode_kg(kg, tmp_path / "full", encoders={"text": minilm}, node_types=["go"], progress=False)
    for i in range(2):
        encode_kg(
            kg, tmp_path / "s", encoders={"text": minilm}, node_types=["go"], progress=False, shard=(i, 2)
        )
    assert_same_store(tmp_path / "full", tmp_path / "s", node_types=("go",), atol=1e-6)


def test_cli_shards_then_merge(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from biobridge.cli import app

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    proteins = [p for p in PROTEINS if p[1] is not None]  # a saved KG has no missing features
    make_kg(proteins=proteins, drugs=DRUGS, texts=[]).save(tmp_path / "kg")
    runner = CliRunner()
    args = ["encode", "-w", str(tmp_path), "--no-progress"]
    bad = runner.invoke(app, [*args, "--shard", "2/2"])
    assert bad.exit_code == 2  # usage error: shard index out of range
    res = runner.invoke(app, [*args, "--shard", "1/2"])
    assert res.exit_code == 0, res.output
    assert "missing [0] (not merged yet)" in res.output
    res = runner.invoke(app, [*args, "--merge"])
    assert res.exit_code == 1 and "missing [0]" in res.output
    res = runner.invoke(app, [*args, "--shard", "0/2"])
    assert res.exit_code == 0, res.output
    assert "encoded=     9 failures=1" in res.output  # protein, merged automatically
    res = runner.invoke(app, [*args, "--merge"])  # idempotent
    assert res.exit_code == 0, res.output
    encode_kg(make_kg(proteins=proteins, drugs=DRUGS, texts=[]), tmp_path / "full", progress=False)
    assert_same_store(tmp_path / "full", tmp_path / "embeddings", node_types=("protein", "drug"))
