"""Tiny randomly initialised ESM2 and BERT models in Hugging Face format (to exercise real code paths)."""

from __future__ import annotations

from pathlib import Path

ESM_VOCAB = [
    "<cls>", "<pad>", "<eos>", "<unk>",
    *"LAGVSERTIDPKQNFYMHWCXBUZO.-",
    "<null_1>", "<mask>",
]  # fmt: skip


def make_tiny_esm(
    directory: Path,
    max_position_embeddings: int = 34,
    seed: int = 0,
    shape: dict | None = None,
    dtype: str = "float32",
) -> Path:
    """A random ESM2 in Hugging Face format; ``shape`` overrides the tiny sizes (hidden_size, num_hidden_layers,
    num_attention_heads, intermediate_size: ``benchmarks/gpu_check.py`` builds real ESM2 shapes with it),
    saved in ``dtype``."""
    import torch
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(ESM_VOCAB) + "\n")
    tokenizer = EsmTokenizer(str(vocab))
    tokenizer.save_pretrained(str(directory))
    sizes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
    config = EsmConfig(
        vocab_size=len(ESM_VOCAB),
        **{**sizes, **(shape or {})},
        max_position_embeddings=max_position_embeddings,
        position_embedding_type="rotary",
        pad_token_id=ESM_VOCAB.index("<pad>"),
        mask_token_id=ESM_VOCAB.index("<mask>"),
        token_dropout=True,
        emb_layer_norm_before=False,
    )
    torch.manual_seed(seed)
    EsmForMaskedLM(config).to(getattr(torch, dtype)).eval().save_pretrained(str(directory))
    return directory


BERT_VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz",
    "kinase", "protein", "cell", "the", "of", "##s", "##ing", ".", ",",
]  # fmt: skip


def make_tiny_bert(directory: Path, seed: int = 0) -> Path:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(BERT_VOCAB) + "\n")
    BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True).save_pretrained(str(directory))
    config = BertConfig(
        vocab_size=len(BERT_VOCAB),
        hidden_size=24,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=64,
    )
    torch.manual_seed(seed)
    BertModel(config).eval().save_pretrained(str(directory))
    return directory
