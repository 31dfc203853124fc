"""Precomputed text vectors: the file format, the text encoder's use of it, and the file shipped for the default KG."""

import numpy as np
import pytest

from biobridge.encoders.hf_text import HuggingFaceTextEncoder
from biobridge.encoders.precomputed import (
    SHIPPED_TEXT_VECTORS,
    PrecomputedVectors,
    model_fingerprint,
    text_keys,
    write_vectors,
)
from biobridge.encoders.registry import build_encoder

from .tiny_models import make_tiny_bert

TEXTS = ["protein kinase", "the cell", "kinase of the cell", "proteins", "cell cell cell"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("models") / "tiny_text")


def _shipped_for(encoder, path, texts=TEXTS):
    fresh = HuggingFaceTextEncoder(encoder.model_dir, max_length=encoder.max_length)
    return write_vectors(path, texts, fresh.encode(texts), fresh.name, model_fingerprint(fresh.model_dir))


def test_keys_are_the_texts_sha256_prefix():
    import hashlib

    keys = text_keys(["a", "é"])
    assert keys.shape == (2, 16) and keys.dtype == np.uint8
    assert keys[1].tobytes() == hashlib.sha256("é".encode()).digest()[:16]


def test_write_load_lookup_round_trip(tmp_path):
    vectors = np.random.default_rng(0).standard_normal((len(TEXTS), 3)).astype(np.float32)
    digest = write_vectors(tmp_path / "v.safetensors", TEXTS, vectors, "enc", "fp")
    loaded = PrecomputedVectors.load(tmp_path / "v.safetensors")
    assert (loaded.encoder, loaded.model_fingerprint, loaded.digest, len(loaded)) == ("enc", "fp", digest, 5)
    rows = loaded.lookup(["cell cell cell", "not there", "protein kinase"])
    assert rows[1] == -1
    np.testing.assert_array_equal(loaded.vectors[rows[[0, 2]]], vectors[[4, 0]])


def test_duplicate_texts_and_damaged_files_are_refused(tmp_path, caplog):
    with pytest.raises(ValueError, match="distinct"):
        write_vectors(tmp_path / "d.safetensors", ["a", "a"], np.zeros((2, 2)), "enc", "fp")
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    path = tmp_path / "v.safetensors"
    write_vectors(path, TEXTS, np.ones((5, 2)), "enc", model_fingerprint(tmp_path))
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    tensors["vectors"][0, 0] = 2.0
    save_file(tensors, str(path), meta)
    with pytest.raises(ValueError, match="damaged"):
        PrecomputedVectors.load(path)
    # an encoder given the damaged file warns and encodes with its model
    assert PrecomputedVectors.matching(path, "enc", tmp_path, "float32") is None
    assert "cannot be used" in caplog.text


def test_encoder_takes_held_texts_from_the_file_and_encodes_the_rest(tiny_dir, tmp_path):
    path = tmp_path / "v.safetensors"
    digest = _shipped_for(HuggingFaceTextEncoder(tiny_dir), path, TEXTS[:3])
    encoder = HuggingFaceTextEncoder(tiny_dir, precomputed=path)
    assert encoder.precomputed is not None
    assert encoder.config()["precomputed"] == {"file": path.name, "digest": digest}
    mixed = ["cell cell cell", TEXTS[1], "proteins", TEXTS[0]]
    got = encoder.encode(mixed)
    shipped = encoder.precomputed
    np.testing.assert_array_equal(got[[1, 3]], shipped.vectors[shipped.lookup([TEXTS[1], TEXTS[0]])])
    fresh = HuggingFaceTextEncoder(tiny_dir).encode(mixed)
    np.testing.assert_allclose(got, fresh, atol=1e-5)
    assert encoder._model is not None  # the two unknown texts went through the model
    only_held = HuggingFaceTextEncoder(tiny_dir, precomputed=path)
    only_held.encode(TEXTS[:3])
    assert only_held._model is None  # nothing to encode: the model is never loaded


def test_a_file_from_other_model_files_or_settings_is_not_used(tiny_dir, tmp_path):
    path = tmp_path / "v.safetensors"
    _shipped_for(HuggingFaceTextEncoder(tiny_dir), path)
    other = make_tiny_bert(tmp_path / "other", seed=1)  # same architecture, other weights
    name = HuggingFaceTextEncoder(tiny_dir).name
    assert HuggingFaceTextEncoder(other, precomputed=path, name=name).precomputed is None
    assert HuggingFaceTextEncoder(tiny_dir, precomputed=path, max_length=32).precomputed is None  # other name
    assert HuggingFaceTextEncoder(tiny_dir).precomputed is None
    assert HuggingFaceTextEncoder(tiny_dir).config()["precomputed"] is None


def test_default_encoder_uses_the_shipped_file_and_fresh_does_not():
    default, fresh = build_encoder("minilm"), build_encoder("minilm:fresh")
    assert default.name == fresh.name
    assert default.precomputed is not None and default.precomputed.path == SHIPPED_TEXT_VECTORS
    assert fresh.precomputed is None
    assert default.config() != fresh.config()  # stores made each way are cached apart
    with pytest.raises(ValueError, match="other than 'fresh'"):
        build_encoder("minilm:stale")


@pytest.mark.slow
def test_the_shipped_vectors_hold_every_default_kg_text_and_equal_a_fresh_encoding():
    from biobridge.kg.default_kg import build_default_kg

    kg = build_default_kg()
    types = [t for t, m in kg.modalities.items() if m == "text"]
    texts = sorted(set(kg.nodes.loc[kg.nodes["node_type"].isin(types), "feature"].tolist()))
    shipped = build_encoder("minilm").precomputed
    rows = shipped.lookup(texts)
    assert (rows >= 0).all(), f"{(rows < 0).sum()} default-KG texts are not in the shipped file"
    assert len(shipped) == len(texts)
    lengths = np.asarray([len(t) for t in texts])
    sample = np.unique(np.r_[np.argsort(lengths)[[0, -1]], np.random.default_rng(0).choice(len(texts), 62)])
    fresh = build_encoder("minilm:fresh").encode([texts[i] for i in sample])
    np.testing.assert_allclose(shipped.vectors[rows[sample]], fresh, atol=1e-5)
