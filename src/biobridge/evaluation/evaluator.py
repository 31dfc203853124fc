"""Evaluate retrieval methods on the tasks of a KG under a split: filtered realistic ranks, MRR, hits@k,
recall@k and precision@k, with every count and definition written next to the numbers."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.artifacts import read_json, write_json, write_text
from biobridge.evaluation.metrics import (
    CANDIDATE_POLICIES,
    DEFINITIONS,
    per_query_recall_precision_at_k,
    rank_metrics,
)
from biobridge.evaluation.queries import KGIndex, SplitLike, TaskQueries, build_task_queries
from biobridge.evaluation.ranks import filtered_realistic_ranks
from biobridge.evaluation.scorer import NotApplicableError, Scorer
from biobridge.evaluation.tasks import PAPER_TASKS, Task, discover_tasks
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["EvaluationResult", "MethodRanks", "evaluate"]

logger = logging.getLogger(__name__)

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
        return write_json(path, _nan_to_none(self.to_dict()))

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
                    row += [_fmt(m.get("mrr")), _fmt(m.get("hits@10"))]
                elif m.get("status") == "not_applicable":
                    row += ["n/a", "n/a"]
                else:
                    row += ["-", "-"]
            rows.append(row)
        summary = self.summary()
        if len(self.tasks) > 1:
            row = ["mean", "", ""]
            for method in self.methods:
                row += [_fmt(summary[method]["mean_mrr"]), _fmt(summary[method]["mean_hits@10"])]
            rows.append(row)
        paper_names = {t.name for t in PAPER_TASKS}
        n_paper = sum(name in paper_names for name in self.tasks)
        if 1 < n_paper < len(self.tasks):
            row = ["mean (paper tasks)", "", ""]
            for method in self.methods:
                m = summary[method]
                row += [_fmt(m["mean_mrr_paper_tasks"]), _fmt(m["mean_hits@10_paper_tasks"])]
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


def _fmt(value: Any) -> str:
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


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, float | np.floating) and not math.isfinite(float(obj)):
        return None
    return obj


def _check_scores(scores: Any, scorer: Scorer, task: Task, n_q: int, n_c: int) -> np.ndarray:
    scores = np.asarray(scores)
    if scores.shape != (n_q, n_c):
        raise ValueError(
            f"scorer {scorer.name!r} returned shape {scores.shape} for task {task.name}; "
            f"expected ({n_q}, {n_c})"
        )
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float32)
    if np.isnan(scores).any():
        raise ValueError(f"scorer {scorer.name!r} returned NaN scores for task {task.name}")
    return scores


def _evaluate_method(
    scorer: Scorer, queries: TaskQueries, query_chunk: int, ks: Sequence[int]
) -> tuple[dict[str, Any], MethodRanks | None]:
    task = queries.task
    counts = queries.counts
    base = {
        "n_queries": queries.n_queries,
        "n_candidates": queries.n_candidates,
        "n_gold_pairs": queries.n_gold_pairs,
        "n_queries_excluded": counts["n_queries_not_scorable"] + counts["n_queries_without_gold_candidate"],
        "n_candidates_excluded": counts["n_candidates_not_scorable"],
        "n_gold_excluded": counts["n_gold_not_candidate"],
    }
    if queries.n_queries == 0:
        return {"status": "no_queries", **base}, None
    started = time.perf_counter()
    query_parts, rank_parts, gold_parts = [], [], []
    recall = {k: np.empty(queries.n_queries) for k in ks}
    precision = {k: np.empty(queries.n_queries) for k in ks}
    for start in range(0, queries.n_queries, query_chunk):
        stop = min(start + query_chunk, queries.n_queries)
        q_nodes = queries.query_nodes[start:stop]
        try:
            scores = scorer.score(task, q_nodes, queries.candidate_nodes)
        except NotApplicableError as exc:
            logger.info("%s on %s: not applicable (%s)", scorer.name, task.name, exc)
            return {"status": "not_applicable", "reason": str(exc), **base}, None
        scores = _check_scores(scores, scorer, task, stop - start, queries.n_candidates)
        gold = queries.gold_mask(start, stop)
        q_idx, rank = filtered_realistic_ranks(scores, gold)
        _, cols = np.nonzero(gold)  # same (row, column) order as the ranks
        query_parts.append(q_nodes[q_idx])
        gold_parts.append(queries.candidate_nodes[cols])
        rank_parts.append(rank)
        for k in ks:
            recall[k][start:stop], precision[k][start:stop] = per_query_recall_precision_at_k(scores, gold, k)
        del scores, gold
    ranks = np.concatenate(rank_parts)
    metrics: dict[str, Any] = {"status": "ok"}
    metrics.update(rank_metrics(ranks, ks))
    for k in ks:
        metrics[f"recall@{k}"] = float(np.mean(recall[k]))
        metrics[f"precision@{k}"] = float(np.mean(precision[k]))
    metrics["mean_rank"] = float(np.mean(ranks))
    metrics.update(base)
    method_ranks = MethodRanks(np.concatenate(query_parts), np.concatenate(gold_parts), ranks)
    logger.info(
        "  %s: MRR %.4f  H@10 %s  (%.2f s)",
        scorer.name,
        metrics["mrr"],
        _fmt(metrics.get("hits@10")),
        time.perf_counter() - started,
    )
    return metrics, method_ranks


def evaluate(
    kg: KnowledgeGraph,
    split: SplitLike,
    scorers: Sequence[Scorer],
    tasks: Iterable[Task] | None = None,
    candidate_policy: str = "relation",
    scorable: np.ndarray | None = None,
    query_chunk: int = 512,
    ks: Sequence[int] = (1, 3, 10),
) -> EvaluationResult:
    """Score every task's queries with every scorer, ``query_chunk`` queries at a time.

    ``tasks`` defaults to ``discover_tasks(kg)``; a task with no test triple is reported with ``n_queries`` 0.
    ``scorable``: optional bool mask over nodes (nodes that have an embedding); non-scorable queries and
    candidates are removed and counted. Memory: at most ``query_chunk x n_candidates`` scores at a time.
    """
    names = [s.name for s in scorers]
    if len(set(names)) != len(names):
        raise ValueError(f"scorer names must be unique, got {names}")
    if query_chunk < 1:
        raise ValueError("query_chunk must be >= 1")
    ks = tuple(int(k) for k in ks)
    task_list = list(tasks) if tasks is not None else discover_tasks(kg)
    if len({t.name for t in task_list}) != len(task_list):
        raise ValueError("task names must be unique")
    index = KGIndex(kg)

    results: dict[str, dict[str, Any]] = {}
    all_ranks: dict[tuple[str, str], MethodRanks] = {}
    timings: dict[str, dict[str, float]] = {}
    for task in task_list:
        queries = build_task_queries(kg, split, task, candidate_policy, scorable, index=index)
        c = queries.counts
        logger.info(
            "task %s: %d queries, %d candidates, %d gold pairs (excluded: %d queries not scorable, "
            "%d without gold candidate, %d candidates not scorable, %d gold not candidates)",
            task.name,
            c["n_queries"],
            c["n_candidates"],
            c["n_gold_pairs"],
            c["n_queries_not_scorable"],
            c["n_queries_without_gold_candidate"],
            c["n_candidates_not_scorable"],
            c["n_gold_not_candidate"],
        )
        methods: dict[str, Any] = {}
        timings[task.name] = {}
        for scorer in scorers:
            started = time.perf_counter()
            metrics, method_ranks = _evaluate_method(scorer, queries, query_chunk, ks)
            timings[task.name][scorer.name] = round(time.perf_counter() - started, 4)
            methods[scorer.name] = metrics
            if method_ranks is not None:
                all_ranks[(task.name, scorer.name)] = method_ranks
        results[task.name] = {
            "head_type": task.head_type,
            "relation": task.relation,
            "tail_type": task.tail_type,
            "counts": dict(c),
            "methods": methods,
        }

    definitions = dict(DEFINITIONS)
    definitions["candidate_policy"] = CANDIDATE_POLICIES[candidate_policy]
    settings = {
        "candidate_policy": candidate_policy,
        "ks": list(ks),
        "query_chunk": query_chunk,
        "kg_hash": kg.content_hash(),
        "n_nodes": kg.num_nodes,
        "n_scorable_nodes": int(np.asarray(scorable).sum()) if scorable is not None else kg.num_nodes,
        "test_fraction": getattr(split, "test_fraction", None),
    }
    return EvaluationResult(
        protocol=str(getattr(split, "protocol", "unknown")),
        split_hash=str(split.content_hash()),
        seed=getattr(split, "seed", None),
        settings=settings,
        tasks=results,
        methods=names,
        definitions=definitions,
        timings=timings,
        ranks=all_ranks,
    )
