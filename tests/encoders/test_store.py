import json

import numpy as np
import pytest

from biobridge.encoders import EmbeddingStore, encode_kg
from biobridge.encoders.base import Encoder
from biobridge.encoders.morgan import MorganEncoder
from biobridge.encoders.protein_composition import ProteinCompositionEncoder

from .conftest import PROTEINS, make_kg


class CountingEncoder(Encoder):
    """Wraps an encoder and counts how many items it was asked to encode."""

    def __init__(self, inner):
        self.inner = inner
        self.name, self.modality, self.dim = inner.name, inner.modality, inner.dim
        self.calls = 0
        self.items = 0

    def config(self):
        return self.inner.config()

    def invalid_reason(self, item):
        return self.inner.invalid_reason(item)

    def _encode_valid(self, items, batch_size, progress):
        self.calls += 1
        self.items += len(items)
        return self.inner.encode(items)


class FakeText(Encoder):
    modality = "text"
    dim = 3
    name = "fake-text"

    def __init__(self):
        self.calls = 0

    def invalid_reason(self, item):
        return None if item.strip() else "empty text"

    def _encode_valid(self, items, batch_size, progress):
        self.calls += 1
        return np.array([[len(t), t.count(" "), 1.0] for t in items], dtype=np.float32)


def _encoders():
    return {
        "protein": CountingEncoder(ProteinCompositionEncoder()),
        "molecule": CountingEncoder(MorganEncoder()),
        "text": FakeText(),
    }


def test_round_trip_and_failures(tiny_kg, tmp_path):
    encs = _encoders()
    store = encode_kg(tiny_kg, tmp_path / "emb", encoders=encs, progress=False)
    assert store.node_types == ["drug", "go", "protein"]
    assert sorted(p.name for p in (tmp_path / "emb").iterdir()) == [
        "drug.safetensors",
        "go.safetensors",
        "manifest.json",
        "protein.safetensors",
    ]
    idx, emb = store.get("protein")
    assert idx.dtype == np.int64 and emb.dtype == np.float32
    # P3 (node 2) has digits -> failure, others encoded in KG order
    np.testing.assert_array_equal(idx, [0, 1, 3])
    expected = ProteinCompositionEncoder().encode([PROTEINS[i][1] for i in (0, 1, 3)])
    np.testing.assert_array_equal(emb, expected)
    assert store.dim("protein") == 420 and store.dim("drug") == 2048 and store.dim("go") == 3

    (fail,) = store.failures("protein")
    assert fail["node_index"] == 2 and fail["node_id"] == "P3" and "'1'" in fail["reason"]
    (fail,) = store.failures("drug")
    assert fail["node_id"] == "D3" and "C1CC" in fail["reason"]
    (fail,) = store.failures("go")
    assert fail["node_id"] == "GO:3" and fail["reason"] == "empty text"

    manifest = json.loads((tmp_path / "emb" / "manifest.json").read_text())["node_types"]
    entry = manifest["protein"]
    assert entry["encoder"] == "protein-composition-v1"
    assert (entry["n_nodes"], entry["n_encoded"], entry["n_failures"]) == (4, 3, 1)
    assert entry["modality"] == "protein" and entry["dim"] == 420
    for key in ("input_hash", "seconds", "items_per_second", "created", "encoder_config", "spec"):
        assert key in entry

    reloaded = EmbeddingStore.load(tmp_path / "emb")
    i2, e2 = reloaded.get("drug")
    i1, e1 = store.get("drug")
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(e1, e2)
    mask = reloaded.has_embedding_mask(tiny_kg.num_nodes)
    expected_mask = np.ones(tiny_kg.num_nodes, bool)
    expected_mask[[2, 6, 10]] = False  # P3, D3, GO:3
    np.testing.assert_array_equal(mask, expected_mask)

    with pytest.raises(KeyError, match="cell"):
        reloaded.get("cell")


