"""Bridge-guided drug design (BioBridge paper, section 4.6), offline with RDKit.

1. **Targets**: a disease text is carried into protein space (``disease -associated_with-> protein``) and the
   ``n_targets`` best *druggable* proteins (those with at least one ``target`` edge in the KG) are kept; or
   the user names target proteins (KG ids or sequences).
2. **Seeds**: the KG drugs that target them (``protein -rev_target-> drug`` edges) plus, per target, the
   ``bridge_drugs_per_target`` drugs the bridge retrieves for it (``rev_target``); capped at ``max_seeds``.
3. **Generation**: BRICS fragments of the seeds recombined with ``BRICSBuild`` (a lazy generator: capped at
   ``n_brics`` products and ``time_budget_s``), plus simple mutations of the seeds (aromatic C -> N, add a
   methyl / F / Cl / OH, delete a terminal atom, swap a halogen), all seeded.
4. **Filters**: RDKit sanitisation (validity), canonical-SMILES de-duplication, no KG drug, QED >=
   ``qed_min``, at most ``max_lipinski_violations`` Lipinski rule-of-five violations.
5. **Ranking**: the bridge's drug -> protein score: the mean cosine between ``transform(candidate, target,
   protein)`` and the projected retrieved targets.

Metrics (:func:`set_metrics`): validity = valid / generated; uniqueness = unique valid / valid; novelty =
share of candidates whose max Tanimoto (Morgan r2, 2048 bits) to every KG drug is < 1 (and the mean of that
max Tanimoto); mean bridge score. The unguided baseline (:func:`unguided_candidates`) runs the same generator,
filters and ranking from randomly drawn KG drugs.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

log = logging.getLogger(__name__)

_SUBSTITUENTS = (6, 9, 17, 8)  # C, F, Cl, O


def _rdkit():
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return Chem


def canonical(smiles: str) -> str | None:
    Chem = _rdkit()
    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def fingerprints(smiles: list[str]):
    Chem = _rdkit()
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    return [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]


def max_tanimoto(query_fps, reference_fps) -> tuple[np.ndarray, np.ndarray]:
    """For each query fingerprint: the max Tanimoto to the references and the argmax."""
    from rdkit import DataStructs

    if not reference_fps:
        return np.zeros(len(query_fps)), np.full(len(query_fps), -1)
    best = np.empty(len(query_fps))
    arg = np.empty(len(query_fps), dtype=np.int64)
    for i, fp in enumerate(query_fps):
        sims = np.asarray(DataStructs.BulkTanimotoSimilarity(fp, reference_fps))
        arg[i] = int(sims.argmax())
        best[i] = float(sims[arg[i]])
    return best, arg


def drug_likeness(mol) -> dict[str, float]:
    from rdkit.Chem import QED, Crippen, Descriptors, Lipinski

    mw = Descriptors.MolWt(mol)
    logp = Crippen.MolLogP(mol)
    hbd = Lipinski.NumHDonors(mol)
    hba = Lipinski.NumHAcceptors(mol)
    violations = int(mw > 500) + int(logp > 5) + int(hbd > 5) + int(hba > 10)
    return {
        "qed": float(QED.qed(mol)),
        "mol_weight": float(mw),
        "logp": float(logp),
        "hbd": int(hbd),
        "hba": int(hba),
        "lipinski_violations": violations,
    }


# ---- generation --------------------------------------------------------------------------------
def _mutate(mol, rng: random.Random):
    """One random edit of ``mol``; returns an RWMol (unsanitised) or None when the edit does not apply."""
    Chem = _rdkit()
    rw = Chem.RWMol(mol)
    op = rng.randrange(4)
    atoms = list(rw.GetAtoms())
    if op == 0:  # aromatic CH -> N
        sites = [
            a.GetIdx()
            for a in atoms
            if a.GetIsAromatic() and a.GetAtomicNum() == 6 and a.GetTotalNumHs() == 1
        ]
        if not sites:
            return None
        atom = rw.GetAtomWithIdx(rng.choice(sites))
        atom.SetAtomicNum(7)
        atom.SetNoImplicit(False)
        atom.SetNumExplicitHs(0)
    elif op == 1:  # add a substituent on an atom carrying a hydrogen
        sites = [a.GetIdx() for a in atoms if a.GetTotalNumHs() > 0 and a.GetAtomicNum() in (6, 7)]
        if not sites:
            return None
        site = rw.GetAtomWithIdx(rng.choice(sites))
        if site.GetNumExplicitHs() > 0:
            site.SetNumExplicitHs(site.GetNumExplicitHs() - 1)
        new = rw.AddAtom(Chem.Atom(rng.choice(_SUBSTITUENTS)))
        rw.AddBond(site.GetIdx(), new, Chem.BondType.SINGLE)
    elif op == 2:  # delete a terminal heavy atom
        sites = [a.GetIdx() for a in atoms if a.GetDegree() == 1]
        if not sites or rw.GetNumAtoms() <= 6:
            return None
        victim = rw.GetAtomWithIdx(rng.choice(sites))
        for nb in victim.GetNeighbors():
            nb.SetNoImplicit(False)  # the neighbour takes a hydrogen instead of becoming a radical
        rw.RemoveAtom(victim.GetIdx())
    else:  # halogen swap / terminal O <-> N
        swaps = {9: 17, 17: 9, 35: 17, 8: 7, 7: 8}
        sites = [
            a.GetIdx()
            for a in atoms
            if a.GetDegree() == 1 and a.GetAtomicNum() in swaps and not a.GetIsAromatic()
        ]
        if not sites:
            return None
        atom = rw.GetAtomWithIdx(rng.choice(sites))
        atom.SetAtomicNum(swaps[atom.GetAtomicNum()])
        atom.SetFormalCharge(0)
        atom.SetNoImplicit(False)
        atom.SetNumExplicitHs(0)
    return rw


def generate_molecules(
    seed_smiles: list[str],
    n_brics: int = 2000,
    n_mutations: int = 500,
    seed: int = 0,
    time_budget_s: float = 30.0,
    max_depth: int = 2,
) -> tuple[list[str | None], dict[str, Any]]:
    """Raw generator output: one canonical SMILES per product, ``None`` for a product that fails sanitisation.

    BRICS: all seeds' fragments, ``BRICSBuild(scrambleReagents=True, maxDepth=max_depth)``, at most
    ``n_brics`` products or half the time budget. Mutations: ``n_mutations`` edits of randomly chosen seeds
    (1-2 edits each).
    Python's global ``random`` state is used by ``BRICSBuild``; it is seeded and restored afterwards.
    """
    Chem = _rdkit()
    from rdkit.Chem import BRICS

    started = time.perf_counter()
    mols = [m for m in (Chem.MolFromSmiles(s) for s in seed_smiles) if m is not None]
    fragments: set[str] = set()
    for m in mols:
        try:
            fragments.update(BRICS.BRICSDecompose(m))
        except Exception:  # noqa: BLE001 - RDKit raises plain RuntimeErrors on odd inputs
            continue
    frag_mols = [m for m in (Chem.MolFromSmiles(f) for f in sorted(fragments)) if m is not None]
    out: list[str | None] = []
    stats: dict[str, Any] = {"n_seeds": len(mols), "n_fragments": len(frag_mols)}
    state = random.getstate()
    random.seed(seed)
    n_b = 0
    try:
        if len(frag_mols) >= 2:
            builder = BRICS.BRICSBuild(frag_mols, scrambleReagents=True, maxDepth=max_depth)
            for prod in itertools.islice(builder, n_brics):
                n_b += 1
                try:
                    prod.UpdatePropertyCache(strict=False)
                    Chem.SanitizeMol(prod)
                    radical = any(a.GetNumRadicalElectrons() for a in prod.GetAtoms())
                    out.append(None if radical else Chem.MolToSmiles(prod))
                except Exception:  # noqa: BLE001
                    out.append(None)
                if time.perf_counter() - started > time_budget_s / 2:
                    break
    finally:
        random.setstate(state)
    stats["n_brics"] = n_b
    rng = random.Random(seed + 1)
    n_m = 0
    if mols:
        for _ in range(n_mutations):
            if time.perf_counter() - started > time_budget_s:
                break
            current = rng.choice(mols)
            applied = 0
            failed = False
            for _ in range(rng.choice((1, 2))):
                edited = _mutate(current, rng)
                if edited is None:
                    break
                applied += 1
                try:
                    current = edited.GetMol()
                    Chem.SanitizeMol(current)
                except Exception:  # noqa: BLE001 - an invalid edit is an invalid product
                    failed = True
                    break
            if applied == 0:
                continue
            n_m += 1
            if not failed and any(a.GetNumRadicalElectrons() for a in current.GetAtoms()):
                failed = True  # an edit that leaves an open valence is an invalid product
            smi = None if failed else Chem.MolToSmiles(current)
            out.append(smi if smi is not None and Chem.MolFromSmiles(smi) is not None else None)
    stats["n_mutations"] = n_m
    stats["seconds"] = round(time.perf_counter() - started, 2)
    return out, stats


# ---- bridge parts --------------------------------------------------------------------------------
def retrieve_targets(
    bridge,
    disease_text: str | None = None,
    target_proteins: list[str] | None = None,
    n_targets: int = 10,
    druggable_only: bool = True,
) -> pd.DataFrame:
    """Target proteins: bridge-retrieved for a disease text, or the given proteins (KG ids / sequences).

    Columns: node_index (-1 for a sequence outside the KG), node_id, name, score, feature."""
    kg = bridge.kg
    if (disease_text is None) == (target_proteins is None):
        raise ValueError("give exactly one of disease_text and target_proteins")
    if disease_text is not None:
        vec = bridge.transform(disease_text, "disease", "associated_with", "protein")
        index = bridge.index("protein", "target" if druggable_only else "associated_with")
        scores, nodes = index.search(torch.from_numpy(vec), n_targets)
        rows = kg.nodes.loc[nodes[0]]
        return pd.DataFrame(
            {
                "node_index": nodes[0],
                "node_id": rows["node_id"].to_numpy(),
                "name": rows["name"].to_numpy(),
                "score": scores[0].astype(np.float64),
                "feature": rows["feature"].to_numpy(),
            }
        )
    records = []
    for p in target_proteins:
        node = bridge.match_node(p, "protein")
        if node is None:
            records.append(
                {
                    "node_index": -1,
                    "node_id": f"seq{len(records) + 1}",
                    "name": p[:20] + "...",
                    "score": np.nan,
                    "feature": p,
                }
            )
        else:
            records.append(
                {
                    "node_index": node,
                    "node_id": kg.nodes.at[node, "node_id"],
                    "name": kg.nodes.at[node, "name"],
                    "score": np.nan,
                    "feature": kg.nodes.at[node, "feature"],
                }
            )
    return pd.DataFrame(records)


def gather_seed_drugs(
    bridge,
    targets: pd.DataFrame,
    bridge_drugs_per_target: int = 3,
    max_seeds: int = 30,
    exclude: set[int] | None = None,
) -> pd.DataFrame:
    """KG drugs of the targets (``rev_target`` edges) first, then bridge-retrieved drugs per target."""
    kg = bridge.kg
    exclude = exclude or set()
    t = kg.triples
    known_nodes = targets["node_index"][targets["node_index"] >= 0].to_numpy()
    sub = t[(t["relation"] == "rev_target") & t["head"].isin(known_nodes)]
    seen: dict[int, str] = {}
    for d in sub["tail"].tolist():
        if d not in exclude and d not in seen:
            seen[int(d)] = "kg_target_edge"
    if bridge_drugs_per_target > 0:
        vec = bridge.transform(targets["feature"].tolist(), "protein", "rev_target", "drug")
        _, nodes = bridge.index("drug", "target").search(
            torch.from_numpy(vec), bridge_drugs_per_target + len(exclude)
        )
        for row in nodes:
            taken = 0
            for d in row.tolist():
                if taken >= bridge_drugs_per_target:
                    break
                if d in exclude:
                    continue
                taken += 1
                seen.setdefault(int(d), "bridge_retrieved")
    nodes = list(seen)[:max_seeds]
    return pd.DataFrame(
        {
            "node_index": nodes,
            "node_id": kg.nodes.loc[nodes, "node_id"].to_numpy(),
            "name": kg.nodes.loc[nodes, "name"].to_numpy(),
            "smiles": kg.nodes.loc[nodes, "feature"].to_numpy(),
            "source": [seen[n] for n in nodes],
        }
    )


def bridge_target_scores(bridge, smiles: list[str], targets: pd.DataFrame, batch: int = 1024) -> np.ndarray:
    """Mean cosine between each molecule's bridged vector (``drug -target-> protein``) and the targets."""
    if not smiles:
        return np.zeros(0)
    tvec = bridge.project(targets["feature"].tolist(), "protein")
    out = []
    for start in range(0, len(smiles), batch):
        vec = bridge.transform(smiles[start : start + batch], "drug", "target", "protein")
        out.append((vec @ tvec.T).mean(axis=1))
    return np.concatenate(out).astype(np.float64)


