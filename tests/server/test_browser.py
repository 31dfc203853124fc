"""The web explorer in a real browser: headless Chromium (selenium) against ``biobridge serve`` over the session's
tiny real run, with every expected top hit computed by the Python API (``Bridge.retrieve``, ``multi_hop``).

Needs selenium and Debian's chromium + chromedriver (``apt-get install chromium chromium-driver``); skipped
without them. Screenshots go to ``$BIOBRIDGE_SCREENSHOT_DIR`` (default: a pytest temporary directory).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SERVER_START_TIMEOUT_S = 120
WAIT_S = 60

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed: pip install selenium")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        "no chromium/chromedriver at /usr/bin: apt-get install chromium chromium-driver",
        allow_module_level=True,
    )


# ---- the server, the browser, the reference answers ----------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def run_dir(tiny_run) -> Path:
    return tiny_run / "model"


@pytest.fixture(scope="module")
def server(run_dir, tmp_path_factory, request) -> str:
    """``python -m biobridge.cli serve RUN_DIR`` on a free loopback port; its base URL once healthy."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "biobridge.cli", "serve", str(run_dir), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()

    request.addfinalizer(stop)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"biobridge serve exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if _get_json(f"{base}/api/v1/health").get("status") == "ok":
                return base
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"biobridge serve not healthy after {SERVER_START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}"
            )
        time.sleep(0.5)


@pytest.fixture(scope="module")
def schema(server) -> dict:
    return _get_json(f"{server}/api/v1/schema")


@pytest.fixture(scope="module")
def browser(request):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    # the driver is given explicitly: selenium never downloads one
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    request.addfinalizer(driver.quit)
    return driver


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    configured = os.environ.get("BIOBRIDGE_SCREENSHOT_DIR")
    path = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def bridge(run_dir):
    from biobridge.retrieval.bridge import Bridge

    return Bridge.from_pretrained(run_dir)


def _typed_edges(bridge):
    kg = bridge.kg
    t = kg.triples
    types = kg.node_type_array()
    return t.assign(head_type=types[t["head"].to_numpy()], tail_type=types[t["tail"].to_numpy()])


def _best_connected(bridge, head_type: str, relation: str, tail_type: str) -> list[int]:
    """Nodes of ``head_type`` by their number of ``relation`` edges to ``tail_type``, most first."""
    e = _typed_edges(bridge)
    e = e[(e["head_type"] == head_type) & (e["relation"] == relation) & (e["tail_type"] == tail_type)]
    counts = e["head"].value_counts()
    assert not counts.empty, f"the tiny KG has no {head_type} -{relation}-> {tail_type} edge"
    return [int(n) for n in counts.sort_index().sort_values(ascending=False, kind="stable").index]


def _node(bridge, node: int) -> dict:
    row = bridge.kg.nodes.loc[node]
    return {k: str(row[k]) for k in ("node_id", "name", "node_type", "feature")}


def _top_ids(table) -> set[str]:
    """The node ids tied for the top score (ties may come in either order)."""
    best = table["score"].max()
    return set(table.loc[(table["score"] - best).abs() <= 1e-6 * max(1.0, abs(best)), "node_id"].astype(str))


# ---- page helpers ----------------------------------------------------------------------------------------


def _open(driver, base: str, query: dict | None = None) -> None:
    driver.get(base + "/" + (f"?{urlencode(query)}" if query else ""))
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.execute_script("return document.body.dataset.ready") == "true"
    )


def _settled(driver) -> None:
    """Wait until the page has answered the query it is running (results or an error)."""
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.find_element(By.ID, "busy").get_attribute("hidden") is not None
    )


def _wait_rows(driver, table_id: str = "results"):
    _settled(driver)
    error = driver.find_element(By.ID, "error")
    assert not error.is_displayed(), f"the page shows an error: {error.text}"
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tr.hit")
    assert rows and driver.find_element(By.ID, table_id).is_displayed()
    return rows


def _selected(driver, select_id: str) -> str:
    return Select(driver.find_element(By.ID, select_id)).first_selected_option.get_attribute("value")


