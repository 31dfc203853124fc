"""Build the default knowledge graph from the packaged ``biokg-offline-mini`` tables.

Node types (modality, ``node_id``, ``feature``):

- ``protein`` (protein): UniProt accession; amino-acid sequence. ``proteins.tsv.gz`` plus the 71 drug
  targets of ``extra_target_sequences.tsv`` (named after their DrugCentral ``target_name``).
- ``biological_process`` / ``molecular_function`` / ``cellular_component`` (text): GO id;
  ``"Name: {name}. Definition: {definition}"`` (``"Name: {name}."`` when GO gives no definition; the
  template of :func:`biobridge.kg.text.node_text`). Only GO terms annotated to at least one protein are
  included: this keeps text-encoding time small, and an unannotated term could only be reached through
  ``parent_child`` edges anyway.
- ``drug`` (molecule): DrugCentral id; SMILES, reduced to its largest carbon-containing fragment (heavy
  atoms) when it has several (salts, hydrates; charges are kept, not neutralised). Every reduction is
  listed as ``[node_id, original, reduced]`` in ``provenance["smiles_reduced"]``; purely inorganic salts
  (sodium fluoride) are kept whole (:func:`biobridge.kg.drug_salts.largest_fragment`).
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

:func:`build_default_kg` runs the phases in that order: one per source in
``biobridge.kg.default_kg_sources`` (proteins, GO terms with annotations and parents, drugs with salt
reduction and targets, diseases with indications, disease-protein links), then the node and forward-triple
assembly here, the reverse triples of ``biobridge.kg.triples`` and the provenance.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biobridge.artifacts import hash_file, read_json
from biobridge.kg.default_kg_sources import (
    GO_TYPES,
    Diseases,
    GoTerms,
    Ledger,
    disease_nodes,
    disease_protein_edges,
    drug_node_table,
    drug_target_edges,
    indication_edges,
    read_go_terms,
    read_protein_nodes,
    read_tsv,
)
from biobridge.kg.drug_salts import SmilesReductions, reduce_salts
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.triples import reverse_relation_map, with_reverse_triples

__all__ = [
    "DATA_FILES",
    "DEFAULT_DATA_DIR",
    "FORWARD_RELATIONS",
    "GO_TYPES",
    "LICENCES",
    "MODALITIES",
    "REVERSE_RELATIONS",
    "build_default_kg",
]

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "biokg_offline_mini"

MODALITIES = {
    "protein": "protein",
    "biological_process": "text",
    "molecular_function": "text",
    "cellular_component": "text",
    "drug": "molecule",
    "disease": "text",
}
FORWARD_RELATIONS = ("interacts_with", "parent_child", "target", "indication", "associated_with")
REVERSE_RELATIONS = reverse_relation_map(FORWARD_RELATIONS)
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


# ---- phases ----------------------------------------------------------------------------------------
def _data_dir(data_dir: Path | None) -> Path:
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    missing = [f for f in DATA_FILES if not (data_dir / f).exists()]
    if missing:
        raise FileNotFoundError(f"{data_dir}: missing default-KG files {missing}")
    return data_dir


def _assemble_nodes(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """All node tables, sorted by (type, id), numbered 0..N-1."""
    nodes = pd.concat(parts, ignore_index=True)
    nodes = nodes.sort_values(["node_type", "node_id"], kind="mergesort").reset_index(drop=True)
    nodes.insert(0, "node_index", np.arange(len(nodes), dtype=np.int64))
    return nodes[["node_index", "node_type", "node_id", "name", "feature"]]


def _forward_triples(
    nodes: pd.DataFrame,
    go: GoTerms,
    drug_protein: pd.DataFrame,
    drug_disease: pd.DataFrame,
    disease_protein: pd.DataFrame,
) -> pd.DataFrame:
    """The forward triples of the five relations, with node ids mapped to ``node_index``."""
    index = pd.Series(nodes["node_index"].to_numpy(), index=nodes["node_type"] + "\t" + nodes["node_id"])
    go_type = go.type_of()

    def idx(node_type: str | pd.Series, ids: pd.Series) -> np.ndarray:
        return index.loc[(node_type + "\t" + ids).to_numpy()].to_numpy(np.int64)

    def go_idx(ids: pd.Series) -> np.ndarray:
        return idx(ids.map(go_type), ids)

    forward = [
        ("interacts_with", idx("protein", go.annotations["uniprot_acc"]), go_idx(go.annotations["go_id"])),
        ("parent_child", go_idx(go.parents["child"]), go_idx(go.parents["parent"])),
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
    return pd.concat(
        [pd.DataFrame({"head": h, "relation": rel, "tail": t}) for rel, h, t in forward], ignore_index=True
    )


def _provenance(
    data_dir: Path,
    ledger: Ledger,
    go: GoTerms,
    n_extra_targets: int,
    smiles: SmilesReductions,
    diseases: Diseases,
    n_hpo_diseases: int,
) -> dict[str, Any]:
    stats = read_json(data_dir / "stats.json")
    indication_ids = diseases.indication_nodes["disease_id"]
    return {
        "source": "biokg-offline-mini",
        "builder": "biobridge.kg.default_kg.build_default_kg",
        "files_sha256": {f: hash_file(data_dir / f) for f in DATA_FILES},
        "hpo_release": stats.get("hpo_release"),
        "go_release": "2022-07-01 (Bioconductor GO.db 3.16.0)",
        "licences": LICENCES,
        "go_terms_included": "only GO terms annotated to at least one protein",
        "go_terms_without_definition": go.without_definition,
        "go_parent_relationship_types": go.parent_relationship_types,
        "extra_target_proteins": n_extra_targets,
        "smiles_reduced_count": len(smiles.reduced),
        "smiles_reduction_ties": smiles.ties,
        "smiles_multi_fragment_kept_whole": smiles.kept_whole,
        "smiles_reduced": smiles.reduced,
        "indication_nodes": len(diseases.indication_nodes),
        "indication_nodes_without_cui": int(indication_ids.str.startswith("INDICATION:").sum()),
        "indication_cui_name_rule": "most frequent name of the CUI, ties alphabetically first",
        "indication_cui_names": diseases.cui_names,
        "hpo_disease_nodes": n_hpo_diseases,
        "dropped": ledger.dropped,
        "merged_duplicates": {k: int(v) for k, v in ledger.merged.items() if v},
    }


# ---- build -----------------------------------------------------------------------------------------
def build_default_kg(data_dir: Path | None = None) -> KnowledgeGraph:
    """Build the default KG from ``data_dir`` (default: the copy shipped inside the package)."""
    t0 = time.perf_counter()
    data_dir = _data_dir(data_dir)
    ledger = Ledger()
    drug_protein = read_tsv(data_dir / "drug_protein.tsv")

    protein_nodes, n_extra_targets = read_protein_nodes(data_dir, drug_protein)
    protein_ids = set(protein_nodes["node_id"])
    go = read_go_terms(data_dir, protein_ids, ledger)

    drugs = read_tsv(data_dir / "drugs.tsv")
    smiles = reduce_salts(drugs["drugcentral_id"], drugs["smiles"])
    drug_nodes = drug_node_table(drugs, smiles)
    drug_ids = set(drug_nodes["node_id"])
    drug_protein = drug_target_edges(drug_protein, drug_ids, protein_ids, ledger)

    hpo_diseases = read_tsv(data_dir / "diseases.tsv")
    diseases = disease_nodes(hpo_diseases, read_tsv(data_dir / "drug_disease.tsv"))
    drug_disease = indication_edges(diseases.drug_disease, drug_ids, ledger)
    disease_protein = disease_protein_edges(
        read_tsv(data_dir / "disease_protein.tsv"), hpo_diseases, protein_ids, ledger
    )

    nodes = _assemble_nodes([protein_nodes, go.nodes, drug_nodes, diseases.nodes])
    forward = _forward_triples(nodes, go, drug_protein, drug_disease, disease_protein)
    triples = with_reverse_triples(forward, REVERSE_RELATIONS)
    ledger.merged["triples after id mapping"] = 2 * len(forward) - len(triples)

    kg = KnowledgeGraph(
        nodes=nodes,
        triples=triples,
        modalities=dict(MODALITIES),
        reverse_relations=dict(REVERSE_RELATIONS),
        provenance=_provenance(data_dir, ledger, go, n_extra_targets, smiles, diseases, len(hpo_diseases)),
    )
    log.info(
        "default KG: %d nodes, %d triples, %d SMILES reduced, %d edge groups dropped (%.1f s)",
        kg.num_nodes,
        len(triples),
        len(smiles.reduced),
        len(ledger.dropped),
        time.perf_counter() - t0,
    )
    return kg
