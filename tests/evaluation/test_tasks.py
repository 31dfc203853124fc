from biobridge.evaluation.tasks import PAPER_TASKS, Task, discover_tasks, type_abbreviation
from tests.tiny_kg import P0, P1, make_kg


def test_paper_task_names():
    by_name = {t.name: t for t in PAPER_TASKS}
    assert by_name["Prot2BP"] == Task("Prot2BP", "protein", "interacts_with", "biological_process")
    assert by_name["Prot2Drug"].relation == "rev_target"
    assert by_name["Prot2Disease"] == Task("Prot2Disease", "protein", "rev_associated_with", "disease")
    assert len(by_name) == 8


def test_discover_tasks_tiny(tiny_kg):
    tasks = discover_tasks(tiny_kg)
    assert [t.name for t in tasks] == ["Prot2BP", "Drug2Prot", "Prot2Drug", "BP2Prot"]
    assert tasks[3] == Task("BP2Prot", "biological_process", "rev_interacts_with", "protein")


def test_generated_names_disambiguate_by_relation():
    reverse = {
        "interacts_with": "rev_interacts_with",
        "rev_interacts_with": "interacts_with",
        "parent_child": "rev_parent_child",
        "rev_parent_child": "parent_child",
    }
    nodes = [("protein", "P0"), ("protein", "P1"), ("biological_process", "a"), ("biological_process", "b")]
    nodes += [("biological_process", "c")]
    edges = [
        (P0, "interacts_with", 2),
        (P1, "interacts_with", 3),
        (2, "parent_child", 3),
        (3, "parent_child", 4),
    ]
    kg = make_kg(
        nodes, edges, reverse=reverse, modalities={"protein": "protein", "biological_process": "text"}
    )
    names = [t.name for t in discover_tasks(kg)]
    assert names == ["Prot2BP", "BP2BP.parent_child", "BP2BP.rev_parent_child", "BP2Prot"]
    assert type_abbreviation("gene/protein") == "GeneProtein"
    assert type_abbreviation("effect_phenotype") == "EffectPhenotype"
