"""Every loader names the file, the line or row, and the problem, as an ``InputError`` (issue 12, defect 8).

Malformed, header-only, empty, non-UTF-8, CRLF and missing-column inputs for the TSV KG, PrimeKG's kg.csv and
feature tables, zero-shot candidate files, the KG / split / embedding-store artifacts, a run's config.json and
the TOML run config; through the Python API and the CLI (exit 2, one line, no traceback); and property-based:
any bytes as a file's content give a result or an ``InputError``, never another exception.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from biobridge.applications.zero_shot import read_candidates
from biobridge.bridge.run import TrainedRun
from biobridge.cli import app
from biobridge.config import load_run_config
from biobridge.encoders.store import EmbeddingStore
from biobridge.errors import InputError
from biobridge.kg.graph import KnowledgeGraph
from biobridge.kg.primekg import load_primekg
from biobridge.kg.split import Split, split_kg
from biobridge.kg.tsv_kg import load_tsv_kg
from tests.kg.test_primekg import write_fixture

MODALITIES = {"protein": "protein", "drug": "molecule"}
NODES = b"node_type\tnode_id\tname\tfeature\nprotein\tP1\tkinase\tMKTAYIAK\nprotein\tP2\t\tMSSHHH\ndrug\tD1\taspirin\tCCO\n"
EDGES = b"head_type\thead_id\trelation\ttail_type\ttail_id\ndrug\tD1\ttarget\tprotein\tP1\ndrug\tD1\ttarget\tprotein\tP2\n"
EDGE_HEADER = EDGES.split(b"\n")[0] + b"\n"
runner = CliRunner()


def tsv_files(tmp_path: Path, nodes: bytes = NODES, edges: bytes = EDGES) -> tuple[Path, Path]:
    n, e = tmp_path / "nodes.tsv", tmp_path / "edges.tsv"
    n.write_bytes(nodes)
    e.write_bytes(edges)
    return n, e


def names(err: pytest.ExceptionInfo, path: Path, problem: str) -> None:
    """The error's message names ``path`` and matches ``problem``."""
    message = str(err.value)
    assert str(path) in message and re.search(problem, message), message


