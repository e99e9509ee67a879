"""Summary tables (Markdown + CSV) from run stores, with the model card beside our numbers.

Reads only stores, so any old run can be re-reported: ``gptoss-eval-report outputs/``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from evals.card import card_value
from evals.jsonlines import loads_line
from evals.metrics import majority_vote, mean_ci, pass_at_k, percentile
from evals.store import RunStore, find_runs
from evals.suite_metrics import Section, merge_sections, read_suite_metrics
from evals.suite_metrics import to_markdown as sections_markdown
from evals.types import EFFORTS, Attempt


@dataclass
class RunData:
    path: Path
    manifest: dict[str, Any]
    frame: pd.DataFrame  # one row per attempt, grade columns joined


def load_run(path: str | Path) -> RunData:
    """One run as a frame (one row per stored attempt, its grade joined).

    Each line is parsed as JSON (key order and spacing do not matter) and only the fields needed here are
    kept. The frame is the one ``_load_frame_plain`` (the reader through ``Attempt`` objects) builds:
    tests/reports/test_load_run.py.
    """
    store = RunStore(path)
    manifest = store.read_manifest() or {}
    return RunData(Path(path), manifest, _load_frame_fast(store))


_FRAME_COLUMNS = ("key", "sample_id", "repeat", "status", "completion_tokens", "reasoning_tokens", "prompt_tokens",
                  "latency_s", "started_at", "ended_at", "score", "answer")
# Serving latency per attempt (streamed runs; NaN otherwise) and model calls, read from the line's tail.
_TIMING_COLUMNS = ("n_calls", "ttft_s", "tpot_s", "itl_p50_s", "itl_p95_s", "tool_limit_hit")
_TIMING_KEYS = ("tpot_s", "itl_p50_s", "itl_p95_s")


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def _timing_row(a: Attempt) -> tuple:
    t = (a.info or {}).get("timing") if isinstance(a.info, dict) else None
    t = t if isinstance(t, dict) else {}
    hit = isinstance(a.info, dict) and a.info.get("stop_reason") == "tool_limit"
    return (int(a.n_calls), _num(a.ttft_s), *(_num(t.get(k)) for k in _TIMING_KEYS), float(hit))


def _with_timing(frame: pd.DataFrame, timing: list[tuple]) -> pd.DataFrame:
    if frame.empty:
        return frame
    cols = list(zip(*timing, strict=True))
    for name, col in zip(_TIMING_COLUMNS, cols, strict=True):
        frame[name] = pd.Series(col, dtype="int64" if name == "n_calls" else "float64", index=frame.index)
    return frame


def _load_frame_plain(store: RunStore) -> pd.DataFrame:
    grades = store.grades(strict=False)
    rows = []
    timing = []
    for a in store.attempts(strict=False).values():
        timing.append(_timing_row(a))
        g = grades.get(a.key)
        rows.append({
            "key": a.key, "sample_id": a.sample_id, "repeat": a.repeat, "status": a.status,
            "completion_tokens": a.usage.get("completion_tokens", 0),
            "reasoning_tokens": a.usage.get("reasoning_tokens", 0),
            "prompt_tokens": a.usage.get("prompt_tokens", 0), "latency_s": a.latency_s,
            "started_at": a.started_at, "ended_at": a.ended_at,
            "score": g.score if g else math.nan, "answer": g.answer if g else None,
        })
    return _with_timing(pd.DataFrame(rows), timing)


def _store_lines(path: Path) -> Iterator[bytes]:
    """Complete lines of a store file (a torn last line is skipped, as ``read_jsonl`` does)."""
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return
            yield raw


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """Every JSON object line of a store file with a string key (others skipped, as the store's reader does)."""
    loads = loads_line
    for raw in _store_lines(path):
        try:
            d = loads(raw)
        except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
            continue
        if isinstance(d, dict) and isinstance(d.get("key"), str):
            yield d


def _load_grades_fast(path: Path) -> dict[str, tuple[Any, Any]]:
    return {d["key"]: (d.get("score"), d.get("answer")) for d in _records(path)}


def _load_frame_fast(store: RunStore) -> pd.DataFrame:
    """The frame of ``_load_frame_plain`` from each line parsed as JSON, reading only the fields a summary needs
    (no Attempt objects: a store's lines are mostly transcripts, and building them costs more than parsing)."""
    grades = _load_grades_fast(store.grades_path)
    rows: dict[str, tuple] = {}
    timing: dict[str, tuple] = {}
    for d in _records(store.attempts_path):
        key = d["key"]
        usage = d.get("usage") or {}
        info = d.get("info")
        info = info if isinstance(info, dict) else {}
        t = info.get("timing")
        t = t if isinstance(t, dict) else {}
        rows[key] = (key, d.get("sample_id"), d.get("repeat"), d.get("status"), usage.get("completion_tokens", 0),
                     usage.get("reasoning_tokens", 0), usage.get("prompt_tokens", 0), d.get("latency_s"),
                     d.get("started_at"), d.get("ended_at"))
        timing[key] = (int(d.get("n_calls", 1)), _num(d.get("ttft_s")), *(_num(t.get(k)) for k in _TIMING_KEYS),
                       float(info.get("stop_reason") == "tool_limit"))
    if not rows:
        return pd.DataFrame([])
    cols = list(zip(*rows.values(), strict=True))
    missing = (math.nan, None)
    graded = [grades.get(k, missing) for k in cols[0]]
    data = dict(zip(_FRAME_COLUMNS[:10], cols, strict=True))
    data["score"] = [math.nan if g[0] is None else g[0] for g in graded]
    data["answer"] = [g[1] for g in graded]
    return _with_timing(pd.DataFrame(data, columns=list(_FRAME_COLUMNS)), [timing[k] for k in cols[0]])


def _wall_seconds(manifest: dict[str, Any], frame: pd.DataFrame) -> float:
    """Time the run spent generating, over all sessions (a crashed session ends at its last attempt)."""
    total = 0.0
    for s in manifest.get("sessions", []):
        start = s.get("started_at")
        end = s.get("ended_at")
        if end is None and not frame.empty:
            inside = frame[frame.started_at >= start]
            end = float(inside.ended_at.max()) if not inside.empty else start
        if start and end:
            total += max(0.0, end - start)
    if total == 0.0 and not frame.empty:
        total = float(frame.ended_at.max() - frame.started_at.min())
    return total


def _peer_models(manifest: dict[str, Any]) -> str | None:
    """The peer models of an agent run (user simulator, judge), e.g. ``user simulator: gpt-4o``; a peer that is
    the served model is ``self (<served name>)``. None for a run without peers."""
    settings = manifest.get("settings") or {}
    served = settings.get("served_name") or manifest.get("model")
    peers = sorted((settings.get("peers") or {}).items(), key=lambda kv: kv[0] != "user_simulator")  # it first
    return ", ".join(f"{role.replace('_', ' ')}: {p.get('model') or f'self ({served})'}" for role, p in peers) or None


def summarize(run: RunData) -> dict[str, Any]:
    m, df = run.manifest, run.frame
    effort = m.get("effort", "")
    row: dict[str, Any] = {
        "suite": m.get("suite"), "effort": effort, "model": m.get("model"), "transport": m.get("transport"),
        "run_dir": str(run.path), "attempts": len(df),
        "temperature": (m.get("settings") or {}).get("sampling", {}).get("temperature"),
        "max_tokens": (m.get("settings") or {}).get("sampling", {}).get("max_tokens"),
        "vllm": (m.get("versions") or {}).get("vllm_server") or (m.get("versions") or {}).get("vllm"),
        "simulator": _peer_models(m),
    }
    if df.empty:
        return row | {"n": 0}
    graded = df[df.score.notna()]
    per_sample = graded.groupby("sample_id").score.mean()
    est = mean_ci(per_sample.tolist())
    counts = graded.groupby("sample_id").score.agg(["count", "sum"])
    k = int(counts["count"].min()) if len(counts) else 0
    pass_k = sum(pass_at_k(int(n), int(c), k) for n, c in counts.itertuples(index=False)) / len(counts) if k else math.nan
    maj = _majority_correct(graded)
    wall = _wall_seconds(m, df)
    # An Elo on the card (Codeforces) is not comparable to pass@1: the suite's own section shows it.
    card = None if str(m.get("card_key", "")).endswith("elo") else card_value(m.get("card"), m.get("card_key"), effort)
    row.update({
        "n": est.n, "repeats": k, "pass@1": 100 * est.mean, "ci_lo": 100 * est.lo, "ci_hi": 100 * est.hi,
        "maj@k": 100 * sum(maj) / len(maj) if maj else math.nan, "pass@k": 100 * pass_k, "k": k,
        "card": card, "delta_vs_card": (100 * est.mean - card) if card is not None else None,
        "median_completion_tokens": float(df.completion_tokens.median()),
        "median_reasoning_tokens": float(df.reasoning_tokens.median()),
        "not_scored": int(df.score.isna().sum()),  # grader infrastructure failures, left out of pass@1
        "truncation_rate": 100 * float((df.status == "truncated").mean()),
        "malformed_rate": 100 * float((df.status == "malformed").mean()),
        "error_rate": 100 * float((df.status == "error").mean()),
        "latency_p50_s": percentile(df.latency_s.tolist(), 50), "latency_p95_s": percentile(df.latency_s.tolist(), 95),
        "wall_s": wall, "output_tokens_per_s": float(df.completion_tokens.sum()) / wall if wall else math.nan,
    })
    row.update(_latency(df, wall))
    max_calls = ((m.get("settings") or {}).get("task") or {}).get("max_tool_calls")
    if max_calls:  # with-tools runs: the call limit and the attempts that met it
        row.update({"max_tool_calls": max_calls, "tool_limit_hits": int(df.tool_limit_hit.sum()),
                    "tool_limit_rate": 100 * float(df.tool_limit_hit.mean())})
    return row


def _latency(df: pd.DataFrame, wall: float) -> dict[str, Any]:
    """Serving latency: TTFT p50/p95, TPOT p50, ITL p50/p95 (streamed attempts only), requests/s over the run.

    ITL p50 / p95 are medians over attempts of each attempt's own median / p95 inter-token gap (a typical
    attempt's pace and its tail). Requests/s counts model calls (an agent attempt makes several).
    """
    def pct(col: str, q: float) -> float:
        values = df[col].dropna().tolist() if col in df else []
        return percentile(values, q)

    calls = int(df.n_calls.sum()) if "n_calls" in df else len(df)
    return {"ttft_p50_s": pct("ttft_s", 50), "ttft_p95_s": pct("ttft_s", 95), "tpot_p50_s": pct("tpot_s", 50),
            "itl_p50_s": pct("itl_p50_s", 50), "itl_p95_s": pct("itl_p95_s", 50), "streamed": int(df.tpot_s.notna().sum()) if "tpot_s" in df else 0,
            "requests_per_s": calls / wall if wall else math.nan}


def _majority_correct(graded: pd.DataFrame) -> list[float]:
    """Per sample: 1.0 if the majority answer (``majority_vote``) has a fully correct attempt, else 0.0.

    One pass over plain lists: per-group frame indexing cost ~1 ms a sample, too slow for big stores.
    """
    answers: dict[Any, list[Any]] = defaultdict(list)
    scores: dict[Any, list[float]] = defaultdict(list)
    for sid, answer, score in zip(graded.sample_id.tolist(), list(graded.answer), graded.score.tolist(),
                                  strict=True):
        answers[sid].append(answer)
        scores[sid].append(score)
    out = []
    for sid, group in answers.items():
        vote = majority_vote(group)
        best = max((sc for a, sc in zip(group, scores[sid], strict=True) if a == vote), default=math.nan)
        out.append(float(vote is not None and best == 1.0))
    return out


def effort_check(rows: list[dict[str, Any]]) -> list[str]:
    """Median completion tokens must rise low < medium < high, or effort did not reach the model."""
    groups: dict[tuple, dict[str, float]] = defaultdict(dict)
    for r in rows:
        if r.get("n"):
            groups[(r["model"], r["suite"], r["transport"])][r["effort"]] = r["median_completion_tokens"]
    lines = []
    for (model, suite, transport), by_effort in sorted(groups.items()):
        present = [e for e in EFFORTS if e in by_effort]
        if len(present) < 2:
            continue
        values = [by_effort[e] for e in present]
        shown = ", ".join(f"{e} {by_effort[e]:.0f}" for e in present)
        if all(a < b for a, b in zip(values, values[1:], strict=False)):
            lines.append(f"OK {model} {suite} ({transport}): median completion tokens rise with effort ({shown})")
        else:
            lines.append(f"WARNING {model} {suite} ({transport}): median completion tokens do not rise with effort "
                         f"({shown}); the server may be ignoring reasoning_effort")
    return lines


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def to_markdown(rows: list[dict[str, Any]], checks: list[str]) -> str:
    lines = ["# gpt-oss evaluation report", "",
             "pass@1 is the mean over repeats; the 95% CI is a t interval over problems. `card` is the published "
             "gpt-oss model card number at the same effort (our settings are listed per row).", "",
             "| suite | effort | model | transport | n | k | pass@1 (95% CI) | card | Δ | maj@k | pass@k | median tokens "
             "(completion / reasoning) | truncated % | latency p50 / p95 s | output tok/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        # an agent suite's score depends on who played the user: the row names it
        suite = f"{r['suite']} ({r['simulator']})" if r.get("simulator") else r["suite"]
        if not r.get("n"):
            lines.append(f"| {suite} | {r['effort']} | {r['model']} | {r['transport']} | 0 | | no attempts yet "
                         "| | | | | | | | |")
            continue
        lines.append(
            f"| {suite} | {r['effort']} | {r['model']} | {r['transport']} | {r['n']} | {r['k']} | "
            f"{r['pass@1']:.1f} ({r['ci_lo']:.1f}-{r['ci_hi']:.1f}) | {_fmt(r['card'])} | {_fmt(r['delta_vs_card'])} | "
            f"{_fmt(r['maj@k'])} | {_fmt(r['pass@k'])} | {r['median_completion_tokens']:.0f} / "
            f"{r['median_reasoning_tokens']:.0f} | {r['truncation_rate']:.1f} | {r['latency_p50_s']:.2f} / "
            f"{r['latency_p95_s']:.2f} | {_fmt(r['output_tokens_per_s'], 0)} |")
    timed = [r for r in rows if r.get("n")]
    if timed:
        lines += ["", "## Serving latency", "",
                  "Streamed attempts only for TTFT / TPOT / ITL (`client.stream`, on by default; `-` for attempts "
                  "that were not streamed). TTFT: time to first token; TPOT: time per output token after the first; "
                  "ITL p50 / p95: a typical attempt's median and 95th percentile gap between streamed chunks. "
                  "Requests/s (model calls) and output tokens/s over the run's wall time.",
                  "", "| suite / effort | transport | streamed | TTFT p50 / p95 ms | TPOT p50 ms | ITL p50 / p95 ms | "
                  "requests/s | output tok/s |", "|---|---|---|---|---|---|---|---|"]
        for r in timed:
            ms = {k: (r.get(k) * 1000 if isinstance(r.get(k), float) else r.get(k))
                  for k in ("ttft_p50_s", "ttft_p95_s", "tpot_p50_s", "itl_p50_s", "itl_p95_s")}
            lines.append(f"| {r['suite']} / {r['effort']} | {r['transport']} | {r.get('streamed', 0)} | "
                         f"{_fmt(ms['ttft_p50_s'], 0)} / {_fmt(ms['ttft_p95_s'], 0)} | {_fmt(ms['tpot_p50_s'], 1)} | "
                         f"{_fmt(ms['itl_p50_s'], 1)} / {_fmt(ms['itl_p95_s'], 1)} | {_fmt(r.get('requests_per_s'), 2)} | "
                         f"{_fmt(r.get('output_tokens_per_s'), 0)} |")
    lines += ["", "## Effort check", ""]
    lines += [f"- {c}" for c in checks] or ["- fewer than two efforts per suite: nothing to compare"]
    limited = [r for r in rows if r.get("max_tool_calls") and r.get("n")]
    if limited:
        lines += ["", "## Tool-call limit", ""]
        for r in limited:
            text = (f"{r['suite']} / {r['effort']}: at most {r['max_tool_calls']} tool calls per attempt; "
                    f"{r['tool_limit_hits']} of {r['attempts']} attempts ({r['tool_limit_rate']:.1f}%) met it")
            lines.append(f"- WARNING {text} and were stopped without an answer (scored 0); raise "
                         f"suite.max_tool_calls" if r["tool_limit_hits"] else f"- OK {text}")
    lines += ["", "## Settings", ""]
    for r in rows:
        lines.append(f"- {r['suite']} / {r['effort']}: temperature {r.get('temperature')}, max_tokens "
                     f"{r.get('max_tokens') or 'rest of context'}, vLLM {r.get('vllm') or 'unknown'}, "
                     f"{r['attempts']} attempts, run dir `{r['run_dir']}`")
    return "\n".join(lines) + "\n"


def _row_order(row: dict[str, Any]) -> tuple:
    order = {e: i for i, e in enumerate(EFFORTS)}
    return (str(row.get("model")), str(row.get("suite")), order.get(row.get("effort"), 9), str(row.get("transport")))


def collect_runs(roots: list[str | Path]) -> list[tuple[RunData, dict[str, Any]]]:
    """Every run under ``roots`` loaded once, with its summary row, in report order."""
    runs = sorted({p for root in roots for p in find_runs(root)})
    pairs = [(run, summarize(run)) for run in map(load_run, runs)]
    pairs.sort(key=lambda pair: _row_order(pair[1]))
    return pairs


def collect_rows(roots: list[str | Path]) -> list[dict[str, Any]]:
    return [row for _, row in collect_runs(roots)]


def write_tables(rows: list[dict[str, Any]], out_dir: str | Path, sections: str = "") -> dict[str, Any]:
    """report.md (plus suite-specific ``sections``) and summary.csv from summary rows."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checks = effort_check(rows)
    md = out / "report.md"
    md.write_text(to_markdown(rows, checks) + ("\n" + sections if sections else ""))
    csv = out / "summary.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return {"markdown": md, "csv": csv, "rows": rows, "effort_check": checks}


def suite_section_data(run_dirs: list[str | Path]) -> list[Section]:
    """The suites' own sections (Codeforces Elo, SWE-bench why unresolved, Tau pass^k, lm-eval metrics...) of
    the given runs, merged across runs in the order given: each run's ``suite_metrics.json``, written by its
    task when it finished (a run without the file has no suite section)."""
    return merge_sections(s for s in map(read_suite_metrics, run_dirs) if s)


def suite_sections(roots: list[str | Path]) -> str:
    """The suites' own sections of every run under ``roots``, as Markdown appended to report.md."""
    return sections_markdown(suite_section_data([run.path for run, _ in collect_runs(roots)]))


def write_reports(roots: list[str | Path], out_dir: str | Path) -> dict[str, Any]:
    pairs = collect_runs(roots)
    if not pairs:
        raise FileNotFoundError(f"no runs (manifest.json) under {', '.join(map(str, roots))}")
    sections = sections_markdown(suite_section_data([run.path for run, _ in pairs]))
    return write_tables([row for _, row in pairs], out_dir, sections)
