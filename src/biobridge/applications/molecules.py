"""RDKit molecule operations of guided design: canonical SMILES, Morgan fingerprints and Tanimoto,
drug-likeness (QED, Lipinski), and the seeded generator (BRICS recombination of seed fragments plus simple
mutations: aromatic C -> N, add a methyl / F / Cl / OH, delete a terminal atom, swap a halogen)."""

from __future__ import annotations

import itertools
import json
import os
import random
import selectors
import subprocess
import sys
import time
from typing import Any

import numpy as np

_SUBSTITUENTS = (6, 9, 17, 8)  # C, F, Cl, O


def rdkit_chem():
    """``rdkit.Chem`` with RDKit's logging silenced."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return Chem


def canonical(smiles: str) -> str | None:
    Chem = rdkit_chem()
    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def fingerprints(smiles: list[str]):
    Chem = rdkit_chem()
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
    Chem = rdkit_chem()
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
    ``BRICSBuild`` runs in a seeded child process with a hard deadline (``_brics_products``).
    """
    Chem = rdkit_chem()
    started = time.perf_counter()
    mols = [m for m in (Chem.MolFromSmiles(s) for s in seed_smiles) if m is not None]
    deadline = started + time_budget_s
    brics, n_fragments = _brics_products(mols, n_brics, seed, max_depth, started + time_budget_s / 2)
    mutated = _mutation_products(mols, n_mutations, seed + 1, deadline)
    stats: dict[str, Any] = {
        "n_seeds": len(mols),
        "n_fragments": n_fragments,
        "n_brics": len(brics),
        "n_mutations": len(mutated),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return brics + mutated, stats


def _brics_products(mols, n_brics: int, seed: int, max_depth: int, deadline: float) -> tuple[list, int]:
    """BRICS recombinations of the seeds' fragments (``None`` for an invalid product), and the fragment count.

    RDKit's ``BRICSBuild`` can grind for minutes inside one step without yielding a product (a fragment set
    whose recombinations are almost all duplicates), so it runs in a child process (``_brics_worker``, JSON in,
    one JSON line per product out) that is killed at ``deadline``: the products read by then are kept, in the
    generator's order, so a run that finishes before its deadline is the same as an in-process one."""
    Chem = rdkit_chem()
    from rdkit.Chem import BRICS

    fragments: set[str] = set()
    for m in mols:
        try:
            fragments.update(BRICS.BRICSDecompose(m))
        except Exception:  # noqa: BLE001 - RDKit raises plain RuntimeErrors on odd inputs
            continue
    frag_smiles = [f for f in sorted(fragments) if Chem.MolFromSmiles(f) is not None]
    if len(frag_smiles) < 2 or n_brics < 1:
        return [], len(frag_smiles)
    job = {"fragments": frag_smiles, "n_brics": n_brics, "seed": seed, "max_depth": max_depth}
    proc = subprocess.Popen(
        [sys.executable, "-m", "biobridge.applications.molecules"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out: list[str | None] = []
    try:
        proc.stdin.write(json.dumps(job).encode("utf-8"))
        proc.stdin.close()
        _read_products(proc, out, n_brics, deadline)
    finally:
        proc.kill()
        proc.wait()
    return out, len(frag_smiles)


def _read_products(proc, out: list, n_brics: int, deadline: float) -> None:
    """Append the child's products to ``out`` until it ends, ``n_brics`` are read, or ``deadline``."""
    fd = proc.stdout.fileno()
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while len(out) < n_brics:
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or not selector.select(timeout=remaining):
                return
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            *lines, pending = (pending + chunk).split(b"\n")
            out.extend(json.loads(line) for line in lines[: n_brics - len(out)])


def _brics_worker() -> None:
    """The child of ``_brics_products``: read the job (JSON) from stdin, print one JSON line per product."""
    Chem = rdkit_chem()
    from rdkit.Chem import BRICS

    job = json.loads(sys.stdin.read())
    frag_mols = [Chem.MolFromSmiles(f) for f in job["fragments"]]
    random.seed(job["seed"])
    builder = BRICS.BRICSBuild(frag_mols, scrambleReagents=True, maxDepth=job["max_depth"])
    for prod in itertools.islice(builder, job["n_brics"]):
        try:
            prod.UpdatePropertyCache(strict=False)
            Chem.SanitizeMol(prod)
            radical = any(a.GetNumRadicalElectrons() for a in prod.GetAtoms())
            smiles = None if radical else Chem.MolToSmiles(prod)
        except Exception:  # noqa: BLE001
            smiles = None
        sys.stdout.write(json.dumps(smiles) + "\n")
        sys.stdout.flush()


def _mutation_products(mols, n_mutations: int, seed: int, deadline: float) -> list[str | None]:
    """1-2 random edits of randomly chosen seeds per attempt (``None`` for an invalid product)."""
    Chem = rdkit_chem()
    rng = random.Random(seed)
    out: list[str | None] = []
    if not mols:
        return out
    for _ in range(n_mutations):
        if time.perf_counter() > deadline:
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
        if not failed and any(a.GetNumRadicalElectrons() for a in current.GetAtoms()):
            failed = True  # an edit that leaves an open valence is an invalid product
        smi = None if failed else Chem.MolToSmiles(current)
        out.append(smi if smi is not None and Chem.MolFromSmiles(smi) is not None else None)
    return out


if __name__ == "__main__":
    _brics_worker()