def _set_value(driver, element, text: str) -> None:
    """Put ``text`` into a field as a paste would (long sequences are slow to type key by key)."""
    driver.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        element,
        text,
    )


def _retrieve_form(driver, query_type: str, target_type: str) -> None:
    driver.find_element(By.ID, "mode-retrieve").click()
    Select(driver.find_element(By.ID, "query-type")).select_by_value(query_type)
    Select(driver.find_element(By.ID, "target-type")).select_by_value(target_type)


def _screenshot(driver, path: Path) -> None:
    """The whole page, not just the window."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(900, min(int(height) + 40, 4000)))
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(1280, 900)
    assert path.stat().st_size > 0


# ---- tests -----------------------------------------------------------------------------------------------


def test_page_loads_with_the_schema(browser, server, schema):
    _open(browser, server)
    assert "BioBridge" in browser.title
    assert browser.find_element(By.ID, "run-name").text == schema["run"]["name"]
    assert schema["run"]["retriever"]["name"] in browser.find_element(By.ID, "retriever-name").text
    query_types = [
        o.get_attribute("value") for o in Select(browser.find_element(By.ID, "query-type")).options
    ]
    assert query_types == [t["name"] for t in schema["node_types"]]
    qt = _selected(browser, "query-type")
    targets = {o.get_attribute("value") for o in Select(browser.find_element(By.ID, "target-type")).options}
    assert targets == {r["tail_type"] for r in schema["relations"] if r["head_type"] == qt}
    assert len(browser.find_elements(By.CSS_SELECTOR, "#examples .example")) == len(schema["examples"])
    assert not browser.find_element(By.ID, "error").is_displayed()
    assert not browser.find_element(By.ID, "results").is_displayed()


def test_protein_sequence_to_biological_process(browser, server, bridge, shots):
    nodes = _best_connected(bridge, "protein", "interacts_with", "biological_process")
    protein = next(p for p in map(lambda n: _node(bridge, n), nodes) if len(p["feature"]) <= 2000)
    expected = bridge.retrieve(protein["feature"], "protein", "biological_process", k=10)
    _open(browser, server)
    _retrieve_form(browser, "protein", "biological_process")
    _set_value(browser, browser.find_element(By.ID, "query"), protein["feature"])
    browser.find_element(By.ID, "run").click()
    rows = _wait_rows(browser)
    assert len(rows) == len(expected)
    assert rows[0].get_attribute("data-node-id") in _top_ids(expected)
    # the stored sequence names the KG node; the score is printed beside its bar
    assert protein["name"] in browser.find_element(By.ID, "summary").text
    assert float(rows[0].find_element(By.CSS_SELECTOR, ".score-num").text) == pytest.approx(
        expected["score"].iloc[0], abs=1e-3
    )
    assert "mode=retrieve" in browser.current_url and "qt=protein" in browser.current_url
    _screenshot(browser, shots / "explorer-retrieve.png")


def test_drug_smiles_example_to_protein(browser, server, bridge, schema):
    examples = [e for e in schema["examples"] if e["mode"] == "retrieve" and e["query_type"] == "drug"]
    if examples:  # the schema's own example, one click away
        example = examples[0]
        query, target, relation = example["query"], example["target_type"], example["relation"]
    else:
        drug = _node(bridge, _best_connected(bridge, "drug", "target", "protein")[0])
        query, target, relation = drug["feature"], "protein", "target"
    expected = bridge.retrieve(query, "drug", target, relation=relation, k=10)
    _open(browser, server)
    if examples:
        index = schema["examples"].index(example)
        browser.find_element(By.CSS_SELECTOR, f'#examples .example[data-index="{index}"]').click()
    else:
        _retrieve_form(browser, "drug", target)
        _set_value(browser, browser.find_element(By.ID, "query"), query)
        browser.find_element(By.ID, "run").click()
    rows = _wait_rows(browser)
    assert browser.find_element(By.ID, "query").get_attribute("value") == query
    assert _selected(browser, "query-type") == "drug"
    assert rows[0].get_attribute("data-node-id") in _top_ids(expected)


def test_disease_text_to_protein_submitted_with_enter(browser, server, bridge):
    disease = _node(bridge, _best_connected(bridge, "disease", "associated_with", "protein")[0])
    text = disease["name"]  # its name as free text: a new item, encoded by the text encoder
    expected = bridge.retrieve(text, "disease", "protein", k=10)
    _open(browser, server)
    _retrieve_form(browser, "disease", "protein")
    query = browser.find_element(By.ID, "query")
    query.send_keys(text)
    query.send_keys(Keys.ENTER)
    rows = _wait_rows(browser)
    assert rows[0].get_attribute("data-node-id") in _top_ids(expected)
    assert "new item (not in the KG)" in browser.find_element(By.ID, "summary").text


def test_kg_node_from_autocomplete_shows_known_edges(browser, server, bridge):
    candidates = _best_connected(bridge, "protein", "interacts_with", "biological_process")
    for node in candidates[:20]:
        protein = _node(bridge, node)
        expected = bridge.retrieve(protein["node_id"], "protein", "biological_process", k=10)
        if expected["known_edge"].any():
            break
    else:
        pytest.fail("no protein of the tiny KG has a known edge in its top 10 biological processes")
    _open(browser, server)
    _retrieve_form(browser, "protein", "biological_process")
    query = browser.find_element(By.ID, "query")
    query.send_keys(protein["name"])
    pick = f'#suggestions li[data-node-id="{protein["node_id"]}"]'
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, pick))
    browser.find_element(By.CSS_SELECTOR, pick).click()
    assert query.get_attribute("value") == protein["node_id"]
    browser.find_element(By.ID, "run").click()
    rows = _wait_rows(browser)
    assert rows[0].get_attribute("data-node-id") in _top_ids(expected)
    known = {
        r.get_attribute("data-node-id")
        for r in browser.find_elements(By.CSS_SELECTOR, "#results tr.hit.known")
    }
    assert known == set(expected.loc[expected["known_edge"], "node_id"].astype(str))
    badge = browser.find_element(By.CSS_SELECTOR, "#results tr.hit.known .known-badge")
    assert badge.is_displayed() and badge.get_attribute("title") == "known KG edge"
    assert protein["node_id"] in browser.find_element(By.ID, "summary").text


def test_result_opens_its_node_page(browser, server, bridge, shots):
    drug = _node(bridge, _best_connected(bridge, "drug", "target", "protein")[0])
    _open(browser, server, {"mode": "retrieve", "q": drug["node_id"], "qt": "drug", "tt": "protein", "k": 10})
    rows = _wait_rows(browser)
    hit_id = rows[0].get_attribute("data-node-id")
    hit = bridge.kg.nodes[
        (bridge.kg.nodes["node_type"] == "protein") & (bridge.kg.nodes["node_id"] == hit_id)
    ]
    assert len(hit) == 1
    hit = _node(bridge, int(hit.index[0]))
    rows[0].find_element(By.CSS_SELECTOR, "button.node-link").click()
    view = browser.find_element(By.ID, "node-view")
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_element(By.ID, "node-name").text == hit["name"])
    assert view.is_displayed()
    feature = browser.find_element(By.ID, "node-feature")
    assert feature.is_displayed() and feature.get_attribute("textContent") == hit["feature"]
    assert browser.find_elements(By.CSS_SELECTOR, "#node-neighbours .neighbour-group")
    assert "node=protein" in browser.current_url
    _screenshot(browser, shots / "explorer-node.png")

    # a neighbour opens its own page; back returns to the hit's
    neighbour = browser.find_element(By.CSS_SELECTOR, "#node-neighbours button.node-link")
    neighbour_id = neighbour.get_attribute("data-node-id")
    neighbour.click()
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_element(By.ID, "node-id").text == neighbour_id)
    browser.back()
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_element(By.ID, "node-id").text == hit_id)

    # "query from this node" puts its id in the query box with its type
    browser.find_element(By.ID, "node-query").click()
    assert browser.find_element(By.ID, "query").get_attribute("value") == hit_id
    assert _selected(browser, "query-type") == "protein"

    browser.back()  # to the results without a node page
    WebDriverWait(browser, WAIT_S).until(lambda d: not d.find_element(By.ID, "node-view").is_displayed())
    assert browser.find_elements(By.CSS_SELECTOR, "#results tr.hit")


def test_invalid_smiles_shows_the_error_inline(browser, server, shots):
    _open(browser, server, {"mode": "retrieve", "q": "CCO", "qt": "drug", "tt": "protein", "k": 5})
    _wait_rows(browser)  # results of a valid query first: the error must replace them
    query = browser.find_element(By.ID, "query")
    _set_value(browser, query, "C1CC(")
    browser.find_element(By.ID, "run").click()
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_element(By.ID, "error").is_displayed())
    _settled(browser)
    error = browser.find_element(By.ID, "error")
    assert error.get_attribute("role") == "alert"
    assert "SMILES" in error.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#results tr.hit")
    assert not browser.find_element(By.ID, "results").is_displayed()
    assert query.get_attribute("aria-invalid") == "true"
    _screenshot(browser, shots / "explorer-error.png")


def test_permalink_runs_its_query(browser, server, bridge):
    disease = _node(bridge, _best_connected(bridge, "disease", "associated_with", "protein")[0])
    expected = bridge.retrieve(disease["node_id"], "disease", "protein", k=5)
    params = {"mode": "retrieve", "q": disease["node_id"], "qt": "disease", "tt": "protein", "k": 5}
    _open(browser, server, params)
    rows = _wait_rows(browser)
    assert len(rows) == len(expected)
    assert rows[0].get_attribute("data-node-id") in _top_ids(expected)
    assert browser.find_element(By.ID, "query").get_attribute("value") == disease["node_id"]
    assert _selected(browser, "target-type") == "protein"
    assert browser.find_element(By.ID, "k").get_attribute("value") == "5"


def _two_hop_path(schema) -> str:
    for example in schema["examples"]:
        if example["mode"] == "path" and example["path"] and example["path"].count(",") == 1:
            return example["path"]
    for first in schema["relations"]:
        for second in schema["relations"]:
            if second["head_type"] == first["tail_type"] and second["tail_type"] != first["head_type"]:
                return (
                    f"{first['head_type']}:{first['relation']}:{first['tail_type']},"
                    f"{second['head_type']}:{second['relation']}:{second['tail_type']}"
                )
    pytest.fail("no two-hop path in the tiny KG")


def test_multi_hop_path_composed_hop_by_hop(browser, server, bridge, schema, shots):
    from biobridge.applications.multihop import multi_hop, parse_path

    path = _two_hop_path(schema)
    hops = parse_path(path)
    head_type = hops[0].head_type
    first = _best_connected(bridge, head_type, hops[0].relation, hops[0].tail_type)[0]
    query = _node(bridge, first)["node_id"]
    expected = multi_hop(bridge, query, hops, k=10)

    _open(browser, server)
    browser.find_element(By.ID, "mode-path").click()
    assert browser.find_element(By.ID, "mode-path").get_attribute("aria-selected") == "true"
    Select(browser.find_element(By.ID, "query-type")).select_by_value(head_type)
    for i, hop in enumerate(hops, start=1):
        hop_select = browser.find_elements(By.ID, f"hop-{i}")
        if not hop_select:
            browser.find_element(By.ID, "add-hop").click()
        Select(browser.find_element(By.ID, f"hop-{i}")).select_by_value(f"{hop.relation}|{hop.tail_type}")
    assert not browser.find_elements(By.ID, f"hop-{len(hops) + 1}")
    _set_value(browser, browser.find_element(By.ID, "query"), query)
    browser.find_element(By.ID, "run").click()
    rows = _wait_rows(browser, "path-results")
    assert len(rows) == len(expected)
    assert rows[0].get_attribute("data-node-id") in _top_ids(expected)
    assert len(rows[0].find_elements(By.CSS_SELECTOR, ".hop-score")) == len(hops)
    assert rows[0].find_elements(By.CSS_SELECTOR, ".through button.node-link")  # the intermediate node
    assert "mode=path" in browser.current_url
    _screenshot(browser, shots / "explorer-multihop.png")
