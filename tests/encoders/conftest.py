import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from biobridge.kg.graph import KnowledgeGraph  # noqa: E402

PROTEINS = [
    ("P1", "MKTAYIAKQRQISFVKSHFSRQ"),
    ("P2", "ACDEFGHIKLMNPQRSTVWY"),
    ("P3", "MKX12"),  # invalid: digits
    ("P4", "GGGGAAAAC"),
]
DRUGS = [("D1", "CCO"), ("D2", "CC(=O)Oc1ccccc1C(=O)O"), ("D3", "C1CC"), ("D4", "c1ccccc1")]
TEXTS = [
    ("GO:1", "Name: kinase activity. Definition: Catalysis of the transfer of a phosphate group."),
    ("GO:2", "Name: nucleus. Definition: A membrane-bounded organelle containing the chromosomes."),
    ("GO:3", "   "),  # invalid: whitespace only
]


def make_kg(proteins=PROTEINS, drugs=DRUGS, texts=TEXTS) -> KnowledgeGraph:
    rows = []
    for node_type, items in (("protein", proteins), ("drug", drugs), ("go", texts)):
        for node_id, feature in items:
            rows.append({"node_type": node_type, "node_id": node_id, "name": node_id, "feature": feature})
    nodes = pd.DataFrame(rows)
    nodes.insert(0, "node_index", np.arange(len(nodes), dtype=np.int64))
    triples = pd.DataFrame(
        {
            "head": pd.Series([], dtype=np.int64),
            "relation": pd.Series([], dtype=str),
            "tail": pd.Series([], dtype=np.int64),
        }
    )
    return KnowledgeGraph(
        nodes=nodes,
        triples=triples,
        modalities={"protein": "protein", "drug": "molecule", "go": "text"},
        reverse_relations={},
    )


@pytest.fixture
def tiny_kg() -> KnowledgeGraph:
    return make_kg()


@pytest.fixture(scope="session")
def minilm():
    from biobridge.encoders.hf_text import default_text_encoder

    return default_text_encoder()
