"""Cached encoder embeddings as contiguous per-type matrices, addressed by node_index.

Training and scoring gather rows with tensor indexing: no per-row Python in the hot loop.
"""

from __future__ import annotations

import numpy as np
import torch

from biobridge.bridge.model import BridgeModel


class EmbeddingTable:
    def __init__(self, matrices: dict[str, np.ndarray], node_index: dict[str, np.ndarray], num_nodes: int):
        self.types = sorted(matrices)
        self.matrices = {
            t: torch.from_numpy(np.ascontiguousarray(matrices[t], dtype=np.float32)) for t in self.types
        }
        self.type_code = np.full(num_nodes, -1, dtype=np.int64)
        self.row = np.full(num_nodes, -1, dtype=np.int64)
        for code, t in enumerate(self.types):
            idx = np.asarray(node_index[t], dtype=np.int64)
            self.type_code[idx] = code
            self.row[idx] = np.arange(len(idx))

    @classmethod
    def from_store(cls, store, num_nodes: int, node_types=None) -> EmbeddingTable:
        types = node_types if node_types is not None else store.node_types
        matrices, index = {}, {}
        for t in types:
            index[t], matrices[t] = store.get(t)
        return cls(matrices, index, num_nodes)

    def to(self, device) -> EmbeddingTable:
        self.matrices = {t: m.to(device) for t, m in self.matrices.items()}
        return self

    @property
    def input_dims(self) -> dict[str, int]:
        return {t: int(m.shape[1]) for t, m in self.matrices.items()}

    def has_embedding(self, nodes: np.ndarray) -> np.ndarray:
        return self.type_code[np.asarray(nodes, dtype=np.int64)] >= 0

    def project(self, model: BridgeModel, nodes: np.ndarray) -> torch.Tensor:
        """``P_{type(v)} e_v`` for every node in ``nodes`` (any mix of types), in order."""
        nodes = np.asarray(nodes, dtype=np.int64)
        codes = self.type_code[nodes]
        if (codes < 0).any():
            raise KeyError(f"{int((codes < 0).sum())} nodes have no embedding")
        out = None
        for code in np.unique(codes):
            t = self.types[code]
            sel = np.flatnonzero(codes == code)
            z = model.project(self._gather(t, nodes[sel]), t)
            if out is None:
                out = z.new_empty((len(nodes), z.shape[1]))
            out[torch.from_numpy(sel).to(z.device)] = z
        return out

    def raw(self, node_type: str, nodes: np.ndarray) -> torch.Tensor:
        """Raw embeddings of nodes that all have type ``node_type``."""
        nodes = np.asarray(nodes, dtype=np.int64)
        if (self.type_code[nodes] != self.types.index(node_type)).any():
            raise KeyError(f"not all nodes are embedded {node_type} nodes")
        return self._gather(node_type, nodes)

    def _gather(self, node_type: str, nodes: np.ndarray) -> torch.Tensor:
        """The raw rows of ``nodes`` (all of ``node_type``); index_select: the rows of ``m[rows]``, about
        3x faster on CPU."""
        m = self.matrices[node_type]
        return torch.index_select(m, 0, torch.from_numpy(self.row[nodes]).to(m.device))
