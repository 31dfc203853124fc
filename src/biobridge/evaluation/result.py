"""The result of an evaluation (``EvaluationResult``): metrics per task and method with their counts,
definitions and settings, and its renderings (metrics.json, a fixed-width table, Markdown)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.artifacts import json_safe, read_json, write_json, write_text
from biobridge.evaluation.tasks import PAPER_TASKS

__all__ = ["METRICS_FORMAT_VERSION", "EvaluationResult", "MethodRanks", "format_metric"]

METRICS_FORMAT_VERSION = 1


@dataclass(frozen=True)
class MethodRanks:
    """Ranks per (query, gold) pair of one method on one task (in memory only, not in metrics.json)."""

    query_nodes: np.ndarray  # int64, the query of each pair
    gold_nodes: np.ndarray  # int64, the gold tail of each pair
    rank: np.ndarray  # float64 realistic filtered rank


@dataclass
class EvaluationResult:
    protocol: str
    split_hash: str
    seed: int | None
    settings: dict[str, Any]
    tasks: dict[str, dict[str, Any]]
    methods: list[str]
    definitions: dict[str, str] = field(default_factory=dict)
    # seconds per task per method; kept apart from "tasks" so that two runs give identical metrics
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    ranks: dict[tuple[str, str], MethodRanks] = field(default_factory=dict, repr=False)

    # ---- structured output -------------------------------------------------------------------
    def summary(self) -> dict[str, dict[str, Any]]:
        """Per method: macro averages of MRR and hits@10 over the tasks it was evaluated on (all tasks, and
        the paper's tasks only)."""
        paper_names = {t.name for t in PAPER_TASKS}
        out: dict[str, dict[str, Any]] = {}
        for method in self.methods:
            evaluated = {
                name: t["methods"][method]
                for name, t in self.tasks.items()
                if t["methods"].get(method, {}).get("status") == "ok"
            }
            paper = {name: m for name, m in evaluated.items() if name in paper_names}
            entry: dict[str, Any] = {"n_tasks": len(evaluated), "n_paper_tasks": len(paper)}
            for key in ("mrr", "hits@10"):
                vals = [m[key] for m in evaluated.values() if m.get(key) is not None]
                entry[f"mean_{key}"] = float(np.mean(vals)) if vals else None
                vals = [m[key] for m in paper.values() if m.get(key) is not None]
                entry[f"mean_{key}_paper_tasks"] = float(np.mean(vals)) if vals else None
            out[method] = entry
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": METRICS_FORMAT_VERSION,
            "protocol": self.protocol,
            "split_hash": self.split_hash,
            "seed": self.seed,
            "definitions": self.definitions,
            "settings": self.settings,
            "methods": self.methods,
            "tasks": self.tasks,
            "summary": self.summary(),
            "timings_s": self.timings,
        }

    def to_json(self, path: str | Path) -> Path:
        """Write ``metrics.json`` (atomically). NaN never appears: undefined values are ``null``."""
        return write_json(path, json_safe(self.to_dict()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResult:
        return cls(
            protocol=data["protocol"],
            split_hash=data["split_hash"],
            seed=data.get("seed"),
            settings=data.get("settings", {}),
            tasks=data["tasks"],
            methods=list(data.get("methods") or _methods_of(data["tasks"])),
            definitions=data.get("definitions", {}),
            timings=data.get("timings_s", {}),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> EvaluationResult:
        return cls.from_dict(read_json(path))

    # ---- tables -------------------------------------------------------------------------------
    def _rows(self) -> list[list[str]]:
        rows = []
        for name, t in self.tasks.items():
            counts = t["counts"]
            row = [name, str(counts["n_queries"]), str(counts["n_candidates"])]
            for method in self.methods:
                m = t["methods"].get(method, {})
                if m.get("status") == "ok":
                    row += [format_metric(m.get("mrr")), format_metric(m.get("hits@10"))]
                elif m.get("status") == "not_applicable":
                    row += ["n/a", "n/a"]
                else:
                    row += ["-", "-"]
            rows.append(row)
        # a mean over fewer tasks with queries than the others' (a method not applicable to some) is not
        # comparable: n/a in the table (metrics.json keeps it, with its number of tasks)
        summary = self.summary()
        paper_names = {t.name for t in PAPER_TASKS}
        answerable = [name for name, t in self.tasks.items() if t["counts"]["n_queries"] > 0]
        if len(self.tasks) > 1:
            row = ["mean", "", ""]
            for method in self.methods:
                m = summary[method]
                full = m["n_tasks"] == len(answerable)
                row += [format_metric(m[f"mean_{key}"]) if full else "n/a" for key in ("mrr", "hits@10")]
            rows.append(row)
        n_paper = sum(name in paper_names for name in self.tasks)
        if 1 < n_paper < len(self.tasks):
            row = ["mean (paper tasks)", "", ""]
            for method in self.methods:
                m = summary[method]
                full = m["n_paper_tasks"] == sum(name in paper_names for name in answerable)
                row += [
                    format_metric(m[f"mean_{key}_paper_tasks"]) if full else "n/a"
                    for key in ("mrr", "hits@10")
                ]
            rows.append(row)
        return rows

    def format_table(self) -> str:
        """Fixed-width text table: one row per task, MRR and H@10 per method, and a macro-average row."""
        rows = self._rows()
        first = ["task", "queries", "cands"]
        widths = [max([len(first[i])] + [len(r[i]) for r in rows]) for i in range(3)]
        method_widths = [max(len(m), 13) for m in self.methods]
        sep = "  "
        head1 = sep.join(f"{'':<{w}}" for w in widths)
        head2 = sep.join([f"{first[0]:<{widths[0]}}"] + [f"{first[i]:>{widths[i]}}" for i in (1, 2)])
        for method, w in zip(self.methods, method_widths, strict=True):
            head1 += " | " + f"{method:^{w}}"
            head2 += " | " + f"{'MRR':>{(w - 1) // 2}} {'H@10':>{w - 1 - (w - 1) // 2}}"
        lines = [
            f"protocol={self.protocol}  split={self.split_hash}  seed={self.seed}  "
            f"candidates={self.settings.get('candidate_policy')}  (filtered realistic ranks)",
            head1.rstrip(),
            head2,
            "-" * len(head2),
        ]
        for row in rows:
            if row[0] == "mean" or (row[0].startswith("mean") and len(self.tasks) <= 1):
                lines.append("-" * len(head2))
            line = sep.join([f"{row[0]:<{widths[0]}}"] + [f"{row[i]:>{widths[i]}}" for i in (1, 2)])
            for j, w in enumerate(method_widths):
                a, b = row[3 + 2 * j], row[4 + 2 * j]
                line += " | " + f"{a:>{(w - 1) // 2}} {b:>{w - 1 - (w - 1) // 2}}"
            lines.append(line)
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        header = ["task", "queries", "candidates"]
        for method in self.methods:
            header += [f"{method} MRR", f"{method} H@10"]
        lines = [
            f"Protocol `{self.protocol}`, split `{self.split_hash}` (seed {self.seed}), candidate policy "
            f"`{self.settings.get('candidate_policy')}`; filtered realistic ranks, "
            "MRR over (query, gold) pairs.",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        ]
        for row in self._rows():
            cells = [f"**{c}**" if row[0].startswith("mean") and c else c for c in row]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def write_tables(self, directory: str | Path) -> tuple[Path, Path]:
        directory = Path(directory)
        return (
            write_text(directory / "metrics.txt", self.format_table()),
            write_text(directory / "metrics.md", self.to_markdown()),
        )


def format_metric(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"


def _methods_of(tasks: dict[str, dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for t in tasks.values():
        for m in t["methods"]:
            if m not in seen:
                seen.append(m)
    return seen
