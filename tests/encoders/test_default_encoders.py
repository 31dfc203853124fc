import numpy as np
import pytest

from biobridge.encoders import InvalidInputError, UnknownEncoderSpecError, build_encoder
from biobridge.encoders.morgan import MorganEncoder
from biobridge.encoders.protein_composition import AMINO_ACIDS, ProteinCompositionEncoder

AA = {a: i for i, a in enumerate(AMINO_ACIDS)}


def _conformance(encoder, items, batch_sizes=(1, 3, None), atol=0.0):
    full = encoder.encode(items)
    assert full.dtype == np.float32
    assert full.shape == (len(items), encoder.dim)
    # order preserved: encoding the reversed list gives the reversed rows
    rev = encoder.encode(items[::-1])
    np.testing.assert_allclose(rev[::-1], full, atol=max(atol, 1e-6))
    # one at a time equals the batch
    single = np.stack([encoder.encode([x])[0] for x in items])
    np.testing.assert_allclose(single, full, atol=max(atol, 1e-6))
    for bs in batch_sizes:
        np.testing.assert_allclose(encoder.encode(items, batch_size=bs), full, atol=max(atol, 1e-6))
    assert encoder.encode([]).shape == (0, encoder.dim)
    cfg = encoder.config()
    assert cfg["name"] == encoder.name and cfg["dim"] == encoder.dim
    return full


def test_composition_conformance():
    enc = ProteinCompositionEncoder()
    assert enc.dim == 420 and enc.modality == "protein" and enc.name == "protein-composition-v1"
    _conformance(enc, ["MKTAYIAKQR", "ACDEFGHIKLMNPQRSTVWY", "GG", "mkx", "W"])


def test_composition_hand_checked_values():
    enc = ProteinCompositionEncoder()
    # "ACAA": residues A=3, C=1 (of 4); dipeptides AC, CA, AA (1 each of 3)
    v = enc.encode(["acAA"])[0]
    assert v[AA["A"]] == pytest.approx(0.75)
    assert v[AA["C"]] == pytest.approx(0.25)
    assert v[:20].sum() == pytest.approx(1.0)
    for a, b in ("AC", "CA", "AA"):
        assert v[20 + 20 * AA[a] + AA[b]] == pytest.approx(1 / 3)
    assert v[20:].sum() == pytest.approx(1.0)
    assert np.count_nonzero(v) == 5
    # X is skipped: "AXC" counts A and C, and no dipeptide spans the X
    w = enc.encode(["AXC"])[0]
    assert w[AA["A"]] == pytest.approx(0.5) and w[AA["C"]] == pytest.approx(0.5)
    assert not w[20:].any()
    # all non-standard: valid, all zeros
    assert not enc.encode(["XBZUO"])[0].any()


def test_composition_invalid_inputs():
    enc = ProteinCompositionEncoder()
    assert enc.invalid_reason("MKTA") is None
    for bad in ["MK1A", "MK*", "MK A", "MK-A", "", "MKé"]:
        assert enc.invalid_reason(bad), bad
    assert "'1'" in enc.invalid_reason("MK1A")
    assert enc.invalid_reason("") == "empty sequence"
    with pytest.raises(InvalidInputError) as err:
        enc.encode(["MKT", "MK12"])
    assert err.value.index == 1 and "'1'" in err.value.reason


def test_composition_throughput_is_vectorised():
    import time

    rng = np.random.default_rng(0)
    letters = np.array(list(AMINO_ACIDS))
    seqs = ["".join(rng.choice(letters, size=300)) for _ in range(5000)]
    enc = ProteinCompositionEncoder()
    t0 = time.perf_counter()
    out = enc.encode(seqs)
    assert time.perf_counter() - t0 < 5.0  # tens of thousands/s in practice; generous bound for CI
    np.testing.assert_allclose(out[:, :20].sum(1), 1.0, rtol=1e-5)


def test_morgan_known_molecule():
    enc = MorganEncoder()
    assert enc.dim == 2048 and enc.name == "morgan-r2-2048" and enc.modality == "molecule"
    aspirin = "CC(=O)Oc1ccccc1C(=O)O"
    a = enc.encode([aspirin])[0]
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert a.sum() > 0
    np.testing.assert_array_equal(a, MorganEncoder().encode([aspirin])[0])  # deterministic
    # same molecule, different SMILES spelling -> same fingerprint
    np.testing.assert_array_equal(a, enc.encode(["OC(=O)c1ccccc1OC(C)=O"])[0])
    # cross-check against RDKit directly
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    ref = gen.GetFingerprintAsNumPy(Chem.MolFromSmiles(aspirin)).astype(np.float32)
    np.testing.assert_array_equal(a, ref)
    _conformance(enc, ["CCO", aspirin, "c1ccccc1", "C"])


