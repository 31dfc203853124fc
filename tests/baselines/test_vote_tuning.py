"""Per-task choice of a neighbour vote's k and sharpness on validation heads."""

import numpy as np
import pytest

from biobridge.baselines.feature_knn import FeatureKNNScorer
from biobridge.baselines.vote_tuning import fit_tuned_baseline, tune_votes
from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.evaluation.scorer import NotApplicableError
from biobridge.evaluation.tasks import Task
from tests.tiny_kg import FakeSplit, random_kg

PROT2BP = Task("Prot2BP", "protein", "interacts_with", "biological_process")
DRUG2PROT = Task("Drug2Prot", "drug", "target", "protein")


class _GoodAt:
    """A stand-in vote: informative only at one (k, sharpness), noise elsewhere; not applicable to drugs."""

    name = "stand-in"

    def __init__(self, kg, good: tuple[int, float]) -> None:
        n = kg.num_nodes
        self.gold = np.zeros((n, n), np.float32)
        self.gold[kg.triples["head"].to_numpy(), kg.triples["tail"].to_numpy()] = 1.0
        self.noise = np.random.default_rng(0).random((n, n)).astype(np.float32)
        self.good = good
        self.per_task: dict = {}

    def set_vote(self, task_name, k, sharpness):
        self.per_task[task_name] = {"k": k, "sharpness": sharpness}

    def score(self, task, q, c):
        if task.head_type == "drug":
            raise NotApplicableError("stand-in")
        chosen = self.per_task[task.name]
        matrix = self.noise + (self.gold if (chosen["k"], chosen["sharpness"]) == self.good else 0)
        return matrix[np.ix_(q, c)]


def test_the_grid_point_with_the_best_validation_mrr_is_kept():
    kg, split = random_kg(0)
    scorer = _GoodAt(kg, (10, 4.0))
    record = tune_votes(scorer, kg, split, [PROT2BP, DRUG2PROT])
    assert set(record) == {"Prot2BP"}  # not applicable to Drug2Prot: left out, no setting kept
    chosen = record["Prot2BP"]
    assert (chosen["k"], chosen["sharpness"]) == (10, 4.0)
    assert (
        chosen["validation_mrr"] == max(chosen["grid_mrr"].values()) == chosen["grid_mrr"]["k=10,sharpness=4"]
    )
    assert len(chosen["grid_mrr"]) == 12 and chosen["n_queries"] > 0
    assert scorer.per_task == {"Prot2BP": {"k": 10, "sharpness": 4.0}}

    narrow = tune_votes(_GoodAt(kg, (10, 4.0)), kg, split, [PROT2BP], grid={"k": [5], "sharpness": [1]})
    assert (narrow["Prot2BP"]["k"], narrow["Prot2BP"]["sharpness"]) == (5, 1.0)
    assert narrow["Prot2BP"]["validation_mrr"] < chosen["validation_mrr"]


def test_a_tuned_baseline_is_fitted_on_both_splits_with_the_settings_chosen_on_validation():
    kg, split = random_kg(1)
    rng = np.random.default_rng(1)
    proteins, bps = kg.nodes_of_type("protein"), kg.nodes_of_type("biological_process")
    vectors = {
        t: rng.normal(size=(len(n), 8)).astype(np.float32) for t, n in [("protein", proteins), ("bp", bps)]
    }
    table = EmbeddingTable(
        {"protein": vectors["protein"], "biological_process": vectors["bp"]},
        {"protein": proteins, "biological_process": bps},
        kg.num_nodes,
    )
    # validation: the outer test triples excluded, the training triples of a fifth of the heads held out
    heads = kg.triples["head"].to_numpy()
    held = rng.random(kg.num_nodes) < 0.2
    part = np.where(split.triple_part != 0, 2, np.where(held[heads], 1, 0)).astype(np.int8)
    validation = FakeSplit(part)
    on_validation, on_split, record = fit_tuned_baseline(
        "feature-knn", kg, split, validation, [PROT2BP], table
    )
    chosen = {"k": record["Prot2BP"]["k"], "sharpness": record["Prot2BP"]["sharpness"]}
    assert on_validation.per_task == on_split.per_task == {"Prot2BP": chosen}
    assert on_split.settings["per_task"] == {"Prot2BP": chosen}
    q = proteins[:5]
    scores = on_split.score(PROT2BP, q, bps)
    assert scores.any() and not np.array_equal(scores, on_validation.score(PROT2BP, q, bps))  # other data

    _, popularity, none = fit_tuned_baseline("popularity", kg, split, validation, [PROT2BP])
    assert none == {} and popularity.name == "popularity"


def test_bad_vote_settings_are_refused():
    kg, split = random_kg(0)
    with pytest.raises(ValueError, match="k must be"):
        FeatureKNNScorer(kg, split, None, per_task={"Prot2BP": {"k": 0, "sharpness": 1.0}})
    with pytest.raises(ValueError, match="sharpness must be"):
        FeatureKNNScorer(kg, split, None, per_task={"Prot2BP": {"k": 3, "sharpness": float("nan")}})
