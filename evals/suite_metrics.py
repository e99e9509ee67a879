"""A suite's own results as data in the run directory (``suite_metrics.json``), and their generic rendering.

A task computes what only it knows (Codeforces Elo, SWE-bench resolved %, Tau pass^k, lm-eval's metrics...)
in ``Task.suite_metrics(run_dir)`` when a run or a regrade finishes; the runner writes the result here. Reports
read this file and render any suite the same way, in Markdown and in HTML, from the same structure.

Format (``schema`` 1)::

    {"schema": 1, "suite": "codeforces",
     "sections": [{"title": "Codeforces", "level": 2,
                   "intro": ["paragraph", ...],
                   "tables": [{"title": "caption or null", "columns": ["model", ...], "rows": [["gpt-oss", ...]]}],
                   "notes": ["bullet", ...]}]}

Every text is plain text (no markup); a cell is a string, a number or null (shown as ``-``). A section's
``level`` is its heading depth in Markdown (2 = ``##``). A report over several runs merges sections of the same
(level, title): their tables of the same (title, columns) get the rows of every run, in report order, and intro
paragraphs and notes are kept once each. So a cross-run table (one row per run) is a table every run writes with
its own row.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SUITE_METRICS = "suite_metrics.json"
SCHEMA = 1

Section = dict[str, Any]


def section(title: str, *, intro: Sequence[str] = (), tables: Sequence[dict[str, Any]] = (),
            notes: Sequence[str] = (), level: int = 2) -> Section:
    """One section in the stored form (see the module docstring)."""
    return {"title": title, "level": level, "intro": list(intro), "tables": list(tables), "notes": list(notes)}


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> dict[str, Any]:
    rows = [list(r) for r in rows]
    for r in rows:
        if len(r) != len(columns):
            raise ValueError(f"table {title or columns[0]!r}: a row has {len(r)} cells for {len(columns)} columns")
    return {"title": title, "columns": list(columns), "rows": rows}


class SuiteMetricsError(ValueError):
    """A suite_metrics.json that cannot be read (bad JSON, unknown schema, wrong shape)."""


def write_suite_metrics(run_dir: str | Path, suite: str, sections: Sequence[Section]) -> Path:
    """Write (atomically: a crash leaves the old file or the new one) the run's suite sections."""
    for s in sections:
        _check_section(s)
    path = Path(run_dir) / SUITE_METRICS
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"schema": SCHEMA, "suite": suite, "sections": list(sections)}, indent=1,
                              ensure_ascii=False, allow_nan=False, default=_jsonable), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    raise TypeError(f"{type(v).__name__} is not a table cell")


def read_suite_metrics(run_dir: str | Path) -> list[Section] | None:
    """The run's sections; None when the run has no suite_metrics.json (a store written before the file was)."""
    path = Path(run_dir) / SUITE_METRICS
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SuiteMetricsError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("sections"), list):
        raise SuiteMetricsError(f"{path}: expected schema {SCHEMA} with a list of sections")
    for s in doc["sections"]:
        _check_section(s, path)
    return doc["sections"]


def _check_section(s: Any, where: Any = "suite metrics") -> None:
    ok = (isinstance(s, dict) and isinstance(s.get("title"), str)
          and all(isinstance(s.get(k, []), list) for k in ("intro", "tables", "notes"))
          and all(isinstance(t, dict) and isinstance(t.get("columns"), list) and isinstance(t.get("rows"), list)
                  for t in s.get("tables", [])))
    if not ok:
        raise SuiteMetricsError(f"{where}: a section needs a title and lists of intro, tables (columns, rows), notes")


def merge_sections(per_run: Iterable[Sequence[Section]]) -> list[Section]:
    """Sections of several runs as one list: same (level, title) merged, same table's rows concatenated."""
    merged: dict[tuple[int, str], Section] = {}
    for sections in per_run:
        for s in sections:
            key = (int(s.get("level", 2)), s["title"])
            into = merged.get(key)
            if into is None:
                merged[key] = into = section(s["title"], level=key[0])
            for field in ("intro", "notes"):
                into[field] += [x for x in s.get(field, []) if x not in into[field]]
            for t in s.get("tables", []):
                same = next((u for u in into["tables"] if u["title"] == t.get("title")
                             and u["columns"] == t["columns"]), None)
                if same is None:
                    into["tables"].append({"title": t.get("title"), "columns": list(t["columns"]),
                                           "rows": [list(r) for r in t["rows"]]})
                else:
                    same["rows"] += [list(r) for r in t["rows"]]
    return list(merged.values())


def cell_text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def _md_cell(v: Any) -> str:
    return cell_text(v).replace("|", "\\|").replace("\n", " ")


def to_markdown(sections: Sequence[Section]) -> str:
    """Markdown of the sections ("" for none)."""
    out: list[str] = []
    for s in sections:
        out += ["#" * int(s.get("level", 2)) + " " + s["title"], ""]
        for p in s.get("intro", []):
            out += [p, ""]
        for t in s.get("tables", []):
            if t.get("title"):
                out += [t["title"], ""]
            out.append("| " + " | ".join(_md_cell(c) for c in t["columns"]) + " |")
            out.append("|" + "---|" * len(t["columns"]))
            out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in t["rows"]]
            out.append("")
        out += [f"- {n}" for n in s.get("notes", [])]
        if s.get("notes"):
            out.append("")
    return "\n".join(out)


def to_html(sections: Sequence[Section], heading_offset: int = 1) -> str:
    """HTML of the sections (every text escaped), headings ``heading_offset`` levels below their Markdown depth."""
    e = html.escape
    out: list[str] = []
    for s in sections:
        h = min(6, int(s.get("level", 2)) + heading_offset)
        out.append(f"<h{h}>{e(s['title'])}</h{h}>")
        out += [f"<p>{e(p)}</p>" for p in s.get("intro", [])]
        for t in s.get("tables", []):
            if t.get("title"):
                out.append(f"<p>{e(t['title'])}</p>")
            head = "".join(f"<th>{e(cell_text(c))}</th>" for c in t["columns"])
            body = "".join("<tr>" + "".join(f"<td>{e(cell_text(c))}</td>" for c in r) + "</tr>" for r in t["rows"])
            out.append(f"<table>\n<thead>\n<tr>{head}</tr>\n</thead>\n<tbody>\n{body}\n</tbody>\n</table>")
        if s.get("notes"):
            out.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in s["notes"]) + "</ul>")
    return "\n".join(out) + ("\n" if out else "")


__all__ = ["SCHEMA", "SUITE_METRICS", "Section", "SuiteMetricsError", "cell_text", "merge_sections",
           "read_suite_metrics", "section", "table", "to_html", "to_markdown", "write_suite_metrics"]
