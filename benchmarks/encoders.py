"""Throughput benchmark of the default encoders on the packaged default-KG data (not part of the unit tests).

    python benchmarks/encoders.py [--data DIR] [--n-text 2000] [--repeats 3] [--batch-size N]

Prints items/s (median over repeats) for each default encoder on this machine: composition (protein
sequences) and Morgan (SMILES), encode only and validation only, and MiniLM (GO-term texts) after a warm-up.
``--data`` defaults to the packaged ``biobridge/data/biokg_offline_mini``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import pandas as pd

import biobridge
from biobridge.encoders import build_encoder


def _default_data_dir() -> Path:
    return Path(biobridge.__file__).resolve().parent / "data" / "biokg_offline_mini"


def _time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, float]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=_default_data_dir())
    parser.add_argument("--n-text", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args(argv)

    results: dict[str, float] = {}
    proteins = pd.read_csv(args.data / "proteins.tsv.gz", sep="\t", usecols=["sequence"])["sequence"].tolist()
    drugs = pd.read_csv(args.data / "drugs.tsv", sep="\t", usecols=["smiles"])["smiles"].dropna().tolist()
    go = pd.read_csv(args.data / "go_terms.tsv.gz", sep="\t", nrows=args.n_text, keep_default_na=False)
    texts = [f"Name: {n}. Definition: {d}" for n, d in zip(go["name"], go["definition"], strict=True)]

    for spec, items, unit in (("composition", proteins, "sequences"), ("morgan", drugs, "molecules")):
        enc = build_encoder(spec)
        valid = [x for x in items if enc.invalid_reason(x) is None]
        sec = _time(lambda e=enc, v=valid: e.encode_prevalidated(v), args.repeats)
        results[spec] = len(valid) / sec
        print(f"{enc.name:45s} {len(valid):6d} {unit:10s} {results[spec]:12.1f} items/s (encode only)")
        sec_v = _time(lambda e=enc, v=valid: [e.invalid_reason(x) for x in v], args.repeats)
        print(f"{'  + validation':45s} {len(valid):6d} {unit:10s} {len(valid) / sec_v:12.1f} items/s")

    import torch

    enc = build_encoder("minilm")
    enc.encode(texts[:8])  # load model + warm up
    sec = _time(lambda: enc.encode(texts, batch_size=args.batch_size), args.repeats)
    results["minilm"] = len(texts) / sec
    print(
        f"{enc.name:45s} {len(texts):6d} {'texts':10s} {results['minilm']:12.1f} items/s "
        f"(torch threads={torch.get_num_threads()}, device={enc.device}, "
        f"batch={args.batch_size or enc.batch_size})"
    )
    return results


if __name__ == "__main__":
    main()
