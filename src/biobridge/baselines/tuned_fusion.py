"""Score fusion with weights tuned per task on a validation split (never on test queries).

``score(q, c) = sum_i w_{task,i} * z_i(q, c)`` where ``z_i`` is part ``i``'s score standardised over the
query's candidates (mean 0, standard deviation 1; a constant row becomes 0) and the weights ``w_{task,.}``
lie on a grid over the simplex (step ``step``). ``tune_fusion_weights`` picks, for each task, the grid point
with the best validation MRR (filtered, realistic ranks, as in the evaluator) on at most ``max_queries``
validation queries (ties go to the earlier grid point; the grid starts with all weight on the first part),
then hill-climbs from it in moves of ``step / 2`` while the validation MRR strictly improves. With ``bagging``
B > 0 it instead scores the grid and the points one or two moves of ``step / 2`` from its best point, draws B
bootstrap resamples of the validation queries (seeded), takes each resample's best point and averages them: a
few hundred validation queries rank weight vectors noisily, and the mean of the resamples' choices is less tied
to the particular queries drawn (bagged selection, as in Caruana et al.'s ensemble selection, 2004).

With a ``gate`` (the name of a neighbour-vote part, homology-kNN in the shipped hybrid), a task's queries the
gate is silent for (no neighbour of positive similarity: a protein without any sequence hit) get their own weight
vector, ``fallback``, tuned on the validation queries it is silent for, the others' weights on the rest: a
homology vote that has nothing to say for a query should not keep its weight there. A task gets a fallback only
when both groups have at least ``min_group`` validation queries and the fallback passes a check inside the
validation queries: tuned on one half of the silent queries, it must beat the others' weights on the other half
(two folds, summed). Otherwise the task keeps one weight vector, tuned on all its validation queries.

With a ``smoother`` (``biobridge.baselines.candidate_smoothing``) and a ``smoothing_grid``, a task's parts may
then be smoothed over similar candidates, each part's ``z`` becoming ``z + alpha * spread(z)``: ``alpha`` is the
point of the grid (0 added) with the best validation MRR under the weights just chosen (ties to the smaller);
with ``bagging`` B > 0 it is kept only if it beats no smoothing on at least 90 % of B bootstrap resamples of the
validation queries; when kept, the weights (and fallback) are tuned again on the smoothed parts.

The validation split comes from ``biobridge.kg.split.validation_split``: the parts scored during tuning must
be fitted on *its* training triples, and the parts that score the test queries on the outer split's, so no
test triple is seen while tuning. A part that is not applicable to a task gets weight 0 there.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from biobridge.baselines.parallel import cores, parallel_map
from biobridge.baselines.vote_tuning import fit_tuned_baseline, validation_samples
from biobridge.evaluation.metrics import rank_metrics
from biobridge.evaluation.queries import SplitLike
from biobridge.evaluation.ranks import GoldCells, filtered_realistic_ranks
from biobridge.evaluation.scorer import NotApplicableError, QueryItems
from biobridge.evaluation.tasks import Task
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["TunedScoreFusion", "fit_tuned_fusion", "simplex_grid", "standardise_rows", "tune_fusion_weights"]

log = logging.getLogger(__name__)


def standardise_rows(scores: np.ndarray) -> np.ndarray:
    """Per row: (x - mean) / std over the row; rows with std 0 become 0."""
    scores = np.asarray(scores, dtype=np.float32)
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return np.divide(scores - mean, std, out=np.zeros_like(scores), where=std > 0)


def simplex_grid(n_parts: int, step: float) -> list[tuple[float, ...]]:
    """Weight vectors with entries in multiples of ``step`` summing to 1; the first is ``(1, 0, ..., 0)``."""
    if n_parts < 1:
        raise ValueError("at least one part is needed")
    units = round(1.0 / step)
    if units < 1 or abs(units * step - 1.0) > 1e-9:
        raise ValueError(f"step must divide 1, got {step}")
    grid = [
        tuple(c / units for c in counts)
        for counts in itertools.product(range(units, -1, -1), repeat=n_parts)
        if sum(counts) == units
    ]
    return grid


class TunedScoreFusion:
    """Weighted sum of standardised part scores with one weight vector per task (see the module docstring).
    A task without tuned weights uses ``default_weights`` (all weight on the first part unless given); a task
    in ``fallback`` uses those weights for the queries the part named ``gate`` is silent for."""

    def __init__(
        self,
        scorers: Sequence,
        weights: dict[str, Sequence[float]],
        name: str,
        default_weights: Sequence[float] | None = None,
        fallback: dict[str, Sequence[float]] | None = None,
        gate: str | None = None,
        smoothing: dict[str, float] | None = None,
        smoother=None,
    ) -> None:
        if not scorers:
            raise ValueError("at least one scorer is needed")
        self.scorers = list(scorers)
        n = len(self.scorers)
        self.weights = {task: [float(w) for w in ws] for task, ws in weights.items()}
        self.default_weights = (
            [1.0] + [0.0] * (n - 1) if default_weights is None else [float(w) for w in default_weights]
        )
        self.fallback = {task: [float(w) for w in ws] for task, ws in (fallback or {}).items()}
        for ws in [*self.weights.values(), self.default_weights, *self.fallback.values()]:
            if len(ws) != n:
                raise ValueError(f"every weight vector needs {n} entries, one per scorer")
        self.gate = None
        if self.fallback:
            names = [s.name for s in self.scorers]
            if gate not in names:
                raise ValueError(f"fallback weights need a gate among the parts {names}, got {gate!r}")
            self.gate = self.scorers[names.index(gate)]
        self.smoothing = {task: float(a) for task, a in (smoothing or {}).items() if a}
        if self.smoothing and smoother is None:
            raise ValueError("smoothing weights need a smoother (biobridge.baselines.candidate_smoothing)")
        self.smoother = smoother
        self.name = name

    @property
    def settings(self) -> dict:
        out = {
            "fusion": "weighted sum of per-query standardised scores, weights tuned per task on validation",
            "parts": [s.name for s in self.scorers],
            "weights": self.weights,
            "default_weights": self.default_weights,
        }
        if self.fallback:
            out["gate"] = self.gate.name
            out["fallback_weights"] = self.fallback
        if self.smoothing:
            out["smoothing"] = {**self.smoother.settings, "alpha": self.smoothing}
        return out

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        return self._mix(
            task,
            len(query_nodes),
            candidate_nodes,
            lambda s: s.score(task, query_nodes, candidate_nodes),
            lambda: self.gate.silent(task, query_nodes),
        )

    def score_items(self, task: Task, items: QueryItems, candidate_nodes: np.ndarray) -> np.ndarray:
        return self._mix(
            task,
            len(items.nodes),
            candidate_nodes,
            lambda s: s.score_items(task, items, candidate_nodes),
            lambda: self.gate.silent_items(task, items),
        )

    def _mix(self, task: Task, n_q: int, candidate_nodes: np.ndarray, part_scores, silent) -> np.ndarray:
        weights = self.weights.get(task.name, self.default_weights)
        fallback = self.fallback.get(task.name)
        rows = silent() if fallback is not None else None
        if rows is None or not rows.any():
            rows, fallback = None, None
        alpha = self.smoothing.get(task.name, 0.0)
        out = np.zeros((n_q, len(candidate_nodes)), dtype=np.float32)
        for scorer, w, fw in zip(self.scorers, weights, fallback or weights, strict=True):
            if not (w or fw):
                continue
            z = standardise_rows(part_scores(scorer))
            if alpha:
                z = self.smoother.smooth(z, alpha, task.tail_type, candidate_nodes)
            if rows is None:
                out += np.float32(w) * z
            else:
                out[~rows] += np.float32(w) * z[~rows]
                out[rows] += np.float32(fw) * z[rows]
        return out


def _mixed(parts, weights, shape, fallback=None, silent=None, buffers=None) -> np.ndarray:
    """The mix of the standardised ``parts`` (``fallback`` weights on the ``silent`` rows when given), made in
    ``buffers`` (two float32 arrays of ``shape``: the mix, a product) when given: a caller mixing many weight
    vectors saves allocating (and page-faulting) large arrays each time."""
    mixed, product = buffers or (np.empty(shape, dtype=np.float32), np.empty(shape, dtype=np.float32))
    mixed.fill(0)
    for i, (part, w) in enumerate(zip(parts, weights, strict=True)):
        if w:
            mixed += np.multiply(part, np.float32(w), out=product)
        if fallback is not None and (w or fallback[i]):
            mixed[silent] += np.float32(fallback[i] - w) * part[silent]
    return mixed


def _mixed_ranks(
    parts: list[np.ndarray | None],
    weights: Sequence[float],
    gold: np.ndarray | GoldCells,
    fallback: Sequence[float] | None = None,
    silent: np.ndarray | None = None,
    buffers=None,
) -> tuple[np.ndarray, np.ndarray]:
    """(query row, filtered realistic rank) of every gold pair under the mix (see ``_mixed``); ``gold``: the
    bool mask or, when many mixes are ranked against it, its ``GoldCells``."""
    shape = gold.mask.shape if isinstance(gold, GoldCells) else gold.shape
    return filtered_realistic_ranks(_mixed(parts, weights, shape, fallback, silent, buffers), gold)


def _mixed_mrr(parts, weights, gold, fallback=None, silent=None) -> float:
    """Validation MRR of the mix (see ``_mixed_ranks``)."""
    return rank_metrics(_mixed_ranks(parts, weights, gold, fallback, silent)[1], ks=())["mrr"]


class _MixRanks:
    """One task's filtered realistic ranks of its gold pairs under weight vectors of its ``parts``, kept per
    vector and query row once computed: a query's ranks depend on its own row alone, so the tuning on the
    gate's groups and the fallback check's halves reuses the rows an earlier subset ranked, with the same
    values."""

    def __init__(self, parts: list[np.ndarray | None], gold: np.ndarray) -> None:
        self.parts, self.gold = parts, gold
        self.cells = GoldCells.of(gold)
        self.n_queries = len(gold)
        self.query_of = np.nonzero(self.cells.mask)[0]  # each gold pair's row, pairs by row then column
        self._ranks: dict[tuple[float, ...], np.ndarray] = {}  # per point, every pair (NaN: not ranked yet)
        self._done: dict[tuple[float, ...], np.ndarray] = {}  # per point, the rows ranked

    def of(self, points: Sequence[tuple[float, ...]], rows: np.ndarray | None = None) -> list[np.ndarray]:
        """Each point's ranks of the gold pairs of the queries ``rows`` (bool; all when None), the rows not
        ranked yet under it computed first, points in parallel."""
        rows = np.ones(self.n_queries, dtype=bool) if rows is None else rows
        todo: dict[bytes, list[tuple[float, ...]]] = {}
        for point in dict.fromkeys(tuple(p) for p in points):
            missing = rows & ~self._done.setdefault(point, np.zeros(self.n_queries, dtype=bool))
            if missing.any():
                todo.setdefault(missing.tobytes(), []).append(point)
        for key, group in todo.items():
            missing = np.frombuffer(key, dtype=bool)
            if missing.all():
                parts, cells = self.parts, self.cells
            else:
                parts, cells = _rows(self.parts, missing), GoldCells.of(self.gold[missing])
            pairs = missing[self.query_of]
            for point, ranks in zip(group, _ranked(parts, cells, group), strict=True):
                self._ranks.setdefault(point, np.full(len(self.query_of), np.nan))[pairs] = ranks
                self._done[point] |= missing
        pairs = rows[self.query_of]
        return [self._ranks[tuple(p)][pairs] for p in points]

    def pairs(self, rows: np.ndarray | None) -> tuple[np.ndarray, int]:
        """The queries of the gold pairs of ``rows`` (bool; all when None), numbered within ``rows``, and the
        number of those queries."""
        if rows is None:
            return self.query_of, self.n_queries
        return (np.cumsum(rows) - 1)[self.query_of[rows[self.query_of]]], int(rows.sum())

    def mrr(self, weights, rows: np.ndarray | None = None) -> float:
        """Validation MRR of the mix over the queries ``rows`` (all when None)."""
        return rank_metrics(self.of([weights], rows)[0], ks=())["mrr"]


def _ranked(parts, cells: GoldCells, points: list[tuple[float, ...]]) -> list[np.ndarray]:
    """Each point's ranks of the gold pairs, the points shared out among the cores, each core mixing in
    buffers of its own."""
    shares = [points[i :: cores()] for i in range(min(cores(), len(points)))]

    def rank_share(share):
        buffers = (np.empty(cells.mask.shape, dtype=np.float32), np.empty(cells.mask.shape, dtype=np.float32))
        return [_mixed_ranks(parts, w, cells, buffers=buffers)[1] for w in share]

    ranked = parallel_map(rank_share, shares)
    return [ranked[i % len(shares)][i // len(shares)] for i in range(len(points))]


def tune_fusion_weights(
    kg: KnowledgeGraph,
    validation: SplitLike,
    scorers: Sequence,
    tasks: Sequence[Task],
    step: float = 0.2,
    max_queries: int = 2000,
    candidate_policy: str = "relation",
    scorable: np.ndarray | None = None,
    seed: int = 0,
    gate: str | None = None,
    min_group: int = 20,
    samples: Sequence | None = None,
    bagging: int = 0,
    smoother=None,
    smoothing_grid: Sequence[float] = (),
) -> dict[str, dict[str, Any]]:
    """Per task: the chosen weights, the validation MRR of every part alone and of the chosen mix, and the
    number of validation queries used (see the module docstring); with a ``gate``, the ``fallback`` weights
    and their group's figures where the task has them; with a ``smoother``, the chosen ``smoothing``. Tasks
    without validation queries keep all weight on the first part and say so. ``samples``:
    ``validation_samples(kg, validation, tasks, max_queries, candidate_policy, scorable, seed)`` when the caller
    has it already."""
    grid = simplex_grid(len(scorers), step)
    names = [s.name for s in scorers]
    gate_part = scorers[names.index(gate)] if gate in names else None
    out: dict[str, dict[str, Any]] = {}
    if samples is None:
        samples = validation_samples(kg, validation, tasks, max_queries, candidate_policy, scorable, seed)
    for task, queries, q_nodes, gold in samples:
        if queries is None:
            out[task.name] = {"weights": list(grid[0]), "n_queries": 0, "note": "no validation queries"}
            continue
        parts, applicable = [], []
        for scorer in scorers:
            try:
                parts.append(standardise_rows(scorer.score(task, q_nodes, queries.candidate_nodes)))
                applicable.append(True)
            except NotApplicableError:
                parts.append(None)
                applicable.append(False)
        usable = [w for w in grid if all(ok or not wi for ok, wi in zip(applicable, w, strict=True))]
        silent = _silent_rows(gate_part, task, q_nodes, min_group)
        tune = partial(
            _tune_task,
            gold=gold,
            applicable=applicable,
            usable=usable,
            step=step,
            names=names,
            silent=silent,
            bagging=bagging,
            seed=seed,
            task_name=task.name,
        )
        entry = tune(parts)
        if smoother is not None and any(smoothing_grid):
            cands = queries.candidate_nodes
            spreads = [None if p is None else smoother.spread(p, task.tail_type, cands) for p in parts]
            entry = _tune_smoothing(entry, parts, spreads, gold, silent, smoothing_grid, bagging, seed, tune)
        out[task.name] = entry
        log.info(
            "fusion weights %s: %s (validation MRR %.4f)",
            task.name,
            entry["weights"],
            entry["validation_mrr"],
        )
    return out


def _tune_task(
    parts, *, gold, applicable, usable, step, names, silent, bagging: int, seed: int, task_name: str
):
    """One task's weights (and fallback weights for the ``silent`` queries when they pass their check)."""
    ranks = _MixRanks(parts, gold)
    if silent is None:
        entry = _tune(ranks, applicable, usable, step, names, None, bagging, seed)
        entry["n_queries"] = len(gold)
    else:
        entry = _tune(ranks, applicable, usable, step, names, ~silent, bagging, seed)
        check = _check_fallback(
            ranks, applicable, usable, step, names, entry["weights"], silent, seed, bagging
        )
        log.info(
            "fusion fallback check %s: held-out MRR on %d silent queries %.4f with its own weights, %.4f "
            "with the others' (%s)",
            task_name,
            silent.sum(),
            check["held_out_mrr_fallback"],
            check["held_out_mrr_main"],
            "adopted" if check["adopted"] else "rejected",
        )
        if check["adopted"]:
            fallback = _tune(ranks, applicable, usable, step, names, silent, bagging, seed)
            entry["n_queries"] = int((~silent).sum())
            fallback["n_queries"] = int(silent.sum())
            both = _mixed_mrr(parts, entry["weights"], gold, fallback["weights"], silent)
            entry = {**entry, "fallback": fallback, "validation_mrr_both": both}
        else:  # one weight vector for all the task's queries, as without a gate
            entry = _tune(ranks, applicable, usable, step, names, None, bagging, seed)
            entry["n_queries"] = len(gold)
        entry["fallback_check"] = check
    return entry


