"""Recall@k and queries/s of FAISS HNSW and IVF against exact search, on projected candidate vectors.

Candidates are one node type's stored embeddings (default: protein) mapped into a bridge space, either by a
trained checkpoint's projection (``--model DIR``) or, without one, by a fixed random linear map (features
z-scored, then a Gaussian ``dim_in x --dim`` matrix, seed ``--seed``), a stand-in for a learned projection.
``--n-queries`` candidates, drawn at random, are held out of the pool and used as queries (new items of the
same kind, as in inductive retrieval). ``--pool-size`` grows the pool with jittered copies of the
candidates (Gaussian noise of ``--jitter`` times the per-dimension spread) to see how the methods scale;
those extra rows are synthetic.

    python benchmarks/faiss_recall.py --store runs/default/embeddings --node-type protein
    python benchmarks/faiss_recall.py --store runs/default/embeddings --pool-size 200000 --json out.json

Every figure printed is measured in this process; nothing is estimated. Thread counts apply to both torch
(exact search) and FAISS.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from biobridge.encoders import EmbeddingStore
from biobridge.retrieval.faiss_index import FaissIndex, recall_at_k_vs_exact
from biobridge.retrieval.index import CandidateIndex


def project(
    store_dir: Path, node_type: str, model_dir: Path | None, dim: int, seed: int
) -> tuple[np.ndarray, str]:
    _, emb = EmbeddingStore.load(store_dir).get(node_type)
    if model_dir is not None:
        from biobridge.bridge.run import TrainedRun

        model = TrainedRun.open(model_dir).load_model()
        with torch.inference_mode():
            out = model.project(torch.from_numpy(emb), node_type).numpy()
        return np.ascontiguousarray(out, dtype=np.float32), f"projection of checkpoint {model_dir}"
    rng = np.random.default_rng(seed)
    z = (emb - emb.mean(0)) / (emb.std(0) + 1e-6)
    w = rng.standard_normal((emb.shape[1], dim)).astype(np.float32) / np.sqrt(dim)
    return np.ascontiguousarray(
        z @ w, dtype=np.float32
    ), f"random projection {emb.shape[1]}->{dim} (seed {seed})"


def timed_search(index, queries: np.ndarray, k: int, repeats: int) -> tuple[float, tuple]:
    """Best-of-``repeats`` wall time of one batched search of all queries."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = index.search(queries, k)
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True, help="embedding store directory")
    ap.add_argument("--node-type", default="protein")
    ap.add_argument(
        "--model", type=Path, default=None, help="biobridge checkpoint dir (else random projection)"
    )
    ap.add_argument("--dim", type=int, default=256, help="random-projection output size")
    ap.add_argument("--n-queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument(
        "--pool-size", type=int, default=0, help="grow the pool to this size with jittered copies"
    )
    ap.add_argument("--jitter", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ef-search", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--nprobe", type=int, nargs="+", default=None, help="IVF nprobe values (default: sweep)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    import faiss

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    vectors, how = project(args.store, args.node_type, args.model, args.dim, args.seed)
    rng = np.random.default_rng(args.seed)
    n = len(vectors)
    held_out = np.sort(rng.choice(n, min(args.n_queries, n // 2), replace=False))
    queries = vectors[held_out]
    pool = np.delete(vectors, held_out, axis=0)
    if args.pool_size > len(pool):
        extra = args.pool_size - len(pool)
        base = pool[rng.integers(0, len(pool), extra)]
        noise = rng.standard_normal(base.shape).astype(np.float32) * (args.jitter * pool.std(0))
        pool = np.concatenate([pool, base + noise])
    node_index = np.arange(len(pool), dtype=np.int64)
    print(
        f"{args.node_type}: {n} stored vectors, {how}; pool {len(pool)} x {pool.shape[1]}, "
        f"{len(queries)} held-out queries, k={args.k}, threads={args.threads}"
    )

    rows = []

    def record(method: str, params: dict, build_s: float, index) -> None:
        search_s, _ = timed_search(index, queries, args.k, args.repeats)
        recall = 1.0 if method == "exact" else recall_at_k_vs_exact(index, exact, queries, args.k)
        rows.append(
            {
                "method": method,
                "params": params,
                "build_s": round(build_s, 3),
                "queries_per_s": round(len(queries) / search_s, 1),
                f"recall@{args.k}": round(recall, 4),
            }
        )
        r = rows[-1]
        print(
            f"{method:6s} {json.dumps(params):64s} build {r['build_s']:8.3f} s  "
            f"{r['queries_per_s']:10.1f} q/s  recall@{args.k} {r[f'recall@{args.k}']:.4f}"
        )

    t0 = time.perf_counter()
    exact = CandidateIndex(pool, node_index)
    record("exact", {}, time.perf_counter() - t0, exact)

    t0 = time.perf_counter()
    hnsw = FaissIndex(pool, node_index, kind="hnsw")
    build = time.perf_counter() - t0
    for ef in args.ef_search:
        hnsw.index.hnsw.efSearch = ef
        record("hnsw", {**hnsw.params, "ef_search": ef}, build, hnsw)

    t0 = time.perf_counter()
    ivf = FaissIndex(pool, node_index, kind="ivf")
    build = time.perf_counter() - t0
    nlist = ivf.params["nlist"]
    sweep = args.nprobe or sorted({max(1, nlist // d) for d in (32, 16, 8, 4, 2)} | {ivf.params["nprobe"]})
    for nprobe in sweep:
        ivf.index.nprobe = min(nprobe, nlist)
        record("ivf", {**ivf.params, "nprobe": ivf.index.nprobe}, build, ivf)

    if args.json:
        meta = {
            "node_type": args.node_type,
            "stored": n,
            "pool": len(pool),
            "dim": int(pool.shape[1]),
            "queries": len(queries),
            "k": args.k,
            "threads": args.threads,
            "vectors": how,
            "cpu": platform.processor() or platform.machine(),
            "faiss": faiss.__version__,
        }
        args.json.write_text(json.dumps({"setup": meta, "results": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
