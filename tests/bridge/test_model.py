import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from biobridge.bridge.embedding_table import EmbeddingTable
from biobridge.bridge.loss import info_nce_loss
from biobridge.bridge.model import BridgeModel, BridgeSchema
from biobridge.bridge.run import TrainedRun, save_run
from biobridge.bridge.train import in_batch_mask, lr_lambda
from biobridge.config import ModelConfig, preset
from biobridge.kg.pair_set import PairSet

SCHEMA = BridgeSchema(input_dims={"protein": 12, "drug": 7, "text": 5}, relations=("r", "rev_r"))


def small_model(n_layers=2, residual=True):
    torch.manual_seed(0)
    return BridgeModel(
        SCHEMA, ModelConfig(hidden_dim=16, n_layers=n_layers, n_heads=2, ff_dim=32, residual=residual)
    ).eval()


def test_paper_preset_has_the_papers_parameter_count():
    # 6 layers, H=768, 12 heads, FF 2048, PrimeKG's 10 node types / 18 relations, the paper's input dims.
    dims = {"bp": 768, "protein": 2560, "disease": 768, "mf": 768, "drug": 512, "cc": 768}
    dims |= {f"unused{i}": 1 for i in range(4)}
    model = BridgeModel(BridgeSchema(dims, tuple(f"r{i}" for i in range(18))), preset("paper").model)
    n = sum(p.numel() for name, p in model.named_parameters() if "unused" not in name)
    assert n == 37_827_072


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    model = small_model()
    x = torch.randn(4, 12)
    before = model.transform_named(x, "protein", "r", "drug")
    save_run(tmp_path / "ckpt", model, sources=None, extra={"note": "x"})
    restored = TrainedRun.open(tmp_path / "ckpt").load_model()
    after = restored.transform_named(x, "protein", "r", "drug")
    assert torch.equal(before, after)
    assert restored.schema == SCHEMA
    assert not list(tmp_path.joinpath("ckpt").glob("*.tmp"))


def test_residual_zero_layers_and_unknown_names():
    x = torch.randn(3, 12)
    m0 = small_model(n_layers=0)
    z = m0.project(x, "protein")
    assert m0.transform_named(x, "protein", "r", "drug").shape == z.shape
    with pytest.raises(KeyError, match="no relation"):
        m0.transform_named(x, "protein", "nope", "drug")
    with pytest.raises(KeyError, match="no projection"):
        m0.project(x, "cell")


def test_info_nce_matches_hand_computation():
    o = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([[1.0, 1.0]])
    n = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])
    t = 0.5
    logits = torch.tensor([math.cos(math.pi / 4), 0.0, 1.0]) / t
    expected = -F.log_softmax(logits, dim=0)[0]
    assert torch.isclose(info_nce_loss(o, p, n, t), expected, atol=1e-6)


def test_logq_correction_by_hand():
    """Two rows, in-batch negatives only: logit(i, j) = cos(o_i, p_j) / t - log q_j, the positive included."""
    o = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    mask = torch.tensor([[False, True], [True, False]])
    log_q = torch.log(torch.tensor([0.25, 0.75]))
    t = 0.5
    c = math.cos(math.pi / 4)
    row0 = torch.tensor([1.0 / t - log_q[0], float("-inf"), c / t - log_q[1]])
    row1 = torch.tensor([c / t - log_q[1], 0.0 / t - log_q[0], float("-inf")])
    expected = -(F.log_softmax(row0, 0)[0] + F.log_softmax(row1, 0)[0]) / 2
    got = info_nce_loss(o, p, None, t, in_batch_mask=mask, log_q=log_q)
    assert torch.isclose(got, expected, atol=1e-6)


def test_relation_balanced_sampling_shares():
    from biobridge.bridge.train import relation_sampling_p

    relations = np.array([0] * 90 + [1] * 10)
    assert relation_sampling_p(relations, 1.0) is None  # the KG's own mix
    p = relation_sampling_p(relations, 0.5)
    share = np.array([p[relations == r].sum() for r in (0, 1)])
    np.testing.assert_allclose(share, np.sqrt([90, 10]) / np.sqrt([90, 10]).sum())
    p0 = relation_sampling_p(relations, 0.0)
    np.testing.assert_allclose([p0[relations == r].sum() for r in (0, 1)], [0.5, 0.5])


def test_in_batch_mask_excludes_self_other_types_and_known_positives():
    heads = np.array([0, 1, 2])
    tails = np.array([10, 11, 12])
    codes = np.array([0, 0, 1])
    positives = PairSet(np.array([0, 1, 2, 0]), np.array([10, 11, 12, 11]), num_nodes=20)
    mask = in_batch_mask(heads, tails, codes, positives).numpy()
    # row 0: col 1 is tail 11, a known positive of head 0; col 2 has another tail type.
    assert mask.tolist() == [[False, False, False], [True, False, False], [False, False, False]]


def test_in_batch_negatives_enter_the_loss():
    o = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    with_mask = info_nce_loss(o, p, None, 1.0, torch.tensor([[False, False], [True, False]]))
    without = info_nce_loss(o, p, None, 1.0)
    assert without.item() == pytest.approx(0.0, abs=1e-7)  # a single logit
    assert with_mask.item() > 0.1


def test_lr_schedule_warms_up_then_decays_to_zero():
    f = lr_lambda(100, 0.1)
    assert f(0) == pytest.approx(0.1)
    assert f(9) == pytest.approx(1.0)
    assert f(55) == pytest.approx(0.5)
    assert f(100) == 0.0


def test_embedding_table_projects_mixed_types_in_order():
    model = small_model()
    rng = np.random.default_rng(0)
    mats = {"protein": rng.normal(size=(3, 12)), "drug": rng.normal(size=(2, 7))}
    table = EmbeddingTable(mats, {"protein": np.array([0, 2, 4]), "drug": np.array([1, 3])}, num_nodes=6)
    out = table.project(model, np.array([3, 0, 4]))
    expected = torch.stack(
        [
            model.project(torch.tensor(mats["drug"][1], dtype=torch.float32)[None], "drug")[0],
            model.project(torch.tensor(mats["protein"][0], dtype=torch.float32)[None], "protein")[0],
            model.project(torch.tensor(mats["protein"][2], dtype=torch.float32)[None], "protein")[0],
        ]
    )
    assert torch.allclose(out, expected, atol=1e-6)
    assert table.has_embedding(np.array([5, 1])).tolist() == [False, True]
    with pytest.raises(KeyError):
        table.project(model, np.array([5]))


def test_first_token_shortcut_equals_the_full_encoder():
    for n_layers in (1, 3):
        model = small_model(n_layers=n_layers)
        z = model.project(torch.randn(5, 12), "protein")
        ids = [torch.tensor([0, 1, 2, 0, 1]), torch.tensor([0, 1, 0, 1, 0]), torch.tensor([2, 2, 1, 0, 0])]
        tokens = torch.stack(
            [z, model.node_type_embed(ids[0]), model.relation_embed(ids[1]), model.node_type_embed(ids[2])],
            dim=1,
        )
        expected = model.encoder(tokens)[:, 0] + z
        assert torch.allclose(model.transform(z, *ids), expected, atol=1e-5)
