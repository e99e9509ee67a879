"""The report's serving-latency table per suite x effort, from stores whose timings are known."""

from __future__ import annotations

import json
import math

import pandas as pd

from reports.summary import write_reports
from tests.reports.fabricate import make_run


def _set_timings(run_dir, timings: list[dict | None]) -> None:
    """Give attempt i the streamed timings ``timings[i]`` (None: an unstreamed attempt), as the engine writes them."""
    path = run_dir / "attempts.jsonl"
    attempts = [json.loads(line) for line in path.read_text().splitlines()]
    for a, t in zip(attempts, timings, strict=True):
        a["ttft_s"] = t["ttft_s"] if t else None
        a["info"] = {"timing": t} if t else {}
    path.write_text("".join(json.dumps(a) + "\n" for a in attempts))


def _latency_rows(report: str) -> dict[str, list[str]]:
    table = report.split("## Serving latency")[1].split("## ")[0]
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in table.splitlines() if line.startswith("| aime")]
    return {r[0]: r for r in rows}


def test_requests_per_second_and_latency_percentiles_per_suite_and_effort(tmp_path):
    # low: 20 streamed single-call attempts in a 8 s session; high: 20 unstreamed two-call attempts in 10 s
    low = make_run(tmp_path, effort="low", n_samples=10, repeats=2, wall_s=8.0, latency_s=0.5)
    high = make_run(tmp_path, effort="high", n_samples=10, repeats=2, wall_s=10.0, latency_s=0.5, tool_calls=True)
    _set_timings(low, [{"ttft_s": 0.1 * (i + 1), "tpot_s": 0.02, "itl_p50_s": 0.010 + 0.001 * i,
                        "itl_p95_s": 0.050 + 0.001 * i, "streamed_calls": 1} for i in range(20)])
    _set_timings(high, [None] * 20)

    out = write_reports([tmp_path], tmp_path)
    rows = _latency_rows(out["markdown"].read_text())
    # columns: suite / effort, transport, streamed, TTFT p50 / p95, TPOT p50, ITL p50 / p95, requests/s, tok/s
    assert rows["aime2025 / low"][2:7] == ["20", "1050 / 1905", "20.0", "19.5 / 59.5", "2.50"]
    assert rows["aime2025 / high"][2:7] == ["0", "- / -", "-", "- / -", "4.00"]  # 40 model calls in 10 s

    csv = pd.read_csv(out["csv"]).set_index("effort")
    assert csv.loc["low", "requests_per_s"] == 2.5 and csv.loc["high", "requests_per_s"] == 4.0
    assert math.isclose(csv.loc["low", "itl_p50_s"], 0.0195) and math.isclose(csv.loc["low", "itl_p95_s"], 0.0595)
    assert math.isnan(csv.loc["high", "itl_p50_s"])
    tokens = {e: sum(json.loads(line)["usage"]["completion_tokens"]
                     for line in (d / "attempts.jsonl").read_text().splitlines()) for e, d in [("low", low), ("high", high)]}
    assert math.isclose(csv.loc["low", "output_tokens_per_s"], tokens["low"] / 8.0)
    assert rows["aime2025 / low"][7] == f"{tokens['low'] / 8.0:.0f}"
