"""Summary tables (Markdown + CSV) from run stores, with the model card beside our numbers.

Reads only stores, so any old run can be re-reported: ``gptoss-eval-report outputs/``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from evals.metrics import majority_vote, mean_ci, pass_at_k, percentile
from evals.store import RunStore, find_runs
from evals.types import EFFORTS
from reports.card import card_value


@dataclass
class RunData:
    path: Path
    manifest: dict[str, Any]
    frame: pd.DataFrame  # one row per attempt, grade columns joined


def load_run(path: str | Path) -> RunData:
    store = RunStore(path)
    manifest = store.read_manifest() or {}
    grades = store.grades()
    rows = []
    for a in store.attempts().values():
        g = grades.get(a.key)
        rows.append({
            "key": a.key, "sample_id": a.sample_id, "repeat": a.repeat, "status": a.status,
            "completion_tokens": a.usage.get("completion_tokens", 0),
            "reasoning_tokens": a.usage.get("reasoning_tokens", 0),
            "prompt_tokens": a.usage.get("prompt_tokens", 0), "latency_s": a.latency_s,
            "started_at": a.started_at, "ended_at": a.ended_at,
            "score": g.score if g else math.nan, "answer": g.answer if g else None,
        })
    return RunData(Path(path), manifest, pd.DataFrame(rows))


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


def summarize(run: RunData) -> dict[str, Any]:
    m, df = run.manifest, run.frame
    effort = m.get("effort", "")
    row: dict[str, Any] = {
        "suite": m.get("suite"), "effort": effort, "model": m.get("model"), "transport": m.get("transport"),
        "run_dir": str(run.path), "attempts": len(df),
        "temperature": (m.get("settings") or {}).get("sampling", {}).get("temperature"),
        "max_tokens": (m.get("settings") or {}).get("sampling", {}).get("max_tokens"),
        "vllm": (m.get("versions") or {}).get("vllm_server") or (m.get("versions") or {}).get("vllm"),
    }
    if df.empty:
        return row | {"n": 0}
    graded = df[df.score.notna()]
    per_sample = graded.groupby("sample_id").score.mean()
    est = mean_ci(per_sample.tolist())
    counts = graded.groupby("sample_id").score.agg(["count", "sum"])
    k = int(counts["count"].min()) if len(counts) else 0
    pass_k = sum(pass_at_k(int(n), int(c), k) for n, c in counts.itertuples(index=False)) / len(counts) if k else math.nan
    maj = []
    for _, group in graded.groupby("sample_id"):
        vote = majority_vote(list(group.answer))
        maj.append(float(vote is not None and (group[group.answer == vote].score.max() == 1.0)))
    wall = _wall_seconds(m, df)
    card = card_value(m.get("card"), m.get("card_key"), effort)
    row.update({
        "n": est.n, "repeats": k, "pass@1": 100 * est.mean, "ci_lo": 100 * est.lo, "ci_hi": 100 * est.hi,
        "maj@k": 100 * sum(maj) / len(maj) if maj else math.nan, "pass@k": 100 * pass_k, "k": k,
        "card": card, "delta_vs_card": (100 * est.mean - card) if card is not None else None,
        "median_completion_tokens": float(df.completion_tokens.median()),
        "median_reasoning_tokens": float(df.reasoning_tokens.median()),
        "truncation_rate": 100 * float((df.status == "truncated").mean()),
        "malformed_rate": 100 * float((df.status == "malformed").mean()),
        "error_rate": 100 * float((df.status == "error").mean()),
        "latency_p50_s": percentile(df.latency_s.tolist(), 50), "latency_p95_s": percentile(df.latency_s.tolist(), 95),
        "wall_s": wall, "output_tokens_per_s": float(df.completion_tokens.sum()) / wall if wall else math.nan,
    })
    return row


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
        if not r.get("n"):
            lines.append(f"| {r['suite']} | {r['effort']} | {r['model']} | {r['transport']} | 0 | | no attempts yet "
                         "| | | | | | | | |")
            continue
        lines.append(
            f"| {r['suite']} | {r['effort']} | {r['model']} | {r['transport']} | {r['n']} | {r['k']} | "
            f"{r['pass@1']:.1f} ({r['ci_lo']:.1f}-{r['ci_hi']:.1f}) | {_fmt(r['card'])} | {_fmt(r['delta_vs_card'])} | "
            f"{_fmt(r['maj@k'])} | {_fmt(r['pass@k'])} | {r['median_completion_tokens']:.0f} / "
            f"{r['median_reasoning_tokens']:.0f} | {r['truncation_rate']:.1f} | {r['latency_p50_s']:.2f} / "
            f"{r['latency_p95_s']:.2f} | {_fmt(r['output_tokens_per_s'], 0)} |")
    lines += ["", "## Effort check", ""]
    lines += [f"- {c}" for c in checks] or ["- fewer than two efforts per suite: nothing to compare"]
    lines += ["", "## Settings", ""]
    for r in rows:
        lines.append(f"- {r['suite']} / {r['effort']}: temperature {r.get('temperature')}, max_tokens "
                     f"{r.get('max_tokens') or 'rest of context'}, vLLM {r.get('vllm') or 'unknown'}, "
                     f"{r['attempts']} attempts, run dir `{r['run_dir']}`")
    return "\n".join(lines) + "\n"


def collect_rows(roots: list[str | Path]) -> list[dict[str, Any]]:
    runs = sorted({p for root in roots for p in find_runs(root)})
    rows = [summarize(load_run(p)) for p in runs]
    order = {e: i for i, e in enumerate(EFFORTS)}
    rows.sort(key=lambda r: (str(r.get("model")), str(r.get("suite")), order.get(r.get("effort"), 9),
                             str(r.get("transport"))))
    return rows


def write_reports(roots: list[str | Path], out_dir: str | Path) -> dict[str, Any]:
    rows = collect_rows(roots)
    if not rows:
        raise FileNotFoundError(f"no runs (manifest.json) under {', '.join(map(str, roots))}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checks = effort_check(rows)
    md = out / "report.md"
    md.write_text(to_markdown(rows, checks))
    csv = out / "summary.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return {"markdown": md, "csv": csv, "rows": rows, "effort_check": checks}
