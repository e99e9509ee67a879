"""The summary table of report.md names who played the user in every agent-suite row (issue: the simulator is
a choice the report makes visible), not only the Tau sections and the settings."""

from __future__ import annotations

from reports.summary import write_reports
from tests.reports.fabricate import exact_matrix, make_run


def summary_rows(report: str) -> dict[str, str]:
    table = report.split("## Serving latency", 1)[0]
    return {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}


def test_tau_rows_of_the_summary_table_name_the_simulator_and_judge(tmp_path) -> None:
    root = tmp_path / "runs"
    make_run(root, suite="tau_retail", card_key="tau_retail", effort="high", scores=exact_matrix(10, 4, 27),
             peers={"user_simulator": {"model": "gpt-4o", "api_key_env": "OPENAI_API_KEY", "effort": None}})
    make_run(root, suite="tau2_retail", card_key="tau2_retail", effort="low", scores=exact_matrix(10, 4, 20),
             peers={"user_simulator": {"model": None, "effort": "low"}, "judge": {"model": "gpt-4.1"}}, seed=1)
    make_run(root, suite="aime2025", effort="low", scores=exact_matrix(10, 2, 10), seed=2)
    write_reports([root], tmp_path / "out")
    rows = summary_rows((tmp_path / "out" / "report.md").read_text())
    assert "tau_retail (user simulator: gpt-4o)" in rows
    assert "| high | gpt-oss-120b | chat | 10 | 4 | 67.5 (" in rows["tau_retail (user simulator: gpt-4o)"]
    assert "tau2_retail (user simulator: self (openai/gpt-oss-120b), judge: gpt-4.1)" in rows
    assert "aime2025" in rows  # a suite without peers keeps its plain name