def cli_error(args: list[str]) -> str:
    """The one stderr line of a CLI call that must fail as a user error (exit 2, no traceback)."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# ---- bring-your-own TSV KG ----------------------------------------------------------------------------
TSV_CASES = {
    # which file, its content, what the message must say (after the file name)
    "empty nodes": ("nodes", b"", r"nodes\.tsv: empty file"),
    "header-only nodes": ("nodes", NODES.split(b"\n")[0] + b"\n", r"nodes\.tsv: no nodes"),
    "empty edges": ("edges", b"", r"edges\.tsv: empty file"),
    "header-only edges": ("edges", EDGE_HEADER, r"edges\.tsv: no edges"),
    "header-only edges, CRLF": ("edges", EDGE_HEADER.replace(b"\n", b"\r\n"), r"edges\.tsv: no edges"),
    "not UTF-8": (
        "nodes",
        NODES + b"protein\tP3\tbad \xff name\tMKK\n",
        r"nodes\.tsv:5: not UTF-8 text \(byte 0xff\)",
    ),
    "Latin-1 edges": ("edges", EDGES + b"drug\tD1\ttarg\xe9t\tprotein\tP1\n", r"edges\.tsv:4: not UTF-8"),
    "missing column": ("nodes", b"node_type\tnode_id\tfeature\nprotein\tP1\tMKT\n", r"nodes\.tsv:1: header"),
    "repeated column": (
        "nodes",
        b"node_type\tnode_id\tname\tname\nprotein\tP1\ta\tb\n",
        r"nodes\.tsv:1: header",
    ),
    "short row": ("edges", EDGES + b"drug\tD1\ttarget\tprotein\n", r"edges\.tsv:4: 4 fields, expected 5"),
    "duplicate id": ("nodes", NODES + b"protein\tP1\tagain\tMKT\n", r"nodes\.tsv:5: duplicate node"),
    "unknown node": (
        "edges",
        EDGES + b"drug\tD9\ttarget\tprotein\tP1\n",
        r"edges\.tsv:4: edge to an unknown node",
    ),
    "field over the csv limit": (
        "nodes",
        NODES + b"protein\tP4\tx\t" + b"M" * 140_000 + b"\n",
        r"nodes\.tsv:5: field",
    ),
}


@pytest.mark.parametrize("case", sorted(TSV_CASES))
def test_tsv_kg_errors_name_file_and_line(tmp_path, case):
    which, content, problem = TSV_CASES[case]
    nodes, edges = tsv_files(tmp_path, **{which: content})
    with pytest.raises(InputError) as err:
        load_tsv_kg(nodes, edges, MODALITIES)
    assert re.search(re.escape(str(tmp_path)) + "/" + problem, str(err.value)), str(err.value)
    line = cli_error(
        ["prepare", "-w", tmp_path / "wd", "--kg", "tsv", "--nodes", nodes, "--edges", edges]
        + ["--modality", "protein=protein", "--modality", "drug=molecule"]
    )
    assert re.search(problem, line), line
    assert not (tmp_path / "wd").exists()


def test_tsv_kg_crlf_bom_and_lf_give_the_same_kg(tmp_path):
    lf = load_tsv_kg(*tsv_files(tmp_path), MODALITIES)
    crlf_dir = tmp_path / "crlf"
    crlf_dir.mkdir()
    crlf = load_tsv_kg(
        *tsv_files(crlf_dir, NODES.replace(b"\n", b"\r\n"), b"\xef\xbb\xbf" + EDGES.replace(b"\n", b"\r\n")),
        MODALITIES,
    )
    assert crlf.content_hash() == lf.content_hash()
    assert list(crlf.nodes["feature"]) == list(lf.nodes["feature"])  # no stray "\r"


# ---- PrimeKG kg.csv and feature tables ----------------------------------------------------------------
@pytest.fixture
def primekg_files(tmp_path) -> tuple[Path, Path]:
    return write_fixture(tmp_path)


def _header(path: Path) -> bytes:
    return path.read_bytes().split(b"\n")[0] + b"\n"


PRIMEKG_CASES = {
    "empty kg.csv": ("kg.csv", lambda good: b"", r"kg\.csv: empty file"),
    "header-only kg.csv": ("kg.csv", lambda good: good.split(b"\n")[0] + b"\n", r"kg\.csv: no rows"),
    "kg.csv not UTF-8": (
        "kg.csv",
        lambda good: good.replace(b"TP53", b"TP\xff53", 1),
        r"kg\.csv:\d+: not UTF-8",
    ),
    "kg.csv missing column": (
        "kg.csv",
        lambda good: b"display_relation,x_index\nppi,0\n",
        r"kg\.csv: missing columns",
    ),
    "kg.csv index not a number": (
        "kg.csv",
        lambda good: good.replace(b",0,ID0,", b",zero,ID0,", 1),
        r"kg\.csv: 1 rows whose x_index is not a non-negative integer \(lines \[\d+\]",
    ),
    "kg.csv ragged row": ("kg.csv", lambda good: good + b"ppi,ppi,0\n", r"kg\.csv"),
    "empty drug.csv": ("features/drug.csv", lambda good: b"", r"drug\.csv: empty file"),
    "drug.csv not UTF-8": (
        "features/drug.csv",
        lambda good: good + b"12,C\xc3(\n",
        r"drug\.csv:4: not UTF-8 text \(byte 0xc3\)",
    ),
    "drug.csv missing column": (
        "features/drug.csv",
        lambda good: b"node_index,smile\n10,C\n",
        r"drug\.csv: missing",
    ),
    "drug.csv duplicate id": (
        "features/drug.csv",
        lambda good: b"node_index,smiles\n10,C\n10,CC\n",
        r"drug\.csv: node_index repeated",
    ),
    "drug.csv bad index": (
        "features/drug.csv",
        lambda good: b"node_index,smiles\n10,C\nx11,CC\n",
        r"drug\.csv: 1 rows with a bad node_index \(lines \[3\]",
    ),
    "drug.csv ragged row": (
        "features/drug.csv",
        lambda good: good + b"12,C,C,C\n",
        r"drug\.csv: cannot be read",
    ),
}


@pytest.mark.parametrize("case", sorted(PRIMEKG_CASES))
def test_primekg_errors_name_file_and_row(primekg_files, case):
    kg_csv, features = primekg_files
    name, mutate, problem = PRIMEKG_CASES[case]
    target = kg_csv.parent / name
    target.write_bytes(mutate(target.read_bytes()))
    with pytest.raises(InputError) as err:
        load_primekg(kg_csv, features)
    assert str(target) in str(err.value) and re.search(problem, str(err.value)), str(err.value)
    line = cli_error(
        [
            "prepare",
            "-w",
            kg_csv.parent / "wd",
            "--kg",
            "primekg",
            "--kg-csv",
            kg_csv,
            "--features-dir",
            features,
        ]
    )
    assert re.search(problem, line), line


def test_primekg_crlf_and_huge_sparse_indices_load(primekg_files):
    """CRLF line ends read as LF; a huge, sparse PrimeKG index is looked up, not used to size an array."""
    kg_csv, features = primekg_files
    lf = load_primekg(kg_csv, features)
    for path in [kg_csv, *features.glob("*.csv")]:
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert load_primekg(kg_csv, features).content_hash() == lf.content_hash()
    df = pd.read_csv(kg_csv)
    df.loc[df["x_index"] == 10, "x_index"] = 10**15
    df.loc[df["y_index"] == 10, "y_index"] = 10**15
    df.to_csv(kg_csv, index=False)
    pd.DataFrame({"node_index": [10**15, 11], "smiles": ["CCO", "CC"]}).to_csv(
        features / "drug.csv", index=False
    )
    kg = load_primekg(kg_csv, features)
    assert str(10**15) in set(kg.nodes["node_id"]) and len(kg.triples) == len(lf.triples)


# ---- zero-shot candidate files ------------------------------------------------------------------------
CANDIDATE_CASES = {
    "empty": (b"", r"no candidates"),
    "blank lines only": (b"\n \n\r\n", r"no candidates"),
    "header only": (b"id\tname\ttext\n", r"no candidates \(a header and no rows\)"),
    "not UTF-8": (b"id\ttext\nc1\tfever\nc2\tfi\xe8vre\n", r":3: not UTF-8 text \(byte 0xe8\)"),
    "ragged row": (b"id\ttext\nc1\tfever\nc2\tgout\textra\n", r":3: 3 fields, expected 2"),
    "duplicate id": (b"id\ttext\nc1\tfever\nc1\tgout\n", r"id 'c1' on lines \[2, 3\]"),
    "empty id": (b"id\ttext\nc1\tfever\n\tgout\n", r":3: empty id"),
    "repeated column": (b"id\ttext\ttext\nc1\ta\tb\n", r":1: repeated column names"),
}


@pytest.mark.parametrize("case", sorted(CANDIDATE_CASES))
def test_candidate_file_errors_name_file_and_line(tmp_path, case):
    content, problem = CANDIDATE_CASES[case]
    path = tmp_path / "candidates.tsv"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_candidates(path)
    names(err, path, problem)


def test_candidate_file_with_crlf_bom_and_padded_fields(tmp_path):
    path = tmp_path / "candidates.tsv"
    path.write_bytes(b"\xef\xbb\xbfid\tname\tsmiles\r\nm1\t aspirin\tCC(=O)O \r\nm2\tethanol\tCCO\r\n")
    frame = read_candidates(path)
    assert list(frame["id"]) == ["m1", "m2"] and list(frame["feature"]) == ["CC(=O)O", "CCO"]
    assert frame.at[0, "name"] == "aspirin"


# ---- artifacts: KG, split, embedding store ------------------------------------------------------------
@pytest.fixture
def saved_kg(tmp_path) -> tuple[KnowledgeGraph, Path]:
    kg = load_tsv_kg(*tsv_files(tmp_path), MODALITIES)
    return kg, kg.save(tmp_path / "kg")


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("nodes.parquet", None, r"nodes\.parquet not found"),
        ("nodes.parquet", b"PAR1 not really", r"nodes\.parquet: not a readable parquet file"),
        ("triples.parquet", b"", r"triples\.parquet: not a readable parquet file"),
        ("kg.json", b"{not json", r"kg\.json:1: not valid JSON"),
        ("kg.json", b"[1, 2]", r"kg\.json: expected a JSON object"),
        (
            "kg.json",
            b'{"content_hash": "x"}',
            r"kg\.json: missing keys \['modalities', 'reverse_relations'\]",
        ),
        ("kg.json", b"\xff\xfe{}", r"kg\.json:1: not UTF-8"),
    ],
)
def test_kg_load_names_the_bad_file(saved_kg, name, content, problem):
    _, directory = saved_kg
    path = directory / name
    path.unlink() if content is None else path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(str(directory)) + "/" + problem):
        KnowledgeGraph.load(directory)
    line = cli_error(["encode", "-w", directory.parent, "--no-progress"])
    assert re.search(problem, line), line


def test_kg_load_wrong_column_type(saved_kg):
    _, directory = saved_kg
    nodes = pd.read_parquet(directory / "nodes.parquet")
    nodes["feature"] = range(len(nodes))  # ints where strings belong
    nodes.to_parquet(directory / "nodes.parquet", index=False)
    with pytest.raises(InputError, match=re.escape(str(directory))):
        KnowledgeGraph.load(directory)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("split.parquet", None, r"split\.parquet not found"),
        ("held_out_nodes.parquet", b"garbage", r"held_out_nodes\.parquet: not a readable parquet file"),
        ("split.json", b'{"protocol": "paper",', r"split\.json:1: not valid JSON"),
        ("split.json", b'"paper"', r"split\.json: expected a JSON object"),
        ("split.json", b'{"protocol": "paper"}', r"split\.json: missing keys"),
    ],
)
def test_split_load_names_the_bad_file(saved_kg, name, content, problem):
    kg, directory = saved_kg
    split_dir = split_kg(kg, "paper", 0.5, seed=0).save(directory.parent / "split")
    path = split_dir / name
    path.unlink() if content is None else path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(str(split_dir)) + "/" + problem):
        Split.load(split_dir)


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        (b"{", r"manifest\.json:1: not valid JSON"),
        (b"[]", r"manifest\.json is not an embedding-store manifest"),
        (
            b'{"format": "biobridge-embedding-store", "version": "1", "node_types": {}}',
            r"version must be an integer",
        ),
        (
            b'{"format": "biobridge-embedding-store", "version": 1, "node_types": []}',
            r"node_types must be a JSON",
        ),
        (
            b'{"format": "biobridge-embedding-store", "version": 1, "node_types": {"drug": {"encoder": "m"}}}',
            r"drug\.dim must be int",
        ),
    ],
)
def test_embedding_store_manifest_errors_name_the_file(tmp_path, manifest, problem):
    (tmp_path / "manifest.json").write_bytes(manifest)
    with pytest.raises(InputError) as err:
        EmbeddingStore.load(tmp_path)
    names(err, tmp_path / "manifest.json", problem)


# ---- a run's config.json and the TOML run config ------------------------------------------------------
GOOD_RUN = {
    "format": "biobridge-checkpoint-v1",
    "schema": {"input_dims": {"drug": 8}, "relations": ["target"]},
    "model": {"hidden_dim": 8},
}


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (b'{\n  "format": ', r"config\.json:2: not valid JSON"),
        (b"[]", r"config\.json is not a biobridge run config"),
        (
            json.dumps({**GOOD_RUN, "schema": {"relations": []}}).encode(),
            r"config\.json: not a valid run config",
        ),
        (
            json.dumps({**GOOD_RUN, "schema": {"input_dims": [8], "relations": []}}).encode(),
            r"not a valid run",
        ),
        (json.dumps({**GOOD_RUN, "model": {"layers": 3}}).encode(), r"config\.json: not a valid run config"),
        (json.dumps({k: v for k, v in GOOD_RUN.items() if k != "model"}).encode(), r"missing key 'model'"),
        (json.dumps({**GOOD_RUN, "training": [1]}).encode(), r"config\.json: training must be a JSON object"),
        (
            json.dumps({**GOOD_RUN, "artifacts": {"kg_dir": 3}}).encode(),
            r"config\.json: not a valid run config",
        ),
    ],
)
def test_run_config_errors_name_the_file(tmp_path, config, problem):
    run_dir = tmp_path / "model"
    run_dir.mkdir()
    (run_dir / "config.json").write_bytes(config)
    (run_dir / "model.safetensors").write_bytes(b"")
    with pytest.raises(InputError) as err:
        TrainedRun.open(run_dir)
    names(err, run_dir / "config.json", problem)
    line = cli_error(["evaluate", "-w", tmp_path, "--model", run_dir])
    assert re.search(problem, line), line


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        (b"[train]\nepochs = \n", r"run\.toml: not valid TOML: .*line 2"),
        (b"[train]\nlr = 1e-3\n# caf\xe9\n", r"run\.toml:3: not UTF-8"),
        (b"model = 3\n", r"run\.toml: model must be a table"),
        (b"[trian]\nepochs = 1\n", r"run\.toml: unknown keys or sections \['trian'\]"),
        (b'[train]\nepochs = "two"\n', r"run\.toml: train\.epochs must be int, got 'two'"),
        (b"[train]\nin_batch_negatives = 1\n", r"run\.toml: train\.in_batch_negatives must be bool"),
        (b"[model]\nlayers = 3\n", r"run\.toml: unknown config key 'model\.layers'"),
        (b'preset = "huge"\n', r"run\.toml: unknown preset 'huge'"),
    ],
)
def test_toml_run_config_errors_name_the_file(tmp_path, toml, problem):
    path = tmp_path / "run.toml"
    path.write_bytes(toml)
    with pytest.raises(InputError, match=re.escape(str(path.parent)) + "/" + problem):
        load_run_config(path)
    line = cli_error(["train", "-w", tmp_path / "wd", "--config", path, "--no-progress"])
    assert re.search(problem, line), line


def test_toml_run_config_types(tmp_path):
    """An int is read where a float belongs and a list where a tuple does; a float is no int."""
    path = tmp_path / "run.toml"
    path.write_text('preset = "paper"\n[train]\nepochs = 3\nlr = 1\n[retriever]\nparts = ["popularity"]\n')
    config = load_run_config(path)
    assert config.train.epochs == 3 and config.train.lr == 1 and config.retriever.parts == ("popularity",)
    path.write_text("[train]\nepochs = 2.5\n")
    with pytest.raises(InputError) as err:
        load_run_config(path)
    names(err, path, r"train\.epochs must be int, got 2\.5")


# ---- property-based: any bytes give a result or an InputError -----------------------------------------
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)
# bytes biased to the loaders' syntax: separators, line ends, digits, names, invalid UTF-8
TOKENS = st.sampled_from(
    [
        b"\t",
        b",",
        b"\n",
        b"\r\n",
        b"\r",
        b'"',
        b"0",
        b"10",
        b"-1",
        b"1e3",
        b"protein",
        b"drug",
        b"P1",
        b"D1",
        b"target",
        b"rev_target",
        b"ppi",
        b"gene/protein",
        b"\xff",
        b"\xc3",
        b"\x00",
        b" ",
        b"MKT",
        b"CCO",
    ]
)
CONTENT = st.one_of(st.binary(max_size=300), st.lists(TOKENS, max_size=60).map(b"".join))


def _result_or_input_error(load) -> None:
    try:
        load()
    except InputError:
        pass


@FUZZ
@given(body=CONTENT, which=st.sampled_from(["nodes", "edges"]), with_header=st.booleans())
def test_tsv_loader_any_bytes(tmp_path, body, which, with_header):
    header = {"nodes": NODES.split(b"\n")[0] + b"\n", "edges": EDGE_HEADER}[which]
    nodes, edges = tsv_files(tmp_path, **{which: (header if with_header else b"") + body})
    _result_or_input_error(lambda: load_tsv_kg(nodes, edges, MODALITIES))


@FUZZ
@given(
    body=CONTENT,
    which=st.sampled_from(["kg.csv", "features/drug.csv", "features/disease.csv"]),
    keep=st.booleans(),
)
def test_primekg_loader_any_bytes(tmp_path, body, which, keep):
    root = tmp_path / "pk"
    if not root.exists():
        root.mkdir()
        write_fixture(root)
        for path in [root / "kg.csv", *(root / "features").glob("*.csv")]:
            (path.parent / (path.name + ".orig")).write_bytes(path.read_bytes())
    for orig in [root / "kg.csv.orig", *(root / "features").glob("*.orig")]:
        (orig.parent / orig.name.removesuffix(".orig")).write_bytes(orig.read_bytes())
    target = root / which
    good = target.read_bytes()
    # keep: the good header and rows, then the fuzzed bytes (reaches the checks after parsing)
    target.write_bytes((good if keep else _header(target)) + body)
    _result_or_input_error(lambda: load_primekg(root / "kg.csv", root / "features"))


@FUZZ
@given(body=CONTENT)
def test_candidate_reader_any_bytes(tmp_path, body):
    path = tmp_path / "candidates.tsv"
    path.write_bytes(body)
    _result_or_input_error(lambda: read_candidates(path))


def test_candidate_row_without_a_feature_is_named_not_dropped(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("id\tname\tfeature\nc1\tethanol\tCCO\nc2\tnothing\t\n")
    with pytest.raises(InputError, match=r"c\.tsv:3: no feature for this candidate"):
        read_candidates(path)
