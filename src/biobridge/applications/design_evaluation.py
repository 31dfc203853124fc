"""Guided design against a held-out answer (docs/applications.md, "Held-out experiment"): for seeded indication
diseases, hold all their indication drugs out of the generator's seeds, design from the disease name, run the
unguided baseline from as many random seeds, and compare how close (max Tanimoto) each top-``n`` set lands to
the held-out drugs. Use a bridge trained without ``indication`` edges
(``biobridge.applications.unseen_relation.train_without_relation``) so the hold-out is complete."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from biobridge.applications.design import DesignResult, generate_candidates, unguided_candidates
from biobridge.applications.molecules import fingerprints, max_tanimoto

log = logging.getLogger(__name__)

STAT_KEYS = (
    "validity",
    "uniqueness",
    "novelty",
    "mean_max_tanimoto_known",
    "mean_bridge_score",
    "mean_qed",
    "n_candidates",
)


def heldout_design_experiment(
    bridge,
    n_diseases: int = 10,
    min_drugs: int = 5,
    n: int = 30,
    seed: int = 0,
    n_targets: int = 10,
    max_seeds: int = 30,
    **generation: Any,
) -> dict[str, Any]:
    """Settings, summary (means over diseases, guided wins, target hits) and one row per disease."""
    t = bridge.kg.triples
    indications = t[t["relation"] == "rev_indication"]
    counts = indications.groupby("head")["tail"].nunique()
    eligible = np.sort(counts[counts >= min_drugs].index.to_numpy())
    chosen = np.random.default_rng(seed).choice(eligible, size=min(n_diseases, len(eligible)), replace=False)
    options = {"n": n, "seed": seed, "n_targets": n_targets, "max_seeds": max_seeds, **generation}
    rows = []
    for disease in chosen:
        held = set(indications.loc[indications["head"] == disease, "tail"].astype(int).tolist())
        rows.append(_disease_row(bridge, int(disease), held, options))
        log.info(
            "%s: guided %.3f vs unguided %.3f",
            rows[-1]["disease"],
            rows[-1]["guided_mean_maxsim_heldout"],
            rows[-1]["unguided_mean_maxsim_heldout"],
        )
    return {
        "settings": {"n_diseases": len(rows), "min_drugs": min_drugs, **options},
        "summary": _summary(rows),
        "diseases": rows,
    }


def _disease_row(bridge, disease: int, held: set[int], options: dict[str, Any]) -> dict[str, Any]:
    kg, t = bridge.kg, bridge.kg.triples
    held_fps = fingerprints(kg.nodes.loc[sorted(held), "feature"].tolist())
    generation = {k: v for k, v in options.items() if k not in ("n_targets", "max_seeds")}
    guided = generate_candidates(
        bridge,
        disease_text=kg.nodes.at[disease, "feature"],
        n_targets=options["n_targets"],
        max_seeds=options["max_seeds"],
        exclude_drugs=held,
        **generation,
    )
    unguided = unguided_candidates(
        bridge, guided.targets, len(guided.seeds), exclude_drugs=held, **generation
    )
    row: dict[str, Any] = {
        "disease": kg.nodes.at[disease, "name"],
        "disease_id": kg.nodes.at[disease, "node_id"],
        "n_held_out_drugs": len(held),
    }
    # do the retrieved targets include real targets of the held-out drugs?
    held_targets = set(t.loc[(t["relation"] == "target") & t["head"].isin(held), "tail"].tolist())
    row["target_hits"] = int(len(set(guided.targets["node_index"].tolist()) & held_targets))
    for label, result in (("guided", guided), ("unguided", unguided)):
        row.update(_closeness(label, result, held_fps))
    return row


def _closeness(label: str, result: DesignResult, held_fps) -> dict[str, Any]:
    """How close a design result's candidates (and seeds) come to the held-out drugs, and its set metrics."""
    sims, _ = max_tanimoto(fingerprints(result.candidates["smiles"].tolist()), held_fps)
    seed_sims, _ = max_tanimoto(fingerprints(result.seeds["smiles"].tolist()), held_fps)
    out = {
        f"{label}_mean_maxsim_heldout": float(np.mean(sims)) if len(sims) else float("nan"),
        f"{label}_frac_maxsim_ge_0.4": float(np.mean(sims >= 0.4)) if len(sims) else float("nan"),
        f"{label}_seed_mean_maxsim_heldout": float(np.mean(seed_sims)) if len(seed_sims) else float("nan"),
    }
    out.update({f"{label}_{key}": result.stats.get(key) for key in STAT_KEYS})
    return out


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k in rows[0] if k.startswith(("guided_", "unguided_"))] if rows else []
    summary: dict[str, Any] = {k: float(np.nanmean([r[k] for r in rows if r[k] is not None])) for k in keys}
    wins = sum(r["guided_mean_maxsim_heldout"] > r["unguided_mean_maxsim_heldout"] for r in rows)
    summary["guided_wins"] = f"{wins}/{len(rows)}"
    summary["mean_target_hits"] = float(np.mean([r["target_hits"] for r in rows])) if rows else float("nan")
    return summary