@dataclass
class DesignResult:
    targets: pd.DataFrame
    seeds: pd.DataFrame
    candidates: pd.DataFrame  # ranked, filtered; columns smiles, bridge_score, qed, ..., max_tanimoto_known
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        cands = self.candidates if top is None else self.candidates.head(top)
        return {
            "targets": self.targets.drop(columns=["feature"]).to_dict(orient="records"),
            "seeds": self.seeds.to_dict(orient="records"),
            "candidates": cands.to_dict(orient="records"),
            "stats": self.stats,
        }


def _known_drug_reference(bridge):
    cache = getattr(bridge, "_design_known_cache", None)
    if cache is None:
        drugs = bridge.kg.nodes[bridge.kg.nodes["node_type"] == "drug"]
        smiles = drugs["feature"].tolist()
        canon = {}
        valid, names = [], []
        for s, name in zip(smiles, drugs["name"], strict=True):
            c = canonical(s)
            if c is not None:
                canon[c] = name
                valid.append(c)
                names.append(name)
        cache = (canon, fingerprints(valid), names)
        bridge._design_known_cache = cache
    return cache


def design_from_seeds(
    bridge,
    seeds: pd.DataFrame,
    targets: pd.DataFrame,
    n: int = 50,
    seed: int = 0,
    n_brics: int = 2000,
    n_mutations: int = 500,
    time_budget_s: float = 30.0,
    qed_min: float = 0.3,
    max_lipinski_violations: int = 1,
) -> DesignResult:
    """Generate from ``seeds`` (column ``smiles``), filter, rank by the bridge towards ``targets``."""
    Chem = _rdkit()
    raw, gen_stats = generate_molecules(seeds["smiles"].tolist(), n_brics, n_mutations, seed, time_budget_s)
    valid = [s for s in raw if s is not None]
    unique = list(dict.fromkeys(valid))
    known_canon, known_fps, known_names = _known_drug_reference(bridge)
    novel = [s for s in unique if s not in known_canon]
    rows = []
    for s in novel:
        mol = Chem.MolFromSmiles(s)
        props = drug_likeness(mol)
        if props["qed"] >= qed_min and props["lipinski_violations"] <= max_lipinski_violations:
            rows.append({"smiles": s, **props})
    cands = pd.DataFrame(
        rows, columns=["smiles", "qed", "mol_weight", "logp", "hbd", "hba", "lipinski_violations"]
    )
    cands["bridge_score"] = bridge_target_scores(bridge, cands["smiles"].tolist(), targets)
    cands = cands.sort_values("bridge_score", ascending=False, kind="stable").head(n).reset_index(drop=True)
    fps = fingerprints(cands["smiles"].tolist())
    best, arg = max_tanimoto(fps, known_fps)
    cands["max_tanimoto_known"] = np.round(best, 4)
    cands["nearest_known_drug"] = [known_names[i] if i >= 0 else None for i in arg]
    cands.insert(0, "rank", np.arange(1, len(cands) + 1))
    stats = {
        "generator": gen_stats,
        "n_generated": len(raw),
        "validity": len(valid) / len(raw) if raw else float("nan"),
        "uniqueness": len(unique) / len(valid) if valid else float("nan"),
        "n_not_in_kg": len(novel),
        "n_pass_filters": len(rows),
        "drug_likeness_pass_rate": len(rows) / len(novel) if novel else float("nan"),
        **set_metrics(cands),
    }
    return DesignResult(targets, seeds, cands, stats)


