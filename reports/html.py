"""A self-contained HTML report over one or more runs (``report.html``; opens from disk, no network).

Sections: a summary table per run (suite x effort x model x transport) with the model card number beside
ours and the settings that produced it, the effort check, cost (``reports.cost``), the suites' own sections
(Codeforces Elo, Tau-Bench pass^k, lm-eval metrics...: each run's ``suite_metrics.json``, rendered here from
the same data as in report.md), plots (``reports.plots``, embedded as base64 PNG and also written beside the
HTML), and a transcript viewer with filters (inline JS).

Big stores: the viewer embeds at most ``transcripts_per_run`` attempts per run (failures first, up to half of
the cap, the rest in store order) and cuts every text longer than ``max_chars``; the page says how many of
how many are shown. Only the chosen attempts are decoded in full (one extra pass over ``attempts.jsonl``
that reads just each line's key), so a 100,000-attempt store costs about as much as a small one.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from evals.store import ATTEMPTS, GRADES
from evals.suite_metrics import Section, to_html, to_markdown
from reports.cost import PRICE_SOURCE, RunCost, recorded_gpu, run_cost
from reports.summary import RunData, collect_runs, effort_check, suite_section_data, write_tables

DEFAULT_TRANSCRIPTS = 100  # attempts per run embedded in the viewer
DEFAULT_MAX_CHARS = 12_000  # per text field (analysis, final, tool output...)
TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class ReportRun:
    run: RunData
    row: dict[str, Any]
    cost: RunCost
    label: str
    settings: dict[str, Any]


# -- formatting ------------------------------------------------------------------------------------------
def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def fmt(v: Any, digits: int = 1, signed: bool = False) -> str:
    if not _num(v):
        return "–"
    if signed:
        return f"{v:+.{digits}f}"
    return f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,}"


def fmt_money(v: Any) -> str:
    if not _num(v):
        return "–"
    return f"${v:,.2f}" if abs(v) >= 1 else f"${v:.4f}"


def fmt_duration(seconds: Any) -> str:
    if not _num(seconds):
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else (f"{m}m {sec:02d}s" if m else f"{sec}s")


def _peers(settings: dict[str, Any]) -> str:
    peers = settings.get("peers") or {}
    if not peers:
        return "none"
    parts = []
    for role, p in sorted(peers.items()):
        p = p or {}
        model = p.get("model") or "same model"
        where = f" @ {p['base_url']}" if p.get("base_url") else ""
        effort = f", effort {p['effort']}" if p.get("effort") else ""
        parts.append(f"{role}: {model}{where}{effort}")
    return "; ".join(parts)


def run_settings(run: RunData, row: dict[str, Any], cost: RunCost) -> dict[str, Any]:
    m = run.manifest
    settings = m.get("settings") or {}
    sampling = settings.get("sampling") or {}
    sessions = m.get("sessions") or []
    return {
        "transport": row.get("transport") or "–",
        "samples": f"{row.get('n', 0)} problems × {row.get('k') or m.get('repeats') or '?'} repeats"
                   + (f" (of {m['n_samples']} × {m['repeats']} planned)" if m.get("n_samples") and m.get("repeats")
                      and (m["n_samples"], m["repeats"]) != (row.get("n"), row.get("k")) else ""),
        "temperature": sampling.get("temperature", "–"),
        "top_p": sampling.get("top_p", "–"),
        "max_tokens": sampling.get("max_tokens") or "rest of context",
        "simulator": _peers(settings),
        "vllm": row.get("vllm") or "unknown",
        "harmony": (m.get("versions") or {}).get("openai-harmony") or "–",
        "gpu": (recorded_gpu(m) or "not recorded") + f" × {cost.n_gpus}",
        "server": (m.get("server") or {}).get("mode") or "–",
        "system_start_date": settings.get("system_start_date") or "–",
        "sessions": f"{len(sessions)} ({', '.join(str(s.get('status')) for s in sessions)})" if sessions else "none",
        "run_dir": str(run.path),
        "run_id": m.get("run_id") or "–",
    }


# -- transcript viewer ---------------------------------------------------------------------------------
def select_keys(run: RunData, cap: int) -> list[str]:
    """Up to ``cap`` attempt keys: failures first (up to half the cap), the rest in store order."""
    df = run.frame
    if df.empty or cap <= 0:
        return []
    if len(df) <= cap:
        return df.key.tolist()
    ok = (df.score >= 1.0) & (df.status == "ok")
    failed = df.index[~ok].tolist()[: (cap + 1) // 2]
    chosen = set(failed)
    for i in df.index:
        if len(chosen) >= cap:
            break
        chosen.add(i)
    return df.key[sorted(chosen)].tolist()


def _key_of(line: bytes) -> str | None:
    """The record's key, read from the start of the line (the store writes ``{"key": ...`` first)."""
    if line.startswith(b'{"key": "'):
        end = line.find(b'"', 9)
        if end > 0 and b"\\" not in line[9:end]:
            return line[9:end].decode("utf-8")
    try:
        d = json.loads(line)
    except json.JSONDecodeError:
        return None
    return d.get("key") if isinstance(d, dict) else None


