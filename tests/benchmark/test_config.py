"""Benchmark configs as data: the packaged presets, a user's TOML on top of a preset, variants, checks."""

import pytest

from biobridge.benchmark import BenchmarkConfig, BridgeVariant, load_benchmark_config
from biobridge.benchmark.methods import method_registry


def test_presets_load_with_their_methods_in_report_order():
    full = load_benchmark_config("full")
    assert full.name == "full" and full.seeds == (42, 43, 44) and full.protocols[0] == "paper"
    assert full.method_names[:4] == [
        "biobridge-cpu",
        "biobridge-paper",
        "biobridge-hybrid",
        "biobridge-cpu+knn",
    ]
    assert full.method_names[-5:] == [
        "popularity",
        "feature-knn",
        "graph-context",
        "homology-knn",
        "tanimoto-knn",
    ]
    quick = load_benchmark_config("quick")
    assert (
        quick.max_nodes_per_type == 120 and quick.kge_models == ("TransE", "DistMult") and quick.knn_k == 10
    )
    assert quick.bridges[0].overrides == {"train.epochs": 10, "retriever.k": 10}
    kinds = {name: m.kind for name, m in method_registry(quick).items()}
    assert (
        kinds["biobridge-hybrid"] == "hybrid"
        and kinds["transe"] == "kge"
        and kinds["popularity"] == "baseline"
    )
    # a hybrid records its bridge's settings and its retriever config (they identify its cached results)
    hybrid = method_registry(quick)["biobridge-hybrid"].settings
    assert hybrid["bridge"]["name"] == "biobridge-cpu" and hybrid["retriever"]["k"] == 10
    assert "homology-knn" in hybrid["retriever"]["parts"]


def test_a_user_file_replaces_keys_of_a_preset(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('preset = "quick"\nseeds = [1, 2]\nkge_models = []\n[kge]\nepochs = 3\n')
    config = load_benchmark_config(path)
    assert (
        config.name == "mine"
        and config.seeds == (1, 2)
        and config.kge_models == ()
        and config.kge == {"epochs": 3}
    )
    assert config.max_nodes_per_type == 120  # kept from the preset
    path.write_text('preset = "quick"\nseed = 3\n')
    with pytest.raises(ValueError, match="unknown benchmark config keys"):
        load_benchmark_config(path)
    with pytest.raises(FileNotFoundError, match="presets are"):
        load_benchmark_config("nope")


def test_variants_parse_and_replace_the_bridges():
    v = BridgeVariant.parse("small=cpu,train.epochs=1,model.hidden_dim=16,retriever.validation_fraction=0.2")
    assert v.overrides == {"train.epochs": 1, "model.hidden_dim": 16, "retriever.validation_fraction": 0.2}
    assert v.run_config().retriever.validation_fraction == 0.2 and v.run_config().retriever.kind == "hybrid"
    with pytest.raises(ValueError, match="NAME=PRESET"):
        BridgeVariant.parse("small")
    config = load_benchmark_config("quick").with_bridges((v,))
    assert config.fusions == ()  # it was built on the replaced biobridge-cpu
    assert [(h.name, h.bridge) for h in config.hybrids] == [
        ("small-hybrid", "small")
    ]  # the run's own retriever
    assert config.method_names[0] == "small"


def test_inconsistent_configs_are_refused():
    with pytest.raises(ValueError, match="unknown protocols"):
        BenchmarkConfig(protocols=("leaky",))
    quick = load_benchmark_config("quick")
    with pytest.raises(ValueError, match="retriever is a hybrid"):
        BenchmarkConfig(
            bridges=(BridgeVariant("b", overrides={"retriever.kind": "bridge"}),), hybrids=quick.hybrids
        )