def set_metrics(cands: pd.DataFrame) -> dict[str, float]:
    if len(cands) == 0:
        return {"n_candidates": 0}
    return {
        "n_candidates": len(cands),
        "novelty": float((cands["max_tanimoto_known"] < 1.0).mean()),
        "mean_max_tanimoto_known": float(cands["max_tanimoto_known"].mean()),
        "mean_bridge_score": float(cands["bridge_score"].mean()),
        "mean_qed": float(cands["qed"].mean()),
    }


def generate_candidates(
    bridge,
    disease_text: str | None = None,
    target_proteins: list[str] | None = None,
    n: int = 50,
    seed: int = 0,
    n_targets: int = 10,
    max_seeds: int = 30,
    bridge_drugs_per_target: int = 3,
    exclude_drugs: set[int] | None = None,
    **generation: Any,
) -> DesignResult:
    """Bridge-guided design for a disease text or a list of target proteins (see the module docstring).

    ``exclude_drugs``: KG drug node indices never used as seeds (held-out drugs). ``generation``: keyword
    arguments of :func:`design_from_seeds` (n_brics, n_mutations, time_budget_s, qed_min,
    max_lipinski_violations)."""
    targets = retrieve_targets(bridge, disease_text, target_proteins, n_targets)
    seeds = gather_seed_drugs(bridge, targets, bridge_drugs_per_target, max_seeds, exclude_drugs)
    if len(seeds) == 0:
        raise ValueError("no seed drugs for these targets")
    result = design_from_seeds(bridge, seeds, targets, n=n, seed=seed, **generation)
    result.stats["mode"] = "guided"
    return result


def unguided_candidates(
    bridge,
    targets: pd.DataFrame,
    n_seeds: int,
    n: int = 50,
    seed: int = 0,
    exclude_drugs: set[int] | None = None,
    **generation: Any,
) -> DesignResult:
    """Baseline: the same generator, filters and bridge ranking, seeded with ``n_seeds`` random KG drugs."""
    kg = bridge.kg
    pool = np.setdiff1d(kg.nodes_of_type("drug"), np.fromiter(exclude_drugs or (), dtype=np.int64))
    rng = np.random.default_rng(seed)
    nodes = rng.choice(pool, size=min(n_seeds, len(pool)), replace=False)
    seeds = pd.DataFrame(
        {
            "node_index": nodes,
            "node_id": kg.nodes.loc[nodes, "node_id"].to_numpy(),
            "name": kg.nodes.loc[nodes, "name"].to_numpy(),
            "smiles": kg.nodes.loc[nodes, "feature"].to_numpy(),
            "source": "random",
        }
    )
    result = design_from_seeds(bridge, seeds, targets, n=n, seed=seed, **generation)
    result.stats["mode"] = "unguided"
    return result
