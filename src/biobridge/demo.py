"""`biobridge demo`: the whole pipeline on the packaged default KG, then one retrieval per query modality."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from biobridge import pipeline
from biobridge.config import RunConfig, preset
from biobridge.retrieval.bridge import Bridge

# One example query per modality. The protein and the drug are held-out (test) nodes of the paper split, chosen
# at run time; the text is a free-form disease description that is not a node of the KG.
TEXT_QUERY = "Name: familial Parkinson disease. Definition: an inherited neurodegenerative movement disorder."


def example_queries(bridge: Bridge, split) -> list[dict[str, Any]]:
    kg = bridge.kg
    held = set(split.held_out_nodes.tolist())
    test = split.test_triples(kg)
    examples = []
    for head_type, relation, tail_type in (
        ("protein", "interacts_with", "biological_process"),
        ("drug", "target", "protein"),
    ):
        heads = test.loc[test["relation"] == relation, "head"].to_numpy()
        heads = np.array(
            [h for h in np.unique(heads) if h in held and kg.nodes.at[h, "node_type"] == head_type]
        )
        if len(heads) == 0:
            continue
        node = int(heads[0])
        examples.append(
            {
                "query": kg.nodes.at[node, "feature"],
                "query_label": f"held-out {head_type} "
                f"{kg.nodes.at[node, 'node_id']} ({kg.nodes.at[node, 'name']})",
                "head_type": head_type,
                "relation": relation,
                "tail_type": tail_type,
            }
        )
    examples.append(
        {
            "query": TEXT_QUERY,
            "query_label": "free text (not in the KG)",
            "head_type": "disease",
            "relation": "associated_with",
            "tail_type": "protein",
        }
    )
    return examples


def run_demo(
    workdir: Path,
    config: RunConfig | None = None,
    max_nodes_per_type: int | None = None,
    k: int = 5,
    progress: bool = True,
) -> dict[str, Any]:
    config = config or preset("cpu")
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    prep = pipeline.prepare(workdir, max_nodes_per_type=max_nodes_per_type)
    times["prepare"] = time.perf_counter() - t0
    t = time.perf_counter()
    store = pipeline.encode(workdir, progress=progress)
    times["encode"] = time.perf_counter() - t
    t = time.perf_counter()
    # a demo run again over the same working directory reuses (or resumes) its finished run
    run = pipeline.train(workdir, config, protocol="paper", progress=progress, reuse=True)
    times["train"] = time.perf_counter() - t
    t = time.perf_counter()
    loaded = pipeline.load_run(workdir, run.directory)  # loaded once: evaluation and retrievals share it
    result = pipeline.evaluate_run(loaded, pipeline.Workdir(workdir).eval_dir)
    times["evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    bridge = Bridge.from_run(loaded)
    retrievals = []
    for ex in example_queries(bridge, loaded.split):
        table = bridge.retrieve(ex["query"], ex["head_type"], ex["tail_type"], relation=ex["relation"], k=k)
        retrievals.append({**ex, "results": table})
    times["retrieve"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    return {
        "prepare": prep,
        "store": store,
        "run": run,
        "evaluation": result,
        "retrievals": retrievals,
        "seconds": times,
    }
