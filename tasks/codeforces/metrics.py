"""Codeforces report metrics from one run store: pass@k, an Elo by maximum likelihood, percentile, verdicts.

Everything is computed from the run directory alone (``manifest.json``, ``attempts.jsonl``, ``grades.jsonl``):

- grades with ``details["infra_error"]`` true (the judge failed, not the model) are left out of every rate and
  of the rating, and counted apart;
- a problem with a grade whose ``details["excluded"]`` is set (its checker cannot judge: unknown kind, does not
  compile, fails on every test) is left out entirely and counted with the problems excluded at load time, under
  that reason;
- the judged problems are counted by what judged them (``details["checker"]``: a checker of kind ``testlib`` or
  ``openr1``, or token comparison);
- attempts that never reached the judge (truncated / malformed / error) count as failures, listed in the verdict
  breakdown by their status;
- a problem's rating comes from its grade details or, failing that, from the attempt's ``info`` (the task puts it
  in both);
- the Elo treats each rated problem's solve fraction over repeats as one soft outcome
  (:func:`tasks.codeforces.rating.estimate_rating`). It is a problem-rating estimate, not a contest simulation.

API: :func:`codeforces_metrics` (one run -> dict), :func:`codeforces_sections` (one run -> report sections,
the task's ``suite_metrics``), :func:`codeforces_section` (runs -> Markdown).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from evals.card import card_value
from evals.metrics import mean_ci, pass_at_k
from evals.store import RunStore, find_runs
from tasks.codeforces.rating import METHODS, estimate_rating, load_histogram, percentile, solve_rate_by_bucket

__all__ = ["CARD_KEY", "NOT_A_CONTEST", "codeforces_metrics", "codeforces_section", "codeforces_sections",
           "is_codeforces_run"]

CARD_KEY = "codeforces_elo"
NOT_A_CONTEST = ("This is a problem-rating estimate, not a contest simulation: the Elo is the rating R that best "
                 "explains which rated problems were solved, with P(solve) = 1 / (1 + 10^((d - R) / 400)) for a "
                 "problem of rating d (each problem's solve fraction over repeats counts once). There are no "
                 "standings, penalties or time pressure, so it is not directly a Codeforces contest rating.")
HISTOGRAM_HINT = ("no human rating histogram given, so no percentile; run `gptoss-eval-data fetch codeforces` "
                  "(CodeElo's histogram), pass histogram=PATH or set suite.human_histogram")
VERDICT_ORDER = ("AC", "WA", "TLE", "MLE", "RE", "CE", "OLE", "NO_CODE", "INFRA")
TOOLS_WORDS = {CARD_KEY: "no tools", CARD_KEY + "_tools": "with python"}


def is_codeforces_run(run_dir: str | Path) -> bool:
    """True when the run's manifest says it reproduces a ``codeforces_elo`` card row (with or without tools)."""
    manifest = RunStore(run_dir).read_manifest() or {}
    return manifest.get("card_key") in (CARD_KEY, CARD_KEY + "_tools")


def _histogram_path(manifest: dict[str, Any], histogram: str | Path | None) -> str | None:
    if histogram:
        return str(histogram)
    suite = (manifest.get("config") or {}).get("suite") or {}
    if suite.get("human_histogram"):
        return suite["human_histogram"]
    from runners.data import HUMAN_HISTOGRAM_FILE, cached_file

    cached = cached_file("codeforces", HUMAN_HISTOGRAM_FILE)
    return str(cached) if cached else None


def _ks(n_min: int) -> list[int]:
    ks, k = [], 1
    while k <= n_min:
        ks.append(k)
        k *= 2
    if n_min > 1 and ks[-1] != n_min:
        ks.append(n_min)
    return ks


def _est(values: Sequence[float]) -> dict[str, Any]:
    e = mean_ci(list(values))
    return {"mean": 100 * e.mean, "ci_lo": 100 * e.lo, "ci_hi": 100 * e.hi, "n": e.n}


