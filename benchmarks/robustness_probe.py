"""Robustness probe: the matrix of issue 12 tried as a new user would, through the real command line.

Every case runs ``biobridge ...`` in a subprocess (or a short Python script) against a small working
directory made once (prepare, encode and a 1-epoch train of a 60-nodes-per-type subset of the default KG),
then classifies what happened:

- ``ok``: a correct invocation that succeeded, or a probe of a safe behaviour that held;
- ``clean-error``: exit 2 with one ``error:`` line (or typer's usage message) and no traceback;
- ``internal-error``: exit 1 with the path of a log (no traceback on screen);
- ``traceback``: a Python traceback reached the user;
- ``silent-wrong``: exit 0 where the input was wrong (an answer computed from a mistake);
- ``data-loss``: after the case, something that existed before no longer loads;
- ``probe-failed``: a scripted probe (interruption, concurrency, malicious file) found the behaviour unsafe.

Each case states the outcome it expects; the report counts outcomes per class and lists every case whose
outcome differs. ``python benchmarks/robustness_probe.py [--out benchmarks/results/robustness]`` writes
``probe.json`` and ``probe.md`` (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PY = sys.executable
BB = [PY, "-m", "biobridge.cli"]


@dataclass
class Case:
    group: str
    name: str
    args: list[str] | None = None  # biobridge arguments ({wd}, {tmp} substituted)
    script: str | None = None  # or a Python script (same substitutions); exit 0 = the probe held
    expect: str = "clean-error"
    setup: str | None = None  # a Python snippet run before (same substitutions)
    check: str | None = None  # a Python snippet run after; its failure = data-loss
    fresh: bool = False  # run on a copy of the working directory
    env: dict[str, str] = field(default_factory=dict)


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: int = 600, stdin: str = ""):
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, input=stdin)
    return proc.returncode, proc.stdout + proc.stderr


def classify(code: int, output: str, script: bool) -> str:
    if "Traceback (most recent call last)" in output:
        return "traceback"
    if script:
        return "ok" if code == 0 else "probe-failed"
    if code == 0:
        return "ok"
    if code == 2:
        return "clean-error"
    if code == 1 and "internal error:" in output:
        return "internal-error"
    return "traceback" if code not in (1, 2) else "internal-error"


IDS: dict[str, str] = {}  # {protein_id}, {drug_id}, {disease_id}: nodes of the probe's KG (make_base)


def _sub(text: str, wd: Path, tmp: Path) -> str:
    text = text.replace("{wd}", str(wd)).replace("{tmp}", str(tmp))
    for key, value in IDS.items():
        text = text.replace("{" + key + "}", value)
    return text


def run_case(case: Case, base: Path, scratch: Path) -> dict:
    tmp = Path(tempfile.mkdtemp(dir=scratch))
    wd = base
    if case.fresh:
        wd = tmp / "wd"
        shutil.copytree(base, wd, symlinks=True)
    if case.setup:
        code, out = _run([PY, "-c", _sub(case.setup, wd, tmp)])
        if code:
            return {"group": case.group, "name": case.name, "outcome": "setup-failed", "output": out[-800:]}
    started = time.perf_counter()
    if case.script is not None:
        code, out = _run([PY, "-c", _sub(case.script, wd, tmp)], case.env)
    else:
        code, out = _run([*BB, *[_sub(a, wd, tmp) for a in case.args]], case.env)
    outcome = classify(code, out, case.script is not None)
    if case.check and outcome != "traceback":
        c_code, c_out = _run([PY, "-c", _sub(case.check, wd, tmp)])
        if c_code:
            outcome, out = "data-loss", out + "\n[check] " + c_out
    if outcome == "ok" and case.expect == "clean-error":
        outcome = "silent-wrong"
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "group": case.group,
        "name": case.name,
        "expect": case.expect,
        "outcome": outcome,
        "exit": code,
        "seconds": round(time.perf_counter() - started, 1),
        "output": out.strip().splitlines()[-3:] if out.strip() else [],
    }


LOADS = (
    "from biobridge.retrieval.bridge import Bridge; b = Bridge.from_pretrained('{wd}/model'); "
    "assert len(b.retrieve('MKTAYIAKQRQISFVKSHFSRQ', 'protein', 'biological_process', k=3)) == 3"
)
LOADS_RUN = "from biobridge.bridge.run import TrainedRun; TrainedRun.open('{wd}/model').load_model()"


def cases() -> list[Case]:
    c: list[Case] = []
    add = c.append
    # --- bad options and inputs, every command ------------------------------------------------------
    for name, args in {
        "prepare unknown kg": ["prepare", "-w", "{tmp}/w", "--kg", "nope"],
        "prepare tsv without files": ["prepare", "-w", "{tmp}/w", "--kg", "tsv"],
        "prepare tsv missing nodes file": [
            "prepare",
            "-w",
            "{tmp}/w",
            "--kg",
            "tsv",
            "--nodes",
            "{tmp}/no.tsv",
            "--edges",
            "{tmp}/no.tsv",
            "--modality",
            "protein=protein",
        ],
        "prepare primekg without files": ["prepare", "-w", "{tmp}/w", "--kg", "primekg"],
        "prepare test fraction 0": ["prepare", "-w", "{tmp}/w", "--test-fraction", "0"],
        "prepare test fraction 1.5": ["prepare", "-w", "{tmp}/w", "--test-fraction", "1.5"],
        "prepare unknown protocol": ["prepare", "-w", "{tmp}/w", "--protocol", "random"],
        "prepare bad modality pair": ["prepare", "-w", "{tmp}/w", "--kg", "tsv", "--modality", "protein"],
        "prepare max nodes 0": ["prepare", "-w", "{tmp}/w", "--max-nodes-per-type", "0"],
        "encode missing workdir": ["encode", "-w", "{tmp}/none", "--no-progress"],
        "encode bad spec": ["encode", "-w", "{wd}", "--encoder", "protein"],
        "encode unknown encoder": ["encode", "-w", "{wd}", "--encoder", "protein=alphafold"],
        "encode esm2 missing dir": ["encode", "-w", "{wd}", "--encoder", "protein=esm2:{tmp}/none"],
        "encode bad shard": ["encode", "-w", "{wd}", "--shard", "5/2"],
        "train missing workdir": ["train", "-w", "{tmp}/none", "--no-progress"],
        "train epochs 0": ["train", "-w", "{wd}", "--epochs", "0", "--out", "{tmp}/r"],
        "train epochs -1": ["train", "-w", "{wd}", "--epochs", "-1", "--out", "{tmp}/r"],
        "train hidden 0": ["train", "-w", "{wd}", "--hidden-dim", "0", "--out", "{tmp}/r"],
        "train layers -1": ["train", "-w", "{wd}", "--n-layers", "-1", "--out", "{tmp}/r"],
        "train unknown preset": ["train", "-w", "{wd}", "--preset", "gpu", "--out", "{tmp}/r"],
        "train unknown protocol": ["train", "-w", "{wd}", "--protocol", "random", "--out", "{tmp}/r"],
        "train missing config": ["train", "-w", "{wd}", "--config", "{tmp}/none.toml"],
        "train bad precision": ["train", "-w", "{wd}", "--precision", "fp8", "--out", "{tmp}/r"],
        "evaluate missing run": ["evaluate", "-w", "{tmp}/none"],
        "evaluate bad candidates": ["evaluate", "-w", "{wd}", "--candidates", "some", "--out", "{tmp}/e"],
        "similarity missing run": ["similarity", "-w", "{tmp}/none"],
        "similarity n_pairs 0": ["similarity", "-w", "{wd}", "--n-pairs", "0"],
        "context missing run": ["context", "-w", "{tmp}/none", "-q", "drug", "CCO"],
        "context k 0": ["context", "-w", "{wd}", "-q", "drug", "-k", "0", "CCO"],
        "generate nothing to design for": ["generate", "-w", "{wd}"],
        "generate qed 2": ["generate", "-w", "{wd}", "--target", "P04637", "--qed-min", "2"],
        "benchmark missing config": ["benchmark", "-w", "{wd}", "--config", "{tmp}/none.toml"],
        "benchmark unknown method": ["benchmark", "-w", "{wd}", "--quick", "--method", "magic"],
        "demo epochs 0": ["demo", "-w", "{tmp}/d", "--epochs", "0"],
        "import-original missing dir": ["import-original", "{tmp}/none", "{tmp}/out"],
        "unknown command": ["frobnicate"],
    }.items():
        add(Case("options", name, args))
    # --- retrieve argument matrix ---------------------------------------------------------------------
    r = ["retrieve", "-w", "{wd}"]
    for name, args, expect in [
        ("protein id to BP", ["-q", "protein", "-t", "biological_process", "{protein_id}"], "ok"),
        ("new sequence to BP", ["-q", "protein", "-t", "biological_process", "MKTAYIAKQRQISFVKSHFSRQ"], "ok"),
        ("SMILES to protein", ["-q", "drug", "-t", "protein", "CC(=O)Oc1ccccc1C(=O)O"], "ok"),
        ("text to protein", ["-q", "disease", "-t", "protein", "familial Parkinson disease"], "ok"),
        ("unknown OMIM id as disease", ["-q", "disease", "-t", "protein", "OMIM:999999"], "clean-error"),
        ("unknown OMIM id --as-raw", ["-q", "disease", "-t", "protein", "--as-raw", "OMIM:999999"], "ok"),
        ("protein id as disease", ["-q", "disease", "-t", "protein", "{protein_id}"], "clean-error"),
        (
            "relation not linking the types",
            ["-q", "drug", "-t", "protein", "-r", "interacts_with", "CCO"],
            "clean-error",
        ),
        ("unknown relation", ["-q", "drug", "-t", "protein", "-r", "cures", "CCO"], "clean-error"),
        ("k 0", ["-q", "drug", "-t", "protein", "-k", "0", "CCO"], "clean-error"),
        ("k -1", ["-q", "drug", "-t", "protein", "-k", "-1", "CCO"], "clean-error"),
        ("k huge", ["-q", "drug", "-t", "protein", "-k", "100000", "CCO"], "clean-error"),
        ("unknown query type", ["-q", "cell", "-t", "protein", "x"], "clean-error"),
        ("unknown target type", ["-q", "drug", "-t", "cell", "CCO"], "clean-error"),
        ("no target type", ["-q", "drug", "CCO"], "clean-error"),
        ("invalid SMILES", ["-q", "drug", "-t", "protein", "C1CC("], "clean-error"),
        (
            "sequence with illegal letters",
            ["-q", "protein", "-t", "biological_process", "MKT1234"],
            "clean-error",
        ),
        ("empty text", ["-q", "disease", "-t", "protein", "   "], "clean-error"),
        (
            "bad candidates policy",
            ["-q", "drug", "-t", "protein", "--candidates", "some", "CCO"],
            "clean-error",
        ),
        (
            "candidates file missing",
            ["-q", "protein", "--as-type", "drug", "--candidates", "{tmp}/no.tsv", "{protein_id}"],
            "clean-error",
        ),
        ("bad multi-hop path", ["--path", "disease:nope", "-q", "disease", "x"], "clean-error"),
    ]:
        add(Case("retrieve", name, [*r, *args], expect=expect))
    add(
        Case(
            "retrieve",
            "candidate row without a feature",
            [*r, "-q", "protein", "--as-type", "drug", "--candidates", "{tmp}/c.tsv", "{protein_id}"],
            setup="open('{tmp}/c.tsv','w').write('id\\tname\\tfeature\\nc1\\tethanol\\tCCO\\nc2\\tnothing\\t\\n')",
        )
    )
    add(
        Case(
            "retrieve",
            "invalid candidate SMILES",
            [*r, "-q", "protein", "--as-type", "drug", "--candidates", "{tmp}/c.tsv", "{protein_id}"],
            setup="open('{tmp}/c.tsv','w').write('id\\tname\\tfeature\\nc1\\tethanol\\tCCO\\nc2\\tbad\\tC1CC(\\n')",
        )
    )
    # --- loaders --------------------------------------------------------------------------------------
    tsv = [
        "prepare",
        "-w",
        "{tmp}/w",
        "--kg",
        "tsv",
        "--nodes",
        "{tmp}/n.tsv",
        "--edges",
        "{tmp}/e.tsv",
        "--modality",
        "protein=protein",
        "--modality",
        "drug=molecule",
    ]
    nodes = "node_type\\tnode_id\\tname\\tfeature\\nprotein\\tP1\\tp1\\tMKTAYIAKQR\\ndrug\\tD1\\td1\\tCCO\\n"
    edges = "head_type\\thead_id\\trelation\\ttail_type\\ttail_id\\ndrug\\tD1\\ttarget\\tprotein\\tP1\\n"
    for name, n_text, e_text in [
        ("header-only edges", nodes, "head_type\\thead_id\\trelation\\ttail_type\\ttail_id\\n"),
        ("empty edges file", nodes, ""),
        ("empty nodes file", "", edges),
        ("missing column", nodes.replace("\\tfeature", ""), edges),
        ("edge to unknown node", nodes, edges.replace("P1\\n", "P9\\n")),
        ("duplicate node ids", nodes + "protein\\tP1\\tp1b\\tMKT\\n", edges),
        ("CRLF line endings", nodes.replace("\\n", "\\r\\n"), edges.replace("\\n", "\\r\\n")),
    ]:
        setup = f"open('{{tmp}}/n.tsv','w').write('{n_text}'); open('{{tmp}}/e.tsv','w').write('{e_text}')"
        expect = "ok" if name == "CRLF line endings" else "clean-error"
        add(Case("loaders", name, tsv, expect=expect, setup=setup))
    add(
        Case(
            "loaders",
            "non-UTF-8 nodes file",
            tsv,
            setup=f"open('{{tmp}}/n.tsv','wb').write('{nodes}'.encode()+b'protein\\tP2\\t\\xff\\xfe\\tMK\\n'); "
            f"open('{{tmp}}/e.tsv','w').write('{edges}')",
        )
    )
    add(
        Case(
            "loaders",
            "primekg kg.csv garbage",
            [
                "prepare",
                "-w",
                "{tmp}/w",
                "--kg",
                "primekg",
                "--kg-csv",
                "{tmp}/kg.csv",
                "--features-dir",
                "{tmp}",
            ],
            setup="open('{tmp}/kg.csv','wb').write(b'\\x00\\x01garbage,,\\n1,2')",
        )
    )
    for name, toml in [
        ("train TOML syntax error", "[train\\nepochs = 2\\n"),
        ("train TOML unknown key", "[train]\\nepoch = 2\\n"),
        ("train TOML wrong type", '[train]\\nepochs = \\"two\\"\\n'),
    ]:
        setup = f"open('{{tmp}}/c.toml','w').write('{toml}')"
        add(Case("loaders", name, ["train", "-w", "{wd}", "--config", "{tmp}/c.toml"], setup=setup))
    # --- corrupted artifacts --------------------------------------------------------------------------
    ev = ["evaluate", "-w", "{wd}", "--out", "{tmp}/e"]
    for name, setup in [
        (
            "flipped bytes in the weights",
            "p='{wd}/model/model.safetensors'; b=bytearray(open(p,'rb').read()); "
            "b[-100]^=0xFF; b[-5000]^=0xFF; open(p,'wb').write(b)",
        ),
        (
            "NaN weights",
            "from safetensors.torch import load_file, save_file; import torch; "
            "p='{wd}/model/model.safetensors'; s=load_file(p); k=sorted(s)[0]; s[k]=s[k]*float('nan'); "
            "save_file(s,p,metadata={'format':'pt'})",
        ),
        (
            "truncated weights",
            "p='{wd}/model/model.safetensors'; b=open(p,'rb').read(); open(p,'wb').write(b[:len(b)//2])",
        ),
        ("config.json not JSON", "open('{wd}/model/config.json','w').write('{ not json')"),
        ("config.json a list", "open('{wd}/model/config.json','w').write('[1, 2]')"),
        ("config.json missing keys", "open('{wd}/model/config.json','w').write('{}')"),
        ("KG parquet corrupt", "open('{wd}/kg/nodes.parquet','wb').write(b'PAR1 broken')"),
        (
            "KG replaced under the run",
            "import pandas as pd; p='{wd}/kg/nodes.parquet'; d=pd.read_parquet(p); "
            "d.loc[0,'feature']=str(d.loc[0,'feature'])+'A'; d.to_parquet(p)",
        ),
        ("embedding manifest corrupt", "open('{wd}/embeddings/manifest.json','w').write('{')"),
        ("embeddings file missing", "import os; os.remove('{wd}/embeddings/drug.safetensors')"),
        (
            "split file corrupt",
            "import glob; [open(p,'wb').write(b'x') for p in glob.glob('{wd}/splits/*/split.parquet')]",
        ),
    ]:
        add(Case("corrupt", name, ev, setup=setup, fresh=True))
    # --- malicious files ------------------------------------------------------------------------------
    add(
        Case(
            "malicious",
            "pickle checkpoint in import-original",
            ["import-original", "{tmp}/orig", "{tmp}/out"],
            setup="import os, pickle; os.makedirs('{tmp}/orig'); "
            "open('{tmp}/orig/model_config.json','w').write('{}'); "
            "M=type('M',(),{'__reduce__':lambda s:(os.system,('touch {tmp}/pwned',))}); "
            "pickle.dump(M(),open('{tmp}/orig/pytorch_model.bin','wb'))",
            check="import os, sys; sys.exit(os.path.exists('{tmp}/pwned'))",
        )
    )
    add(
        Case(
            "malicious",
            "model directory with custom code, piped yes",
            script="import subprocess, sys, json, os\n"
            "from tests.encoders.tiny_models import make_tiny_bert\n"
            "d = make_tiny_bert(__import__('pathlib').Path('{tmp}/m'))\n"
            "open(d/'modeling_x.py','w').write(\"open('{tmp}/pwned','w')\")\n"
            "cfg = json.load(open(d/'config.json')); cfg['auto_map'] = {'AutoModel': 'modeling_x.X'}\n"
            "json.dump(cfg, open(d/'config.json','w'))\n"
            "p = subprocess.run([sys.executable, '-m', 'biobridge.cli', 'encode', '-w', '{wd}', '--no-progress',"
            " '--encoder', 'text=hf-text:' + str(d)], input='y\\ny\\n', capture_output=True, text=True)\n"
            "sys.exit(0 if p.returncode == 2 and not os.path.exists('{tmp}/pwned') else 1)",
            expect="ok",
            fresh=True,
        )
    )
    add(
        Case(
            "malicious",
            "run config pointing outside (absolute split_dir)",
            ["evaluate", "-w", "{wd}", "--out", "{tmp}/e"],
            setup="import json; p='{wd}/model/config.json'; c=json.load(open(p)); "
            "c.setdefault('artifacts',{})['split_dir']='/etc'; json.dump(c,open(p,'w'))",
            fresh=True,
        )
    )
    # --- interruptions and concurrency ----------------------------------------------------------------
    kill_train = (
        "import subprocess, sys, time, signal, os\n"
        "p = subprocess.Popen([sys.executable, '-m', 'biobridge.cli', 'train', '-w', '{wd}', '--epochs', '2',"
        " '--hidden-dim', '32', '--no-progress', '--overwrite'], stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL)\n"
        "time.sleep({delay}); os.kill(p.pid, signal.SIGKILL); p.wait()\n"
    )
    for delay in (6, 15, 30):
        add(
            Case(
                "interrupt",
                f"kill -9 train after {delay} s, then load",
                script=kill_train.replace("{delay}", str(delay)),
                expect="ok",
                fresh=True,
                check=LOADS_RUN,
            )
        )
    add(
        Case(
            "interrupt",
            "kill -9 train, then --resume",
            script=kill_train.replace("{delay}", "15")
            + "r = subprocess.run([sys.executable, '-m', 'biobridge.cli', 'train', '-w', '{wd}', '--epochs', '2',"
            " '--hidden-dim', '32', '--no-progress', '--resume'], capture_output=True, text=True)\n"
            "sys.exit(r.returncode)",
            expect="ok",
            fresh=True,
            check=LOADS,
        )
    )
    add(
        Case(
            "interrupt",
            "re-run train without --resume or --overwrite",
            ["train", "-w", "{wd}", "--epochs", "1", "--no-progress"],
            fresh=True,
            check=LOADS_RUN,
        )
    )
    add(
        Case(
            "interrupt",
            "kill -9 encode, then encode again",
            script="import subprocess, sys, time, signal, os, shutil\n"
            "shutil.rmtree('{wd}/embeddings')\n"
            "p = subprocess.Popen([sys.executable, '-m', 'biobridge.cli', 'encode', '-w', '{wd}', '--no-progress'],"
            " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "time.sleep(12); os.kill(p.pid, signal.SIGKILL); p.wait()\n"
            "r = subprocess.run([sys.executable, '-m', 'biobridge.cli', 'encode', '-w', '{wd}', '--no-progress'],"
            " capture_output=True, text=True)\n"
            "sys.exit(r.returncode)",
            expect="ok",
            fresh=True,
        )
    )
    two = (
        "import subprocess, sys, os\n"
        "cmd = [sys.executable, '-m', 'biobridge.cli', {args}]\n"
        "ps = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)"
        " for _ in range(2)]\n"
        "outs = [p.communicate()[0] for p in ps]\n"
        "codes = sorted(p.returncode for p in ps)\n"
        "ok = codes == [0, 2] and any('in use by pid' in o for o in outs)\n"
        "sys.exit(0 if ok else 1)"
    )
    add(
        Case(
            "concurrency",
            "two train runs at once",
            script=two.replace(
                "{args}",
                "'train', '-w', '{wd}', '--epochs', '1', '--hidden-dim', '32', "
                "'--no-progress', '--overwrite'",
            ),
            expect="ok",
            fresh=True,
            check=LOADS_RUN,
        )
    )
    add(
        Case(
            "concurrency",
            "two encode runs at once",
            setup="import shutil; shutil.rmtree('{wd}/embeddings')",
            script=two.replace("{args}", "'encode', '-w', '{wd}', '--no-progress'"),
            expect="ok",
            fresh=True,
        )
    )
    add(
        Case(
            "concurrency",
            "prepare over a KG a run depends on",
            ["prepare", "-w", "{wd}", "--max-nodes-per-type", "40"],
            fresh=True,
            check=LOADS_RUN,
        )
    )
    # --- portability ----------------------------------------------------------------------------------
    add(
        Case(
            "portability",
            "moved work dir still evaluates",
            script="import shutil, subprocess, sys\nshutil.move('{wd}', '{tmp}/moved')\n"
            "r = subprocess.run([sys.executable, '-m', 'biobridge.cli', 'evaluate', '-w', '{tmp}/moved', '--out',"
            " '{tmp}/e'], capture_output=True, text=True)\nsys.exit(r.returncode)",
            expect="ok",
            fresh=True,
        )
    )
    add(
        Case(
            "portability",
            "artifacts readable by the group under umask 022",
            script="import os, stat, sys\nbad = [p for p in __import__('pathlib').Path('{wd}').rglob('*') "
            "if p.is_file() and not p.name.startswith('.') and not p.stat().st_mode & stat.S_IRGRP]\n"
            "print(bad[:5]); sys.exit(1 if bad else 0)",
            expect="ok",
        )
    )
    return c


def make_base(directory: Path) -> Path:
    wd = directory / "base"
    steps = [
        ["prepare", "-w", str(wd), "--max-nodes-per-type", "60"],
        ["encode", "-w", str(wd), "--no-progress"],
        ["train", "-w", str(wd), "--epochs", "1", "--hidden-dim", "32", "--no-progress"],
    ]
    for step in steps:
        code, out = _run([*BB, *step], timeout=1800)
        if code:
            raise SystemExit(f"setting up the probe's working directory failed at {step[0]}:\n{out[-2000:]}")
    import pandas as pd

    nodes = pd.read_parquet(wd / "kg" / "nodes.parquet")
    for node_type in ("protein", "drug", "disease"):
        IDS[f"{node_type}_id"] = str(nodes.loc[nodes["node_type"] == node_type, "node_id"].iloc[0])
    return wd


def report(results: list[dict]) -> str:
    counts = Counter(r["outcome"] for r in results)
    mismatched = [r for r in results if r["outcome"] != r.get("expect")]
    lines = [
        f"# Robustness probe ({len(results)} cases)",
        "",
        "| outcome | cases |",
        "| --- | ---: |",
        *[f"| {k} | {v} |" for k, v in sorted(counts.items())],
        "",
        "| group | cases | as expected |",
        "| --- | ---: | ---: |",
    ]
    for group in dict.fromkeys(r["group"] for r in results):
        rows = [r for r in results if r["group"] == group]
        lines.append(f"| {group} | {len(rows)} | {sum(r['outcome'] == r.get('expect') for r in rows)} |")
    lines += ["", "## Cases not as expected", ""]
    if not mismatched:
        lines.append("none")
    for r in mismatched:
        tail = " / ".join(r.get("output", []))[:300]
        lines.append(
            f"- {r['group']} / {r['name']}: expected {r.get('expect')}, got {r['outcome']}: `{tail}`"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/robustness"))
    parser.add_argument("--only", default=None, help="Run the cases whose group or name contains this.")
    args = parser.parse_args()
    os.umask(0o022)
    scratch = Path(tempfile.mkdtemp(prefix="biobridge-probe-"))
    try:
        base = make_base(scratch)
        results = []
        for case in cases():
            if args.only and args.only not in case.group and args.only not in case.name:
                continue
            result = run_case(case, base, scratch)
            print(f"{result['outcome']:15s} {case.group:12s} {case.name}", flush=True)
            results.append(result)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "probe.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.out / "probe.md").write_text(report(results))
        print(report(results))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
