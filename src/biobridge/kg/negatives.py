"""Vectorised negative sampling for bridge training (the paper's pool scheme).

For a triple ``(h, r, t)`` the paper draws a pool of ``pool_size`` random training nodes of ``t``'s type,
removes those linked to ``h`` by any training edge, and takes ``k`` of the rest (drawing a new pool when fewer
than ``k`` remain). Pool members are independent uniform draws, so inspecting the pool lazily, in draw
order, and stopping at the ``k``-th valid member gives exactly the same distribution as drawing the whole pool
and picking ``k`` valid members at random; that is what :meth:`NegativeSampler.sample` does, in vectorised
rounds, which keeps 1M triples x k=5 around a second. Here a *valid* negative is a training node of the
requested type that is not ``h`` itself, not linked to ``h`` by a training edge (either direction) and not
already chosen for the same row (the ``k`` negatives of a row are distinct). A row that has no valid negative
raises ``ValueError``; a row with fewer than ``k`` valid negatives gets all of them and repeats to fill ``k``.
"""

from __future__ import annotations

import numpy as np

from biobridge.kg.pair_set import PairSet

_ROUNDS = 64  # vectorised rounds before the remaining (rare, hard) rows are finished row by row


class NegativeSampler:
    """Sample negatives among training nodes of a given type, never linked to the head by a training edge.

    ``node_types``: type of every node (strings or integer codes), indexed by node index.
    ``heads`` / ``relations`` / ``tails``: the training triples (``relations`` is accepted for the record: a
    link by any relation disqualifies a candidate). ``train_nodes``: node indices that may be negatives.
    """

    def __init__(
        self,
        node_types: np.ndarray,
        heads: np.ndarray,
        relations: np.ndarray | None,
        tails: np.ndarray,
        train_nodes: np.ndarray,
    ) -> None:
        node_types = np.asarray(node_types)
        self.type_names, type_codes = np.unique(node_types, return_inverse=True)
        self.node_type_codes = type_codes.astype(np.int64)
        self.num_nodes = len(node_types)
        n = np.int64(self.num_nodes)
        heads = np.asarray(heads, dtype=np.int64)
        tails = np.asarray(tails, dtype=np.int64)
        if heads.shape != tails.shape:
            raise ValueError("heads and tails must have the same length")
        if relations is not None and len(relations) != len(heads):
            raise ValueError("relations must have one entry per training triple")
        # linked pairs, both directions (sorted unique int64 keys head * N + node in ``pairs.keys``)
        self.pairs = PairSet(np.concatenate([heads, tails]), np.concatenate([tails, heads]), self.num_nodes)
        train_nodes = np.unique(np.asarray(train_nodes, dtype=np.int64))
        if len(train_nodes) and (train_nodes[0] < 0 or train_nodes[-1] >= n):
            raise ValueError("train_nodes outside 0..num_nodes-1")
        self.is_train = np.zeros(self.num_nodes, dtype=bool)
        self.is_train[train_nodes] = True
        # training nodes grouped by type: pool[offsets[c]:offsets[c + 1]] are the nodes of type code c
        train_types = self.node_type_codes[train_nodes]
        order = np.argsort(train_types, kind="stable")
        self.pool = train_nodes[order]
        counts = np.bincount(train_types, minlength=len(self.type_names))
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.type_counts = counts.astype(np.int64)
        # number of training nodes of each type linked to each head (to know how many valid negatives exist)
        linked_tail = self.pairs.keys % n
        linked_head = self.pairs.keys // n
        keep = self.is_train[linked_tail] & (linked_tail != linked_head)
        t = np.int64(len(self.type_names))
        lk, lc = np.unique(
            linked_head[keep] * t + self.node_type_codes[linked_tail[keep]], return_counts=True
        )
        self._linked_keys, self._linked_counts = lk, lc.astype(np.int64)

    def type_code(self, name: str) -> int:
        hit = np.flatnonzero(self.type_names == name)
        if len(hit) == 0:
            raise KeyError(f"unknown node type {name!r}; known: {self.type_names.tolist()}")
        return int(hit[0])

    def _as_codes(self, tail_types: np.ndarray) -> np.ndarray:
        tail_types = np.asarray(tail_types)
        if tail_types.dtype.kind in "iu":
            codes = tail_types.astype(np.int64)
            if len(codes) and (codes.min() < 0 or codes.max() >= len(self.type_names)):
                raise ValueError("tail type codes outside the sampler's type codes")
            return codes
        pos = np.searchsorted(self.type_names, tail_types)
        pos = np.minimum(pos, len(self.type_names) - 1)
        bad = self.type_names[pos] != tail_types
        if bad.any():
            raise KeyError(f"unknown node types {sorted(set(tail_types[bad].tolist()))}")
        return pos.astype(np.int64)

    def num_valid(self, heads: np.ndarray, type_codes: np.ndarray) -> np.ndarray:
        """How many valid negatives of ``type_codes`` each head has."""
        t = np.int64(len(self.type_names))
        keys = heads * t + type_codes
        pos = np.minimum(np.searchsorted(self._linked_keys, keys), max(len(self._linked_keys) - 1, 0))
        linked = np.where(
            (len(self._linked_keys) > 0) & (self._linked_keys[pos] == keys)
            if len(self._linked_keys)
            else False,
            self._linked_counts[pos] if len(self._linked_counts) else 0,
            0,
        )
        self_counts = (self.is_train[heads] & (self.node_type_codes[heads] == type_codes)).astype(np.int64)
        return self.type_counts[type_codes] - linked - self_counts

    def sample(
        self,
        heads: np.ndarray,
        tail_types: np.ndarray,
        k: int,
        pool_size: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """``(len(heads), k)`` int64 negatives; ``tail_types`` are type codes or type names, one per head."""
        heads = np.asarray(heads, dtype=np.int64)
        codes = self._as_codes(tail_types)
        if heads.shape != codes.shape or heads.ndim != 1:
            raise ValueError("heads and tail_types must be 1-d arrays of the same length")
        if k < 1 or pool_size < k:
            raise ValueError(f"need 1 <= k <= pool_size, got k={k}, pool_size={pool_size}")
        n_rows = len(heads)
        out = np.full((n_rows, k), -1, dtype=np.int64)
        if n_rows == 0:
            return out
        valid_count = self.num_valid(heads, codes)
        if (valid_count <= 0).any():
            row = int(np.flatnonzero(valid_count <= 0)[0])
            raise ValueError(
                f"no valid negative of type {str(self.type_names[codes[row]])!r} for head {heads[row]} "
                f"(and {int((valid_count <= 0).sum()) - 1} other rows): every training node of that type is "
                "linked to it"
            )
        filled = np.zeros(n_rows, dtype=np.int64)
        used = np.zeros(n_rows, dtype=np.int64)  # members of the current pool inspected so far
        short = valid_count < k  # these rows get every valid negative, then repeats (finished below)
        active = np.flatnonzero(~short)
        # fast path: the first k pool members of most rows are all valid and distinct; rows where they are not
        # are redrawn below (rejecting the whole draw leaves the distribution of the accepted rows unchanged)
        if len(active):
            h, c = heads[active], codes[active]
            cand = self.pool[
                self.offsets[c][:, None]
                + (rng.random((len(active), k)) * self.type_counts[c][:, None]).astype(np.int64)
            ]
            ok = (
                (cand != h[:, None]) & ~self.pairs.contains(np.broadcast_to(h[:, None], cand.shape), cand)
            ).all(axis=1)
            srt = np.sort(cand, axis=1)
            ok &= (srt[:, 1:] != srt[:, :-1]).all(axis=1)
            out[active[ok]] = cand[ok]
            filled[active[ok]] = k
            active = active[~ok]
        chunk = min(pool_size, 2 * k)
        for _ in range(_ROUNDS):
            if len(active) == 0:
                break
            h, c = heads[active], codes[active]
            # next `chunk` members of each row's pool; a pool is replaced by a new one once exhausted
            width = np.minimum(chunk, pool_size - used[active])
            width = np.where(width <= 0, chunk, width)
            used[active] = np.where(used[active] >= pool_size, 0, used[active])
            draws = rng.random((len(active), chunk))
            cand = self.offsets[c][:, None] + (draws * self.type_counts[c][:, None]).astype(np.int64)
            cand = self.pool[cand]
            ok = (cand != h[:, None]) & ~self.pairs.contains(np.broadcast_to(h[:, None], cand.shape), cand)
            ok &= np.arange(chunk)[None, :] < width[:, None]
            used[active] += width
            sub = out[active]
            f = filled[active]
            for j in range(chunk):
                col = cand[:, j]
                take = ok[:, j] & (f < k) & ~(sub == col[:, None]).any(axis=1)
                rows = np.flatnonzero(take)
                sub[rows, f[rows]] = col[rows]
                f[rows] += 1
            out[active] = sub
            filled[active] = f
            active = active[f < k]
        for row in np.concatenate([np.flatnonzero(short), active]):
            out[row] = self._finish_row(int(heads[row]), int(codes[row]), out[row], int(filled[row]), k, rng)
        return out

    def _finish_row(
        self, head: int, code: int, row: np.ndarray, filled: int, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Exact fallback for rows with few valid negatives: enumerate them."""
        nodes = self.pool[self.offsets[code] : self.offsets[code + 1]]
        valid = nodes[(nodes != head) & ~self.pairs.contains(np.full(len(nodes), head, np.int64), nodes)]
        fresh = np.setdiff1d(valid, row[:filled])
        need = k - filled
        if len(fresh) >= need:
            pick = rng.choice(fresh, size=need, replace=False)
        else:
            pick = np.concatenate([rng.permutation(fresh), rng.choice(valid, size=need - len(fresh))])
        row = row.copy()
        row[filled:] = pick
        return row
