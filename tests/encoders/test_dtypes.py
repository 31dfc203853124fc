import pytest
import torch

from biobridge.encoders._torch_utils import resolve_dtype


def test_weights_dtypes_per_device():
    assert resolve_dtype(None, "cpu") is torch.float32
    assert resolve_dtype("bf16", "cpu") is torch.bfloat16  # AMX / AVX512-BF16 CPUs run it fast
    assert resolve_dtype("float16", "cuda:0") is torch.float16
    with pytest.raises(ValueError, match="needs a CUDA device"):
        resolve_dtype("fp16", "cpu")
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("int8", "cpu")
