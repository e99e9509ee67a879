"""GPU-hours and money per run and per correct answer on constructed runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evals.store import RunStore
from reports.cost import DEFAULT_PRICES, PRICE_SOURCE, gpu_count, normalize_gpu, parse_prices, run_cost
from reports.summary import load_run
from tests.reports.fabricate import T0, make_run


def test_cost_per_run_and_per_correct_answer(tmp_path):
    scores = np.zeros((10, 4))
    scores[:5, :] = 1.0  # 20 of 40 attempts correct
    run = load_run(make_run(tmp_path, scores=scores, wall_s=5400.0, tensor_parallel_size=2))
    c = run_cost(run.manifest, run.frame, prices={"H100": 4.0})
    assert c.n_gpus == 2 and c.gpu == "H100" and not c.gpu_recorded
    assert c.wall_s == pytest.approx(5400.0)
    assert c.gpu_hours == pytest.approx(3.0)  # 1.5 h x 2 GPUs
    assert c.cost == pytest.approx(12.0)
    assert c.correct == 20 and c.attempts == 40
    assert c.gpu_hours_per_correct == pytest.approx(0.15)
    assert c.cost_per_correct == pytest.approx(0.6)
    assert c.cost_per_attempt == pytest.approx(0.3)
    assert c.as_row()["cost_per_correct_usd"] == pytest.approx(0.6)


def test_recorded_gpu_picks_its_price_and_sessions_add_up(tmp_path):
    path = make_run(tmp_path, n_samples=5, repeats=2, accuracy=1.0, gpu="NVIDIA A100-SXM4-80GB", wall_s=None)
    store = RunStore(path)
    manifest = store.read_manifest()
    manifest["sessions"] = [
        {"started_at": T0, "ended_at": T0 + 1800, "status": "failed"},
        {"started_at": T0 + 7200, "ended_at": T0 + 9000, "status": "finished"},  # the gap between is not counted
    ]
    store.write_manifest(manifest)
    run = load_run(path)
    c = run_cost(run.manifest, run.frame)
    assert c.gpu == "A100" and c.gpu_recorded
    assert c.gpu_hours == pytest.approx(1.0)
    assert c.price_per_gpu_hour == DEFAULT_PRICES["A100"]
    assert c.cost == pytest.approx(DEFAULT_PRICES["A100"])
    forced = run_cost(run.manifest, run.frame, gpu="H100")
    assert forced.gpu == "H100" and forced.cost == pytest.approx(DEFAULT_PRICES["H100"])


def test_no_correct_answer_gives_no_per_correct_figure(tmp_path):
    run = load_run(make_run(tmp_path, scores=np.zeros((3, 2))))
    c = run_cost(run.manifest, run.frame)
    assert c.correct == 0 and math.isnan(c.cost_per_correct) and c.cost > 0


def test_price_parsing_and_gpu_names():
    assert parse_prices(None) == DEFAULT_PRICES
    p = parse_prices("H100=2.49, a100=1.5")
    assert p["H100"] == 2.49 and p["A100"] == 1.5
    flat = parse_prices("2.0")
    assert flat["H100"] == flat["A100"] == flat["*"] == 2.0
    assert normalize_gpu("NVIDIA H100 80GB HBM3") == "H100"
    assert gpu_count({"config": {"model": {"tensor_parallel_size": 4, "data_parallel_size": 2}}}) == 8
    assert gpu_count({}) == 1
    assert "configurable" in PRICE_SOURCE and "typical on-demand cloud price" in PRICE_SOURCE


def test_gpu_recorded_by_the_runner_sets_the_price(tmp_path):
    """runners.cli.hardware() writes ``hardware`` into every manifest: nvidia-smi's names, or none on a CPU box."""
    from runners.cli import hardware

    path = make_run(tmp_path, n_samples=4, repeats=2, accuracy=1.0, wall_s=3600.0)
    store = RunStore(path)
    manifest = store.read_manifest()
    manifest["hardware"] = {"cpus": 64, "gpu": "NVIDIA A100-SXM4-80GB", "gpus": ["NVIDIA A100-SXM4-80GB"] * 2}
    store.write_manifest(manifest)
    run = load_run(path)
    c = run_cost(run.manifest, run.frame)
    assert c.gpu == "A100" and c.gpu_recorded and c.cost == pytest.approx(DEFAULT_PRICES["A100"])
    here = hardware()  # this machine, as a run here would record it
    manifest["hardware"] = here
    c = run_cost(manifest, run.frame)
    assert c.gpu_recorded == (here["gpu"] is not None)
    if here["gpu"] is None:
        assert c.gpu == "H100" and c.price_per_gpu_hour == DEFAULT_PRICES["H100"]  # assumed, and said so
