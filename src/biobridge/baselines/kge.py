"""KG-embedding baselines through PyKEEN (optional extra ``kge``: ``pip install 'biobridge[kge]'``).

A ``KGEScorer`` trains one PyKEEN model (TransE, TransD, TransR, DistMult, ComplEx, RotatE, ...) on the
split's TRAIN triples, with the KG's node indices as entity ids (every node of the KG is an entity, so
held-out nodes have an id) and the KG's sorted relation names as relation ids. Training is PyKEEN's sLCWA
loop with its "basic" negative sampler (corrupting heads or tails uniformly) and each model's default loss;
the settings are in ``KGESettings`` and ``KGEScorer.settings``.

Scoring: ``model.score_t`` for (query, task relation) against the candidate ids. A node with no TRAIN triple
has an untrained (random) embedding, so queries without a training triple are handled by ``unseen_queries``:
``"raise"`` -> ``NotApplicableError`` (the inductive protocol: KGE cannot embed unseen nodes), ``"tie"`` ->
a constant score (every candidate ties: the realistic rank of a random guess), counted in
``n_unseen_queries``. ``"auto"`` (default) raises under the ``inductive`` protocol and ties otherwise (a
transductive held-out node whose only edges were the held-out ones).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from biobridge.evaluation.queries import TRAIN_PART, SplitLike, split_parts
from biobridge.evaluation.scorer import NotApplicableError
from biobridge.evaluation.tasks import Task
from biobridge.kg.graph import KnowledgeGraph

__all__ = ["KGE_MODELS", "KGEScorer", "KGESettings", "require_pykeen"]

log = logging.getLogger(__name__)

KGE_MODELS = ("TransE", "TransD", "TransR", "DistMult", "ComplEx", "RotatE")

# Per-model keyword arguments beyond embedding_dim (PyKEEN defaults otherwise).
_MODEL_KWARGS: dict[str, dict[str, Any]] = {
    "TransR": {"relation_dim": None},  # None -> embedding_dim (filled in below)
    "TransD": {"relation_dim": None},
}


@dataclass(frozen=True)
class KGESettings:
    """Training settings of one KGE baseline. ``embedding_dim`` is in real numbers for every model (ComplEx
    and RotatE get ``embedding_dim // 2`` complex dimensions, so all models have the same parameters per
    entity)."""

    model: str = "TransE"
    embedding_dim: int = 64
    epochs: int = 10
    batch_size: int = 4096
    lr: float = 5e-3
    num_negs_per_pos: int = 8
    seed: int = 42
    num_threads: int | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_pykeen():
    """Import PyKEEN or fail with a message naming the extra."""
    try:
        import pykeen  # noqa: F401
        import pykeen.models  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the KG-embedding baselines need PyKEEN, an optional extra: pip install 'biobridge[kge]'"
        ) from exc
    return pykeen


def _pykeen_version() -> str:
    from importlib.metadata import version

    return version("pykeen")


class KGEScorer:
    """One PyKEEN model trained on the split's training triples; ``fit()`` runs at construction unless
    ``fit=False``. ``name`` defaults to the model name in lower case (``transe``, ``rotate``...)."""

    def __init__(
        self,
        kg: KnowledgeGraph,
        split: SplitLike,
        settings: KGESettings | None = None,
        name: str | None = None,
        fit: bool = True,
        unseen_queries: str = "auto",
        **overrides: Any,
    ) -> None:
        require_pykeen()
        if unseen_queries not in ("auto", "raise", "tie"):
            raise ValueError("unseen_queries must be 'auto', 'raise' or 'tie'")
        if unseen_queries == "auto":
            unseen_queries = "raise" if getattr(split, "protocol", None) == "inductive" else "tie"
        self.unseen_queries = unseen_queries
        settings = replace(settings or KGESettings(), **overrides)
        self.settings_obj = settings
        self.name = name or settings.model.lower()
        self.relation_names = sorted(kg.reverse_relations)
        self._relation_id = {r: i for i, r in enumerate(self.relation_names)}
        self.num_nodes = kg.num_nodes
        train = split_parts(kg, split) == TRAIN_PART
        t = kg.triples
        heads = t["head"].to_numpy(np.int64)[train]
        tails = t["tail"].to_numpy(np.int64)[train]
        rels = np.array([self._relation_id[r] for r in t["relation"].to_numpy()[train]], dtype=np.int64)
        self.mapped_triples = np.unique(np.stack([heads, rels, tails], axis=1), axis=0)
        self.seen = np.zeros(kg.num_nodes, dtype=bool)
        self.seen[self.mapped_triples[:, 0]] = True
        self.seen[self.mapped_triples[:, 2]] = True
        self.model = None
        self.train_seconds: float | None = None
        self.losses: list[float] = []
        self.n_unseen_queries = 0
        if fit:
            self.fit()

    @property
    def settings(self) -> dict[str, Any]:
        s = self.settings_obj.to_dict()
        s["model_kwargs"] = self._model_kwargs()
        s.update(
            {
                "training_loop": "sLCWA",
                "negative_sampler": "basic",
                "optimizer": "Adam",
                "loss": "PyKEEN default of the model",
                "n_train_triples": int(len(self.mapped_triples)),
                "n_entities": int(self.num_nodes),
                "n_relations": len(self.relation_names),
                "unseen_queries": self.unseen_queries,
                "train_seconds": self.train_seconds,
                "final_loss": self.losses[-1] if self.losses else None,
                "pykeen_version": _pykeen_version(),
            }
        )
        return s

    def _model_kwargs(self) -> dict[str, Any]:
        s = self.settings_obj
        kwargs = dict(_MODEL_KWARGS.get(s.model, {}))
        dim = s.embedding_dim
        if s.model in ("ComplEx", "RotatE"):
            dim = max(1, dim // 2)
        kwargs["embedding_dim"] = dim
        for key, value in list(kwargs.items()):
            if value is None:
                kwargs[key] = dim
        kwargs.update(s.model_kwargs)
        return kwargs

    def fit(self) -> KGEScorer:
        import torch
        from pykeen.models import model_resolver
        from pykeen.training import SLCWATrainingLoop
        from pykeen.triples import TriplesFactory

        s = self.settings_obj
        if s.num_threads:
            torch.set_num_threads(s.num_threads)
        torch.manual_seed(s.seed)
        factory = TriplesFactory(
            mapped_triples=torch.as_tensor(self.mapped_triples, dtype=torch.long),
            entity_to_id={str(i): i for i in range(self.num_nodes)},
            relation_to_id={r: i for i, r in enumerate(self.relation_names)},
            num_entities=self.num_nodes,
            num_relations=len(self.relation_names),
        )
        model_cls = model_resolver.lookup(s.model)
        model = model_cls(triples_factory=factory, random_seed=s.seed, **self._model_kwargs())
        optimizer = torch.optim.Adam(model.get_grad_params(), lr=s.lr)
        loop = SLCWATrainingLoop(
            model=model,
            triples_factory=factory,
            optimizer=optimizer,
            negative_sampler="basic",
            negative_sampler_kwargs={"num_negs_per_pos": s.num_negs_per_pos},
        )
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*always shuffled.*")
            warnings.filterwarnings("ignore", message=".*pin_memory.*")
            losses = loop.train(
                triples_factory=factory,
                num_epochs=s.epochs,
                batch_size=s.batch_size,
                use_tqdm=False,
                use_tqdm_batch=False,
                pin_memory=False,
            )
        self.losses = [float(x) for x in losses or []]
        self.train_seconds = round(time.perf_counter() - started, 2)
        model.eval()
        self.model = model
        log.info(
            "%s: %d epochs on %d triples in %.1f s (final loss %s)",
            s.model,
            s.epochs,
            len(self.mapped_triples),
            self.train_seconds,
            self.losses[-1] if self.losses else None,
        )
        return self

    def score(self, task: Task, query_nodes: np.ndarray, candidate_nodes: np.ndarray) -> np.ndarray:
        import torch

        if self.model is None:
            raise RuntimeError("call fit() first")
        query_nodes = np.asarray(query_nodes, dtype=np.int64)
        candidate_nodes = np.asarray(candidate_nodes, dtype=np.int64)
        seen = self.seen[query_nodes]
        if self.unseen_queries == "raise" and not seen.all():
            raise NotApplicableError(
                f"{self.name}: {int((~seen).sum())} of {len(query_nodes)} query nodes have no training "
                "triple (a KG embedding exists only for nodes seen in training)"
            )
        relation = self._relation_id.get(task.relation)
        if relation is None:
            raise NotApplicableError(f"{self.name}: relation {task.relation!r} unknown to the model")
        out = np.zeros((len(query_nodes), len(candidate_nodes)), dtype=np.float32)
        rows = np.flatnonzero(seen)
        self.n_unseen_queries += int((~seen).sum())
        if not len(rows):
            return out
        hr = torch.stack(
            [torch.as_tensor(query_nodes[rows]), torch.full((len(rows),), relation, dtype=torch.long)], dim=1
        )
        with torch.inference_mode():
            scores = self.model.score_t(hr, tails=torch.as_tensor(candidate_nodes))
        out[rows] = scores.to(torch.float32).numpy()
        return out
