"""Import of the original BioBridge checkpoint: outputs identical to a re-implementation of its forward."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from biobridge.artifacts import read_json
from biobridge.bridge.import_original import (
    DEFAULT_DATA_CONFIG,
    OriginalCheckpointError,
    import_original_checkpoint,
    original_parameter_count,
)
from biobridge.bridge.run import TrainedRun
from biobridge.errors import InputError

DATA_CONFIG = json.loads(DEFAULT_DATA_CONFIG.read_text())
TYPE_ID = DATA_CONFIG["node_type"]
REL_ID = DATA_CONFIG["relation_type"]
# small input dims for speed; the release uses protein 2560, drug 512, text 768
SMALL_DIMS = {
    "biological_process": 16,
    "gene/protein": 40,
    "disease": 16,
    "molecular_function": 12,
    "drug": 24,
    "cellular_component": 20,
}
REAL_CONFIG = {
    "n_node": 10,
    "n_relation": 18,
    "proj_dim": {"0": 768, "1": 2560, "2": 768, "5": 768, "6": 512, "7": 768},
    "hidden_dim": 768,
    "n_layer": 6,
}


class OriginalBindingModel(nn.Module):
    """The original ``BindingModel``'s modules and forward (``encode``), written from its description."""

    def __init__(self, n_node, n_relation, proj_dim, hidden_dim, n_layer, nhead=12, ff_dim=2048):
        super().__init__()
        self.node_type_embed = nn.Sequential(
            nn.Embedding(n_node, hidden_dim), nn.LayerNorm(hidden_dim, eps=1e-5)
        )
        self.relation_type_embed = nn.Sequential(
            nn.Embedding(n_relation, hidden_dim), nn.LayerNorm(hidden_dim, eps=1e-5)
        )
        self.proj_layer = nn.ModuleDict(
            {str(k): nn.Linear(d, hidden_dim, bias=False) for k, d in proj_dim.items()}
        )
        layer = nn.TransformerEncoderLayer(
            d_model=hidden_dim, nhead=nhead, dim_feedforward=ff_dim, batch_first=True, activation="gelu"
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=n_layer)

    def encode(self, head_emb, head_type_id, rel_type_id, tail_type_id):
        n = head_emb.shape[0]

        def tok(module, i):
            return module(torch.tensor([i])).unsqueeze(1).repeat(n, 1, 1)

        z = self.proj_layer[str(head_type_id)](head_emb).unsqueeze(1)
        tokens = torch.cat(
            [
                z,
                tok(self.node_type_embed, head_type_id),
                tok(self.relation_type_embed, rel_type_id),
                tok(self.node_type_embed, tail_type_id),
            ],
            dim=1,
        )
        out = self.encoder(tokens)[:, 0, :]
        return out + tokens[:, 0, :]


def _write_original(root: Path, hidden=32, n_layer=2, nhead=4, ff_dim=64, seed=0, with_data_config=False):
    torch.manual_seed(seed)
    proj_dim = {str(TYPE_ID[t]): d for t, d in SMALL_DIMS.items()}
    model_config = {
        "n_node": 10,
        "n_relation": 18,
        "proj_dim": proj_dim,
        "hidden_dim": hidden,
        "n_layer": n_layer,
    }
    ref = OriginalBindingModel(10, 18, proj_dim, hidden, n_layer, nhead=nhead, ff_dim=ff_dim)
    with torch.no_grad():  # make every tensor (LayerNorm affine included) random so a wrong mapping shows
        for name, p in ref.named_parameters():
            p.copy_(
                torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.5)
                + (1.0 if name.endswith("norm1.weight") else 0)
            )
    ref.eval()
    root.mkdir(parents=True, exist_ok=True)
    (root / "model_config.json").write_text(json.dumps(model_config))
    if with_data_config:
        (root / "data_config.json").write_text(json.dumps(DATA_CONFIG))
    torch.save(ref.state_dict(), root / "pytorch_model.bin")
    return ref, model_config


def test_parameter_count_of_the_release():
    assert original_parameter_count(REAL_CONFIG) == 37_827_072
    with torch.device("meta"):
        ref = OriginalBindingModel(10, 18, REAL_CONFIG["proj_dim"], 768, 6)
    assert sum(p.numel() for p in ref.parameters()) == 37_827_072


