"""A new one-turn suite with its own report section needs only its task module and its suite config: the toy
multiple-choice suite of tests/toy_suite/ (nothing of it in evals/ tasks/ runners/ reports/ conf/) runs through
the real console script against the scripted server, and its table is in report.md and report.html."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser

from tests.conftest import ROOT, run_cli

TOY = ROOT / "tests" / "toy_suite"
SCRIPT = {  # q1 right, q2 wrong (arithmetic 50 %), q3 and q4 right (geography 100 %)
    "rules": [{"match": "2 + 2", "reply": {"analysis": "four", "final": "B"}},
              {"match": "3 x 3", "reply": {"analysis": "six?", "final": "A"}},
              {"match": "continent", "reply": {"analysis": "Africa", "final": "The answer is (A)"}},
              {"match": "river", "reply": {"analysis": "Danube", "final": "D"}}],
    "default": {"analysis": "?", "final": "none"},
}
ENV = {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


class _Tables(HTMLParser):
    """Headings and table rows (cell texts) of an HTML page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, list[str] | str]] = []
        self._cells: list[str] | None = None
        self._text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._cells = []
        elif tag in ("td", "th", "h2", "h3", "h4"):
            self._text = []

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cells is not None and self._text is not None:
            self._cells.append("".join(self._text).strip())
            self._text = None
        elif tag in ("h2", "h3", "h4") and self._text is not None:
            self.items.append((tag, "".join(self._text).strip()))
            self._text = None
        elif tag == "tr" and self._cells is not None:
            self.items.append(("tr", self._cells))
            self._cells = None


def test_a_suite_from_tests_reports_its_own_table(scripted_server, tmp_path):
    server = scripted_server(SCRIPT)
    for effort in ("low", "high"):
        proc = run_cli("server=attach", f"server.base_url={server.base_url}", f"hydra.searchpath=[file://{TOY}/conf]",
                       "suite=toy_choice", f"effort={effort}", f"paths.root={tmp_path}", "progress=false",
                       env=ENV)
        assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "default" / "gpt-oss-120b" / "toy_choice" / "high"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["task_class"] == "tests.toy_suite.toy_choice.task.ToyChoiceTask"
    stored = json.loads((run / "suite_metrics.json").read_text())
    assert stored["schema"] == 1 and stored["sections"][0]["tables"][0]["rows"] == [
        ["high", "arithmetic", 2, "50.0"], ["high", "geography", 2, "100.0"]]
    assert "| toy_choice (" not in (run / "report.md").read_text()  # no peers: the suite's plain name

    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "runners.suite_report", str(tmp_path), "--out", str(out), "--html"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **ENV})
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (out / "report.md").read_text()
    section = md[md.index("## Toy multiple choice"):]
    # one table over both runs (the report merges the rows of the same table), in report order
    assert ("| effort | kind | answers | accuracy % |\n|---|---|---|---|\n| low | arithmetic | 2 | 50.0 |\n"
            "| low | geography | 2 | 100.0 |\n| high | arithmetic | 2 | 50.0 |\n| high | geography | 2 | 100.0 |"
            ) in section
    page = _Tables()
    page.feed((out / "report.html").read_text())
    at = page.items.index(("h3", "Toy multiple choice"))
    rows = [cells for tag, cells in page.items[at + 1:at + 6] if tag == "tr"]
    assert rows == [["effort", "kind", "answers", "accuracy %"], ["low", "arithmetic", "2", "50.0"],
                    ["low", "geography", "2", "100.0"], ["high", "arithmetic", "2", "50.0"],
                    ["high", "geography", "2", "100.0"]]


def test_the_toy_suite_lives_only_in_tests():
    product = [ROOT / d for d in ("evals", "tasks", "runners", "reports", "conf")]
    mentions = [p for d in product for p in d.rglob("*") if p.is_file() and p.suffix in (".py", ".yaml")
                and "toy_choice" in p.read_text(errors="ignore")]
    assert mentions == []
