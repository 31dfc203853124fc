from __future__ import annotations

import pandas as pd

from biobridge.kg.text import TEXT_TEMPLATE, TEXT_TEMPLATE_NO_DEFINITION, node_text


def test_template_with_and_without_definition():
    out = node_text(pd.Series(["kinase activity", "nucleus"]), pd.Series(["Adds phosphate.", ""]))
    assert out.tolist() == ["Name: kinase activity. Definition: Adds phosphate.", "Name: nucleus."]
    assert out.tolist() == [
        TEXT_TEMPLATE.format(name="kinase activity", definition="Adds phosphate."),
        TEXT_TEMPLATE_NO_DEFINITION.format(name="nucleus"),
    ]


def test_no_definition_column():
    assert node_text(pd.Series(["fever", "Disease B"])).tolist() == ["Name: fever.", "Name: Disease B."]


def test_keeps_the_index_of_a_series():
    names = pd.Series(["a", "b"], index=[7, 3])
    definitions = pd.Series(["", "B def"], index=[7, 3])
    out = node_text(names, definitions)
    assert out.index.tolist() == [7, 3]
    assert out.to_dict() == {7: "Name: a.", 3: "Name: b. Definition: B def"}


def test_plain_lists():
    assert node_text(["apoptosis", "cell death"], ["Programmed death.", ""]).tolist() == [
        "Name: apoptosis. Definition: Programmed death.",
        "Name: cell death.",
    ]
    assert node_text(("x",)).tolist() == ["Name: x."]
    assert node_text([]).tolist() == []