def _tune_smoothing(
    entry, parts, spreads, gold, silent, grid, bagging: int, seed: int, tune
) -> dict[str, Any]:
    """A task's candidate smoothing (see the module docstring): ``spreads``, each part's ``spread``; ``tune``,
    the task's weight tuning for given parts. Returns the entry to keep, with its ``smoothing`` record."""
    fallback = entry.get("fallback", {}).get("weights")
    rows = silent if fallback is not None else None
    alphas = sorted({0.0, *(float(a) for a in grid)})
    # a smoothed part is p + alpha * spread(p), so the mix is mix(parts) + alpha * mix(spreads)
    mixed = _mixed(parts, entry["weights"], gold.shape, fallback, rows)
    mixed_spread = _mixed(spreads, entry["weights"], gold.shape, fallback, rows)
    cells = GoldCells.of(gold)
    ranked = {a: filtered_realistic_ranks(mixed + np.float32(a) * mixed_spread, cells) for a in alphas}
    grid_mrr = {a: float((1.0 / r).mean()) for a, (_, r) in ranked.items()}
    alpha = max(alphas, key=lambda a: (grid_mrr[a], -a))
    record: dict[str, Any] = {"validation_mrr_grid": {str(a): m for a, m in grid_mrr.items()}}
    if alpha and bagging:
        counts = _bootstrap_counts(ranked[0.0][0], len(gold), bagging, seed)
        gain = counts @ (1.0 / ranked[alpha][1] - 1.0 / ranked[0.0][1])  # per resample, times its pair count
        record["support"] = float((gain > 0).mean())
        if record["support"] < 0.9:
            alpha = 0.0
    record["alpha"] = alpha
    if alpha:
        smoothed = [
            None if p is None else p + np.float32(alpha) * d for p, d in zip(parts, spreads, strict=True)
        ]
        entry = tune(smoothed)
        record["validation_mrr_retuned"] = entry.get("validation_mrr_both", entry["validation_mrr"])
    return {**entry, "smoothing": record}


