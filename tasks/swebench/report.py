"""The SWE-Bench Verified section of report.md: resolved rate per effort with a 95% CI, and why unresolved.

Reads stores only: ``SweBenchTask.suite_metrics`` returns :func:`swebench_sections` for ``suite_metrics.json``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tasks.swebench import grading

CARD_KEY = "swebench_verified"
UNRESOLVED = (grading.NO_PATCH, grading.NOT_APPLIED, grading.TESTS_FAILED, grading.INFRA, grading.NOT_EVALUATED)
LABELS = {grading.NO_PATCH: "no patch", grading.NOT_APPLIED: "patch did not apply",
          grading.TESTS_FAILED: "tests failed", grading.INFRA: "infrastructure error",
          grading.NOT_EVALUATED: "not graded yet"}


def resolved_interval(per_instance: list[float], confidence: float = 0.95) -> tuple[float, float, str]:
    """(low, high, method) for the resolved rate over instances.

    One attempt per instance: the Wilson score interval (binomial over instances; honest near 0 % and at
    small n, where a t interval would leave [0, 1]). Several repeats: an instance's attempts are not
    independent, so the t interval over instances of each instance's resolved fraction (as the main table).
    """
    n = len(per_instance)
    if not n:
        return math.nan, math.nan, "-"
    if all(v in (0.0, 1.0) for v in per_instance):
        from scipy.stats import binomtest

        ci = binomtest(int(sum(per_instance)), n).proportion_ci(confidence, method="wilson")
        return float(ci.low), float(ci.high), "Wilson"
    from evals.metrics import mean_ci

    est = mean_ci(per_instance, confidence)
    return est.lo, est.hi, "t"


def run_metrics(run_dir: str | Path) -> dict[str, Any]:
    """Resolved rate, CI and why-unresolved counts of one SWE-bench run directory."""
    from evals.card import card_value
    from evals.store import RunStore

    store = RunStore(run_dir)
    manifest = store.read_manifest() or {}
    attempts = list(store.attempts(strict=False).values())
    grades = store.grades(strict=False)
    cats: Counter[str] = Counter()
    by_instance: dict[str, list[str]] = defaultdict(list)  # instance -> its attempts' categories
    stops: Counter[str] = Counter()
    local_eval = False
    for a in attempts:
        cat = grading.category(a, grades.get(a.key))
        cats[cat] += 1
        by_instance[a.sample_id].append(cat)
        stops[str(a.info.get("stop_reason") or a.status)] += 1
        local_eval = local_eval or "eval" in a.info

    def resolved_fraction(c: list[str]) -> float:
        return c.count(grading.RESOLVED) / len(c)

    per_instance = [resolved_fraction(c) for c in by_instance.values()]
    n = len(per_instance)
    rate = sum(per_instance) / n if n else math.nan
    lo, hi, method = resolved_interval(per_instance)
    # the same rate without instances whose every attempt hit an infrastructure error (diagnosis only)
    kept = [resolved_fraction(c) for c in by_instance.values() if set(c) != {grading.INFRA}]
    effort = manifest.get("effort", "")
    card = card_value(manifest.get("card"), CARD_KEY, effort)
    task_settings = (manifest.get("settings") or {}).get("task") or {}
    subset = None
    if task_settings.get("ids_file"):
        subset = f"instance ids from {Path(str(task_settings['ids_file'])).name} ({task_settings.get('n_ids')} ids)"
    elif task_settings.get("ids"):
        subset = f"{len(task_settings['ids'])} listed instance ids"
    if task_settings.get("limit"):
        subset = f"{subset + ', ' if subset else ''}the first {task_settings['limit']}"
    graded_by = (manifest.get("swebench_grading") or {}).get("method")
    if not graded_by:
        graded_by = "eval script in the run's environment (swebench get_eval_report)" if local_eval else "-"
    return {"run_dir": str(run_dir), "model": manifest.get("model"), "effort": effort, "instances": n,
            "attempts": len(attempts), "repeats": min((len(v) for v in by_instance.values()), default=0),
            "resolved": cats[grading.RESOLVED], "resolved_rate": rate, "ci_lo": lo, "ci_hi": hi,
            "ci_method": method, "card": card,
            "delta_vs_card": 100 * rate - card if card is not None and n else None,
            "resolved_rate_excl_infra": sum(kept) / len(kept) if kept else math.nan,
            "categories": {c: cats[c] for c in (grading.RESOLVED, *UNRESOLVED)},
            "stop_reasons": dict(stops.most_common()), "graded_by": graded_by,
            # stores written before tool styles existed declared the tools as functions
            "tool_style": task_settings.get("tool_style") or "functions", "tools": task_settings.get("tools") or [],
            "subset": subset, "n_samples": manifest.get("n_samples")}


def _pct(v: float | None) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def _num(v: float | None, digits: int = 1) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _swebench_runs(paths: Iterable[str | Path]) -> list[Path]:
    from evals.store import RunStore, find_runs

    runs = sorted({d for p in paths for d in ([Path(p)] if (Path(p) / "manifest.json").exists() else find_runs(p))})
    return [d for d in runs if (RunStore(d).read_manifest() or {}).get("card_key") == CARD_KEY]


CI_METHODS = {"Wilson": "Wilson score interval (binomial over instances, one attempt each)",
              "t": "t interval over instances of each instance's resolved fraction (several repeats)"}


def swebench_sections(run_dir: str | Path) -> list[dict[str, Any]]:
    """The run's report section: its rows of the resolved and why-unresolved tables (merged across runs by the
    report) and its notes; [] for a run of another suite."""
    from evals.store import RunStore
    from evals.suite_metrics import section, table

    if (RunStore(run_dir).read_manifest() or {}).get("card_key") != CARD_KEY:
        return []
    m = run_metrics(run_dir)
    intro = ("Resolved % = resolved instances / instances run; an attempt whose environment failed counts as "
             "unresolved (as in swebench's own report). 95% CI: " + CI_METHODS.get(m["ci_method"], "-")
             + ". `card`: the gpt-oss model card (477 of the 500 instances) at the same effort; `excl. infra`: "
               "the rate without instances whose every attempt hit an infrastructure error.")
    resolved = table(["model", "effort", "instances", "k", "resolved", "resolved % (95% CI)", "card", "Δ",
                      "excl. infra %", "graded by"],
                     [[m["model"], m["effort"], m["instances"], m["repeats"], m["resolved"],
                       f"{_pct(m['resolved_rate'])} ({_pct(m['ci_lo'])}-{_pct(m['ci_hi'])})", _num(m["card"]),
                       _num(m["delta_vs_card"]), _pct(m["resolved_rate_excl_infra"]), m["graded_by"]]])
    total = m["attempts"] or 1
    why = table(["model", "effort", "attempts", *(LABELS[c] for c in UNRESOLVED)],
                [[m["model"], m["effort"], m["attempts"],
                  *(f"{m['categories'][c]} ({100 * m['categories'][c] / total:.1f})" for c in UNRESOLVED)]],
                title="Why unresolved (attempts, % of all attempts):")
    stops = ", ".join(f"{k} {v}" for k, v in m["stop_reasons"].items()) or "-"
    tools = ", ".join(m["tools"]) or "-"
    scope = f"n = {m['n_samples'] if m['n_samples'] is not None else m['instances']} instances"
    notes = [f"{m['model']} / {m['effort']}: tool style {m['tool_style']} ({tools}); {scope}"
             + (f" ({m['subset']})" if m["subset"] else " (the whole dataset)"),
             f"{m['model']} / {m['effort']}: episodes ended by {stops}"]
    waiting = m["categories"][grading.NOT_EVALUATED]
    if waiting:
        notes.append(f"{m['model']} / {m['effort']}: {waiting} attempts are not graded yet (run without a local "
                     f"eval): `python -m tasks.swebench.grading {m['run_dir']} --docker` on a Docker host")
    return [section("SWE-Bench Verified", intro=[intro], tables=[resolved, why], notes=notes)]


def swebench_section(paths: Iterable[str | Path]) -> str:
    """Markdown for every SWE-bench run under ``paths`` (run dirs or folders holding them), as the report
    renders :func:`swebench_sections`; "" if none."""
    from evals.suite_metrics import merge_sections, to_markdown

    order = {"low": 0, "medium": 1, "high": 2}
    runs = [(run_metrics(d), d) for d in _swebench_runs(paths)]
    runs.sort(key=lambda md: (str(md[0]["model"]), order.get(md[0]["effort"], 9)))
    return to_markdown(merge_sections(swebench_sections(d) for _, d in runs))