def codeforces_metrics(run_dir: str | Path, *, histogram: str | Path | None = None,
                       bucket_edges: Sequence[float] | None = None) -> dict[str, Any]:
    """Metrics of one Codeforces run directory (see the module docstring). Percentages are 0-100.

    ``histogram``: a human rating histogram JSON; default: ``suite.human_histogram`` of the run's config.
    """
    store = RunStore(run_dir)
    manifest = store.read_manifest() or {}
    attempts = store.attempts()
    grades = store.grades()
    repeats_cfg = manifest.get("repeats")
    task_settings = (manifest.get("settings") or {}).get("task") or {}
    data = task_settings.get("data") or {}

    excluded_at_grading: dict[str, str] = {}
    for key, g in grades.items():
        why = (g.details or {}).get("excluded")
        a = attempts.get(key)
        if why and a is not None:
            excluded_at_grading.setdefault(a.sample_id, str(why))

    per_problem: dict[str, dict[str, Any]] = {}
    verdicts: Counter[str] = Counter()
    infra = 0
    ungraded = 0
    for key, a in attempts.items():
        if repeats_cfg is not None and a.repeat >= int(repeats_cfg):
            continue  # attempts from a larger earlier run are not part of this one
        if a.sample_id in excluded_at_grading:
            continue
        g = grades.get(key)
        info = a.info or {}
        details = (g.details if g else {}) or {}
        rating = details.get("rating", info.get("rating"))
        row = per_problem.setdefault(a.sample_id, {"problem_id": a.sample_id, "rating": rating, "n": 0, "c": 0,
                                                   "infra": 0, "limits_defaulted": None, "checker": None})
        if "checker" in details:  # runs before checker kinds were recorded have no such key: unknown
            row["checker"] = details["checker"] or "none"
        if row["rating"] is None and rating is not None:
            row["rating"] = rating
        ld = details.get("limits_defaulted", info.get("limits_defaulted"))
        if ld is not None:
            row["limits_defaulted"] = bool(ld)
        if g is None:
            ungraded += 1
            verdicts["ungraded"] += 1
            continue
        if details.get("infra_error"):
            infra += 1
            row["infra"] += 1
            verdicts["INFRA"] += 1
            continue
        if a.status != "ok":
            verdicts[f"no answer ({a.status})"] += 1
        else:
            verdicts[str(details.get("verdict") or g.answer or "unknown")] += 1
        row["n"] += 1
        row["c"] += int(g.score >= 1.0)

    judged = [r for r in per_problem.values() if r["n"] > 0]
    by_checker = Counter(r["checker"] for r in judged if r["checker"] not in (None, "none"))
    checkers = {"judged_by_checker": sum(by_checker.values()), "by_kind": dict(sorted(by_checker.items())),
                "unknown": sum(r["checker"] is None for r in judged)}
    all_infra = [r["problem_id"] for r in per_problem.values() if r["n"] == 0 and r["infra"] > 0]
    n_min = min((r["n"] for r in judged), default=0)
    pass_k = {}
    for k in _ks(n_min):
        pass_k[f"pass@{k}"] = _est([pass_at_k(r["n"], r["c"], k) for r in judged])

    results = [{"problem_id": r["problem_id"], "difficulty": r["rating"], "successes": r["c"], "attempts": r["n"]}
               for r in judged]
    rated = [r for r in results if r["difficulty"] is not None]
    rating: dict[str, Any] | None = None
    if rated:
        est = estimate_rating(rated)
        rating = {"elo": est.rating, "se": est.se, "ci95": list(est.ci95), "n_problems": est.n_problems,
                  "mean_solve_rate": 100 * est.mean_solve_rate, "prior_mean": est.prior_mean,
                  "prior_sd": est.prior_sd, "method": est.method, "difficulty_sd": est.difficulty_sd}
    buckets = solve_rate_by_bucket(rated, edges=bucket_edges) if rated else []
    for b in buckets:
        if b["solve_rate"] is not None:
            b["solve_rate"] = 100 * b["solve_rate"]

    hist_path = _histogram_path(manifest, histogram)
    pct: dict[str, Any] = {"percentile": None, "histogram": hist_path, "message": None}
    if rating is None:
        pct["message"] = "no rated problems, so no rating and no percentile"
    elif not hist_path:
        pct["message"] = HISTOGRAM_HINT
    else:
        try:
            h = load_histogram(hist_path)
            pct.update(percentile=percentile(rating["elo"], h), source=h.get("source"), n_users=h.get("n_users"),
                       ci95=[percentile(rating["ci95"][0], h), percentile(rating["ci95"][1], h)])
        except (OSError, ValueError) as exc:
            pct["message"] = f"cannot read the human rating histogram {hist_path}: {exc}"

    effort = manifest.get("effort", "")
    card = card_value(manifest.get("card"), manifest.get("card_key") or CARD_KEY, effort)
    total = sum(verdicts.values())
    interactive = set(data.get("skipped_interactive") or [])
    excluded = {pid: why for pid, why in (data.get("excluded") or {}).items() if pid not in interactive}
    excluded.update(excluded_at_grading)
    return {
        "run_dir": str(run_dir), "model": manifest.get("model"), "effort": effort,
        "language": task_settings.get("language"), "suite": manifest.get("suite"),
        "tools": TOOLS_WORDS.get(manifest.get("card_key") or CARD_KEY, "no tools"),
        "attempts": total, "judged_attempts": sum(r["n"] for r in judged), "problems": len(per_problem),
        "judged_problems": len(judged), "rated_problems": len(rated), "repeats": n_min,
        "pass_k": pass_k, "pass@1": pass_k.get("pass@1"),
        "rating": rating, "card_elo": card,
        "delta_vs_card": (rating["elo"] - card) if rating is not None and card is not None else None,
        "percentile": pct, "buckets": buckets,
        "verdicts": {v: {"count": c, "percent": 100 * c / total if total else 0.0}
                     for v, c in sorted(verdicts.items(), key=lambda kv: _verdict_rank(kv[0]))},
        "infra_errors": infra, "infra_only_problems": all_infra, "ungraded": ungraded, "checkers": checkers,
        "data": {"problems_loaded": data.get("problems"), "excluded": len(excluded),
                 "excluded_reasons": dict(Counter(excluded.values())),
                 "skipped_interactive": len(interactive),
                 "generated_tests_missing": len(data.get("generated_tests_missing") or []),
                 "limits_defaulted": data.get("limits_defaulted",
                                              sum(bool(r["limits_defaulted"]) for r in per_problem.values())),
                 "source": task_settings.get("source"),
                 "default_limits": (task_settings.get("default_time_limit_s", 2.0),
                                    task_settings.get("default_memory_mb", 256))},
    }


