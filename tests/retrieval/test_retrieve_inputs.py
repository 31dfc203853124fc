"""The ``retrieve`` argument matrix: every wrong query, relation or k is a clear error, never a silent answer."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from biobridge.cli import app
from biobridge.errors import InputError
from biobridge.retrieval.bridge import Bridge


@pytest.fixture(scope="module")
def bridge(tiny_run):
    return Bridge.from_pretrained(tiny_run / "model")


def _node_id(bridge, node_type):
    return str(bridge.kg.nodes.loc[bridge.kg.nodes["node_type"] == node_type, "node_id"].iloc[0])


def test_an_id_of_another_type_is_refused(bridge):
    protein = _node_id(bridge, "protein")
    with pytest.raises(InputError, match="id of a protein node"):
        bridge.retrieve(protein, "disease", "protein")


def test_an_unknown_identifier_is_refused_unless_raw(bridge):
    with pytest.raises(InputError, match="looks like an identifier"):
        bridge.retrieve("OMIM:999999", "disease", "protein")
    table = bridge.retrieve("OMIM:999999", "disease", "protein", k=3, as_raw=True)
    assert len(table) == 3


def test_a_relation_that_does_not_link_the_types_is_refused(bridge):
    with pytest.raises(InputError, match="does not link drug to protein"):
        bridge.retrieve(_node_id(bridge, "drug"), "drug", "protein", relation="interacts_with")


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_k_must_be_a_positive_whole_number(bridge, k):
    with pytest.raises(InputError, match="k must be"):
        bridge.retrieve(_node_id(bridge, "drug"), "drug", "protein", k=k)


def test_unknown_types_and_candidate_policies(bridge):
    with pytest.raises(KeyError, match="unknown node type 'cell'"):
        bridge.retrieve("x", "cell", "protein")
    with pytest.raises(InputError, match="candidates must be"):
        bridge.retrieve(_node_id(bridge, "drug"), "drug", "protein", candidates="some")


def test_bad_candidates_are_named_by_row(bridge):
    from biobridge.applications.zero_shot import score_candidates

    with pytest.raises(InputError, match="candidate 2 cannot be encoded as drug"):
        score_candidates(bridge, _node_id(bridge, "protein"), "protein", ["CCO", "C1CC(", "CCN"], "drug")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-q", "disease", "-t", "protein", "OMIM:999999"], "looks like an identifier"),
        (["-q", "drug", "-t", "protein", "-r", "interacts_with", "CCO"], "does not link"),
        (["-q", "drug", "-t", "protein", "-k", "0", "CCO"], "-k"),
        (["-q", "drug", "-t", "protein", "-k", "-1", "CCO"], "-k"),
        (["-q", "cell", "-t", "protein", "x"], "unknown node type"),
        (["-q", "drug", "-t", "protein", "C1CC("], "cannot be encoded as drug"),
        (["-q", "drug", "CCO"], "--target-type is required"),
    ],
)
def test_cli_retrieve_errors_are_one_clear_line(tiny_run, args, message):
    result = CliRunner().invoke(app, ["retrieve", "-w", str(tiny_run), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
