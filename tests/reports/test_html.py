"""The HTML report: self-contained, right numbers, plots beside it, and a working viewer in a real browser.

The browser tests run Debian's chromium headless (``.ci/install_chromium.sh`` installs it) and are skipped,
with the reason, when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from reports.cli import main as report_main
from reports.html import select_keys, write_full_report
from reports.summary import load_run
from runners.suite_report import fill_missing
from tests.reports.fabricate import make_run, score_matrix

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent; install it with "
                                    ".ci/install_chromium.sh (apt-get install chromium) to run the browser tests")
EFFORT_ACC = {"low": (0.45, 900), "medium": (0.7, 3000), "high": (0.85, 9000)}
NASTY = "</script><script>window.HACKED=1</script><b>bold?</b>"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Three AIME efforts and one agentic run, reported into out/ (md + html)."""
    root = tmp_path_factory.mktemp("runs")
    scores = {}
    for i, (effort, (acc, tokens)) in enumerate(EFFORT_ACC.items()):
        scores[effort] = score_matrix(20, 4, acc, seed=10 + i)
        make_run(root, effort=effort, scores=scores[effort], median_tokens=tokens, latency_s=tokens / 150,
                 seed=i, wall_s=1800.0 * (i + 1))
    tau = make_run(root, suite="tau_retail", effort="high", scores=score_matrix(10, 2, 0.5, seed=3),
                   median_tokens=4000, tool_calls=True, tensor_parallel_size=2, gpu="NVIDIA H100 80GB HBM3",
                   peers={"user": {"model": "user-sim-model", "effort": "low"}}, seed=9)
    # a transcript that tries to break out of the embedded JSON
    lines = (tau / "attempts.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["transcript"][1]["content"] = f"Customer says: {NASTY}"
    lines[0] = json.dumps(first)
    (tau / "attempts.jsonl").write_text("\n".join(lines) + "\n")
    out = root / "out"
    paths = write_full_report([root], out, transcripts_per_run=30)
    return {"root": root, "out": out, "paths": paths, "scores": scores}


def test_report_files_are_written_and_self_contained(report):
    out = report["out"]
    for name in ("report.md", "summary.csv", "report.html", "score_vs_effort.png", "score_vs_tokens.png",
                 "tokens.png", "latency.png", "throughput.png"):
        assert (out / name).stat().st_size > 0, name
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    # nothing is fetched from anywhere: no external scripts, styles, images or fonts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html
    assert html.count("data:image/png;base64,") == 5
    assert NASTY not in html  # escaped inside the JSON block
    assert "holds <b>" in html and "at most 30" in html  # the viewer says it is capped


def test_viewer_cap_keeps_failures(tmp_path):
    scores = np.ones((50, 2))
    scores[45:, :] = 0.0  # the 10 failures are at the end of the store
    run = load_run(make_run(tmp_path, scores=scores))
    keys = select_keys(run, 8)
    assert len(keys) == 8
    failed = set(run.frame[run.frame.score < 1].key)
    assert len(set(keys) & failed) == 4  # half the cap goes to failures, even when they come last


def test_cli_html_flag_and_default_unchanged(report, tmp_path, capsys):
    out = tmp_path / "cli"
    assert report_main([str(report["root"]), "--out", str(out)]) == 0
    assert (out / "report.md").exists() and not (out / "report.html").exists()  # as before
    assert "| aime2025 | low |" in capsys.readouterr().out
    assert report_main([str(report["root"]), "--out", str(out), "--html", "--transcripts", "5",
                        "--gpu-price", "H100=2.0"]) == 0
    html = (out / "report.html").read_text()
    assert "at most 5" in html and "$2.00" in html
    assert report_main([str(report["root"]), "--out", str(tmp_path / "h"), "--format", "html"]) == 0
    assert (tmp_path / "h" / "report.html").exists() and not (tmp_path / "h" / "report.md").exists()
    assert report_main([str(report["root"]), "--format", "pdf"]) == 2


def _t_interval(per_sample: np.ndarray) -> tuple[float, float]:
    """The 95% t interval over problems, in points, clipped to 0-100 (what the report promises to show)."""
    from scipy import stats

    n = len(per_sample)
    lo, hi = stats.t.interval(0.95, n - 1, loc=per_sample.mean(), scale=per_sample.std(ddof=1) / np.sqrt(n))
    return 100 * max(lo, 0.0), 100 * min(hi, 1.0)


# -- a real browser -------------------------------------------------------------------------------------------
class Dom(HTMLParser):
    """Just enough of a DOM: elements with attributes, children and text."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.root: dict = {"tag": "#root", "attrs": {}, "children": [], "text": []}
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = {"tag": tag, "attrs": dict(attrs), "children": [], "text": []}
        self.stack[-1]["children"].append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        self.stack[-1]["text"].append(data)
        self.stack[-1]["children"].append(data)

    @staticmethod
    def text(node) -> str:
        return "".join(c if isinstance(c, str) else Dom.text(c) for c in node["children"])

    def find_all(self, pred, node=None):
        node = node or self.root
        for c in node["children"]:
            if isinstance(c, dict):
                if pred(c):
                    yield c
                yield from self.find_all(pred, c)

    def by_id(self, id_):
        return next(self.find_all(lambda n: n["attrs"].get("id") == id_), None)


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "HOME": str(profile)})


def dump_dom(html: Path, tmp_path: Path, fragment: str = "") -> Dom:
    proc = chromium("--virtual-time-budget=5000", "--dump-dom", html.as_uri() + fragment,
                    profile=tmp_path / f"profile-{len(fragment)}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = Dom()
    dom.feed(proc.stdout)
    return dom


@needs_chromium
def test_summary_table_in_the_browser_has_the_right_numbers(report, tmp_path):
    dom = dump_dom(report["out"] / "report.html", tmp_path)
    table = dom.by_id("summary-table")
    rows = list(dom.find_all(lambda n: n["tag"] == "tr" and "data-run" in n["attrs"], table))
    assert len(rows) == 4
    cards = {"low": 50.4, "medium": 80.0, "high": 92.5}
    seen = set()
    for tr in rows:
        cells = {td["attrs"]["data-col"]: Dom.text(td).strip() for td in dom.find_all(
            lambda n: n["tag"] == "td" and "data-col" in n["attrs"], tr)}
        if cells["suite"] != "aime2025":
            assert cells["suite"] == "tau_retail" and cells["n"] == "10" and cells["k"] == "2"
            continue
        effort = cells["effort"]
        seen.add(effort)
        expected = 100 * report["scores"][effort].mean()
        assert cells["n"] == "20" and cells["k"] == "4"
        assert cells["pass@1"] == f"{expected:.1f}"
        lo, hi = _t_interval(report["scores"][effort].mean(axis=1))
        assert cells["ci"] == f"{lo:.1f}–{hi:.1f}"
        assert cells["card"] == f"{cards[effort]:.1f}"
        assert cells["delta"] == f"{expected - cards[effort]:+.1f}"
    assert seen == set(cards)
    settings = Dom.text(dom.by_id("settings-table"))
    assert "user: user-sim-model, effort low" in settings and "NVIDIA H100 80GB HBM3 × 2" in settings
    assert "0.32.0" in settings and "rest of context" in settings
    assert "OK gpt-oss-120b aime2025 (chat): median completion tokens rise with effort" in Dom.text(dom.root)


@needs_chromium
def test_viewer_shows_a_transcript_and_filters(report, tmp_path):
    html = report["out"] / "report.html"
    dom = dump_dom(html, tmp_path)
    detail = Dom.text(dom.by_id("attempt-detail"))
    assert "Problem p0: what is the answer to question 0?" in detail  # the first attempt is open
    assert "analysis" in detail and "final" in detail and "score" in detail
    items = list(dom.find_all(lambda n: "item" in n["attrs"].get("class", "").split()))
    assert len(items) == 30 * 3 + 20  # capped at 30 per run; the tau run has only 20 attempts

    # filters from the address: the agentic run, failures only
    dom = dump_dom(html, tmp_path, "#suite=tau_retail&outcome=incorrect")
    items = list(dom.find_all(lambda n: "item" in n["attrs"].get("class", "").split()))
    assert items and all("✗" in Dom.text(i) for i in items)
    detail = Dom.text(dom.by_id("attempt-detail"))
    assert "tau_retail / high" in detail
    assert "tool call · python" in detail and "tool result" in detail  # commentary channel and tool output
    assert re.search(r"\d+ != reference \d+|no final answer", detail)  # the grade's reason
    assert "of 110 attempts" in Dom.text(dom.by_id("f-count"))

    # the hostile transcript is shown as text, never run
    dom = dump_dom(html, tmp_path, "#suite=tau_retail&sample=p0")
    assert NASTY in Dom.text(dom.by_id("attempt-detail"))
    assert not list(dom.find_all(lambda n: n["tag"] == "b" and Dom.text(n) == "bold?"))


def _items(dom: Dom) -> list[dict]:
    return list(dom.find_all(lambda n: "item" in n["attrs"].get("class", "").split()))


@needs_chromium
def test_viewer_effort_filter(report, tmp_path):
    html = report["out"] / "report.html"
    for effort, expected in (("low", 30), ("high", 30 + 20)):  # aime capped at 30; the tau run (high) has 20
        dom = dump_dom(html, tmp_path, f"#effort={effort}")
        items = _items(dom)
        assert len(items) == expected, effort
        shown = {Dom.text(n).strip() for i in items for n in dom.find_all(
            lambda n: n["attrs"].get("class") == "note", i)}  # each item names its run's effort
        assert shown == {effort}
        assert f"{expected} of 110 attempts" in Dom.text(dom.by_id("f-count"))
        assert f"/ {effort}" in Dom.text(dom.by_id("attempt-detail"))  # the open attempt is one of them
    # combined with the other filters: high effort, not correct, one suite
    dom = dump_dom(html, tmp_path, "#suite=aime2025&effort=high&outcome=incorrect")
    items = _items(dom)
    wrong_high = int((report["scores"]["high"] < 1).sum())
    assert 0 < len(items) <= min(30, wrong_high)
    assert all("high" in Dom.text(i) and "✗" in Dom.text(i) for i in items)


@needs_chromium
def test_screenshot_is_written(report, tmp_path):
    import matplotlib.image as mpimg

    shot = report["out"] / "report_screenshot.png"
    proc = chromium("--window-size=1400,5200", "--hide-scrollbars", "--virtual-time-budget=5000",
                    f"--screenshot={shot}", (report["out"] / "report.html").as_uri(), profile=tmp_path / "shot")
    assert proc.returncode == 0, proc.stderr[-2000:]
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (5200, 1400)
    assert pixels[:200].std() > 0.05  # the header and table are drawn, not a blank page
    keep = os.environ.get("GPTOSS_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


# -- suite sections: a native suite, Codeforces, Tau-Bench and an lm-eval run in one report ----------------------
LM_EVAL_ROWS = [{"task": "gpqa_diamond_cot_zeroshot", "metric": "exact_match", "filter": "flexible-extract",
                 "value": 0.7828, "stderr": 0.0293, "n": 198, "higher_is_better": True},
                {"task": "gpqa_diamond_cot_zeroshot", "metric": "exact_match", "filter": "strict-match",
                 "value": 0.1212, "stderr": 0.0232, "n": 198, "higher_is_better": True}]


@pytest.fixture(scope="module")
def combined(tmp_path_factory):
    root = tmp_path_factory.mktemp("combined")
    make_run(root, suite="aime2025", effort="medium", scores=score_matrix(20, 4, 0.7, seed=1), seed=1)
    ratings = [800 + 100 * (j % 20) for j in range(40)]
    make_run(root, suite="codeforces", card_key="codeforces_elo", effort="medium",
             scores=score_matrix(40, 2, 0.6, seed=2), seed=2, grade_details=lambda j, r: {"rating": ratings[j]})
    tau_scores = score_matrix(10, 4, 0.6, seed=3)
    make_run(root, suite="tau_retail", effort="high", scores=tau_scores, seed=3,
             peers={"user_simulator": {"model": "user-sim-model"}})
    gpqa_scores = score_matrix(198, 2, 0.78, seed=4)
    gpqa = make_run(root, suite="gpqa_diamond", card_key="gpqa_diamond", effort="high", scores=gpqa_scores, seed=4,
                    sample_prefix="gpqa_diamond_cot_zeroshot/")
    (gpqa / "lm_eval_summary.json").write_text(json.dumps(LM_EVAL_ROWS))  # what LmEvalTask.finalize writes
    fill_missing([root])  # what the report command does for stores without suite_metrics.json
    out = root / "out"
    write_full_report([root], out, transcripts_per_run=5)
    return {"out": out, "gpqa_scores": gpqa_scores, "tau_scores": tau_scores}


def _row_cells(dom: Dom, table_id: str) -> dict[str, dict[str, str]]:
    rows = {}
    for tr in dom.find_all(lambda n: n["tag"] == "tr" and "data-run" in n["attrs"], dom.by_id(table_id)):
        cells = {td["attrs"]["data-col"]: Dom.text(td).strip() for td in dom.find_all(
            lambda n: n["tag"] == "td" and "data-col" in n["attrs"], tr)}
        rows[cells["suite"]] = cells
    return rows


def test_gpqa_lm_eval_run_shows_the_card_in_report_md(combined):
    md = (combined["out"] / "report.md").read_text()
    pass1 = 100 * combined["gpqa_scores"].mean()
    [row] = [line for line in md.splitlines() if line.startswith("| gpqa_diamond | high |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[6].startswith(f"{pass1:.1f} (") and cells[7] == "80.1" and cells[8] == f"{pass1 - 80.1:.1f}"
    assert "| gpqa_diamond | gpt-oss-120b | high | gpqa_diamond_cot_zeroshot | exact_match | flexible-extract | 78.3 " \
           "| 2.9 | 198 |" in md


@needs_chromium
def test_html_report_shows_every_suite_section(combined, tmp_path):
    html = combined["out"] / "report.html"
    dom = dump_dom(html, tmp_path)
    rows = _row_cells(dom, "summary-table")
    assert set(rows) == {"aime2025", "codeforces", "tau_retail", "gpqa_diamond"}
    pass1 = 100 * combined["gpqa_scores"].mean()
    assert rows["gpqa_diamond"]["pass@1"] == f"{pass1:.1f}" and rows["gpqa_diamond"]["card"] == "80.1"
    assert rows["gpqa_diamond"]["delta"] == f"{pass1 - 80.1:+.1f}"
    assert rows["aime2025"]["card"] == "80.0"

    sections = dom.by_id("suite-sections")
    titles = [Dom.text(h).strip() for h in dom.find_all(lambda n: n["tag"] == "h3", sections)]
    assert {"Codeforces", "Tau-Bench Retail", "lm-evaluation-harness metrics"} <= set(titles)
    md = (combined["out"] / "report.md").read_text()
    assert all(f"## {t}" in md for t in titles)  # the same sections as report.md

    def table_after(title: str) -> list[list[str]]:
        tables = list(dom.find_all(lambda n: n["tag"] == "table", sections))
        texts = [Dom.text(t) for t in tables]
        heads = {"Codeforces": "Elo (95% CI)", "Tau-Bench Retail": "pass^1", "lm-evaluation-harness metrics":
                 "lm-eval task"}
        table = tables[next(i for i, t in enumerate(texts) if heads[title] in t)]
        return [[Dom.text(td).strip() for td in dom.find_all(lambda n: n["tag"] == "td", tr)]
                for tr in dom.find_all(lambda n: n["tag"] == "tr", table) if list(
                    dom.find_all(lambda n: n["tag"] == "td", tr))]

    [cf] = table_after("Codeforces")
    # model, effort, tools, lang, problems, k, pass@1, Elo, SE, card Elo, ...
    assert cf[:3] == ["gpt-oss-120b", "medium", "no tools"] and cf[9] == "2205"  # the card's Elo at medium, beside ours
    assert cf[7][0].isdigit()  # an Elo estimate with its interval
    [tau] = table_after("Tau-Bench Retail")
    assert tau[:4] == ["gpt-oss-120b", "high", "10", "4"] and "user-sim-model" in " ".join(tau)
    assert tau[5] == f"{100 * combined['tau_scores'].mean():.1f}" and tau[9] == "67.8"  # pass^1 beside the card
    lm = table_after("lm-evaluation-harness metrics")
    assert ["gpqa_diamond", "gpt-oss-120b", "high", "gpqa_diamond_cot_zeroshot", "exact_match", "flexible-extract",
            "78.3", "2.9", "198"] in lm
    assert any(r[5] == "strict-match" and r[6] == "12.1" for r in lm)
    nav = Dom.text(next(dom.find_all(lambda n: n["tag"] == "nav")))
    assert "Suite sections" in nav


def test_suite_sections_are_escaped_and_nested():
    from evals.suite_metrics import section, table
    from reports.html import sections_html

    html = sections_html([section("Section", tables=[table(["task", "value"], [[NASTY, 1.0]])], notes=[NASTY])])
    assert "<h3>Section</h3>" in html and "<table>" in html and "<td>1.0</td>" in html
    assert NASTY not in html and "&lt;/script&gt;" in html
    assert sections_html([]) == ""
