"""The source tables of ``biokg-offline-mini``, read into node tables and kept edge rows.

Phases of :func:`biobridge.kg.default_kg.build_default_kg` (whose docstring states the rules): one function
per source (proteins, GO terms with annotations and parents, drugs and targets, diseases and indications,
disease-protein links). Every row left out or merged is counted in a :class:`Ledger`, in the order the
build runs, which becomes ``provenance["dropped"]`` / ``provenance["merged_duplicates"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biobridge.kg.drug_salts import SmilesReductions
from biobridge.kg.graph import KGFormatError
from biobridge.kg.text import node_text

GO_TYPES = {"BP": "biological_process", "MF": "molecular_function", "CC": "cellular_component"}


def read_tsv(path: Path) -> pd.DataFrame:
    """A source table, every field a string (empty fields stay ``""``)."""
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_filter=False)


def most_common_name(df: pd.DataFrame, key: str, name: str) -> pd.Series:
    """Per ``key``: the ``name`` on most rows, ties to the alphabetically first."""
    counts = df.groupby([key, name]).size().reset_index(name="n")
    counts = counts.sort_values([key, "n", name], ascending=[True, False, True], kind="mergesort")
    return counts.drop_duplicates(key).set_index(key)[name]


@dataclass
class Ledger:
    """What the build merged and dropped, in the order it happened (``provenance`` keeps that order)."""

    dropped: dict[str, dict[str, Any]] = field(default_factory=dict)
    merged: dict[str, int] = field(default_factory=dict)

    def drop(self, name: str, count: int, reason: str) -> None:
        if count:
            self.dropped[name] = {"count": int(count), "reason": reason}

    def keep(self, df: pd.DataFrame, ok: pd.Series, name: str, reason: str) -> pd.DataFrame:
        """Rows of ``df`` where ``ok``; the others are counted as dropped."""
        self.drop(name, int((~ok).sum()), reason)
        return df[ok]

    def merge_duplicates(self, df: pd.DataFrame, subset: list[str], name: str) -> pd.DataFrame:
        n_rows = len(df)
        df = df.drop_duplicates(subset)
        self.merged[name] = n_rows - len(df)
        return df


@dataclass(frozen=True)
class GoTerms:
    """The GO terms annotated to a protein, as nodes, with their annotations and parent links."""

    nodes: pd.DataFrame
    annotations: pd.DataFrame  # protein_go rows kept, one per (protein, term)
    parents: pd.DataFrame  # go_parents rows kept, one per (child, parent)
    without_definition: int
    parent_relationship_types: dict[str, int]  # before merging (child, parent) duplicates

    def type_of(self) -> pd.Series:
        """GO id -> node type."""
        return pd.Series(dict(zip(self.nodes["node_id"], self.nodes["node_type"], strict=True)))


@dataclass(frozen=True)
class Diseases:
    """Disease nodes (HPO diseases, then indications) and the indication rows they came from."""

    nodes: pd.DataFrame
    drug_disease: pd.DataFrame  # drug_disease.tsv rows with ``disease_id`` / ``disease_name``
    indication_nodes: pd.DataFrame
    cui_names: dict[str, dict[str, Any]]  # CUIs written with several names: chosen and others


def read_protein_nodes(data_dir: Path, drug_protein: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Swiss-Prot proteins (named by symbol, else gene name, else accession), then the drug targets that
    only ``extra_target_sequences.tsv`` has (named by their DrugCentral ``target_name``); and their count."""
    proteins = read_tsv(data_dir / "proteins.tsv.gz")
    extra = read_tsv(data_dir / "extra_target_sequences.tsv")
    extra = extra[~extra["uniprot_acc"].isin(proteins["uniprot_acc"])]
    extra_names = most_common_name(drug_protein, "uniprot_acc", "target_name")
    prot_name = proteins["symbol"].where(proteins["symbol"] != "", proteins["gene_name"])
    prot_name = prot_name.where(prot_name != "", proteins["uniprot_acc"])
    extra_name = extra["uniprot_acc"].map(extra_names).fillna(extra["uniprot_acc"])
    nodes = pd.concat(
        [
            pd.DataFrame(
                {"node_id": proteins["uniprot_acc"], "name": prot_name, "feature": proteins["sequence"]}
            ),
            pd.DataFrame({"node_id": extra["uniprot_acc"], "name": extra_name, "feature": extra["sequence"]}),
        ],
        ignore_index=True,
    ).assign(node_type="protein")
    return nodes, len(extra)


def _go_annotations(
    protein_go: pd.DataFrame, go_terms: pd.DataFrame, protein_ids: set[str], ledger: Ledger
) -> pd.DataFrame:
    """``protein_go`` rows with one row per (protein, term), both ends known."""
    protein_go = ledger.merge_duplicates(
        protein_go, ["uniprot_acc", "go_id"], "protein_go (same protein and term, other evidence)"
    )
    protein_go = ledger.keep(
        protein_go,
        protein_go["uniprot_acc"].isin(protein_ids),
        "protein_go: protein",
        "annotated protein has no node (no sequence)",
    )
    return ledger.keep(
        protein_go,
        protein_go["go_id"].isin(go_terms["go_id"]),
        "protein_go: go term",
        "GO id missing from go_terms.tsv.gz",
    )


def _go_nodes(go_included: pd.DataFrame, source: Path) -> pd.DataFrame:
    """GO term nodes, typed by aspect, with the node text as feature."""
    go_nodes = pd.DataFrame(
        {
            "node_type": go_included["aspect"].map(GO_TYPES),
            "node_id": go_included["go_id"],
            "name": go_included["name"],
            "feature": node_text(go_included["name"], go_included["definition"]),
        }
    )
    if go_nodes["node_type"].isna().any():
        raise KGFormatError(f"{source}: unknown GO aspect {set(go_included['aspect'])}")
    return go_nodes