def test_morgan_invalid_inputs(capfd):
    enc = MorganEncoder()
    reason = enc.invalid_reason("C1CC")
    assert reason and "C1CC" in reason
    assert enc.invalid_reason("CC(C)(C)(C)(C)C")  # valence error
    assert enc.invalid_reason("") == "empty SMILES"
    assert enc.invalid_reason("   ") == "empty SMILES"
    with pytest.raises(InvalidInputError) as err:
        enc.encode(["CCO", "not a smiles"])
    assert err.value.index == 1
    assert "SMILES Parse Error" not in capfd.readouterr().err  # RDKit noise silenced


def test_morgan_fingerprints_parse_once_and_mark_the_invalid():
    enc = MorganEncoder()
    items = ["CCO", "C1CC", "", None, "   ", "CC(=O)Oc1ccccc1C(=O)O", "CC(C)(C)(C)(C)C"]
    bits, valid = enc.fingerprints(items)
    expected = [isinstance(s, str) and enc.invalid_reason(s) is None for s in items]
    np.testing.assert_array_equal(valid, expected)
    assert bits.dtype == np.float32 and bits.shape == (len(items), enc.n_bits)
    np.testing.assert_array_equal(
        bits[valid], enc.encode([s for s, ok in zip(items, valid, strict=True) if ok])
    )
    assert not bits[~valid].any()


def test_minilm_conformance(minilm):
    assert minilm.dim == 384 and minilm.modality == "text"
    assert minilm.name == "hf-text:all-MiniLM-L6-v2:mean+l2:max256"
    texts = [
        "Name: kinase activity. Definition: Catalysis of the transfer of a phosphate group.",
        "nucleus",
        "Name: mitochondrion inheritance. Definition: The distribution of mitochondria, including the "
        "mitochondrial genome, into daughter cells after mitosis or meiosis.",
        "insulin receptor signalling",
        "a b c",
        "Aspirin is a nonsteroidal anti-inflammatory drug.",
    ]
    full = minilm.encode(texts, batch_size=7)
    one = minilm.encode(texts, batch_size=1)
    np.testing.assert_allclose(one, full, atol=1e-5)
    rev = minilm.encode(texts[::-1], batch_size=7)
    np.testing.assert_allclose(rev[::-1], full, atol=1e-5)
    assert full.dtype == np.float32 and full.shape == (6, 384)
    np.testing.assert_allclose(np.linalg.norm(full, axis=1), 1.0, atol=1e-5)
    sims = full @ full.T
    assert sims[0, 1] < 0.9  # distinct texts are not collapsed


def test_minilm_matches_manual_pooling(minilm):
    import torch

    tok, model = minilm._load()
    text = "Name: nucleus. Definition: A membrane-bounded organelle."
    with torch.inference_mode():
        batch = tok([text], return_tensors="pt")
        h = model(**batch).last_hidden_state[0]
    ref = h.mean(0)
    ref = (ref / ref.norm()).numpy()
    np.testing.assert_allclose(minilm.encode([text])[0], ref, atol=1e-5)


def test_text_invalid_inputs(minilm):
    assert minilm.invalid_reason("") == "empty text"
    assert minilm.invalid_reason(" \n\t") == "empty text"
    assert minilm.invalid_reason("x") is None
    with pytest.raises(InvalidInputError) as err:
        minilm.encode(["fine", ""])
    assert err.value.index == 1


def test_hf_text_missing_dir(tmp_path):
    from biobridge.encoders.hf_text import HuggingFaceTextEncoder

    with pytest.raises(FileNotFoundError, match="does not exist"):
        HuggingFaceTextEncoder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="config.json"):
        HuggingFaceTextEncoder(tmp_path)


def test_registry():
    assert isinstance(build_encoder("composition"), ProteinCompositionEncoder)
    assert isinstance(build_encoder("morgan"), MorganEncoder)
    assert build_encoder("minilm").dim == 384
    for bad in ["word2vec", "", "hf-text:", "esm2", "morgan:foo"]:
        with pytest.raises(UnknownEncoderSpecError):
            build_encoder(bad)


def test_half_precision_needs_gpu(minilm):
    import torch

    from biobridge.encoders.hf_text import HuggingFaceTextEncoder

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="CUDA"):
        HuggingFaceTextEncoder(minilm.model_dir, dtype="fp16")
    with pytest.raises(RuntimeError, match="CUDA"):
        HuggingFaceTextEncoder(minilm.model_dir, device="cuda")
