/* BioBridge explorer: a single static page over the JSON API under /api/v1.
 *
 * The URL is the state: a query lives in ?mode=retrieve&q=…&qt=…&tt=…&r=…&k=… or ?mode=path&q=…&path=…&k=…,
 * an open node page in &node=TYPE:ID. Running a query or opening a node pushes a history entry; loading or
 * going back to a URL replays it (syncFromUrl).
 *
 * Every string from the API or the user enters the page as text (textContent / text nodes), never as HTML.
 */
"use strict";

(() => {
  const API = "/api/v1";
  const MAX_HOPS = 3;
  const SUGGEST_DELAY_MS = 220;
  const FEATURE_COLLAPSE_CHARS = 480;

  const $ = (id) => document.getElementById(id);

  const state = {
    schema: null,
    types: new Map(), // node type name -> {name, modality, encoder, n_nodes}
    mode: "retrieve",
    hops: [], // [{head, relation, tail}]
    shownKey: null, // the query whose results are on the page
    runSeq: 0,
    nodeSeq: 0,
    node: null, // the node page's details
    suggest: { timer: 0, seq: 0, items: [], active: -1 },
    picked: null, // the KG node chosen from the suggestions
  };

  // ---- small helpers ------------------------------------------------------------------------------------

  /** An element with attributes and children; strings become text nodes (never parsed as HTML). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const typeLabel = (type) => String(type).replace(/_/g, " ");
  /** "protein" -> "proteins", "biological process" -> "biological processes" (n === 1: singular). */
  function typesLabel(type, n) {
    const one = typeLabel(type);
    if (n === 1) return one;
    if (/(s|x|ch|sh)$/.test(one)) return `${one}es`;
    if (/[^aeiou]y$/.test(one)) return `${one.slice(0, -1)}ies`;
    return `${one}s`;
  }
  const relationLabel = (rel) => (rel === "~" ? "~ similar" : String(rel));
  const plural = (n, one, many) => `${n.toLocaleString("en-US")} ${n === 1 ? one : many || `${one}s`}`;
  const modalityOf = (type) => (state.types.get(type) || {}).modality || "text";

  function setHidden(el, hidden) {
    el.hidden = Boolean(hidden);
  }

  class ApiError extends Error {
    constructor(message, { status = 0, field = null, type = null } = {}) {
      super(message);
      this.status = status;
      this.field = field;
      this.type = type;
    }
  }

  /** A JSON call to the API; an error answer or a network failure becomes an ApiError in plain words. */
  async function api(path, body, retried = false) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem("biobridge-api-key");
    if (key) headers["X-API-Key"] = key; // a server started with --api-key-env
    const init = body === undefined
      ? { method: "GET", headers }
      : { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body) };
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (err) {
      throw new ApiError(
        "Could not reach the BioBridge server (network error). Check that `biobridge serve` is still running, then try again.",
      );
    }
    if (response.status === 401 && !retried) {
      const given = window.prompt("This BioBridge server needs an API key (its X-API-Key):");
      if (given) {
        sessionStorage.setItem("biobridge-api-key", given.trim());
        return api(path, body, true);
      }
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const e = data && data.error;
      if (e && e.message) throw new ApiError(e.message, { status: e.status || response.status, field: e.field, type: e.type });
      throw new ApiError(`The server answered HTTP ${response.status}${response.statusText ? ` (${response.statusText})` : ""} without an explanation.`, { status: response.status });
    }
    if (data === null) throw new ApiError("The server's answer was not valid JSON.", { status: response.status });
    return data;
  }

  // ---- errors -------------------------------------------------------------------------------------------

  const FIELD_INPUTS = {
    query: "query",
    queries: "query",
    query_type: "query-type",
    target_type: "target-type",
    relation: "relation",
    k: "k",
    path: "hops",
  };

  function showError(message, field, title = "Could not run this query.") {
    const box = $("error");
    const text = String(message || "unknown error");
    box.replaceChildren(h("strong", { text: `${title} ` }),
      h("span", { class: "error-message", text: text.charAt(0).toUpperCase() + text.slice(1) }));
    setHidden(box, false);
    clearInvalid();
    const inputId = field && FIELD_INPUTS[field];
    if (inputId && $(inputId)) $(inputId).setAttribute("aria-invalid", "true");
  }

  function clearError() {
    const box = $("error");
    box.replaceChildren();
    setHidden(box, true);
    clearInvalid();
  }

  function clearInvalid() {
    for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  class InputProblem extends Error {
    constructor(message, field) {
      super(message);
      this.field = field;
    }
  }

  // ---- schema: header, selectors, examples --------------------------------------------------------------

  function relationsFrom(head) {
    return state.schema.relations.filter((r) => r.head_type === head);
  }

  function relationsBetween(head, tail) {
    return state.schema.relations.filter((r) => r.head_type === head && r.tail_type === tail);
  }

  function renderHeader(schema) {
    const run = schema.run || {};
    const retriever = run.retriever || {};
    $("run-name").textContent = run.name || "(unnamed run)";
    const parts = (retriever.parts || []).filter((p) => p !== retriever.name);
    $("retriever-name").textContent = retriever.kind === "hybrid" && parts.length
      ? `${retriever.name} (hybrid of ${parts.join(", ")})`
      : `${retriever.name || "bridge"}${retriever.kind && retriever.kind !== retriever.name ? ` (${retriever.kind})` : ""}`;
    const nNodes = schema.node_types.reduce((s, t) => s + (t.n_nodes || 0), 0);
    const nTriples = schema.relations.reduce((s, r) => s + (r.n_triples || 0), 0);
    const kg = $("kg-summary");
    kg.textContent = `${plural(nNodes, "node")} · ${plural(nTriples, "edge")}`;
    if (run.kg_hash) kg.title = `KG content hash ${run.kg_hash}`;
    document.title = `BioBridge explorer · ${run.name || "run"}`;

    // run.metrics is {protocol, method, tasks: {task: {mrr, ...}}} (or, flat, {task: {mrr, ...}})
    const rawMetrics = run.metrics && typeof run.metrics === "object"
      ? (run.metrics.tasks && typeof run.metrics.tasks === "object" ? run.metrics.tasks : run.metrics) : {};
    const metrics = Object.entries(rawMetrics);
    const withMrr = metrics.filter(([, m]) => m && typeof m.mrr === "number");
    if (withMrr.length) {
      const mean = withMrr.reduce((s, [, m]) => s + m.mrr, 0) / withMrr.length;
      const table = h("table", { class: "metrics" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Task" }), h("th", { scope: "col", class: "num", text: "MRR" }))),
        h("tbody", {}, withMrr.map(([task, m]) => h("tr", {}, h("td", { text: task }), h("td", { class: "num", text: m.mrr.toFixed(3) })))));
      const details = h("details", { class: "metrics-details" },
        h("summary", {}, `Test MRR ${mean.toFixed(3)} (mean of ${withMrr.length} tasks${run.metrics.protocol ? `, ${run.metrics.protocol} split` : ""})`), table);
      $("run-info").append(h("div", { class: "metrics-item" }, h("dt", { text: "Benchmark" }), h("dd", {}, details)));
    }
  }

  function fillSelect(select, options, wanted) {
    const previous = wanted !== undefined ? wanted : select.value;
    select.replaceChildren(...options.map((o) => h("option", { value: o.value, title: o.title || null }, o.label)));
    if (options.some((o) => o.value === previous)) select.value = previous;
    else if (options.length) select.value = options[0].value;
  }

  function renderQueryTypes() {
    fillSelect($("query-type"), state.schema.node_types.map((t) => ({
      value: t.name,
      label: t.modality && t.modality !== t.name ? `${typeLabel(t.name)} (${t.modality})` : typeLabel(t.name),
      title: `${plural(t.n_nodes || 0, "node")} in the KG; encoder ${t.encoder}`,
    })));
  }

  /** Target types reachable from the query type in one relation (all types when none is). */
  function updateTargetTypes(wanted) {
    const qt = $("query-type").value;
    const reachable = new Set(relationsFrom(qt).map((r) => r.tail_type));
    const types = state.schema.node_types.filter((t) => reachable.size === 0 || reachable.has(t.name));
    let preferred = wanted !== undefined ? wanted : $("target-type").value;
    if (!types.some((t) => t.name === preferred)) preferred = defaultTarget(qt, types.map((t) => t.name));
    fillSelect($("target-type"), types.map((t) => ({ value: t.name, label: typeLabel(t.name) })), preferred);
    updateRelations();
  }

  /** A sensible target for a query type: an example's, else the first benchmark task's, else the first. */
  function defaultTarget(qt, allowed) {
    const fromExample = (state.schema.examples || []).find((ex) => ex.mode !== "path" && ex.query_type === qt && allowed.includes(ex.target_type));
    if (fromExample) return fromExample.target_type;
    const fromTask = (state.schema.tasks || []).find((t) => t.head_type === qt && t.tail_type !== qt && allowed.includes(t.tail_type));
    if (fromTask) return fromTask.tail_type;
    return allowed.find((t) => t !== qt) || allowed[0];
  }

  /** The relation selector, shown only when several relations link the query type to the target type. */
  function updateRelations(wanted) {
    const rels = relationsBetween($("query-type").value, $("target-type").value);
    const select = $("relation");
    const options = rels.map((r) => ({
      value: r.relation,
      label: `${r.relation} (${plural(r.n_triples || 0, "edge")})`,
    }));
    if (!rels.length) options.push({ value: "", label: "(none in the KG)" });
    fillSelect(select, options, wanted !== undefined ? wanted : select.value);
    setHidden($("relation-field"), rels.length <= 1);
  }

  const QUERY_HINTS = {
    protein: "Paste an amino-acid sequence (FASTA is fine), or type a gene name or UniProt accession and pick the KG protein.",
    molecule: "Paste a SMILES string, or type a drug name and pick the KG drug.",
    text: "Describe it in words, or type a name or id and pick the KG node.",
  };

  const QUERY_PLACEHOLDERS = {
    protein: "e.g. MEEPQSDPSVEPPLSQETFSDLWKLLPENNVLSPLPSQAMDDLMLSPDDIEQWFTEDPGP…   or   P04637   or   TP53",
    molecule: "e.g. CC(=O)Oc1ccccc1C(=O)O   or a drug name",
    text: "e.g. familial Parkinson disease",
  };

  function updateQueryHelp() {
    const qt = $("query-type").value;
    const info = state.types.get(qt) || {};
    const modality = info.modality || "text";
    const label = modality === "protein" ? "Protein sequence or KG protein" : modality === "molecule" ? "SMILES or KG drug" : `Text or KG ${typeLabel(qt)}`;
    $("query-label").textContent = label;
    $("query").placeholder = QUERY_PLACEHOLDERS[modality] || "";
    const hint = $("query-hint");
    hint.replaceChildren(QUERY_HINTS[modality] || "");
    if (info.encoder) hint.append(" New items: encoder ", h("code", { text: info.encoder }), ".");
    if (state.picked) {
      hint.replaceChildren("Selected KG node ", h("strong", { text: state.picked.name }),
        " (", h("span", { class: "mono", text: state.picked.node_id }), ").");
    }
    updateCount();
  }

  function queryLimit() {
    const limits = state.schema.limits || {};
    return modalityOf($("query-type").value) === "text" ? limits.max_text_length : limits.max_sequence_length;
  }

  function updateCount() {
    const n = $("query").value.length;
    const limit = queryLimit();
    const el = $("query-count");
    el.textContent = n ? `${n.toLocaleString("en-US")}${limit ? ` / ${limit.toLocaleString("en-US")}` : ""} characters` : "";
    el.classList.toggle("over", Boolean(limit && n > limit));
  }

  function renderExamples() {
    const box = $("examples");
    const examples = state.schema.examples || [];
    box.replaceChildren(...examples.map((ex, i) => {
      return h("button", {
        type: "button",
        class: "example",
        "data-index": i,
        title: `${ex.mode === "path" ? `Path ${ex.path}` : "Retrieve"}: ${shorten(ex.query, 160)}`,
        onclick: () => runExample(ex),
      }, ex.mode === "path" ? h("span", { class: "example-tag", text: "multi-hop" }) : "", h("span", { class: "example-label", text: ex.label }));
    }));
    setHidden(box.parentElement, examples.length === 0);
  }

  function shorten(text, n) {
    const s = String(text || "");
    return s.length > n ? `${s.slice(0, n - 1)}…` : s;
  }

  function runExample(ex) {
    const p = new URLSearchParams();
    p.set("mode", ex.mode === "path" ? "path" : "retrieve");
    p.set("q", ex.query);
    p.set("qt", ex.query_type);
    if (ex.mode === "path") {
      if (ex.path) p.set("path", ex.path);
    } else {
      if (ex.target_type) p.set("tt", ex.target_type);
      if (ex.relation) p.set("r", ex.relation);
    }
    p.set("k", $("k").value || "10");
    navigate(p, { force: true });
  }

  // ---- mode tabs ----------------------------------------------------------------------------------------

  const MODE_HELP = {
    retrieve: "Rank the entities of one type that the query is most likely linked to.",
    path: "Chain up to three hops through the KG (e.g. disease → protein → drug) and rank the entities at the end.",
  };

  function setMode(mode) {
    state.mode = mode === "path" ? "path" : "retrieve";
    const isPath = state.mode === "path";
    for (const [id, on] of [["mode-retrieve", !isPath], ["mode-path", isPath]]) {
      const tab = $(id);
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    for (const el of document.querySelectorAll(".retrieve-only")) el.classList.toggle("mode-off", isPath);
    for (const el of document.querySelectorAll(".path-only")) el.classList.toggle("mode-off", !isPath);
    setHidden($("path-builder"), !isPath);
    if (!isPath) updateRelations();
    $("mode-help").textContent = MODE_HELP[state.mode];
    if (isPath) ensureHops();
  }

  // ---- path builder -------------------------------------------------------------------------------------

  const hopString = (hops) => hops.map((x) => `${x.head}:${x.relation}:${x.tail}`).join(",");

  function parsePath(text) {
    const hops = [];
    for (const part of String(text || "").split(",").map((s) => s.trim()).filter(Boolean)) {
      const f = part.split(":").map((s) => s.trim());
      if (f.length !== 3 || f.some((x) => !x)) return null;
      hops.push({ head: f[0], relation: f[1], tail: f[2] });
    }
    return hops.length ? hops : null;
  }

  /** The hop choices from a type: its KG relations, then the similarity hop. */
  function hopChoices(head) {
    const choices = relationsFrom(head).map((r) => ({ relation: r.relation, tail: r.tail_type, n: r.n_triples || 0 }));
    if (state.types.has(head)) choices.push({ relation: "~", tail: head, n: null });
    return choices;
  }

  function isBacktrack(prev, rel, tail) {
    if (!prev || tail !== prev.head) return false;
    return rel === `rev_${prev.relation}` || prev.relation === `rev_${rel}` || (rel === prev.relation && rel !== "~");
  }

  function defaultHop(head, prev) {
    const choices = hopChoices(head).filter((c) => c.relation !== "~");
    const pick = choices.find((c) => !isBacktrack(prev, c.relation, c.tail) && c.tail !== head) ||
      choices.find((c) => !isBacktrack(prev, c.relation, c.tail)) || choices[0] || hopChoices(head)[0];
    return pick ? { head, relation: pick.relation, tail: pick.tail } : null;
  }

  /** Example paths for the query type, then every non-backtracking two-hop path from it. */
  function suggestedPaths(qt) {
    const out = [];
    const seen = new Set();
    const add = (hops, label) => {
      const key = hopString(hops);
      if (seen.has(key)) return;
      seen.add(key);
      out.push({ key, label: label || pathLabel(hops) });
    };
    for (const ex of state.schema.examples || []) {
      const hops = ex.mode === "path" && parsePath(ex.path);
      if (hops && hops[0].head === qt) add(hops, `${pathLabel(hops)}  (example)`);
    }
    for (const first of relationsFrom(qt)) {
      const h1 = { head: qt, relation: first.relation, tail: first.tail_type };
      for (const second of relationsFrom(first.tail_type)) {
        if (isBacktrack(h1, second.relation, second.tail_type)) continue;
        add([h1, { head: first.tail_type, relation: second.relation, tail: second.tail_type }]);
      }
    }
    return out;
  }

  function pathLabel(hops) {
    return [typeLabel(hops[0].head), ...hops.map((x) => `${relationLabel(x.relation)} → ${typeLabel(x.tail)}`)].join(" → ");
  }

  /** Make the hops start at the query type and chain; keep what still fits. */
  function ensureHops() {
    const qt = $("query-type").value;
    if (!state.hops.length || state.hops[0].head !== qt) {
      const suggestions = suggestedPaths(qt);
      const first = suggestions.length ? parsePath(suggestions[0].key) : null;
      state.hops = first || [defaultHop(qt, null)].filter(Boolean);
    }
    rechain(0);
    renderHops();
  }

  function rechain(from) {
    for (let i = Math.max(from, 0); i < state.hops.length; i++) {
      const head = i === 0 ? $("query-type").value : state.hops[i - 1].tail;
      const hop = state.hops[i];
      const ok = hopChoices(head).some((c) => c.relation === hop.relation && c.tail === hop.tail);
      if (hop.head !== head || !ok) {
        const replacement = defaultHop(head, state.hops[i - 1]);
        if (!replacement) {
          state.hops.length = i;
          break;
        }
        state.hops[i] = replacement;
      }
    }
  }

  function renderHops() {
    const list = $("hops");
    list.replaceChildren(...state.hops.map((hop, i) => {
      const id = `hop-${i + 1}`;
      const select = h("select", { id, "data-hop": i });
      fillSelect(select, hopChoices(hop.head).map((c) => ({
        value: `${c.relation}|${c.tail}`,
        label: c.relation === "~" ? `~ similar ${typeLabel(c.tail)}` : `${c.relation} → ${typeLabel(c.tail)}${c.n ? ` (${plural(c.n, "edge")})` : ""}`,
      })), `${hop.relation}|${hop.tail}`);
      select.addEventListener("change", () => {
        const [relation, tail] = select.value.split("|");
        state.hops[i] = { head: hop.head, relation, tail };
        rechain(i + 1);
        renderHops();
      });
      return h("li", { class: "hop" },
        h("label", { for: id }, `Hop ${i + 1} from `, h("span", { class: "type-pill", text: typeLabel(hop.head) })),
        select);
    }));
    $("add-hop").disabled = state.hops.length >= MAX_HOPS || !state.hops.length;
    $("remove-hop").disabled = state.hops.length <= 1;
    const key = hopString(state.hops);
    const presets = suggestedPaths($("query-type").value);
    const preset = $("path-preset");
    fillSelect(preset, [{ value: "", label: "Compose hop by hop below" }, ...presets.map((p) => ({ value: p.key, label: p.label }))],
      presets.some((p) => p.key === key) ? key : "");
  }

  // ---- the form <-> URL parameters ---------------------------------------------------------------------

  /** A protein query pasted as FASTA or with line breaks becomes one sequence; other queries are trimmed. */
  function normaliseQuery(text, type) {
    const raw = String(text || "");
    if (modalityOf(type) === "protein") {
      const lines = raw.split(/\r?\n/).filter((l) => !l.trim().startsWith(">") && !l.trim().startsWith(";"));
      const joined = lines.join("").replace(/\s+/g, "");
      if (joined && (/^[A-Za-z*\-]+$/.test(joined) && (lines.length > 1 || raw.trim().startsWith(">")))) return joined.replace(/[*\-]/g, "");
      return raw.trim();
    }
    return raw.trim();
  }

  function paramsFromForm() {
    const qt = $("query-type").value;
    const q = normaliseQuery($("query").value, qt);
    if (!q) throw new InputProblem("Enter a query: a sequence, a SMILES string, a text, or a KG node id or name.", "query");
    const limit = queryLimit();
    if (limit && q.length > limit) {
      throw new InputProblem(`The query is ${q.length.toLocaleString("en-US")} characters long; this server accepts at most ${limit.toLocaleString("en-US")}.`, "query");
    }
    const kText = $("k").value.trim();
    const k = Number(kText || "10");
    const maxK = (state.schema.limits || {}).max_k;
    if (!Number.isInteger(k) || k < 1) throw new InputProblem("Top k must be a whole number of at least 1.", "k");
    if (maxK && k > maxK) throw new InputProblem(`Top k can be at most ${maxK} on this server.`, "k");
    const p = new URLSearchParams();
    p.set("mode", state.mode);
    p.set("q", q);
    p.set("qt", qt);
    if (state.mode === "path") {
      if (!state.hops.length) throw new InputProblem("Choose at least one hop for the path.", "path");
      p.set("path", hopString(state.hops));
      if (!$("known-edges").checked) p.set("ke", "0");
    } else {
      const tt = $("target-type").value;
      p.set("tt", tt);
      const rels = relationsBetween(qt, tt);
      const r = $("relation").value;
      if (rels.length > 1 && !r) throw new InputProblem(`Several relations link ${typeLabel(qt)} to ${typeLabel(tt)}: choose one.`, "relation");
      if (r && rels.length > 1) p.set("r", r); // a lone relation is implied by the two types
      if ($("all-candidates").checked) p.set("cand", "all");
      if ($("as-raw").checked) p.set("raw", "1");
    }
    p.set("k", String(k));
    return p;
  }

  /** Fill the form from URL parameters (a permalink, an example, or history). */
  function fillForm(p) {
    const mode = p.get("mode") === "path" ? "path" : "retrieve";
    let qt = p.get("qt");
    const hops = mode === "path" ? parsePath(p.get("path")) : null;
    if (hops) qt = hops[0].head;
    if (qt && state.types.has(qt)) $("query-type").value = qt;
    const q = p.get("q");
    if (q !== null) $("query").value = q;
    state.picked = null;
    if (p.get("k")) $("k").value = p.get("k");
    if (mode === "path") {
      if (hops) state.hops = hops;
      $("known-edges").checked = p.get("ke") !== "0";
    } else {
      updateTargetTypes(p.get("tt") || undefined);
      updateRelations(p.get("r") || "");
      $("all-candidates").checked = p.get("cand") === "all";
      $("as-raw").checked = p.get("raw") === "1";
    }
    setMode(mode);
    if (mode === "path") renderHops();
    updateQueryHelp();
  }

  function queryKey(p) {
    const copy = new URLSearchParams(p);
    copy.delete("node");
    copy.sort();
    return copy.toString();
  }

  function navigate(params, { force = false, replace = false } = {}) {
    const url = `${location.pathname}?${params.toString()}`;
    if (replace) history.replaceState(null, "", url);
    else if (url !== `${location.pathname}${location.search}`) history.pushState(null, "", url);
    return syncFromUrl({ force });
  }

  /** Replay the URL: run its query unless its results are already shown, open or close its node page. */
  async function syncFromUrl({ force = false, fromHistory = false } = {}) {
    const p = new URLSearchParams(location.search);
    const mode = p.get("mode");
    const tasks = [];
    if ((mode === "retrieve" || mode === "path") && p.get("q")) {
      const key = queryKey(p);
      if (force || key !== state.shownKey) {
        fillForm(p);
        tasks.push(runQuery(p, key));
      } else if (fromHistory) {
        fillForm(p); // back to a query already shown: the form shows it again
      }
    } else if (!mode) {
      state.shownKey = null;
      clearResults();
    }
    const node = p.get("node");
    if (node && node.includes(":")) {
      const at = node.indexOf(":");
      tasks.push(openNode(node.slice(0, at), node.slice(at + 1)));
    } else {
      closeNodeView();
    }
    await Promise.all(tasks);
  }

  function submitForm() {
    hideSuggestions();
    clearError();
    let params;
    try {
      params = paramsFromForm();
    } catch (err) {
      if (err instanceof InputProblem) {
        showError(err.message, err.field);
        return;
      }
      throw err;
    }
    navigate(params, { force: true });
  }

  // ---- running queries ----------------------------------------------------------------------------------

  function setBusy(on) {
    setHidden($("busy"), !on);
    $("run").disabled = on;
    $("results-card").setAttribute("aria-busy", String(on));
  }

  function clearResults() {
    for (const id of ["results", "path-results"]) {
      $(id).tBodies[0].replaceChildren();
      setHidden($(id), true);
    }
    $("summary").replaceChildren();
    setHidden($("results-card"), true);
  }

  async function runQuery(p, key) {
    const seq = ++state.runSeq;
    clearError();
    setBusy(true);
    const mode = p.get("mode");
    const k = Number(p.get("k") || "10");
    try {
      let data;
      if (mode === "path") {
        data = await api("/path", {
          query: p.get("q"),
          path: p.get("path") || "",
          k,
          known_edges: p.get("ke") !== "0",
        });
      } else {
        data = await api("/retrieve", {
          query: p.get("q"),
          query_type: p.get("qt"),
          target_type: p.get("tt"),
          relation: p.get("r") || null,
          k,
          candidates: p.get("cand") === "all" ? "all" : "relation",
          as_raw: p.get("raw") === "1",
        });
      }
      if (seq !== state.runSeq) return;
      state.shownKey = key;
      if (mode === "path") renderPathResults(data, p);
      else renderRetrieveResults(data, p);
    } catch (err) {
      if (seq !== state.runSeq) return;
      state.shownKey = null;
      clearResults();
      if (err instanceof ApiError) showError(err.message, err.field);
      else showError(`Something went wrong in the page: ${err && err.message ? err.message : err}`);
    } finally {
      if (seq === state.runSeq) setBusy(false);
    }
  }

  /** Bar lengths relative to the top score: score/top when all scores are positive, else min-max scaled. */
  function barFractions(scores) {
    if (!scores.length) return [];
    const max = Math.max(...scores);
    const min = Math.min(...scores);
    if (min >= 0 && max > 0) return scores.map((s) => s / max);
    if (max === min) return scores.map(() => 1);
    return scores.map((s) => 0.06 + 0.94 * ((s - min) / (max - min)));
  }

  function scoreDigits(scores) {
    const top = Math.max(0, ...scores.map((s) => Math.abs(s)));
    return top >= 100 ? 1 : top >= 10 ? 2 : 3;
  }

  function scoreCell(score, fraction, digits) {
    return h("td", { class: "score" },
      h("div", { class: "bar-cell" },
        h("span", { class: "bar-track", "aria-hidden": "true" },
          h("span", { class: "bar", style: `width: ${(Math.max(0, Math.min(1, fraction)) * 100).toFixed(1)}%` })),
        h("span", { class: "num score-num", text: Number(score).toFixed(digits) })));
  }

  function nodeButton(node, extraClass) {
    return h("button", {
      type: "button",
      class: `link-button node-link${extraClass ? ` ${extraClass}` : ""}`,
      "data-node-id": node.node_id,
      "data-node-type": node.node_type,
      title: `Open ${node.name || node.node_id} (${typeLabel(node.node_type)} ${node.node_id})`,
      onclick: () => openNodeNav(node.node_type, node.node_id),
    }, node.name || node.node_id);
  }

  function resolvedLine(kgNode, queryType) {
    if (kgNode) {
      return h("p", { class: "resolved" },
        "The query is the KG node ", nodeButton(kgNode), " ",
        h("span", { class: "mono muted", text: kgNode.node_id }), " ",
        h("span", { class: "type-pill", text: typeLabel(kgNode.node_type) }), ".");
    }
    const info = state.types.get(queryType) || {};
    return h("p", { class: "resolved" },
      h("span", { class: "new-badge", text: "new item" }), " The query is a new item (not in the KG)",
      info.encoder ? [", encoded with ", h("code", { text: info.encoder })] : "", ".");
  }

  function renderRetrieveResults(data, p) {
    const result = (data.results || [])[0] || { hits: [], kg_node: null };
    const hits = result.hits || [];
    const tt = p.get("tt");
    const known = hits.filter((x) => x.known_edge).length;
    const facts = [
      `${hits.length} ${typesLabel(tt, hits.length)} linked by `,
      h("code", { text: data.relation }),
      p.get("cand") === "all" ? " (all candidates)" : "",
      ` · retriever ${data.retriever} · ${Math.round(data.elapsed_ms || 0).toLocaleString("en-US")} ms`,
    ];
    if (result.kg_node && known) facts.push(" · ", h("span", { class: "known-badge inline", text: "✓" }), ` ${known} of them already linked to it in the KG`);
    else if (result.kg_node) facts.push(" · none of them is linked to it in the KG yet");
    $("summary").replaceChildren(resolvedLine(result.kg_node, p.get("qt")), h("p", { class: "facts" }, facts));

    const fractions = barFractions(hits.map((x) => x.score));
    const digits = scoreDigits(hits.map((x) => x.score));
    const body = $("results").tBodies[0];
    body.replaceChildren(...hits.map((hit, i) => h("tr", {
      class: hit.known_edge ? "hit known" : "hit",
      "data-node-id": hit.node_id,
      "data-node-type": hit.node_type,
    },
    h("td", { class: "num rank", text: hit.rank }),
    h("td", { class: "name" }, nodeButton(hit)),
    h("td", { class: "mono id", text: hit.node_id }),
    h("td", { class: "type type-col" }, typeLabel(hit.node_type)),
    scoreCell(hit.score, fractions[i], digits),
    h("td", { class: "known-cell" }, hit.known_edge
      ? h("span", { class: "known-badge", title: "known KG edge", "aria-label": "known KG edge" }, "✓ known")
      : ""))));
    if (!hits.length) body.append(h("tr", { class: "empty" }, h("td", { colspan: 6, text: "No candidates." })));
    setHidden($("path-results"), true);
    setHidden($("results"), false);
    $("results-heading").textContent = `Top ${hits.length} ${typesLabel(tt, hits.length)}`;
    setHidden($("results-card"), false);
  }

  function renderPathResults(data, p) {
    const hops = data.hops || [];
    const rows = data.results || [];
    const chain = hops.length
      ? [h("span", { class: "type-pill", text: typeLabel(hops[0].head_type) }),
        hops.map((x) => [h("span", { class: "hop-arrow" }, " —", h("code", { text: relationLabel(x.relation) }), "→ "),
          h("span", { class: "type-pill", text: typeLabel(x.tail_type) })])]
      : [];
    const firstType = hops.length ? hops[0].head_type : p.get("qt");
    $("summary").replaceChildren(
      resolvedLine(data.kg_node, firstType),
      h("p", { class: "facts path-chain" }, "Path: ", chain),
      h("p", { class: "facts" },
        `${plural(rows.length, "end node")} · score pools the hop scores of the best path · retriever ${data.retriever} · ${Math.round(data.elapsed_ms || 0).toLocaleString("en-US")} ms`));

    const scores = rows.map((x) => x.score);
    const fractions = barFractions(scores);
    const digits = scoreDigits(scores);
    const hopDigits = scoreDigits(rows.flatMap((x) => x.hop_scores || []));
    const body = $("path-results").tBodies[0];
    body.replaceChildren(...rows.map((row, i) => h("tr", {
      class: "hit",
      "data-node-id": row.node_id,
      "data-node-type": row.node_type,
    },
    h("td", { class: "num rank", text: row.rank }),
    h("td", { class: "name" }, nodeButton(row), h("div", { class: "mono muted small", text: row.node_id })),
    h("td", { class: "type type-col" }, typeLabel(row.node_type)),
    scoreCell(row.score, fractions[i], digits),
    h("td", { class: "through" }, (row.path || []).length
      ? h("ol", { class: "through-list" }, row.path.map((n) => h("li", {}, nodeButton(n, "chip"))))
      : h("span", { class: "muted", text: "(direct)" })),
    h("td", { class: "num hop-scores" },
      (row.hop_scores || []).map((s, j) => h("span", { class: "hop-score", title: hops[j] ? `hop ${j + 1}: ${hops[j].relation}` : null, text: Number(s).toFixed(hopDigits) }))))));
    if (!rows.length) body.append(h("tr", { class: "empty" }, h("td", { colspan: 6, text: "No end nodes reached." })));
    setHidden($("results"), true);
    setHidden($("path-results"), false);
    $("results-heading").textContent = hops.length ? `Top ${rows.length} ${typesLabel(hops[hops.length - 1].tail_type, rows.length)} through ${plural(hops.length, "hop")}` : "Results";
    setHidden($("results-card"), false);
  }

  // ---- node page ----------------------------------------------------------------------------------------

  function openNodeNav(type, id) {
    const p = new URLSearchParams(location.search);
    p.set("node", `${type}:${id}`);
    navigate(p);
  }

  function closeNodeView() {
    state.nodeSeq++;
    state.node = null;
    setHidden($("node-view"), true);
    $("workspace").classList.remove("with-node");
  }

  function externalLinks(node) {
    const id = node.node_id;
    const links = [];
    if (/^GO:\d{7}$/.test(id)) links.push(["QuickGO", `https://www.ebi.ac.uk/QuickGO/term/${id}`]);
    else if (/^OMIM:\d+$/.test(id)) links.push(["OMIM", `https://omim.org/entry/${id.slice(5)}`]);
    else if (/^ORPHA:\d+$/.test(id)) links.push(["Orphanet", `https://www.orpha.net/en/disease/detail/${id.slice(6)}`]);
    else if (/^MONDO:\d+$/.test(id)) links.push(["Monarch", `https://monarchinitiative.org/${id}`]);
    else if (modalityOf(node.node_type) === "protein" && /^([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9]([A-Z][A-Z0-9]{2}[0-9]){1,2})(-\d+)?$/.test(id)) {
      links.push(["UniProt", `https://www.uniprot.org/uniprotkb/${id}/entry`]);
    }
    return links;
  }

  async function openNode(type, id) {
    const seq = ++state.nodeSeq;
    const view = $("node-view");
    setHidden(view, false);
    $("workspace").classList.add("with-node");
    view.setAttribute("aria-busy", "true");
    try {
      const node = await api(`/nodes/${encodeURIComponent(type)}/${encodeURIComponent(id)}`);
      if (seq !== state.nodeSeq) return;
      state.node = node;
      renderNode(node);
      const box = view.getBoundingClientRect();
      if (box.top > window.innerHeight - 80 || box.bottom < 0) view.scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (err) {
      if (seq !== state.nodeSeq) return;
      closeNodeView();
      showError(err instanceof ApiError ? err.message : String(err), null, "Could not open this node.");
    } finally {
      if (seq === state.nodeSeq) view.setAttribute("aria-busy", "false");
    }
  }

  function renderNode(node) {
    $("node-type").textContent = typeLabel(node.node_type);
    $("node-id").textContent = node.node_id;
    $("node-name").textContent = node.name || node.node_id;
    $("node-links").replaceChildren(...externalLinks(node).map(([label, href]) =>
      h("a", { href, target: "_blank", rel: "noopener noreferrer" }, `${label} ↗`)));

    const modality = modalityOf(node.node_type);
    const feature = String(node.feature || "");
    const box = $("node-feature");
    box.className = `feature ${modality === "text" ? "prose" : "mono sequence"}`;
    box.textContent = feature || "(no feature recorded)";
    const what = modality === "protein" ? `Amino-acid sequence · ${plural(feature.length, "residue")}`
      : modality === "molecule" ? `SMILES · ${plural(feature.length, "character")}` : `Text · ${plural(feature.length, "character")}`;
    $("feature-meta").textContent = `${what}${node.embedded === false ? " · not embedded (never a retrieval candidate)" : ""}`;
    const long = feature.length > FEATURE_COLLAPSE_CHARS;
    box.classList.toggle("collapsed", long);
    const toggle = $("feature-toggle");
    setHidden(toggle, !long);
    toggle.textContent = `Show all ${feature.length.toLocaleString("en-US")} characters`;
    toggle.setAttribute("aria-expanded", "false");
    $("feature-copy").textContent = "Copy";

    const groups = node.neighbours || [];
    const total = groups.reduce((s, g) => s + (g.count || 0), 0);
    const container = $("node-neighbours");
    if (!groups.length) {
      container.replaceChildren(h("p", { class: "muted", text: "No recorded edges." }));
    } else {
      container.replaceChildren(
        h("p", { class: "hint", text: `${plural(total, "edge")} in ${plural(groups.length, "relation")}.` }),
        ...groups.map((g, i) => {
          const shown = (g.nodes || []).length;
          return h("details", { class: "neighbour-group", open: i < 3 },
            h("summary", {},
              h("code", { text: g.relation }), " → ", typeLabel(g.node_type), " ",
              h("span", { class: "count-badge", text: (g.count || 0).toLocaleString("en-US") })),
            chipList(g.nodes || [], g.count || shown));
        }));
    }
    $("node-view").scrollTop = 0;
  }

  /** Neighbour chips: the first few, a button for the rest the server sent, and how many the KG has. */
  function chipList(nodes, count) {
    const FIRST = 12;
    const list = h("ul", { class: "chips" }, nodes.slice(0, FIRST).map((n) => h("li", {}, nodeButton(n, "chip"))));
    const out = [list];
    if (nodes.length > FIRST) {
      const more = h("button", { type: "button", class: "link-button small more" }, `Show ${nodes.length - FIRST} more`);
      more.addEventListener("click", () => {
        list.append(...nodes.slice(FIRST).map((n) => h("li", {}, nodeButton(n, "chip"))));
        more.remove();
      });
      out.push(more);
    }
    if (nodes.length < count) out.push(h("p", { class: "hint", text: `The KG has ${count.toLocaleString("en-US")}; the first ${nodes.length} by name are listed.` }));
    return out;
  }

  function toggleFeature() {
    const box = $("node-feature");
    const collapsed = box.classList.toggle("collapsed");
    const toggle = $("feature-toggle");
    const n = (state.node && state.node.feature || "").length;
    toggle.textContent = collapsed ? `Show all ${n.toLocaleString("en-US")} characters` : "Show less";
    toggle.setAttribute("aria-expanded", String(!collapsed));
  }

  async function copyFeature() {
    if (!state.node) return;
    const button = $("feature-copy");
    try {
      await navigator.clipboard.writeText(state.node.feature || "");
      button.textContent = "Copied";
    } catch (err) {
      // no clipboard (an insecure context): select the text so that the user can copy it
      const range = document.createRange();
      range.selectNodeContents($("node-feature"));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
  }

  /** "Query from this node": the node's id in the query box, with its type as the query type. */
  function queryFromNode(mode) {
    const node = state.node;
    if (!node) return;
    setMode(mode);
    $("query-type").value = node.node_type;
    $("query").value = node.node_id;
    state.picked = { node_id: node.node_id, name: node.name };
    if (mode === "path") {
      state.hops = [];
      ensureHops();
    } else {
      updateTargetTypes();
    }
    updateQueryHelp();
    clearError();
    $("query-form").scrollIntoView({ behavior: "smooth", block: "start" });
    $("run").focus({ preventScroll: true });
  }

  // ---- autocomplete -------------------------------------------------------------------------------------

  function scheduleSuggestions() {
    clearTimeout(state.suggest.timer);
    const text = $("query").value;
    const q = text.trim();
    if (q.length < 2 || q.length > 80 || text.includes("\n")) {
      hideSuggestions();
      return;
    }
    state.suggest.timer = setTimeout(() => fetchSuggestions(q), SUGGEST_DELAY_MS);
  }

  async function fetchSuggestions(q) {
    const seq = ++state.suggest.seq;
    const qt = $("query-type").value;
    let data;
    try {
      data = await api(`/search?${new URLSearchParams({ q, node_type: qt, limit: "8" })}`);
    } catch (err) {
      return; // suggestions are a convenience: a failed search stays silent
    }
    if (seq !== state.suggest.seq || $("query").value.trim() !== q || document.activeElement !== $("query")) return;
    renderSuggestions(data.matches || [], q);
  }

  function highlighted(text, q) {
    const s = String(text || "");
    const at = s.toLowerCase().indexOf(q.toLowerCase());
    if (at < 0 || !q) return [s];
    return [s.slice(0, at), h("mark", { text: s.slice(at, at + q.length) }), s.slice(at + q.length)];
  }

  function renderSuggestions(matches, q) {
    const list = $("suggestions");
    state.suggest.items = matches;
    state.suggest.active = -1;
    if (!matches.length) {
      hideSuggestions();
      return;
    }
    list.replaceChildren(...matches.map((m, i) => h("li", {
      id: `suggestion-${i}`,
      role: "option",
      class: "suggestion",
      "aria-selected": "false",
      "data-node-id": m.node_id,
      onmousedown: (ev) => {
        ev.preventDefault(); // keep the focus in the query box
        pickSuggestion(i);
      },
    }, h("span", { class: "s-name" }, highlighted(m.name, q)), h("span", { class: "s-id mono" }, highlighted(m.node_id, q)))));
    setHidden(list, false);
  }

  function hideSuggestions() {
    clearTimeout(state.suggest.timer);
    state.suggest.seq++;
    state.suggest.items = [];
    state.suggest.active = -1;
    setHidden($("suggestions"), true);
    $("query").removeAttribute("aria-activedescendant");
  }

  function moveSuggestion(delta) {
    const n = state.suggest.items.length;
    if (!n) return;
    state.suggest.active = (state.suggest.active + delta + n) % n;
    for (const [i, li] of [...$("suggestions").children].entries()) {
      const on = i === state.suggest.active;
      li.setAttribute("aria-selected", String(on));
      li.classList.toggle("active", on);
      if (on) li.scrollIntoView({ block: "nearest" });
    }
    $("query").setAttribute("aria-activedescendant", `suggestion-${state.suggest.active}`);
  }

  function pickSuggestion(i) {
    const m = state.suggest.items[i];
    if (!m) return;
    $("query").value = m.node_id;
    state.picked = m;
    hideSuggestions();
    updateQueryHelp();
  }

  function onQueryKeydown(ev) {
    const open = !$("suggestions").hidden && state.suggest.items.length > 0;
    if (open && ev.key === "ArrowDown") {
      ev.preventDefault();
      moveSuggestion(1);
    } else if (open && ev.key === "ArrowUp") {
      ev.preventDefault();
      moveSuggestion(-1);
    } else if (open && ev.key === "Escape") {
      ev.preventDefault();
      hideSuggestions();
    } else if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      if (open && state.suggest.active >= 0 && !(ev.ctrlKey || ev.metaKey)) pickSuggestion(state.suggest.active);
      else submitForm();
    }
  }

  // ---- wiring -------------------------------------------------------------------------------------------

  function wire() {
    $("query-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      submitForm();
    });
    $("mode-retrieve").addEventListener("click", () => setMode("retrieve"));
    $("mode-path").addEventListener("click", () => setMode("path"));
    for (const id of ["mode-retrieve", "mode-path"]) {
      $(id).addEventListener("keydown", (ev) => {
        if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
          const next = id === "mode-retrieve" ? "mode-path" : "mode-retrieve";
          setMode(next === "mode-path" ? "path" : "retrieve");
          $(next).focus();
        }
      });
    }
    $("query-type").addEventListener("change", () => {
      state.picked = null;
      hideSuggestions();
      updateTargetTypes();
      if (state.mode === "path") ensureHops();
      updateQueryHelp();
    });
    $("target-type").addEventListener("change", () => updateRelations());
    const query = $("query");
    query.addEventListener("input", () => {
      if (state.picked && query.value !== state.picked.node_id) {
        state.picked = null;
        updateQueryHelp();
      }
      updateCount();
      scheduleSuggestions();
    });
    query.addEventListener("keydown", onQueryKeydown);
    query.addEventListener("blur", () => setTimeout(hideSuggestions, 120));
    $("path-preset").addEventListener("change", () => {
      const hops = parsePath($("path-preset").value);
      if (hops) {
        state.hops = hops;
        rechain(0);
        renderHops();
      }
    });
    $("add-hop").addEventListener("click", () => {
      const last = state.hops[state.hops.length - 1];
      if (!last || state.hops.length >= MAX_HOPS) return;
      const next = defaultHop(last.tail, last);
      if (next) state.hops.push(next);
      renderHops();
    });
    $("remove-hop").addEventListener("click", () => {
      if (state.hops.length > 1) state.hops.pop();
      renderHops();
    });
    $("node-close").addEventListener("click", () => {
      const p = new URLSearchParams(location.search);
      p.delete("node");
      navigate(p);
    });
    $("node-query").addEventListener("click", () => queryFromNode("retrieve"));
    $("node-path").addEventListener("click", () => queryFromNode("path"));
    $("feature-toggle").addEventListener("click", toggleFeature);
    $("feature-copy").addEventListener("click", copyFeature);
    window.addEventListener("popstate", () => syncFromUrl({ fromHistory: true }));
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !$("node-view").hidden && document.activeElement !== query) $("node-close").click();
    });
  }

  async function start() {
    wire();
    document.body.classList.add("loading");
    try {
      state.schema = await api("/schema");
    } catch (err) {
      showError(err.message, null, "The page could not load the run's description from the server.");
      document.body.classList.remove("loading");
      return;
    }
    for (const t of state.schema.node_types || []) state.types.set(t.name, t);
    state.schema.relations = state.schema.relations || [];
    renderHeader(state.schema);
    renderQueryTypes();
    const maxK = (state.schema.limits || {}).max_k;
    if (maxK) $("k").max = String(maxK);
    const firstRetrieve = (state.schema.examples || []).find((ex) => ex.mode !== "path");
    if (firstRetrieve && state.types.has(firstRetrieve.query_type)) $("query-type").value = firstRetrieve.query_type;
    else if (state.types.has("protein")) $("query-type").value = "protein";
    updateTargetTypes(firstRetrieve ? firstRetrieve.target_type || undefined : undefined);
    renderExamples();
    setMode("retrieve");
    updateQueryHelp();
    document.body.classList.remove("loading");
    document.body.dataset.ready = "true";
    await syncFromUrl({ force: true });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