def _verdict_rank(v: str) -> tuple[int, str]:
    return (VERDICT_ORDER.index(v) if v in VERDICT_ORDER else len(VERDICT_ORDER), v)


def _f(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        found = [p] if (p / "manifest.json").exists() else find_runs(p)
        out += [d for d in found if is_codeforces_run(d) and d not in out]
    return out


def codeforces_sections(run_dir: str | Path, *, histogram: str | Path | None = None) -> list[dict[str, Any]]:
    """The run's report sections: its row of the Codeforces table (merged across runs by the report) and a
    section of its own (pass@k, Elo method, percentile, data, checkers, rating buckets, verdicts); [] for a run
    of another suite."""
    from evals.suite_metrics import section, table

    if not is_codeforces_run(run_dir):
        return []
    m = codeforces_metrics(run_dir, histogram=histogram)
    p1 = m["pass@1"]
    r = m["rating"]
    elo = f"{r['elo']:.0f} ({r['ci95'][0]:.0f}-{r['ci95'][1]:.0f})" if r else "-"
    pct = m["percentile"]
    summary = table(["model", "effort", "tools", "lang", "problems (rated)", "k", "pass@1 (95% CI)", "Elo (95% CI)",
                     "SE", "card Elo", "Δ", "percentile"],
                    [[m["model"], m["effort"], m["tools"], m["language"] or "-",
                      f"{m['judged_problems']} ({m['rated_problems']})", m["repeats"],
                      f"{p1['mean']:.1f} ({p1['ci_lo']:.1f}-{p1['ci_hi']:.1f})" if p1 else "-", elo,
                      _f(r["se"], 0) if r else "-", _f(m["card_elo"], 0), _f(m["delta_vs_card"], 0),
                      _f(pct["percentile"])]])
    intro = [NOT_A_CONTEST,
             "`card Elo` is the gpt-oss model card's Codeforces Elo at the same effort, from the card's row for the "
             "run's tools (no tools or with python, as in each row's `tools` column). Judge infrastructure failures "
             "are excluded from every number below and counted apart."]
    pk = ", ".join(f"{k} {v['mean']:.1f} ({v['ci_lo']:.1f}-{v['ci_hi']:.1f})" for k, v in m["pass_k"].items())
    notes = [f"pass@k (95% CI over problems): {pk or '-'}"]
    if r:
        method = METHODS.get(r.get("method") or "fixed", r.get("method"))
        tau = r.get("difficulty_sd")
        notes.append(f"Elo {r['elo']:.0f} (95% CI {r['ci95'][0]:.0f}-{r['ci95'][1]:.0f}, SE {r['se']:.0f}) from "
                     f"{r['n_problems']} rated problems, mean solve rate {r['mean_solve_rate']:.1f}%; {method}"
                     + (f"; fitted spread of true around listed difficulty {tau:.0f}" if tau is not None else "")
                     + f"; weak prior N({r['prior_mean']:.0f}, {r['prior_sd']:.0f}²)"
                     + ("; fewer than 100 rated problems: expect a wide interval" if r["n_problems"] < 100 else ""))
    else:
        notes.append("Elo: no rated problems were judged, so no rating")
    if pct["percentile"] is not None:
        notes.append(f"percentile among human players: {pct['percentile']:.1f} (95% CI "
                     f"{pct['ci95'][0]:.1f}-{pct['ci95'][1]:.1f}; {pct.get('n_users') or '?'} users, "
                     f"{pct.get('source') or pct['histogram']})")
    else:
        notes.append(f"percentile: {pct['message']}")
    d = m["data"]
    reasons = ", ".join(f"{why}: {n}" for why, n in sorted(d["excluded_reasons"].items())) or "none"
    notes.append(f"data: {d['problems_loaded'] if d['problems_loaded'] is not None else m['problems']} problems "
                 f"from {d['source'] or '?'}; {d['skipped_interactive']} interactive skipped; "
                 f"{d['excluded']} otherwise excluded ({reasons}); {d['limits_defaulted']} with defaulted "
                 f"time/memory limits ({d['default_limits'][0]:g} s / {d['default_limits'][1]} MB assumed)")
    ck = m["checkers"]
    if ck["unknown"] < m["judged_problems"]:
        kinds = ", ".join(f"{kind} {n}" for kind, n in ck["by_kind"].items())
        notes.append(f"checkers: {ck['judged_by_checker']} of {m['judged_problems']} judged problems judged by "
                     f"a checker" + (f" ({kinds})" if kinds else "") + "; the others by comparing tokens"
                     + (f"; {ck['unknown']} not recorded (graded before checker kinds were)" if ck["unknown"] else ""))
    if d["generated_tests_missing"]:
        notes.append(f"{d['generated_tests_missing']} problems judged on their official tests only: their "
                     "generated tests were not loaded (suite.generated_tests_dir), so wrong programs may pass")
    notes.append(f"judge infrastructure failures: {m['infra_errors']} attempts excluded"
                 + (f" ({len(m['infra_only_problems'])} problems had no judged attempt)"
                    if m["infra_only_problems"] else ""))
    tables = []
    if m["buckets"]:
        tables.append(table(["rating bucket", "problems", "solve rate %"],
                            [[b["bucket"], b["n_problems"], _f(b["solve_rate"])] for b in m["buckets"]]))
    if m["verdicts"]:
        tables.append(table(["verdict", "attempts", "%"],
                            [[v, x["count"], f"{x['percent']:.1f}"] for v, x in m["verdicts"].items()]))
    own = section(f"{m['model']} / {m['effort']} (`{m['run_dir']}`)", level=3, notes=notes, tables=tables)
    return [section("Codeforces", intro=intro, tables=[summary]), own]


def codeforces_section(run_dirs: Iterable[str | Path], *, histogram: str | Path | None = None) -> str:
    """Markdown of :func:`codeforces_sections` for every Codeforces run in ``run_dirs`` (run directories or
    folders holding them; runs of other suites are ignored), as the report renders them. "" when there is none."""
    from evals.suite_metrics import merge_sections, to_markdown

    return to_markdown(merge_sections(codeforces_sections(d, histogram=histogram) for d in _run_dirs(run_dirs)))
