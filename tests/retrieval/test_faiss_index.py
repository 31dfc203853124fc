import sys

import numpy as np
import pytest
import torch

from biobridge.retrieval.index import CandidateIndex

faiss = pytest.importorskip("faiss", reason="FAISS not installed (pip install 'biobridge[faiss]')")

from biobridge.retrieval.faiss_index import FaissIndex, make_index, recall_at_k_vs_exact  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # deterministic and light on shared CI machines
    yield
    faiss.omp_set_num_threads(before)


def random_data(n=5000, d=32, n_queries=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32) * rng.uniform(0.5, 2.0, (n, 1)).astype(np.float32)
    q = rng.standard_normal((n_queries, d)).astype(np.float32)
    node_index = np.sort(rng.choice(10 * n, n, replace=False)).astype(np.int64)  # not 0..n-1 on purpose
    return x, q, node_index


def test_flat_equals_exact():
    x, q, node_index = random_data(n=800, d=24, n_queries=60)
    exact = CandidateIndex(x, node_index)
    flat = FaissIndex(x, node_index, kind="flat")
    assert len(flat) == 800
    s_exact, n_exact = exact.search(torch.from_numpy(q), 10)
    s_flat, n_flat = flat.search(torch.from_numpy(q), 10)  # torch queries, as Bridge passes them
    np.testing.assert_array_equal(n_flat, n_exact)
    np.testing.assert_allclose(s_flat, s_exact, rtol=0, atol=1e-5)
    assert n_flat.dtype == np.int64 and s_flat.dtype == np.float32
    # scores are cosines: check one by hand
    v = x[np.searchsorted(node_index, n_flat[0, 0])]
    np.testing.assert_allclose(s_flat[0, 0], v @ q[0] / np.linalg.norm(v) / np.linalg.norm(q[0]), atol=1e-5)
    assert recall_at_k_vs_exact(flat, exact, q, k=10) == 1.0


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("hnsw", {}),
        ("ivf", {"nprobe": 64}),
    ],  # isotropic random data is IVF's worst case: probe half the cells
)
def test_approximate_recall_on_random_data(kind, params, capsys):
    x, q, node_index = random_data()
    exact = CandidateIndex(x, node_index)
    approx = FaissIndex(x, node_index, kind=kind, **params)
    recall = recall_at_k_vs_exact(approx, exact, q, k=10)
    with capsys.disabled():
        print(f"\n{approx!r}: recall@10 vs exact = {recall:.4f} (5000 x 32 Gaussian, 200 queries)")
    assert recall > 0.9
    scores, nodes = approx.search(q, 10)
    assert np.isin(nodes, node_index).all()
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first


def test_ivf_defaults_on_clustered_data():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((40, 32)).astype(np.float32) * 3
    x = centres[rng.integers(0, 40, 4000)] + rng.standard_normal((4000, 32)).astype(np.float32)
    q = centres[rng.integers(0, 40, 100)] + rng.standard_normal((100, 32)).astype(np.float32)
    ivf = FaissIndex(x, np.arange(4000), kind="ivf")
    assert ivf.params["nlist"] == 4000 // 39 and ivf.params["nprobe"] == max(16, ivf.params["nlist"] // 4)
    assert recall_at_k_vs_exact(ivf, CandidateIndex(x, np.arange(4000)), q, k=10) > 0.95


def test_ivf_never_returns_short_results():
    x, q, node_index = random_data(n=2000, d=16, n_queries=30)
    ivf = FaissIndex(x, node_index, kind="ivf", nlist=50, nprobe=1)  # ~40 vectors per cell < k
    scores, nodes = ivf.search(q, 100)
    assert nodes.shape == (30, 100) and np.isin(nodes, node_index).all()
    _, exact_nodes = CandidateIndex(x, node_index).search(torch.from_numpy(q), 100)
    for row, exact_row in zip(nodes, exact_nodes, strict=True):  # exhaustive fallback = exact
        assert set(row) == set(exact_row)


def test_k_larger_than_pool_and_validation():
    x, q, node_index = random_data(n=7, d=8, n_queries=3)
    for kind in ("flat", "hnsw", "ivf"):
        scores, nodes = FaissIndex(x, node_index, kind=kind).search(q, 10)
        assert nodes.shape == (3, 7) and sorted(nodes[0]) == sorted(node_index)
    with pytest.raises(ValueError, match="kind"):
        FaissIndex(x, node_index, kind="lsh")
    with pytest.raises(TypeError, match="nprobe"):
        FaissIndex(x, node_index, kind="hnsw", nprobe=3)
    with pytest.raises(ValueError, match="aligned"):
        FaissIndex(x, node_index[:3], kind="flat")
    with pytest.raises(ValueError, match="dim"):
        FaissIndex(x, node_index, kind="flat").search(np.ones((1, 9), np.float32), 2)


def test_make_index():
    x, q, node_index = random_data(n=100, d=8, n_queries=2)
    assert isinstance(make_index(x, node_index), CandidateIndex)
    index = make_index(x, node_index, kind="hnsw", ef_search=64)
    assert isinstance(index, FaissIndex) and index.params["ef_search"] == 64


def test_missing_faiss_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'biobridge\[faiss\]'"):
        FaissIndex(np.eye(3, dtype=np.float32), np.arange(3))
