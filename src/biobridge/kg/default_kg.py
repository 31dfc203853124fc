"""Build the default knowledge graph from the packaged ``biokg-offline-mini`` tables.

Node types (modality, ``node_id``, ``feature``):

- ``protein`` (protein): UniProt accession; amino-acid sequence. ``proteins.tsv.gz`` plus the 71 drug
  targets of ``extra_target_sequences.tsv`` (named after their DrugCentral ``target_name``).
- ``biological_process`` / ``molecular_function`` / ``cellular_component`` (text): GO id;
  ``"Name: {name}. Definition: {definition}"`` (``"Name: {name}."`` when GO gives no definition). Only GO
  terms annotated to at least one protein are included: this keeps text-encoding time small, and an
  unannotated term could only be reached through ``parent_child`` edges anyway.
- ``drug`` (molecule): DrugCentral id; SMILES, reduced to its largest carbon-containing fragment (heavy
  atoms) when it has several (salts, hydrates; charges are kept, not neutralised). Every reduction is
  listed as ``[node_id, original, reduced]`` in ``provenance["smiles_reduced"]``; purely inorganic salts
  (sodium fluoride) are kept whole.
- ``disease`` (text): HPO diseases (``OMIM:…`` / ``ORPHA:…``) and DrugCentral indications
  (``UMLS:<cui>``, or ``INDICATION:<name>`` when the indication has no CUI); ``"Name: {name}."`` (no
  definitions exist). A CUI written with several indication names is named by the name on most
  ``drug_disease.tsv`` rows (ties: alphabetically first); every such CUI is listed in
  ``provenance["indication_cui_names"]``. The two disease sources share no node: HPO diseases only have
  protein edges, indications only drug edges.

Relations (forward / reverse): ``interacts_with`` protein -> GO term (all three aspects, told apart by
tail type), ``parent_child`` GO child -> GO parent (any GO relationship type, only between included
terms), ``target`` drug -> protein, ``indication`` drug -> disease, ``associated_with`` disease ->
protein; each with ``rev_<name>``. Every edge is present in both directions. Edges that cannot be placed
are counted with a reason in ``provenance["dropped"]``; duplicate source rows are counted in
``provenance["merged_duplicates"]``. Nodes are sorted by (type, id), triples by (relation, head, tail).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biobridge.artifacts import hash_file, read_json
from biobridge.kg.graph import KGFormatError, KnowledgeGraph

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "biokg_offline_mini"

GO_TYPES = {"BP": "biological_process", "MF": "molecular_function", "CC": "cellular_component"}
MODALITIES = {
    "protein": "protein",
    "biological_process": "text",
    "molecular_function": "text",
    "cellular_component": "text",
    "drug": "molecule",
    "disease": "text",
}
FORWARD_RELATIONS = ("interacts_with", "parent_child", "target", "indication", "associated_with")
REVERSE_RELATIONS = {
    **{r: f"rev_{r}" for r in FORWARD_RELATIONS},
    **{f"rev_{r}": r for r in FORWARD_RELATIONS},
}
DATA_FILES = (
    "proteins.tsv.gz",
    "extra_target_sequences.tsv",
    "go_terms.tsv.gz",
    "go_parents.tsv.gz",
    "protein_go.tsv.gz",
    "drugs.tsv",
    "drug_protein.tsv",
    "drug_disease.tsv",
    "diseases.tsv",
    "disease_protein.tsv",
    "stats.json",
)
LICENCES = {
    "proteins": "UniProtKB/Swiss-Prot sequences: CC BY 4.0; NCBI Gene mapping: public domain",
    "go": "Gene Ontology terms and annotations: CC BY 4.0",
    "drugs": "ChEMBL-derived SMILES (drugs.tsv): CC BY-SA 3.0, share-alike",
    "drugcentral": "DrugCentral 2016 drug-target and drug-indication tables: CC BY 4.0",
    "hpo": "Human Phenotype Ontology (HPO) disease ids, names and gene links: HPO licence "
    "(cite HPO, show the release, acknowledge HPO)",
}


def _read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_filter=False)


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


def _most_common_name(df: pd.DataFrame, key: str, name: str) -> pd.Series:
    """Per ``key``: the ``name`` on most rows, ties to the alphabetically first."""
    counts = df.groupby([key, name]).size().reset_index(name="n")
    counts = counts.sort_values([key, "n", name], ascending=[True, False, True], kind="mergesort")
    return counts.drop_duplicates(key).set_index(key)[name]


def build_default_kg(data_dir: Path | None = None) -> KnowledgeGraph:
    """Build the default KG from ``data_dir`` (default: the copy shipped inside the package)."""
    t0 = time.perf_counter()
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    missing = [f for f in DATA_FILES if not (data_dir / f).exists()]
    if missing:
        raise FileNotFoundError(f"{data_dir}: missing default-KG files {missing}")
    dropped: dict[str, dict[str, Any]] = {}
    merged: dict[str, int] = {}

    def drop(name: str, count: int, reason: str) -> None:
        if count:
            dropped[name] = {"count": int(count), "reason": reason}

    # ---- proteins -----------------------------------------------------------------------------
    proteins = _read_tsv(data_dir / "proteins.tsv.gz")
    drug_protein = _read_tsv(data_dir / "drug_protein.tsv")
    extra = _read_tsv(data_dir / "extra_target_sequences.tsv")
    extra_names = _most_common_name(drug_protein, "uniprot_acc", "target_name")
    prot_name = proteins["symbol"].where(proteins["symbol"] != "", proteins["gene_name"])
    prot_name = prot_name.where(prot_name != "", proteins["uniprot_acc"])
    extra = extra[~extra["uniprot_acc"].isin(proteins["uniprot_acc"])]
    extra_name = extra["uniprot_acc"].map(extra_names).fillna(extra["uniprot_acc"])
    protein_nodes = pd.concat(
        [
            pd.DataFrame(
                {"node_id": proteins["uniprot_acc"], "name": prot_name, "feature": proteins["sequence"]}
            ),
            pd.DataFrame({"node_id": extra["uniprot_acc"], "name": extra_name, "feature": extra["sequence"]}),
        ],
        ignore_index=True,
    ).assign(node_type="protein")
    protein_ids = set(protein_nodes["node_id"])

    # ---- GO terms and annotations -------------------------------------------------------------
    go_terms = _read_tsv(data_dir / "go_terms.tsv.gz")
    protein_go = _read_tsv(data_dir / "protein_go.tsv.gz")
    n_rows = len(protein_go)
    protein_go = protein_go.drop_duplicates(["uniprot_acc", "go_id"])
    merged["protein_go (same protein and term, other evidence)"] = n_rows - len(protein_go)
    ok = protein_go["uniprot_acc"].isin(protein_ids)
    drop("protein_go: protein", int((~ok).sum()), "annotated protein has no node (no sequence)")
    protein_go = protein_go[ok]
    ok = protein_go["go_id"].isin(go_terms["go_id"])
    drop("protein_go: go term", int((~ok).sum()), "GO id missing from go_terms.tsv.gz")
    protein_go = protein_go[ok]
    go_included = go_terms[go_terms["go_id"].isin(protein_go["go_id"])]
    has_def = go_included["definition"] != ""
    go_feature = ("Name: " + go_included["name"] + ".").where(
        ~has_def, "Name: " + go_included["name"] + ". Definition: " + go_included["definition"]
    )
    go_nodes = pd.DataFrame(
        {
            "node_type": go_included["aspect"].map(GO_TYPES),
            "node_id": go_included["go_id"],
            "name": go_included["name"],
            "feature": go_feature,
        }
    )
    if go_nodes["node_type"].isna().any():
        raise KGFormatError(f"{data_dir / 'go_terms.tsv.gz'}: unknown GO aspect {set(go_included['aspect'])}")
    go_type = dict(zip(go_nodes["node_id"], go_nodes["node_type"], strict=True))

    go_parents = _read_tsv(data_dir / "go_parents.tsv.gz")
    both = go_parents["child"].isin(go_type) & go_parents["parent"].isin(go_type)
    drop(
        "go_parents: not annotated",
        int((~both).sum()),
        "child or parent GO term is not annotated to any protein (excluded from the KG by design)",
    )
    go_parents = go_parents[both]
    parent_types = go_parents["relationship_type"].value_counts().sort_index().to_dict()
    n_rows = len(go_parents)
    go_parents = go_parents.drop_duplicates(["child", "parent"])
    merged["go_parents (same child and parent, several relationship types)"] = n_rows - len(go_parents)

    # ---- drugs ---------------------------------------------------------------------------------
    drugs = _read_tsv(data_dir / "drugs.tsv")
    reductions: list[list[str]] = []
    kept_whole: dict[str, list[str]] = {"inorganic": [], "unparsable": []}
    ties: list[str] = []
    smiles_out = []
    for did, smi in zip(drugs["drugcentral_id"], drugs["smiles"], strict=True):
        new, status, tie = largest_fragment(smi)
        if status == "reduced":
            reductions.append([did, smi, new])
        elif status in kept_whole:
            kept_whole[status].append(did)
        if tie:
            ties.append(did)
        smiles_out.append(new)
    drug_nodes = pd.DataFrame(
        {
            "node_type": "drug",
            "node_id": drugs["drugcentral_id"],
            "name": drugs["name"],
            "feature": smiles_out,
        }
    )
    drug_ids = set(drug_nodes["node_id"])

    n_rows = len(drug_protein)
    drug_protein = drug_protein.drop_duplicates(["drugcentral_id", "uniprot_acc"])
    merged["drug_protein (same drug and target, other action/source)"] = n_rows - len(drug_protein)
    ok_drug = drug_protein["drugcentral_id"].isin(drug_ids)
    drop("drug_protein: drug", int((~ok_drug).sum()), "drug has no node (no SMILES)")
    ok_prot = drug_protein["uniprot_acc"].isin(protein_ids)
    no_seq = ok_drug & ~ok_prot & (drug_protein["has_sequence"] != "True")
    drop("drug_protein: target without sequence", int(no_seq.sum()), "target has no Swiss-Prot sequence")
    other = ok_drug & ~ok_prot & ~no_seq
    drop("drug_protein: target", int(other.sum()), "target protein has no node")
    drug_protein = drug_protein[ok_drug & ok_prot]

    # ---- diseases ------------------------------------------------------------------------------
    diseases = _read_tsv(data_dir / "diseases.tsv")
    drug_disease = _read_tsv(data_dir / "drug_disease.tsv")
    has_cui = drug_disease["umls_cui"] != ""
    cui_names = _most_common_name(drug_disease[has_cui], "umls_cui", "indication")
    alt = drug_disease[has_cui].groupby("umls_cui")["indication"].unique()
    multi = {
        cui: {"chosen": cui_names[cui], "others": sorted(set(names) - {cui_names[cui]})}
        for cui, names in alt.items()
        if len(names) > 1
    }
    drug_disease = drug_disease.assign(
        disease_id=np.where(
            has_cui, "UMLS:" + drug_disease["umls_cui"], "INDICATION:" + drug_disease["indication"]
        ),
        disease_name=np.where(has_cui, drug_disease["umls_cui"].map(cui_names), drug_disease["indication"]),
    )
    indication_nodes = drug_disease.drop_duplicates("disease_id")[["disease_id", "disease_name"]]
    disease_nodes = pd.concat(
        [
            pd.DataFrame({"node_id": diseases["disease_id"], "name": diseases["name"]}),
            pd.DataFrame(
                {"node_id": indication_nodes["disease_id"], "name": indication_nodes["disease_name"]}
            ),
        ],
        ignore_index=True,
    ).assign(node_type="disease")
    disease_nodes["feature"] = "Name: " + disease_nodes["name"] + "."
    if disease_nodes["node_id"].duplicated().any():
        raise KGFormatError("HPO disease ids and indication ids collide")
    n_rows = len(drug_disease)
    drug_disease = drug_disease.drop_duplicates(["drugcentral_id", "disease_id"])
    merged["drug_disease (same drug and disease, other name or row)"] = n_rows - len(drug_disease)
    ok = drug_disease["drugcentral_id"].isin(drug_ids)
    drop("drug_disease: drug", int((~ok).sum()), "drug has no node (no SMILES)")
    drug_disease = drug_disease[ok]

    disease_protein = _read_tsv(data_dir / "disease_protein.tsv")
    n_rows = len(disease_protein)
    disease_protein = disease_protein.drop_duplicates(["disease_id", "uniprot_acc"])
    merged["disease_protein"] = n_rows - len(disease_protein)
    ok_d = disease_protein["disease_id"].isin(diseases["disease_id"])
    ok_p = disease_protein["uniprot_acc"].isin(protein_ids)
    drop("disease_protein: disease", int((~ok_d).sum()), "disease id missing from diseases.tsv")
    drop("disease_protein: protein", int((ok_d & ~ok_p).sum()), "protein has no node")
    disease_protein = disease_protein[ok_d & ok_p]

    # ---- assemble ------------------------------------------------------------------------------
    nodes = pd.concat([protein_nodes, go_nodes, drug_nodes, disease_nodes], ignore_index=True)
    nodes = nodes.sort_values(["node_type", "node_id"], kind="mergesort").reset_index(drop=True)
    nodes.insert(0, "node_index", np.arange(len(nodes), dtype=np.int64))
    nodes = nodes[["node_index", "node_type", "node_id", "name", "feature"]]
    index = pd.Series(nodes["node_index"].to_numpy(), index=nodes["node_type"] + "\t" + nodes["node_id"])

    def idx(node_type: str | pd.Series, ids: pd.Series) -> np.ndarray:
        keys = (node_type + "\t" + ids) if isinstance(node_type, pd.Series) else node_type + "\t" + ids
        return index.loc[keys.to_numpy()].to_numpy(np.int64)

    go_type_of = pd.Series(go_type)
    forward = [
        (
            "interacts_with",
            idx("protein", protein_go["uniprot_acc"]),
            idx(protein_go["go_id"].map(go_type_of), protein_go["go_id"]),
        ),
        (
            "parent_child",
            idx(go_parents["child"].map(go_type_of), go_parents["child"]),
            idx(go_parents["parent"].map(go_type_of), go_parents["parent"]),
        ),
        ("target", idx("drug", drug_protein["drugcentral_id"]), idx("protein", drug_protein["uniprot_acc"])),
        (
            "indication",
            idx("drug", drug_disease["drugcentral_id"]),
            idx("disease", drug_disease["disease_id"]),
        ),
        (
            "associated_with",
            idx("disease", disease_protein["disease_id"]),
            idx("protein", disease_protein["uniprot_acc"]),
        ),
    ]
    parts = []
    for rel, h, t in forward:
        parts.append(pd.DataFrame({"head": h, "relation": rel, "tail": t}))
        parts.append(pd.DataFrame({"head": t, "relation": f"rev_{rel}", "tail": h}))
    triples = pd.concat(parts, ignore_index=True)
    n_rows = len(triples)
    triples = triples.drop_duplicates().sort_values(["relation", "head", "tail"], kind="mergesort")
    triples = triples.reset_index(drop=True)
    merged["triples after id mapping"] = n_rows - len(triples)

    stats = read_json(data_dir / "stats.json")
    provenance = {
        "source": "biokg-offline-mini",
        "builder": "biobridge.kg.default_kg.build_default_kg",
        "files_sha256": {f: hash_file(data_dir / f) for f in DATA_FILES},
        "hpo_release": stats.get("hpo_release"),
        "go_release": "2022-07-01 (Bioconductor GO.db 3.16.0)",
        "licences": LICENCES,
        "go_terms_included": "only GO terms annotated to at least one protein",
        "go_terms_without_definition": int((~has_def).sum()),
        "go_parent_relationship_types": parent_types,
        "extra_target_proteins": len(extra),
        "smiles_reduced_count": len(reductions),
        "smiles_reduction_ties": ties,
        "smiles_multi_fragment_kept_whole": kept_whole,
        "smiles_reduced": reductions,
        "indication_nodes": len(indication_nodes),
        "indication_nodes_without_cui": int(
            indication_nodes["disease_id"].str.startswith("INDICATION:").sum()
        ),
        "indication_cui_name_rule": "most frequent name of the CUI, ties alphabetically first",
        "indication_cui_names": multi,
        "hpo_disease_nodes": len(diseases),
        "dropped": dropped,
        "merged_duplicates": {k: int(v) for k, v in merged.items() if v},
    }
    kg = KnowledgeGraph(
        nodes=nodes,
        triples=triples,
        modalities=dict(MODALITIES),
        reverse_relations=dict(REVERSE_RELATIONS),
        provenance=provenance,
    )
    log.info(
        "default KG: %d nodes, %d triples, %d SMILES reduced, %d edge groups dropped (%.1f s)",
        kg.num_nodes,
        len(triples),
        len(reductions),
        len(dropped),
        time.perf_counter() - t0,
    )
    return kg