def test_import_gives_identical_outputs(tmp_path):
    ref, model_config = _write_original(tmp_path / "orig")
    assert sum(p.numel() for p in ref.parameters()) == original_parameter_count(model_config, ff_dim=64)
    out = import_original_checkpoint(tmp_path / "orig", tmp_path / "ours", n_heads=4)
    model = TrainedRun.open(out).load_model()
    assert model.schema.input_dims == {
        "biological_process": 16,
        "protein": 40,
        "disease": 16,
        "molecular_function": 12,
        "drug": 24,
        "cellular_component": 20,
    }
    assert (model.config.hidden_dim, model.config.n_layers, model.config.n_heads, model.config.ff_dim) == (
        32,
        2,
        4,
        64,
    )
    assert model.config.activation == "gelu" and model.config.residual

    torch.manual_seed(1)
    tasks = [  # (original head, original relation, original tail, our relation)
        ("gene/protein", "interacts with", "biological_process", "interacts_with"),
        ("biological_process", "interacts with", "gene/protein", "rev_interacts_with"),
        ("gene/protein", "interacts with", "molecular_function", "interacts_with"),
        ("gene/protein", "interacts with", "cellular_component", "interacts_with"),
        ("drug", "target", "gene/protein", "target"),
        ("gene/protein", "target", "drug", "rev_target"),
        ("disease", "associated with", "gene/protein", "associated_with"),
        ("drug", "indication", "disease", "indication"),
        ("drug", "off-label use", "disease", "off_label_use"),
        ("drug", "synergistic interaction", "drug", "synergistic_interaction"),
        ("gene/protein", "ppi", "gene/protein", "ppi"),
        ("disease", "parent-child", "disease", "parent_child"),
    ]
    ours = {"gene/protein": "protein"}
    with torch.no_grad():
        for h, r, t, our_r in tasks:
            e = torch.randn(7, SMALL_DIMS[h])
            expected = ref.encode(e, TYPE_ID[h], REL_ID[r], TYPE_ID[t])
            got = model.transform_named(e, ours.get(h, h), our_r, ours.get(t, t))
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5, msg=f"{h} {r} {t}")
            # candidate-side projection too
            torch.testing.assert_close(model.project(e, ours.get(h, h)), ref.proj_layer[str(TYPE_ID[h])](e))

    config = read_json(out / "config.json")
    ids = config["original_ids"]
    assert ids["dropped_node_types"] == {"effect/phenotype": 3, "anatomy": 4, "pathway": 8, "exposure": 9}
    assert set(ids["dropped_relations"]) == {
        "expression present",
        "phenotype present",
        "side effect",
        "expression absent",
        "linked to",
        "phenotype absent",
    }
    assert ids["relations"]["rev_target"] == ids["relations"]["target"] == REL_ID["target"]
    assert len(model.schema.relations) == 2 * 12
    assert ids["node_types"]["protein"] == 1
    assert config["imported_from"]["data_config"] == "packaged copy"
    assert config["imported_from"]["original_parameters"] == original_parameter_count(model_config, ff_dim=64)


def test_data_config_in_source_dir_and_default_heads(tmp_path):
    ref, _ = _write_original(
        tmp_path / "orig", hidden=24, n_layer=1, nhead=12, ff_dim=32, with_data_config=True
    )
    model = TrainedRun.open(import_original_checkpoint(tmp_path / "orig", tmp_path / "ours")).load_model()
    assert model.config.n_heads == 12
    cfg = read_json(tmp_path / "ours" / "config.json")
    assert cfg["imported_from"]["data_config"].endswith("data_config.json")
    e = torch.randn(3, SMALL_DIMS["drug"])
    with torch.no_grad():
        torch.testing.assert_close(
            model.transform_named(e, "drug", "rev_contraindication", "disease"),
            ref.encode(e, TYPE_ID["drug"], REL_ID["contraindication"], TYPE_ID["disease"]),
            atol=1e-5,
            rtol=1e-5,
        )


def test_layout_errors(tmp_path):
    _write_original(tmp_path / "a")
    state = torch.load(tmp_path / "a" / "pytorch_model.bin", weights_only=True)
    state["encoder.norm.weight"] = torch.ones(32)
    torch.save(state, tmp_path / "a" / "pytorch_model.bin")
    with pytest.raises(OriginalCheckpointError, match="encoder.norm.weight"):
        import_original_checkpoint(tmp_path / "a", tmp_path / "out", n_heads=4)

    _, mc = _write_original(tmp_path / "b")
    (tmp_path / "b" / "model_config.json").write_text(json.dumps({**mc, "n_layer": 3}))
    with pytest.raises(OriginalCheckpointError, match="n_layer=3"):
        import_original_checkpoint(tmp_path / "b", tmp_path / "out", n_heads=4)

    with pytest.raises(FileNotFoundError, match="model_config.json"):
        import_original_checkpoint(tmp_path / "missing", tmp_path / "out")


class _NotATensor:
    pass


def test_refuses_arbitrary_pickles(tmp_path):
    _write_original(tmp_path / "c")
    torch.save({"payload": _NotATensor()}, tmp_path / "c" / "pytorch_model.bin")
    with pytest.raises(InputError, match="refused: not a plain state dict of tensors"):
        import_original_checkpoint(tmp_path / "c", tmp_path / "out", n_heads=4)
    assert not (tmp_path / "out").exists()
