"""The packaged default KG's text vectors, shipped as derived data, and their check.

    python benchmarks/text_vectors.py write                 # encode every distinct KG text, write the file
    python benchmarks/text_vectors.py check --sample 500    # re-encode a seeded sample, compare

``write`` encodes the distinct features of every text-modality node type of the default KG with the default
text encoder run fresh (``minilm:fresh``, batches as ``biobridge encode`` makes them) and writes
``src/biobridge/data/biokg_offline_mini/text_vectors.safetensors`` (``biobridge.encoders.precomputed``), which the
default encoder then uses for those texts. ``check`` re-encodes a sample fresh and reports the largest
difference to the shipped vectors.
"""

import argparse
import json
import time

import numpy as np

from biobridge.encoders.hf_text import default_text_encoder
from biobridge.encoders.precomputed import (
    SHIPPED_TEXT_VECTORS,
    PrecomputedVectors,
    model_fingerprint,
    write_vectors,
)
from biobridge.kg.default_kg import build_default_kg


def kg_texts() -> list[str]:
    """The distinct text features of the default KG, in KG order of first appearance."""
    kg = build_default_kg()
    types = [t for t, modality in kg.modalities.items() if modality == "text"]
    features = kg.nodes.loc[kg.nodes["node_type"].isin(types), "feature"]
    return list(dict.fromkeys(f for f in features.tolist() if isinstance(f, str) and f.strip()))


def write() -> None:
    texts = kg_texts()
    encoder = default_text_encoder(precomputed=None)
    started = time.perf_counter()
    vectors = encoder.encode(texts, progress=True)
    seconds = time.perf_counter() - started
    digest = write_vectors(
        SHIPPED_TEXT_VECTORS, texts, vectors, encoder.name, model_fingerprint(encoder.model_dir)
    )
    report = {
        "texts": len(texts),
        "seconds": round(seconds, 1),
        "texts_per_second": round(len(texts) / seconds, 1),
        "encoder": encoder.name,
        "digest": digest,
        "file": str(SHIPPED_TEXT_VECTORS),
        "bytes": SHIPPED_TEXT_VECTORS.stat().st_size,
    }
    print(json.dumps(report, indent=2))


def check(sample: int, seed: int) -> None:
    texts = kg_texts()
    encoder = default_text_encoder(precomputed=None)
    shipped = PrecomputedVectors.matching(
        SHIPPED_TEXT_VECTORS, encoder.name, encoder.model_dir, encoder.dtype
    )
    if shipped is None:
        raise SystemExit("the shipped text vectors do not match the default text encoder: run `write` first")
    rows = shipped.lookup(texts)
    picked = np.sort(
        np.random.default_rng(seed).choice(len(texts), size=min(sample, len(texts)), replace=False)
    )
    fresh = encoder.encode([texts[i] for i in picked])
    diff = np.abs(fresh - shipped.vectors[rows[picked]]).max(axis=1)
    print(
        json.dumps(
            {
                "texts": len(texts),
                "held": int((rows >= 0).sum()),
                "sample": len(picked),
                "seed": seed,
                "max_abs_diff": float(diff.max()),
                "median_max_abs_diff": float(np.median(diff)),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python benchmarks/text_vectors.py")
    parser.add_argument("step", choices=["write", "check"])
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write() if args.step == "write" else check(args.sample, args.seed)