def test_cache_hit_does_no_work(tiny_kg, tmp_path):
    encode_kg(tiny_kg, tmp_path, encoders=_encoders(), progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    encs = _encoders()
    store = encode_kg(tiny_kg, tmp_path, encoders=encs, progress=False)
    assert encs["protein"].calls == 0 and encs["molecule"].calls == 0 and encs["text"].calls == 0
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    assert store.get("protein")[1].shape == (3, 420)


def test_cache_hit_with_default_specs_loads_no_model(tiny_kg, tmp_path, monkeypatch):
    encs = _encoders()
    encode_kg(tiny_kg, tmp_path, encoders={"text": encs["text"]}, progress=False)
    # Second run with default specs for protein/molecule: cache hits; patch to fail if anything encodes.
    from biobridge.encoders import base

    def boom(self, *a, **k):
        raise AssertionError(f"{self.name} encoded on a cache hit")

    monkeypatch.setattr(base.Encoder, "encode_prevalidated", boom)
    encode_kg(tiny_kg, tmp_path, encoders={"text": FakeText()}, progress=False)


def test_changed_features_reencode_only_that_type(tmp_path):
    encode_kg(make_kg(), tmp_path, encoders=_encoders(), progress=False)
    changed = list(PROTEINS)
    changed[0] = ("P1", "MMMMMMMMKK")
    encs = _encoders()
    store = encode_kg(make_kg(proteins=changed), tmp_path, encoders=encs, progress=False)
    assert encs["protein"].calls == 1 and encs["protein"].items == 3
    assert encs["molecule"].calls == 0 and encs["text"].calls == 0
    _, emb = store.get("protein")
    np.testing.assert_array_equal(emb[0], ProteinCompositionEncoder().encode(["MMMMMMMMKK"])[0])


def test_changed_encoder_settings_reencode(tiny_kg, tmp_path):
    encode_kg(tiny_kg, tmp_path, encoders=_encoders(), progress=False, node_types=["drug"])
    encs = _encoders()
    encs["molecule"] = CountingEncoder(MorganEncoder(n_bits=1024))
    store = encode_kg(tiny_kg, tmp_path, encoders=encs, progress=False, node_types=["drug"])
    assert encs["molecule"].calls == 1
    assert store.dim("drug") == 1024 and store.node_types == ["drug"]


def test_node_type_selection_and_partial_store(tiny_kg, tmp_path):
    store = encode_kg(tiny_kg, tmp_path, encoders=_encoders(), node_types=["protein"], progress=False)
    assert store.node_types == ["protein"]
    store = encode_kg(tiny_kg, tmp_path, encoders=_encoders(), node_types=["drug"], progress=False)
    assert store.node_types == ["drug", "protein"]  # earlier types kept
    with pytest.raises(KeyError, match="unknown node type"):
        encode_kg(tiny_kg, tmp_path, encoders=_encoders(), node_types=["cell"], progress=False)


def test_corrupt_file_is_not_a_cache_hit(tiny_kg, tmp_path):
    encode_kg(tiny_kg, tmp_path, encoders=_encoders(), progress=False)
    (tmp_path / "protein.safetensors").write_bytes(b"garbage")
    encs = _encoders()
    store = encode_kg(tiny_kg, tmp_path, encoders=encs, progress=False)
    assert encs["protein"].calls == 1
    assert store.get("protein")[1].shape == (3, 420)


def test_missing_feature_is_recorded(tmp_path):
    kg = make_kg(proteins=[("P1", "MKT"), ("P2", None)])
    store = encode_kg(kg, tmp_path, encoders=_encoders(), node_types=["protein"], progress=False)
    (fail,) = store.failures("protein")
    assert fail["node_id"] == "P2" and "no feature" in fail["reason"]


def test_default_specs_end_to_end(tiny_kg, tmp_path):
    store = encode_kg(tiny_kg, tmp_path, progress=False)
    assert store.dim("protein") == 256 + 420 and store.dim("drug") == 2048 and store.dim("go") == 384
    assert store.manifest["go"]["spec"] == "minilm" and store.manifest["protein"]["spec"] == "homology"
    assert store.manifest["go"]["encoder"] == "hf-text:all-MiniLM-L6-v2:mean+l2:max256"
    assert store.get("go")[1].shape == (2, 384)


def test_load_missing_store(tmp_path):
    with pytest.raises(FileNotFoundError):
        EmbeddingStore.load(tmp_path)
