"""The short GPU check of the performance issue, prepared to run in one call where a GPU is lent: the `paper`
preset's training step on the accelerator (fp32 and bf16 autocast, eager and compiled), its executed FLOPs and
its utilisation against the device's own matmul peak of the same precision; then protein encoding through
``ESM2Encoder`` with a randomly initialised model of a real ESM2 shape (``--esm-shape``, default 650M: 33 layers
of 1,280) on a seeded sample of the packaged KG's sequences (sequences/s, residues/s, executed FLOPs against the
peak of the weights' precision).

    PYTHONPATH=src python3 benchmarks/gpu_check.py --out OUT/gpu_check.json            # on the GPU machine
    python benchmarks/gpu_check.py --device cpu --scale 0.05 --steps 2 --batch 256 \
        --esm-shape 8M --esm-sequences 16                                               # the same code on CPU

Nothing is downloaded and no prepared working directory is needed: the KG is synthetic, shaped like the packaged
default KG (its node types, counts times ``--scale``, input dimensions and relation sizes; random edges and
random input vectors), because training speed depends on those shapes, not on the values. It needs torch, numpy,
pandas and pyarrow (the GPU image has them) and biobridge's source on the path; not RDKit or MMseqs2. The ESM2
rows need transformers (the GPU image has it) and build their random model with the tests' factory
(``tests/encoders/tiny_models.py``), so the repository root must be on the path too (the script adds it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
# ESM2 sizes (facebook/esm2_t*): hidden size, layers, attention heads, feed-forward width
ESM2_SHAPES = {
    "8M": (320, 6, 20, 1280),
    "35M": (480, 12, 20, 1920),
    "150M": (640, 30, 20, 2560),
    "650M": (1280, 33, 20, 5120),
}

# the packaged default KG (README): nodes per type and input dimension of its default encoders
NODE_TYPES = {
    "protein": (17_530, 676, "protein"),
    "biological_process": (12_441, 384, "text"),
    "molecular_function": (4_496, 384, "text"),
    "cellular_component": (1_819, 384, "text"),
    "drug": (1_516, 2048, "molecule"),
    "disease": (10_538, 384, "text"),
}
# forward edges per (head type, relation, tail type); each is stored with its reverse
RELATIONS = {
    ("protein", "interacts_with", "biological_process"): 160_000,
    ("protein", "interacts_with", "molecular_function"): 60_000,
    ("protein", "interacts_with", "cellular_component"): 64_000,
    ("biological_process", "parent_child", "biological_process"): 20_000,
    ("molecular_function", "parent_child", "molecular_function"): 5_000,
    ("cellular_component", "parent_child", "cellular_component"): 3_900,
    ("disease", "associated_with", "protein"): 12_064,
    ("drug", "indication", "disease"): 9_296,
    ("drug", "target", "protein"): 2_777,
}


def synthetic_kg(scale: float, seed: int = 0):
    """A KnowledgeGraph and an EmbeddingTable shaped like the default KG (``scale`` times its sizes)."""
    from biobridge.bridge.embedding_table import EmbeddingTable
    from biobridge.kg.graph import KnowledgeGraph

    rng = np.random.default_rng(seed)
    sizes = {t: max(20, int(n * scale)) for t, (n, _, _) in NODE_TYPES.items()}
    start, first = 0, {}
    for t, n in sizes.items():
        first[t], start = start, start + n
    nodes = pd.DataFrame(
        {
            "node_index": np.arange(start, dtype=np.int64),
            "node_type": np.repeat(list(sizes), list(sizes.values())),
            "node_id": [f"n{i}" for i in range(start)],
            "name": [f"n{i}" for i in range(start)],
            "feature": "x",
        }
    )
    rows, reverse = [], {}
    for (head, relation, tail), n_edges in RELATIONS.items():
        n = max(20, int(n_edges * scale))
        h = first[head] + rng.integers(0, sizes[head], n)
        t = first[tail] + rng.integers(0, sizes[tail], n)
        rows.append(pd.DataFrame({"head": h, "relation": relation, "tail": t}))
        rows.append(pd.DataFrame({"head": t, "relation": f"rev_{relation}", "tail": h}))
        reverse[relation], reverse[f"rev_{relation}"] = f"rev_{relation}", relation
    triples = pd.concat(rows, ignore_index=True).drop_duplicates(ignore_index=True)
    modalities = {t: m for t, (_, _, m) in NODE_TYPES.items()}
    kg = KnowledgeGraph(nodes, triples, modalities, reverse)
    matrices = {t: rng.standard_normal((sizes[t], NODE_TYPES[t][1]), dtype=np.float32) for t in sizes}
    index = {t: np.arange(first[t], first[t] + sizes[t]) for t in sizes}
    return kg, EmbeddingTable(matrices, index, kg.num_nodes)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 10) -> float:
    """Median FLOP/s of an n x n x n product in ``dtype`` on ``device`` (fp32 on CUDA without TF32)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    rates = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        a @ b
        synchronize(device)
        rates.append(2 * n**3 / (time.perf_counter() - start))
    return statistics.median(rates)


