"""Salt reduction of drug SMILES: keep the largest carbon-containing fragment of a multi-fragment SMILES.

Used by the default KG (``biobridge.kg.default_kg``) for DrugCentral SMILES: a salt, hydrate or mixture is
reduced to its fragment with most heavy atoms among those containing carbon (charges are kept, not
neutralised); purely inorganic salts (sodium fluoride) and unparsable SMILES are kept whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def largest_fragment(smiles: str) -> tuple[str, str, bool]:
    """Reduce a multi-fragment SMILES (salt, hydrate, mixture) to its largest organic fragment.

    Returns ``(smiles, status, tie)`` with status ``"single"`` (one fragment, returned unchanged),
    ``"reduced"`` (canonical SMILES of the carbon-containing fragment with most heavy atoms),
    ``"inorganic"`` (no fragment has carbon, e.g. sodium fluoride or zinc chloride: the salt is the drug,
    returned unchanged) or ``"unparsable"`` (returned unchanged; the encoder records the failure). Ties on
    heavy atoms go to the longer, then the alphabetically first canonical SMILES; ``tie`` says that a tie
    between different fragments was broken.
    """
    if "." not in smiles:
        return smiles, "single", False
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return smiles, "unparsable", False
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=True)
    if len(frags) < 2:
        return smiles, "single", False
    organic = [f for f in frags if any(a.GetAtomicNum() == 6 for a in f.GetAtoms())]
    if not organic:
        return smiles, "inorganic", False
    scored = [(f.GetNumHeavyAtoms(), Chem.MolToSmiles(f)) for f in organic]
    best_atoms = max(a for a, _ in scored)
    best = sorted({s for a, s in scored if a == best_atoms}, key=lambda s: (-len(s), s))
    return best[0], "reduced", len(best) > 1


@dataclass(frozen=True)
class SmilesReductions:
    """Per drug, the SMILES after :func:`largest_fragment`, and what was reduced or kept whole."""

    smiles: list[str]
    reduced: list[list[str]]  # [node_id, original, reduced]
    kept_whole: dict[str, list[str]]  # "inorganic" / "unparsable" -> node ids
    ties: list[str]


def reduce_salts(drug_ids: Iterable[str], smiles: Iterable[str]) -> SmilesReductions:
    """:func:`largest_fragment` of every drug's SMILES, with the reductions, whole kept salts and ties."""
    reduced: list[list[str]] = []
    kept_whole: dict[str, list[str]] = {"inorganic": [], "unparsable": []}
    ties: list[str] = []
    smiles_out = []
    for did, smi in zip(drug_ids, smiles, strict=True):
        new, status, tie = largest_fragment(smi)
        if status == "reduced":
            reduced.append([did, smi, new])
        elif status in kept_whole:
            kept_whole[status].append(did)
        if tie:
            ties.append(did)
        smiles_out.append(new)
    return SmilesReductions(smiles=smiles_out, reduced=reduced, kept_whole=kept_whole, ties=ties)
