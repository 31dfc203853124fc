"""UniMol: everything up to the model call (no weights and no unimol_tools here)."""

import sys

import numpy as np
import pytest

from biobridge.encoders import build_encoder, encode_kg
from biobridge.encoders.unimol import UniMolEncoder, parse_unimol_output, unimol_weight_files

from .conftest import make_kg


@pytest.fixture
def weights_dir(tmp_path):
    d = tmp_path / "unimol_weights"
    d.mkdir()
    for f in unimol_weight_files(remove_hs=False):
        (d / f).write_bytes(b"placeholder")
    return d


def test_missing_weights_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("UNIMOL_WEIGHT_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="UNIMOL_WEIGHT_DIR"):
        UniMolEncoder()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        UniMolEncoder(tmp_path / "nope")
    (tmp_path / "w").mkdir()
    with pytest.raises(FileNotFoundError, match="mol_pre_all_h_220816.pt"):
        UniMolEncoder(tmp_path / "w")
    with pytest.raises(FileNotFoundError, match="mol_pre_no_h_220816.pt"):
        UniMolEncoder(tmp_path / "w", remove_hs=True)


def test_weights_from_env_and_spec(weights_dir, monkeypatch):
    monkeypatch.setenv("UNIMOL_WEIGHT_DIR", str(weights_dir))
    enc = build_encoder("unimol:")
    assert isinstance(enc, UniMolEncoder) and enc.weights_dir == weights_dir
    assert enc.dim == 512 and enc.modality == "molecule" and enc.name == "unimol-v1:all_h:cls"
    assert build_encoder(f"unimol:{weights_dir}").weights_dir == weights_dir


def test_validation_without_model(weights_dir):
    enc = UniMolEncoder(weights_dir)
    assert enc.invalid_reason("CCO") is None
    assert "C1CC" in enc.invalid_reason("C1CC")
    assert enc.invalid_reason("") == "empty SMILES"


def test_missing_extra_is_a_clear_import_error(weights_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "unimol_tools", None)  # import fails as if not installed
    enc = UniMolEncoder(weights_dir)
    with pytest.raises(ImportError, match=r"pip install 'biobridge\[unimol\]'"):
        enc.encode(["CCO"])


def test_parse_output_records_per_molecule_failures():
    good = np.arange(512, dtype=np.float32)
    bad = np.full(512, np.nan, dtype=np.float32)
    out, failures = parse_unimol_output({"cls_repr": [good, None, bad, good[:10], good * 2]}, 5, 512)
    assert out.shape == (5, 512) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], good)
    np.testing.assert_array_equal(out[4], good * 2)
    assert set(failures) == {1, 2, 3}
    assert "non-finite" in failures[2] and "shape" in failures[3]
    out, failures = parse_unimol_output(np.stack([good, good]), 2, 512)
    assert failures == {}
    with pytest.raises(RuntimeError, match="cannot match"):
        parse_unimol_output({"cls_repr": [good]}, 2, 512)
    with pytest.raises(RuntimeError, match="cls_repr"):
        parse_unimol_output({"atomic_reprs": []}, 1, 512)


def test_store_records_model_failures(weights_dir, tmp_path):
    """The model call is faked (no weights here); the store path for per-molecule failures is real."""

    class FakeRepr:
        def get_repr(self, smiles, return_atomic_reprs=False):
            return {
                "cls_repr": [None if s == "c1ccccc1" else np.full(512, len(s), np.float32) for s in smiles]
            }

    enc = UniMolEncoder(weights_dir)
    enc._model = FakeRepr()
    store = encode_kg(make_kg(), tmp_path, encoders={"molecule": enc}, node_types=["drug"], progress=False)
    idx, emb = store.get("drug")
    np.testing.assert_array_equal(idx, [4, 5])  # D1 CCO, D2 aspirin; D3 unparsable, D4 failed in the model
    assert emb[0, 0] == 3.0
    reasons = {f["node_id"]: f["reason"] for f in store.failures("drug")}
    assert set(reasons) == {"D3", "D4"} and "no representation" in reasons["D4"]
    assert [f["node_index"] for f in store.failures("drug")] == [6, 7]
    assert store.manifest["drug"]["n_failures"] == 2 and store.manifest["drug"]["n_encoded"] == 2