def _go_parent_edges(
    go_parents: pd.DataFrame, go_ids: set[str], ledger: Ledger
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Child -> parent rows between included GO terms, one per pair (any relationship type), and the count
    of each relationship type before pairs were merged."""
    both = go_parents["child"].isin(go_ids) & go_parents["parent"].isin(go_ids)
    go_parents = ledger.keep(
        go_parents,
        both,
        "go_parents: not annotated",
        "child or parent GO term is not annotated to any protein (excluded from the KG by design)",
    )
    parent_types = go_parents["relationship_type"].value_counts().sort_index().to_dict()
    go_parents = ledger.merge_duplicates(
        go_parents, ["child", "parent"], "go_parents (same child and parent, several relationship types)"
    )
    return go_parents, parent_types


def read_go_terms(data_dir: Path, protein_ids: set[str], ledger: Ledger) -> GoTerms:
    """GO terms annotated to at least one protein node, their annotations and their parent links."""
    go_terms = read_tsv(data_dir / "go_terms.tsv.gz")
    protein_go = _go_annotations(read_tsv(data_dir / "protein_go.tsv.gz"), go_terms, protein_ids, ledger)
    go_included = go_terms[go_terms["go_id"].isin(protein_go["go_id"])]
    go_nodes = _go_nodes(go_included, data_dir / "go_terms.tsv.gz")
    parents, parent_types = _go_parent_edges(
        read_tsv(data_dir / "go_parents.tsv.gz"), set(go_nodes["node_id"]), ledger
    )
    return GoTerms(
        nodes=go_nodes,
        annotations=protein_go,
        parents=parents,
        without_definition=int((go_included["definition"] == "").sum()),
        parent_relationship_types=parent_types,
    )


def drug_node_table(drugs: pd.DataFrame, smiles: SmilesReductions) -> pd.DataFrame:
    """Drug nodes with the salt-reduced SMILES as feature."""
    return pd.DataFrame(
        {
            "node_type": "drug",
            "node_id": drugs["drugcentral_id"],
            "name": drugs["name"],
            "feature": smiles.smiles,
        }
    )


def drug_target_edges(
    drug_protein: pd.DataFrame, drug_ids: set[str], protein_ids: set[str], ledger: Ledger
) -> pd.DataFrame:
    """``drug_protein`` rows with one row per (drug, target), both ends known; drops counted by cause."""
    drug_protein = ledger.merge_duplicates(
        drug_protein,
        ["drugcentral_id", "uniprot_acc"],
        "drug_protein (same drug and target, other action/source)",
    )
    ok_drug = drug_protein["drugcentral_id"].isin(drug_ids)
    ledger.drop("drug_protein: drug", int((~ok_drug).sum()), "drug has no node (no SMILES)")
    ok_prot = drug_protein["uniprot_acc"].isin(protein_ids)
    no_seq = ok_drug & ~ok_prot & (drug_protein["has_sequence"] != "True")
    ledger.drop(
        "drug_protein: target without sequence", int(no_seq.sum()), "target has no Swiss-Prot sequence"
    )
    other = ok_drug & ~ok_prot & ~no_seq
    ledger.drop("drug_protein: target", int(other.sum()), "target protein has no node")
    return drug_protein[ok_drug & ok_prot]


def disease_nodes(diseases: pd.DataFrame, drug_disease: pd.DataFrame) -> Diseases:
    """HPO diseases plus one node per indication (``UMLS:<cui>`` or ``INDICATION:<name>``)."""
    has_cui = drug_disease["umls_cui"] != ""
    cui_names = most_common_name(drug_disease[has_cui], "umls_cui", "indication")
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
    nodes = pd.concat(
        [
            pd.DataFrame({"node_id": diseases["disease_id"], "name": diseases["name"]}),
            pd.DataFrame(
                {"node_id": indication_nodes["disease_id"], "name": indication_nodes["disease_name"]}
            ),
        ],
        ignore_index=True,
    ).assign(node_type="disease")
    nodes["feature"] = node_text(nodes["name"])
    if nodes["node_id"].duplicated().any():
        raise KGFormatError("HPO disease ids and indication ids collide")
    return Diseases(nodes, drug_disease, indication_nodes, multi)


def indication_edges(drug_disease: pd.DataFrame, drug_ids: set[str], ledger: Ledger) -> pd.DataFrame:
    """Indication rows with one row per (drug, disease node), the drug known."""
    drug_disease = ledger.merge_duplicates(
        drug_disease,
        ["drugcentral_id", "disease_id"],
        "drug_disease (same drug and disease, other name or row)",
    )
    return ledger.keep(
        drug_disease,
        drug_disease["drugcentral_id"].isin(drug_ids),
        "drug_disease: drug",
        "drug has no node (no SMILES)",
    )


def disease_protein_edges(
    disease_protein: pd.DataFrame, diseases: pd.DataFrame, protein_ids: set[str], ledger: Ledger
) -> pd.DataFrame:
    """HPO disease-protein rows with one row per (disease, protein), both ends known."""
    disease_protein = ledger.merge_duplicates(
        disease_protein, ["disease_id", "uniprot_acc"], "disease_protein"
    )
    ok_d = disease_protein["disease_id"].isin(diseases["disease_id"])
    ok_p = disease_protein["uniprot_acc"].isin(protein_ids)
    ledger.drop("disease_protein: disease", int((~ok_d).sum()), "disease id missing from diseases.tsv")
    ledger.drop("disease_protein: protein", int((ok_d & ~ok_p).sum()), "protein has no node")
    return disease_protein[ok_d & ok_p]