def _silent_rows(gate, task: Task, q_nodes: np.ndarray, min_group: int) -> np.ndarray | None:
    """The queries the ``gate`` part is silent for, when both groups have ``min_group`` queries; else None."""
    if gate is None:
        return None
    try:
        silent = np.asarray(gate.silent(task, q_nodes), dtype=bool)
    except NotApplicableError:
        return None
    if min(int(silent.sum()), int((~silent).sum())) < min_group:
        return None
    return silent


def _check_fallback(
    ranks, applicable, usable, step, names, weights, silent, seed: int, bagging: int = 0
) -> dict[str, Any]:
    """Would fallback weights help the ``silent`` queries? Two folds over them (seeded halves): weights tuned
    on one half are scored on the other; against ``weights``, tuned on the other queries, so held out for all
    the silent ones. Adopted only when the held-out MRR is higher (beyond rounding)."""
    rows = np.flatnonzero(silent)
    order = np.random.default_rng(seed).permutation(rows)
    halves = [np.isin(np.arange(ranks.n_queries), order[i::2]) for i in (0, 1)]
    held_out = 0.0
    for tune_on, score_on in ((halves[0], halves[1]), (halves[1], halves[0])):
        fold = _tune(ranks, applicable, usable, step, names, tune_on, bagging, seed)["weights"]
        held_out += ranks.mrr(fold, score_on) * score_on.sum() / len(rows)
    main = ranks.mrr(weights, silent)
    return {
        "held_out_mrr_fallback": held_out,
        "held_out_mrr_main": main,
        "adopted": bool(held_out > main + 1e-9),
    }


