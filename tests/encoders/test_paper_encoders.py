import numpy as np
import pytest
import torch

from biobridge.encoders import InvalidInputError, build_encoder, encode_kg
from biobridge.encoders.esm2 import ESM2Encoder, window_starts
from biobridge.encoders.hf_text import HuggingFaceTextEncoder

from .conftest import make_kg
from .tiny_models import make_tiny_bert, make_tiny_esm

MAX_POS = 34  # tiny model: 32 residues + BOS/EOS


@pytest.fixture(scope="module")
def esm_dir(tmp_path_factory):
    return make_tiny_esm(tmp_path_factory.mktemp("models") / "tiny_esm2", max_position_embeddings=MAX_POS)


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("models") / "tiny_pubmedbert")


def _manual_esm(esm_dir, seqs):
    """Run the model ourselves, one sequence at a time: mean over positions 1..n (no BOS/EOS/pad)."""
    from transformers import EsmModel, EsmTokenizer

    tok = EsmTokenizer.from_pretrained(str(esm_dir))
    model = EsmModel.from_pretrained(str(esm_dir), add_pooling_layer=False).eval()
    out = []
    with torch.inference_mode():
        for s in seqs:
            ids = tok(s.upper(), return_tensors="pt")["input_ids"]
            assert ids.shape[1] == len(s) + 2
            h = model(input_ids=ids).last_hidden_state[0]
            out.append(h[1 : len(s) + 1].mean(0).numpy())
    return np.stack(out)


SEQS = [
    "MKTAYIAKQR",
    "ACDEFGHIKLMNPQRSTVWY",
    "mkx",
    "GGGGAAAACCCCBZUO",
    "W",
    "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEV",
]


def test_esm2_pooling_matches_manual(esm_dir):
    enc = ESM2Encoder(esm_dir)
    assert enc.dim == 32 and enc.max_residues == MAX_POS - 2 and enc.modality == "protein"
    assert enc.name == "esm2:tiny_esm2:mean:error32"
    got = enc.encode(SEQS)
    assert got.dtype == np.float32 and got.shape == (len(SEQS), 32)
    np.testing.assert_allclose(got, _manual_esm(esm_dir, SEQS), atol=1e-5)


def test_esm2_token_budget_batching_invariance(esm_dir):
    enc = ESM2Encoder(esm_dir, max_tokens_per_batch=10_000)
    ref = enc.encode(SEQS)
    for budget in (1, 20, 40, 70):  # 1 forces one sequence per batch
        np.testing.assert_allclose(enc.encode(SEQS, batch_size=budget), ref, atol=1e-5)
    np.testing.assert_allclose(enc.encode(SEQS[::-1])[::-1], ref, atol=1e-5)
    # padding is really happening in the big batch: different lengths in one batch
    assert len(enc._batches(np.asarray([len(s) for s in SEQS]), 10_000)) == 1
    batches = enc._batches(np.asarray([30, 10, 10, 10]), 40)
    assert [len(b) for b in batches] == [1, 3]
    for b in batches:
        assert len(b) * (max(np.asarray([30, 10, 10, 10])[b]) + 2) <= 40 or len(b) == 1


def test_esm2_invalid_inputs(esm_dir):
    enc = ESM2Encoder(esm_dir)
    assert enc.invalid_reason("MKT1") and "'1'" in enc.invalid_reason("MKT1")
    assert enc.invalid_reason("MK*") and enc.invalid_reason("MK-") and enc.invalid_reason("MK A")
    assert enc.invalid_reason("") == "empty sequence"
    assert enc.invalid_reason("XBZUO") is None
    long = "A" * (MAX_POS - 1)
    assert "over the model limit of 32" in enc.invalid_reason(long)
    assert enc.invalid_reason("A" * 32) is None
    with pytest.raises(InvalidInputError) as err:
        enc.encode(["MKT", long])
    assert err.value.index == 1


def test_esm2_truncate_policy(esm_dir):
    enc = ESM2Encoder(esm_dir, long_sequence_policy="truncate")
    rng = np.random.default_rng(1)
    long = "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=75))
    assert enc.invalid_reason(long) is None
    assert enc.name == "esm2:tiny_esm2:mean:truncate32"
    np.testing.assert_allclose(enc.encode([long])[0], _manual_esm(esm_dir, [long[:32]])[0], atol=1e-5)