def read_selected(path: Path, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Full records of the given keys from a JSONL store file (a later line wins, torn tails skipped)."""
    wanted = set(keys)
    out: dict[str, dict[str, Any]] = {}
    if not wanted or not path.exists():
        return out
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            if _key_of(raw) in wanted:
                try:
                    record = json.loads(raw)
                    out[record["key"]] = record
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue
    return out


def _cut(text: Any, limit: int) -> Any:
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit:,} more characters cut; the full text is in the store]"


def _compact(value: Any, limit: int) -> str:
    if value in (None, {}, [], ""):
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1, default=str)
    return _cut(text, limit)


def _message(msg: dict[str, Any], limit: int) -> dict[str, Any]:
    out = {"role": msg.get("role", "?"), "content": _cut(msg.get("content") or "", limit)}
    if not isinstance(out["content"], str):
        out["content"] = _compact(out["content"], limit)
    if msg.get("reasoning"):
        out["reasoning"] = _cut(msg["reasoning"], limit)
    if msg.get("tool_calls"):
        out["tool_calls"] = [{"id": c.get("id"), "name": c.get("name"), "arguments": _cut(c.get("arguments"), limit)}
                             for c in msg["tool_calls"]]
    for k in ("tool_call_id", "name", "channel"):
        if msg.get(k):
            out[k] = msg[k]
    return out


def viewer_record(run_index: int, attempt: dict[str, Any], grade: dict[str, Any] | None, limit: int) -> dict[str, Any]:
    output = attempt.get("output") or {}
    usage = attempt.get("usage") or {}
    messages = [_message(m, limit) for m in attempt.get("transcript") or []]
    last_reasoning = next((m.get("reasoning") for m in reversed(messages) if m["role"] == "assistant"), None)
    analysis = _cut(output.get("analysis") or "", limit)
    out = {
        "commentary": _cut(output.get("commentary") or "", limit),
        "final": _cut(output.get("final"), limit),
        "analysis": analysis if analysis and analysis != last_reasoning else "",
        "finish_reason": output.get("finish_reason"),
        "parse_error": output.get("parse_error"),
    }
    score = grade.get("score") if grade else None
    return {
        "run": run_index, "key": attempt.get("key"), "sample_id": attempt.get("sample_id"),
        "repeat": attempt.get("repeat"), "status": attempt.get("status"), "error": attempt.get("error"),
        "score": score if _num(score) else None,
        "answer": None if not grade or grade.get("answer") is None else str(grade.get("answer")),
        "reason": (grade or {}).get("reason") or ("not graded" if not grade else ""),
        "details": _compact((grade or {}).get("details"), 4000),
        "info": _compact(attempt.get("info"), 4000),
        "completion_tokens": usage.get("completion_tokens"), "reasoning_tokens": usage.get("reasoning_tokens"),
        "prompt_tokens": usage.get("prompt_tokens"), "latency_s": attempt.get("latency_s"),
        "n_calls": attempt.get("n_calls"), "seed": attempt.get("seed"),
        "messages": messages, "output": out,
    }


def viewer_data(runs: Sequence[ReportRun], cap: int, limit: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    records: list[dict[str, Any]] = []
    shown = total = 0
    for i, rr in enumerate(runs):
        keys = select_keys(rr.run, cap)
        attempts = read_selected(rr.run.path / ATTEMPTS, keys)
        grades = read_selected(rr.run.path / GRADES, keys)
        for k in keys:
            if k in attempts:
                records.append(viewer_record(i, attempts[k], grades.get(k), limit))
        shown += sum(1 for k in keys if k in attempts)
        total += len(rr.run.frame)
    return records, {"shown": shown, "total": total, "cap": cap, "max_chars": limit}


def _script_json(value: Any) -> str:
    """JSON safe inside <script type="application/json"> (no '</script>' or '<!--' can end it early)."""
    return json.dumps(value, ensure_ascii=False, default=str).replace("</", "<\\/").replace("<!--", "<\\!--")


# -- the report ----------------------------------------------------------------------------------------
def report_runs(pairs: Sequence[tuple[RunData, dict[str, Any]]], prices: dict[str, float] | None = None,
                gpu: str | None = None) -> list[ReportRun]:
    from reports.plots import run_labels

    labels = run_labels([row for _, row in pairs])
    out = []
    for (run, row), label in zip(pairs, labels, strict=True):
        cost = run_cost(run.manifest, run.frame, prices, gpu)
        out.append(ReportRun(run, row, cost, label, run_settings(run, row, cost)))
    return out


def sections_html(sections: Sequence[Section]) -> str:
    """The suite sections as HTML (every text escaped), headings one level down: they sit under the page's
    "Suite sections" heading."""
    return to_html(sections, heading_offset=1)


def render_html(runs: Sequence[ReportRun], plots: dict[str, Path], *, transcripts_per_run: int = DEFAULT_TRANSCRIPTS,
                max_chars: int = DEFAULT_MAX_CHARS, title: str = "gpt-oss evaluation report",
                sections: Sequence[Section] = ()) -> str:
    from reports.plots import PLOTS

    rows = [r.row for r in runs]
    records, counts = viewer_data(runs, transcripts_per_run, max_chars)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=fmt, money=fmt_money, duration=fmt_duration)
    images = [{"stem": stem, "caption": PLOTS.get(stem, stem), "file": path.name,
               "data": base64.b64encode(path.read_bytes()).decode()} for stem, path in plots.items()]
    run_meta = [{"label": r.label, "suite": r.row.get("suite"), "effort": r.row.get("effort"),
                 "model": r.row.get("model"), "transport": r.row.get("transport")} for r in runs]
    return env.get_template("report.html.j2").render(
        title=title, generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        runs=runs, checks=effort_check(rows), images=images, counts=counts, price_source=PRICE_SOURCE,
        sections=sections_html(sections),
        viewer_json=_script_json({"runs": run_meta, "attempts": records}))


def write_full_report(roots: Sequence[str | Path], out_dir: str | Path, *, formats: Iterable[str] = ("md", "html"),
                      transcripts_per_run: int = DEFAULT_TRANSCRIPTS, max_chars: int = DEFAULT_MAX_CHARS,
                      prices: dict[str, float] | None = None, gpu: str | None = None) -> dict[str, Any]:
    """Load every run once and write report.md + summary.csv ("md") and report.html + plots ("html")."""
    formats = set(formats)
    unknown = formats - {"md", "html"}
    if unknown:
        raise ValueError(f"unknown report format(s) {', '.join(sorted(unknown))}; choose md and/or html")
    pairs = collect_runs(list(roots))
    if not pairs:
        raise FileNotFoundError(f"no runs (manifest.json) under {', '.join(map(str, roots))}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [row for _, row in pairs]
    result: dict[str, Any] = {"rows": rows, "effort_check": effort_check(rows)}
    sections = suite_section_data([run.path for run, _ in pairs])
    if "md" in formats:
        result.update(write_tables(rows, out, to_markdown(sections)))
    if "html" in formats:
        from reports.plots import write_plots

        runs = report_runs(pairs, prices, gpu)
        plots = write_plots(rows, [r.run.frame for r in runs], out)
        html = out / "report.html"
        html.write_text(render_html(runs, plots, transcripts_per_run=transcripts_per_run, max_chars=max_chars,
                                    sections=sections), encoding="utf-8")
        result.update({"html": html, "plots": plots, "costs": [r.cost for r in runs]})
    return result