def _rows(parts: list[np.ndarray | None], rows: np.ndarray) -> list[np.ndarray | None]:
    return [None if p is None else p[rows] for p in parts]


def _tune(
    ranks,
    applicable,
    usable,
    step,
    names,
    rows: np.ndarray | None = None,
    bagging: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """The best grid point for the queries ``rows`` (all when None), refined by hill-climbing; with
    ``bagging`` > 0, the bagged choice among the grid and the best grid point's neighbourhood. ``ranks``: the
    task's ``_MixRanks``."""

    def mrr(weights: tuple[float, ...]) -> float:
        return ranks.mrr(weights, rows)

    if bagging:
        query_of, n_queries = ranks.pairs(rows)
        rr = [1.0 / r for r in ranks.of(usable, rows)]  # per point: the gold pairs' reciprocal ranks
        scores = [float(r.mean()) for r in rr]
        best = int(np.argmax(scores))
        near = _neighbourhood(usable[best], applicable, step / 2, set(usable))
        rr += [1.0 / r for r in ranks.of(near, rows)]
        weights = _bagged_weights(rr, query_of, [*usable, *near], n_queries, bagging, seed)
        best_mrr = mrr(weights)
    else:
        ranks.of(usable, rows)
        scores = [mrr(w) for w in usable]
        best = int(np.argmax(scores))  # first maximum: the earliest grid point wins ties
        weights, best_mrr = _refine(usable[best], scores[best], ranks, rows, applicable, step / 2)
    by_weights = dict(zip(usable, scores, strict=True))  # the grid holds every part alone
    alone = {
        name: by_weights.get(tuple(float(i == j) for j in range(len(names)))) for i, name in enumerate(names)
    }
    return {
        "weights": list(weights),
        "validation_mrr": best_mrr,
        "validation_mrr_grid": scores[best],
        "validation_mrr_alone": alone,
    }


def _moves(weights: tuple[float, ...], applicable, delta: float) -> list[tuple[float, ...]]:
    """The weight vectors one move of ``delta`` away: weight taken from one part, given to an applicable one."""
    moves = []
    for i, j in itertools.permutations(range(len(weights)), 2):
        if applicable[i] and weights[j] >= delta - 1e-9:
            w = list(weights)
            w[i], w[j] = round(w[i] + delta, 6), round(w[j] - delta, 6)
            moves.append(tuple(w))
    return moves


def _neighbourhood(weights, applicable, delta: float, known: set) -> list[tuple[float, ...]]:
    """The weight vectors one or two moves of ``delta`` from ``weights`` that are not in ``known``, in a
    fixed order (the finer points a grid of step ``2 * delta`` misses around its best point)."""
    near: dict[tuple[float, ...], None] = {}
    for once in _moves(tuple(weights), applicable, delta):
        near[once] = None
        near.update(dict.fromkeys(_moves(once, applicable, delta)))
    return [w for w in near if w not in known and w != tuple(weights)]


def _bagged_weights(
    reciprocal, query_of: np.ndarray, points, n_queries: int, bagging: int, seed: int
) -> tuple[float, ...]:
    """Bagged choice of a weight vector: for each of ``bagging`` bootstrap resamples of the ``n_queries``
    queries (seeded), the one of ``points`` with the best MRR on the resample (first maximum), from the gold
    pairs' ``reciprocal`` ranks under each point (``query_of``: each gold pair's query row); their mean, rounded
    to 1e-6. The resample's MRR is the mean reciprocal rank of its gold pairs, a query drawn twice counting
    twice."""
    reciprocal = np.stack(reciprocal)  # (points, gold pairs)
    counts = _bootstrap_counts(query_of, n_queries, bagging, seed)
    chosen = np.argmax(counts @ reciprocal.T, axis=1)  # a bag's pair count is common to its points
    mean = np.asarray(points, dtype=np.float64)[chosen].mean(axis=0)
    return tuple(round(float(w), 6) for w in mean)


def _bootstrap_counts(query_of: np.ndarray, n_queries: int, bagging: int, seed: int) -> np.ndarray:
    """``(bagging, gold pairs)``: how often each gold pair's query (``query_of``) is drawn in each of ``bagging``
    bootstrap resamples of the ``n_queries`` queries (seeded)."""
    draws = np.random.default_rng(seed).integers(0, n_queries, size=(bagging, n_queries))
    return np.stack([np.bincount(d, minlength=n_queries) for d in draws])[:, query_of]


def fit_tuned_fusion(
    kg: KnowledgeGraph,
    split: SplitLike,
    validation: SplitLike,
    scorer,
    parts: Sequence[str],
    tasks: Sequence[Task],
    table=None,
    k: int = 50,
    name: str = "hybrid",
    hits=None,
    vote_grid: dict[str, Sequence] | None = None,
    step: float = 0.2,
    max_queries: int = 2000,
    candidate_policy: str = "relation",
    seed: int = 0,
    gate: str | None = None,
    bagging: int = 0,
    smoother=None,
    smoothing_grid: Sequence[float] = (),
) -> tuple[TunedScoreFusion, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``scorer`` mixed with the baselines named ``parts`` (see ``biobridge.baselines.build_baseline``).

    ``scorer`` must be fitted on ``validation``'s TRAIN part (``validation = validation_split(kg, split)``).
    First each neighbour vote among the parts gets its ``k`` and sharpness per task from ``vote_grid``
    (``biobridge.baselines.vote_tuning``; None: ``k`` and sharpness 1 everywhere), then the weights are tuned
    (``tune_fusion_weights``) on the same validation queries, the baselines fitted on ``validation``'s TRAIN
    part; the returned fusion scores with the baselines fitted on ``split``'s TRAIN part. ``gate``: the part
    whose silent queries get fallback weights; ``smoother`` and ``smoothing_grid``: the candidate smoothing
    tuned per task after the weights (see the module docstring). Returns the fusion, the weights' tuning record
    per task and the votes' per part."""
    scorable = table.has_embedding(np.arange(kg.num_nodes)) if table is not None else None
    tasks = list(tasks)
    # one draw of the validation queries serves every vote's tuning and the weights'
    samples = list(validation_samples(kg, validation, tasks, max_queries, candidate_policy, scorable, seed))
    on_validation, on_split, votes = [], [], {}
    for part in parts:
        fitted = fit_tuned_baseline(
            part, kg, split, validation, tasks, table, k, hits, vote_grid, samples=samples
        )
        on_validation.append(fitted[0])
        on_split.append(fitted[1])
        if fitted[2]:
            votes[part] = fitted[2]
    scorers = [scorer, *on_validation]
    tuned = tune_fusion_weights(
        kg,
        validation,
        scorers,
        tasks,
        step=step,
        gate=gate,
        seed=seed,
        samples=samples,
        bagging=bagging,
        smoother=smoother,
        smoothing_grid=smoothing_grid,
    )
    fallback = {task: t["fallback"]["weights"] for task, t in tuned.items() if "fallback" in t}
    fusion = TunedScoreFusion(
        [scorer, *on_split],
        {task: t["weights"] for task, t in tuned.items()},
        name=name,
        fallback=fallback,
        gate=gate,
        smoothing={task: t["smoothing"]["alpha"] for task, t in tuned.items() if "smoothing" in t},
        smoother=smoother,
    )
    return fusion, tuned, votes


def _refine(weights, best_mrr, ranks, rows, applicable, delta, max_rounds: int = 10):
    """Hill-climb from a grid point: move ``delta`` of weight from one part to another while the validation
    MRR of the queries ``rows`` strictly improves (at most ``max_rounds`` moves)."""
    weights = tuple(weights)
    for _ in range(max_rounds):
        moves = _moves(weights, applicable, delta)
        if not moves:
            break
        ranks.of(moves, rows)
        scores = [ranks.mrr(w, rows) for w in moves]
        k = int(np.argmax(scores))
        if scores[k] <= best_mrr:
            break
        weights, best_mrr = moves[k], scores[k]
    return weights, best_mrr