def training_row(kg, split, table, device, precision: str, compiled: bool, steps: int, batch: int) -> dict:
    """Median step time of the paper preset (``batch`` triples a step), its executed FLOPs per triple
    (``torch.utils.flop_counter``, eager) and the first step's time (compilation, when compiled)."""
    from torch.utils.flop_counter import FlopCounterMode

    from biobridge.bridge.train import step_function
    from biobridge.config import preset, with_overrides

    overrides = {
        "train.device": str(device),
        "train.precision": precision,
        "train.compile": compiled,
        "train.batch_size": batch,
    }
    cfg = with_overrides(preset("paper"), overrides)
    step = step_function(kg, split, table, cfg, seed=0)
    synchronize(device)
    start = time.perf_counter()
    n = step()
    synchronize(device)
    first = time.perf_counter() - start
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    flops = None
    if not compiled:  # the counter sees eager code; a compiled step does the same arithmetic
        with FlopCounterMode(display=False) as counter:
            step()
        flops = counter.get_total_flops() / n
    return {
        "precision": precision,
        "compiled": compiled,
        "batch": n,
        "first_step_s": first,
        "step_s_all": times,
        "triples_per_s": n / statistics.median(times),
        "flops_per_triple": flops,
    }


def esm_row(device, shape: str, dtype: str, n_sequences: int, token_budget: int, repeats: int = 3) -> dict:
    """Encode a seeded sample of the packaged KG's protein sequences with ``ESM2Encoder`` (windows of 1,022
    residues over longer ones, as a real run would) and a random ESM2 of ``shape`` in ``dtype``: median time
    over ``repeats`` after a first pass, and the FLOPs one pass executes (``torch.utils.flop_counter``)."""
    from torch.utils.flop_counter import FlopCounterMode

    sys.path.insert(0, str(ROOT))
    from biobridge.encoders.esm2 import ESM2Encoder
    from tests.encoders.tiny_models import make_tiny_esm

    proteins = pd.read_csv(ROOT / "src/biobridge/data/biokg_offline_mini/proteins.tsv.gz", sep="\t")
    sample = proteins["sequence"].sample(n=n_sequences, random_state=0).tolist()
    hidden, layers, heads, ff = ESM2_SHAPES[shape]
    sizes = {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads}
    sizes["intermediate_size"] = ff
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = make_tiny_esm(Path(tmp) / f"esm2_{shape}", 1026, shape=sizes, dtype=dtype)
        encoder = ESM2Encoder(
            model_dir,
            max_tokens_per_batch=token_budget,
            long_sequence_policy="window",
            device=str(device),
            dtype=dtype,
        )
        synchronize(device)
        start = time.perf_counter()
        encoder.encode(sample)
        synchronize(device)
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            encoder.encode(sample)
            synchronize(device)
            times.append(time.perf_counter() - start)
        with FlopCounterMode(display=False) as counter:
            encoder.encode(sample)
    seconds = statistics.median(times)
    residues = sum(len(x) for x in sample)
    return {
        "shape": shape,
        "dtype": dtype,
        "n_sequences": n_sequences,
        "residues": residues,
        "token_budget": token_budget,
        "first_pass_s": first,
        "pass_s_all": times,
        "sequences_per_s": n_sequences / seconds,
        "residues_per_s": residues / seconds,
        "flops_per_pass": counter.get_total_flops(),
        "achieved_flops": counter.get_total_flops() / seconds,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="the synthetic KG's size relative to the default"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps per row, after a first step")
    parser.add_argument("--batch", type=int, default=4096, help="triples per step (the paper preset's 4,096)")
    parser.add_argument("--peak-n", type=int, default=8192, help="size of the matmul that measures the peak")
    parser.add_argument(
        "--precisions", default="fp32,bf16", help="fp32 and/or bf16 (emulated and slow on most CPUs)"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON, rewritten after every row")
    parser.add_argument("--esm-shape", default="650M", choices=[*ESM2_SHAPES, "none"])
    parser.add_argument("--esm-sequences", type=int, default=512, help="sequences encoded per pass")
    parser.add_argument("--esm-tokens", type=int, default=65536, help="token budget per encoder batch")
    parser.add_argument(
        "--esm-dtypes", default="float32,bfloat16", help="the ESM2 weights' precisions, one row each"
    )
    args = parser.parse_args(argv)
    from biobridge.kg.split import load_or_create_split

    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 rows against a true fp32 peak
    kg, table = synthetic_kg(args.scale)
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "kg": {"nodes": kg.num_nodes, "triples": len(kg.triples), "scale": args.scale},
        "peak_flops": {},
        "rows": [],
    }
    precisions = args.precisions.split(",")
    for precision in precisions:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
        result["peak_flops"][precision] = matmul_peak(device, dtype, args.peak_n)
    with tempfile.TemporaryDirectory() as tmp:
        split = load_or_create_split(kg, Path(tmp) / "split", "paper", 0.1, 42)
        eager_flops = {}
        for precision in precisions:
            for compiled in (False, True):
                row = training_row(kg, split, table, device, precision, compiled, args.steps, args.batch)
                if row["flops_per_triple"] is not None:
                    eager_flops[precision] = row["flops_per_triple"]
                flops = eager_flops[precision]
                row["achieved_flops"] = row["triples_per_s"] * flops
                row["fraction_of_peak"] = row["achieved_flops"] / result["peak_flops"][precision]
                result["rows"].append(row)
                print(
                    f"paper {precision} {'compiled' if compiled else 'eager'}: {row['triples_per_s']:,.0f} "
                    f"triples/s, {row['achieved_flops'] / 1e12:.2f} TFLOP/s = "
                    f"{100 * row['fraction_of_peak']:.1f} % of the {precision} peak "
                    f"({result['peak_flops'][precision] / 1e12:.1f} TFLOP/s); first step {row['first_step_s']:.1f} s",
                    flush=True,
                )
                write(args.out, result)
    if args.esm_shape == "none":
        return 0
    result["esm_rows"] = []
    for dtype in args.esm_dtypes.split(","):
        key = {"float32": "fp32", "bfloat16": "bf16"}.get(dtype)
        if key not in result["peak_flops"]:
            result["peak_flops"][key] = matmul_peak(device, getattr(torch, dtype), args.peak_n)
        row = esm_row(device, args.esm_shape, dtype, args.esm_sequences, args.esm_tokens)
        row["fraction_of_peak"] = row["achieved_flops"] / result["peak_flops"][key]
        result["esm_rows"].append(row)
        print(
            f"ESM2-{args.esm_shape} {dtype}: {row['sequences_per_s']:,.1f} sequences/s, "
            f"{row['residues_per_s']:,.0f} residues/s, {row['achieved_flops'] / 1e12:.2f} TFLOP/s = "
            f"{100 * row['fraction_of_peak']:.1f} % of the {key} peak; first pass {row['first_pass_s']:.1f} s",
            flush=True,
        )
        write(args.out, result)
    return 0


def write(out: Path | None, result: dict) -> None:
    """The JSON so far: written after every row, so a run cut short keeps what it measured."""
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    raise SystemExit(main())
