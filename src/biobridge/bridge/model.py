"""The bridge (DESIGN.md §1): per-type projections and a relation-conditioned transformer.

``z = P_{type(h)} e_h``; tokens ``[z, tau(type(h)), rho(r), tau(type(t))]``; ``o = Encoder(tokens)[0] + z``.
Candidates are scored by ``cos(o, P_{type(c)} e_c)``. With ``config.context_k > 0`` (the retrieval-augmented
bridge) a fifth token ``P_{type(t)} c_h + mu`` carries the head's neighbour context ``c_h`` (the mean tail
embedding of its nearest training heads, ``neighbour_context.py``), marked by a learned ``mu``. Types and
relations are addressed by name at the API boundary; their integer ids exist only inside the module and are
saved with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from biobridge.bridge.dropout import use_fast_dropout
from biobridge.config import ModelConfig


@dataclass(frozen=True)
class BridgeSchema:
    """Which node types (with their input embedding sizes) and relations the model knows."""

    input_dims: dict[str, int]
    relations: tuple[str, ...]

    @property
    def node_types(self) -> tuple[str, ...]:
        return tuple(sorted(self.input_dims))

    def to_dict(self) -> dict:
        return {"input_dims": dict(sorted(self.input_dims.items())), "relations": list(self.relations)}

    @classmethod
    def from_dict(cls, data: dict) -> BridgeSchema:
        return cls(
            input_dims={k: int(v) for k, v in data["input_dims"].items()}, relations=tuple(data["relations"])
        )


class InputStandardizer(nn.Module):
    """``(e - mean) / scale`` per input dimension; identity until ``fit`` sets the training statistics."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    @torch.no_grad()
    def fit(self, embeddings: torch.Tensor, eps: float = 1e-6) -> None:
        self.mean.copy_(embeddings.mean(0))
        std = embeddings.std(0, unbiased=False)
        self.scale.copy_(torch.where(std > eps, std, torch.ones_like(std)))  # constant dims pass through

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale


class BridgeModel(nn.Module):
    def __init__(self, schema: BridgeSchema, config: ModelConfig):
        super().__init__()
        self.schema = schema
        self.config = config
        h = config.hidden_dim
        self.type_ids = {t: i for i, t in enumerate(schema.node_types)}
        self.relation_ids = {r: i for i, r in enumerate(schema.relations)}
        self.projections = nn.ModuleDict(
            {t: nn.Linear(d, h, bias=False) for t, d in schema.input_dims.items()}
        )
        self.standardizers = (
            nn.ModuleDict({t: InputStandardizer(d) for t, d in schema.input_dims.items()})
            if config.standardize_inputs
            else None
        )
        self.node_type_embed = nn.Sequential(nn.Embedding(len(self.type_ids), h), nn.LayerNorm(h))
        self.relation_embed = nn.Sequential(nn.Embedding(max(1, len(self.relation_ids)), h), nn.LayerNorm(h))
        # the context token's marker: a learned vector, LayerNorm-ed like the type and relation tokens
        self.context_marker = (
            nn.Sequential(nn.Embedding(1, h), nn.LayerNorm(h)) if config.context_k > 0 else None
        )
        if config.n_layers > 0:
            layer = nn.TransformerEncoderLayer(
                d_model=h,
                nhead=config.n_heads,
                dim_feedforward=config.ff_dim,
                dropout=config.dropout,
                activation=config.activation,
                batch_first=True,
                norm_first=False,
            )
            self.encoder: nn.Module | None = nn.TransformerEncoder(
                layer, num_layers=config.n_layers, enable_nested_tensor=False
            )
            if config.dropout_mask == "fast":
                use_fast_dropout(self.encoder)
        else:
            self.encoder = None

    # ---- name -> id ----------------------------------------------------------------------------
    def type_id(self, node_type: str) -> int:
        try:
            return self.type_ids[node_type]
        except KeyError:
            raise KeyError(
                f"the bridge has no node type {node_type!r}; known: {list(self.type_ids)}"
            ) from None

    def relation_id(self, relation: str) -> int:
        try:
            return self.relation_ids[relation]
        except KeyError:
            raise KeyError(
                f"the bridge has no relation {relation!r}; known: {list(self.relation_ids)}"
            ) from None

    # ---- forward pieces ---------------------------------------------------------------------------
    def project(self, embeddings: torch.Tensor, node_type: str) -> torch.Tensor:
        """``P_t e``: raw encoder embeddings of one node type -> the shared H-d space."""
        if node_type not in self.projections:
            raise KeyError(f"the bridge has no projection for node type {node_type!r}")
        weight = self.projections[node_type].weight
        if self.standardizers is None:
            return F.linear(embeddings, weight)
        # P ((e - mean) / scale) folded into the weights: (P / scale) e - (P / scale) mean, the same map
        # without two passes over the (n, d) inputs
        st = self.standardizers[node_type]
        folded = weight / st.scale
        return F.linear(embeddings, folded, -(folded @ st.mean))

    def transform(
        self,
        z: torch.Tensor,
        head_type_ids: torch.Tensor,
        relation_ids: torch.Tensor,
        tail_type_ids: torch.Tensor,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Carry projected heads ``z`` (B, H) towards the tail space of each (relation, tail type);
        ``context`` (B, H): the projected neighbour contexts, required when the model reads one."""
        if (context is not None) != (self.context_marker is not None):
            raise ValueError(
                "this bridge reads a neighbour context (model.context_k > 0): pass one "
                "(biobridge.bridge.neighbour_context)"
                if context is None
                else "this bridge has no neighbour context token (model.context_k is 0)"
            )
        if self.encoder is None:
            out = self.node_type_embed(tail_type_ids) + self.relation_embed(relation_ids)
            return out + z if self.config.residual else out
        tokens = torch.stack(
            [
                z,
                self.node_type_embed(head_type_ids),
                self.relation_embed(relation_ids),
                self.node_type_embed(tail_type_ids),
            ]
            + (
                [context + self.context_marker(torch.zeros_like(relation_ids))] if context is not None else []
            ),
            dim=1,
        )
        out = self._encode_first_token(tokens)
        return out + z if self.config.residual else out

    def _encode_first_token(self, tokens: torch.Tensor) -> torch.Tensor:
        """``self.encoder(tokens)[:, 0]``, with the last layer computed for the first token only.

        Only position 0 is read, so the last layer's queries, output projection and feed-forward are needed for
        that position alone (post-LN layer: ``x = norm1(x + SA(x)); x = norm2(x + FF(x))``). Same result as the
        full encoder, a quarter of the last layer's cost.
        """
        layers = self.encoder.layers
        x = tokens
        for layer in layers[:-1]:
            x = layer(x)
        last = layers[-1]
        q = x[:, :1]
        attn = last.self_attn(q, x, x, need_weights=False)[0]
        h = last.norm1(q + last.dropout1(attn))
        h = last.norm2(h + last._ff_block(h))
        return h[:, 0]

    @property
    def reads_context(self) -> bool:
        return self.context_marker is not None

    def transform_named(
        self,
        embeddings: torch.Tensor,
        head_type: str,
        relation: str,
        tail_type: str,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Project raw head embeddings of one type and transform them for one (relation, tail type);
        ``context``: their raw neighbour contexts (in the tail type's input space) when the model reads one."""
        z = self.project(embeddings, head_type)
        n = z.shape[0]
        ids = [
            torch.full((n,), i, dtype=torch.long, device=z.device)
            for i in (self.type_id(head_type), self.relation_id(relation), self.type_id(tail_type))
        ]
        projected = self.project(context.to(z), tail_type) if context is not None else None
        return self.transform(z, *ids, context=projected)
