import hashlib

import pandas as pd

from biobridge import artifacts
from biobridge.artifacts import hash_strings


def test_hash_strings_is_sha256_of_nul_terminated_parts_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(artifacts, "_HASH_CHUNK", 3)
    parts = [f"part-{i}-é" for i in range(10)] + [""]
    expected = hashlib.sha256(b"".join(p.encode("utf-8") + b"\x00" for p in parts)).hexdigest()
    assert hash_strings(parts) == expected
    assert hash_strings(iter(parts)) == expected
    assert hash_strings(pd.Series(parts, dtype="string")) == expected
    assert hash_strings(["ab", "c"]) != hash_strings(["a", "bc"])  # boundaries count
