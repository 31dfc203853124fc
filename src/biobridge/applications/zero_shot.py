"""Zero-shot scoring of user-supplied candidates (a new modality or an ad-hoc candidate set).

A candidate set the KG does not contain (phenotype texts, new molecules, sequences) is read **as** an existing
node type ``as_type``: each candidate is encoded with that type's frozen encoder and mapped with that type's
projection ``P_{as_type}``, the space the bridge's transformed queries live in. The query is transformed
under ``(head_type, relation, tail_type)``; ``tail_type`` defaults to ``as_type`` (the relation token and the
tail-type token the transformer sees). Score = cosine.

>>> score_candidates(bridge, "CC(=O)Oc1ccccc1C(=O)O", "drug", ["fever", "gout"], as_type="disease")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from biobridge.artifacts import check_utf8
from biobridge.errors import InputError

FEATURE_COLUMNS = ("feature", "candidate", "text", "smiles", "sequence")


def read_candidates(path: str | Path) -> pd.DataFrame:
    """Candidates from a UTF-8 TSV file: columns ``id``, ``name`` (optional) and a feature column named one of
    ``feature``/``candidate``/``text``/``smiles``/``sequence``; a file without a header (or with one column)
    is read as one feature per line. Blank lines are skipped; a row with an empty feature is an error; ids
    default to
    ``cand<row>``. Fields are split on tabs, with no quoting; lines may end in LF or CRLF. A file that is
    not UTF-8, has no candidates, a row with another number of fields than the header, an empty or repeated
    id raises ``InputError`` naming the file and the line."""
    path = Path(path)
    check_utf8(path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    rows = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not rows:
        raise InputError(f"{path}: no candidates (the file is empty)")
    header = [h.strip().lower() for h in rows[0][1].split("\t")]
    feature_col = next((c for c in FEATURE_COLUMNS if c in header), None)
    if feature_col is None:
        features = (
            [r.split("\t")[0].strip() for _, r in rows] if len(header) > 1 else [r.strip() for _, r in rows]
        )
        frame = pd.DataFrame({"feature": features, "line": [n for n, _ in rows]})
    else:
        if len(set(header)) != len(header):
            raise InputError(f"{path}:{rows[0][0]}: repeated column names in the header {header}")
        records = []
        for number, line in rows[1:]:
            fields = [f.strip() for f in line.split("\t")]
            if len(fields) != len(header):
                raise InputError(f"{path}:{number}: {len(fields)} fields, expected {len(header)} ({header})")
            records.append([*fields, number])
        frame = pd.DataFrame(records, columns=[*header, "line"], dtype=object)
        frame = frame.rename(columns={feature_col: "feature"})
        if frame.empty:
            raise InputError(f"{path}: no candidates (a header and no rows)")
        missing = frame.index[frame["feature"] == ""]
        if len(missing):
            raise InputError(
                f"{path}:{frame.at[missing[0], 'line']}: no {feature_col} for this candidate "
                f"({len(missing)} row(s) without one); every row needs one, or remove the row"
            )
    if "id" in frame.columns:
        _check_ids(path, frame)
    else:
        frame["id"] = [f"cand{i + 1}" for i in range(len(frame))]
    if "name" not in frame.columns:
        frame["name"] = frame["feature"].str.slice(0, 60)
    return frame[["id", "name", "feature"]].reset_index(drop=True)


def _check_ids(path: Path, frame: pd.DataFrame) -> None:
    empty = frame.index[frame["id"] == ""]
    if len(empty):
        raise InputError(f"{path}:{frame.at[empty[0], 'line']}: empty id")
    repeated = frame[frame["id"].duplicated(keep=False)]
    if len(repeated):
        first = repeated.iloc[0]["id"]
        lines = repeated.loc[repeated["id"] == first, "line"].tolist()
        raise InputError(f"{path}: id {first!r} on lines {lines}: ids must be unique")


def _as_frame(candidates: Sequence[str] | str | Path | pd.DataFrame) -> pd.DataFrame:
    if isinstance(candidates, pd.DataFrame):
        frame = candidates.copy()
        if "feature" not in frame.columns:
            raise ValueError("a candidate DataFrame needs a 'feature' column")
        frame["id"] = frame["id"] if "id" in frame.columns else [f"cand{i + 1}" for i in range(len(frame))]
        frame["name"] = frame["name"] if "name" in frame.columns else frame["feature"].str.slice(0, 60)
        return frame[["id", "name", "feature"]].reset_index(drop=True)
    if isinstance(candidates, str | Path):
        return read_candidates(candidates)
    features = [str(c) for c in candidates]
    if not features:
        raise ValueError("no candidates")
    return pd.DataFrame(
        {
            "id": [f"cand{i + 1}" for i in range(len(features))],
            "name": [f[:60] for f in features],
            "feature": features,
        }
    )


def score_candidates(
    bridge,
    query: str,
    head_type: str,
    candidates: Sequence[str] | str | Path | pd.DataFrame,
    as_type: str,
    relation: str | None = None,
    tail_type: str | None = None,
    k: int | None = None,
) -> pd.DataFrame:
    """Rank user candidates for one query, reading every candidate as a node of ``as_type``.

    ``query``: raw feature (sequence / SMILES / text) or the id of a KG node of ``head_type``.
    ``candidates``: a list of raw features, a TSV path (see :func:`read_candidates`) or a DataFrame with a
    ``feature`` column. ``relation`` is inferred when exactly one relation links ``head_type`` to
    ``tail_type`` (default ``as_type``). Invalid candidates raise ``ValueError`` naming the row.
    Returns columns rank, id, name, score (cosine), feature; ``k`` keeps the top ``k``. Scored by the bridge
    alone, even when the run ships a hybrid: the hybrid's baselines vote for KG nodes, and user candidates
    are not KG nodes.
    """
    tail_type = tail_type or as_type
    relation = bridge.resolve_relation(head_type, tail_type, relation)
    frame = _as_frame(candidates)
    qvec = bridge.transform(bridge.resolve_query(query, head_type).feature, head_type, relation, tail_type)[0]
    cvec = bridge.project(frame["feature"].tolist(), as_type, what="candidate")
    scores = cvec @ qvec
    order = np.argsort(-scores, kind="stable")
    if k is not None:
        order = order[:k]
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "id": frame["id"].to_numpy()[order],
            "name": frame["name"].to_numpy()[order],
            "score": np.round(scores[order].astype(np.float64), 6),
            "feature": frame["feature"].to_numpy()[order],
        }
    )
