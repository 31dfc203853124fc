"""The packaged default KG's all-against-all protein search, shipped as derived data, and its checks.

    python benchmarks/homology_hits.py write [--threads T]     # search, then write the shipped file
    python benchmarks/homology_hits.py check --sample 40        # brute-force Smith-Waterman (pyopal) vs MMseqs2

``write`` runs MMseqs2 (``biobridge.encoders.homology.DEFAULT_SEARCH``) on the default KG's proteins, in KG
order, and writes ``src/biobridge/data/biokg_offline_mini/protein_hits.parquet`` with the reference hash,
the settings and the MMseqs2 version; ``HomologyEncoder.fit`` uses it when the sequences and settings match.

``check`` aligns a seeded sample of proteins against every protein with an exact SIMD Smith-Waterman
(``pip install pyopal``; BLOSUM62, gap open 11 / extend 1 in BLAST's convention), converts the raw scores
to bit scores (Karlin-Altschul lambda 0.267, K 0.041) and reports how many of the exhaustive search's hits
with E-value < 1e-3 MMseqs2 finds, and whether both agree on each query's best hit.
"""

import argparse
import json
import math
import time

import numpy as np

from biobridge.encoders.homology import DEFAULT_SEARCH, SHIPPED_HITS, load_matching_hits, write_shipped_hits
from biobridge.encoders.mmseqs import SearchSettings, mmseqs_version, search
from biobridge.kg.default_kg import build_default_kg

TOP = 20  # the homology-kNN vote uses at most 20 hits per query
LAMBDA, K = 0.267, 0.041  # BLOSUM62, gaps 11/1 (NCBI BLAST's gapped Karlin-Altschul parameters)


def kg_sequences() -> list[str]:
    kg = build_default_kg()
    return kg.nodes.loc[kg.nodes_of_type("protein"), "feature"].tolist()


def write(threads: int | None) -> None:
    sequences = kg_sequences()
    started = time.perf_counter()
    settings = SearchSettings(**DEFAULT_SEARCH.identity(), threads=threads)
    table = search(sequences, None, settings)
    seconds = time.perf_counter() - started
    write_shipped_hits(SHIPPED_HITS, sequences, table, DEFAULT_SEARCH)
    print(
        json.dumps(
            {
                "proteins": len(sequences),
                "hits": len(table),
                "seconds": round(seconds, 1),
                "threads": threads,
                "mmseqs": mmseqs_version(),
                "file": str(SHIPPED_HITS),
                "bytes": SHIPPED_HITS.stat().st_size,
            },
            indent=2,
        )
    )


def check(sample: int, seed: int) -> None:
    import pyopal

    sequences = kg_sequences()
    shipped = load_matching_hits(SHIPPED_HITS, sequences, DEFAULT_SEARCH)
    if shipped is None:
        raise SystemExit("the shipped hits do not match the default KG's proteins: run `write` first")
    queries = np.sort(np.random.default_rng(seed).choice(len(sequences), size=sample, replace=False))
    database = pyopal.Database(sequences)
    n_residues = sum(len(s) for s in sequences)
    found, significant, best_agree, with_hits, top_found, top_total = 0, 0, 0, 0, 0, 0
    started = time.perf_counter()
    for q in queries:
        results = pyopal.align(sequences[q], database, "BLOSUM62", gap_open=10, gap_extend=1, ordered=True)
        scores = np.fromiter((r.score for r in results), dtype=float, count=len(sequences))
        bits = (LAMBDA * scores - math.log(K)) / math.log(2)
        evalue = len(sequences[q]) * n_residues * np.power(2.0, -bits)
        strong = np.flatnonzero((evalue < 1e-3) & (np.arange(len(sequences)) != q))
        mine = shipped.target[(shipped.query == q) & (shipped.target != q)]
        significant += len(strong)
        found += len(np.intersect1d(strong, mine))
        top = strong[np.argsort(-bits[strong], kind="stable")[:TOP]]
        top_total += len(top)
        top_found += len(np.intersect1d(top, mine))
        if len(strong):
            with_hits += 1
            best = top[0]
            # the same best hit, or one scoring as high in the exhaustive alignment (a tie)
            best_agree += int(len(mine) > 0 and bits[mine[0]] >= bits[best] - 1e-9)
    print(
        json.dumps(
            {
                "sample": sample,
                "seed": seed,
                "seconds": round(time.perf_counter() - started, 1),
                "exhaustive_hits_evalue_lt_1e-3": significant,
                "found_by_mmseqs": found,
                "recall": round(found / max(significant, 1), 4),
                f"recall_of_exhaustive_top{TOP}": round(top_found / max(top_total, 1), 4),
                "queries_with_exhaustive_hits": with_hits,
                "same_best_hit": best_agree,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python benchmarks/homology_hits.py")
    parser.add_argument("step", choices=["write", "check"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write(args.threads) if args.step == "write" else check(args.sample, args.seed)