def test_esm2_window_policy(esm_dir):
    enc = ESM2Encoder(esm_dir, long_sequence_policy="window", window_stride=12)
    assert enc.name == "esm2:tiny_esm2:mean:window32s12"
    rng = np.random.default_rng(2)
    long = "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=75))
    starts = window_starts(75, 32, 12)
    assert starts == [0, 12, 24, 36, 43]
    # manual: per-window residue states, each residue averaged over the windows containing it, then mean
    from transformers import EsmModel, EsmTokenizer

    tok = EsmTokenizer.from_pretrained(str(esm_dir))
    model = EsmModel.from_pretrained(str(esm_dir), add_pooling_layer=False).eval()
    acc = np.zeros((75, 32))
    cnt = np.zeros(75)
    with torch.inference_mode():
        for s in starts:
            ids = tok(long[s : s + 32], return_tensors="pt")["input_ids"]
            h = model(input_ids=ids).last_hidden_state[0, 1:33].numpy()
            acc[s : s + 32] += h
            cnt[s : s + 32] += 1
    expected = (acc / cnt[:, None]).mean(0)
    short = "MKTAYIAKQR"
    got = enc.encode([short, long, short], batch_size=70)
    np.testing.assert_allclose(got[1], expected, atol=1e-5)
    np.testing.assert_allclose(got[0], got[2], atol=1e-6)
    np.testing.assert_allclose(got[0], _manual_esm(esm_dir, [short])[0], atol=1e-5)  # short seqs unaffected
    np.testing.assert_allclose(enc.encode([long], batch_size=1)[0], got[1], atol=1e-5)


def test_window_starts_cover_everything():
    for n in range(1, 200, 7):
        for w, s in ((32, 16), (32, 32), (10, 3)):
            starts = window_starts(n, w, s)
            covered = np.zeros(n, bool)
            for a in starts:
                covered[a : a + w] = True
                assert a + min(w, n) <= n
            assert covered.all()


def test_esm2_errors(esm_dir, tmp_path):
    with pytest.raises(ValueError, match="long_sequence_policy"):
        ESM2Encoder(esm_dir, long_sequence_policy="chop")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ESM2Encoder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        ESM2Encoder(tmp_path / "empty")
    with pytest.raises(ValueError, match="exceeds the model limit"):
        ESM2Encoder(esm_dir, max_residues=100)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            ESM2Encoder(esm_dir, dtype="fp16")
        assert ESM2Encoder(esm_dir, dtype="bf16").dtype == "bfloat16"  # bfloat16 runs on CPU too


def test_esm2_registry_and_store(esm_dir, tmp_path):
    enc = build_encoder(f"esm2:{esm_dir}")
    assert isinstance(enc, ESM2Encoder) and enc.long_sequence_policy == "error"
    proteins = [("P1", "MKTAYIAKQR"), ("P2", "A" * 40), ("P3", "MK1")]
    kg = make_kg(proteins=proteins)
    store = encode_kg(kg, tmp_path, encoder_specs={"protein": f"esm2:{esm_dir}"}, node_types=["protein"])
    idx, emb = store.get("protein")
    np.testing.assert_array_equal(idx, [0])
    np.testing.assert_allclose(emb, _manual_esm(esm_dir, ["MKTAYIAKQR"]), atol=1e-5)
    reasons = {f["node_id"]: f["reason"] for f in store.failures("protein")}
    assert set(reasons) == {"P2", "P3"} and "limit" in reasons["P2"]
    assert store.manifest["protein"]["spec"] == f"esm2:{esm_dir}"


def test_hf_text_with_bert_dir(bert_dir):
    enc = build_encoder(f"hf-text:{bert_dir}")
    assert isinstance(enc, HuggingFaceTextEncoder)
    assert enc.dim == 24 and enc.normalize is False and enc.max_length == 64  # clamped to the model
    assert enc.name == "hf-text:tiny_pubmedbert:mean:max64"
    texts = ["the kinase of cells", "protein", "a cell of the protein kinases, the end.", "x y z"]
    got = enc.encode(texts, batch_size=3)
    np.testing.assert_allclose(enc.encode(texts, batch_size=1), got, atol=1e-5)
    from transformers import AutoTokenizer, BertModel

    tok = AutoTokenizer.from_pretrained(str(bert_dir))
    model = BertModel.from_pretrained(str(bert_dir)).eval()
    with torch.inference_mode():
        batch = tok(texts, padding=True, return_tensors="pt")
        h = model(**batch).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).float()
    expected = ((h * m).sum(1) / m.sum(1)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    normed = HuggingFaceTextEncoder(bert_dir, normalize=True, max_length=16)
    assert normed.name == "hf-text:tiny_pubmedbert:mean+l2:max16"
    np.testing.assert_allclose(np.linalg.norm(normed.encode(texts), axis=1), 1.0, atol=1e-5)


def test_hf_text_missing_weights(bert_dir, tmp_path):
    import shutil

    d = tmp_path / "noweights"
    shutil.copytree(bert_dir, d)
    (d / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no weights file"):
        HuggingFaceTextEncoder(d)
