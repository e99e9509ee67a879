"""Did the candidate get worse than the baseline? A paired comparison of runs with a CI verdict.

    python -m reports.compare BASELINE_DIR CANDIDATE_DIR [--junit out.xml] [--markdown out.md]
                              [--min-drop 3] [--min-gain 3] [--alpha 0.05] [--correction holm|none]
                              [--card-tolerance 5] [--fail-on-card]

Each DIR is a run directory or a folder holding runs (searched recursively; several folders may be given
comma-separated). Runs are grouped per suite x effort; runs of one side sharing a group are pooled.

Method (per suite x effort):
- Pairing is per sample (``sample_id``): each side's score for a sample is the mean over its graded repeats,
  and only samples graded on both sides count. The difference is candidate minus baseline, in points.
- CI: a paired bootstrap over samples (``--bootstrap`` resamples, seeded with ``--seed``, percentile interval)
  of the mean per-sample difference.
- Exact test: McNemar's exact test (two-sided binomial test with p = 1/2 on the discordant pairs) on
  per-attempt pairs: within a sample, the i-th graded attempt of the baseline is paired with the i-th of the
  candidate (sorted by repeat; the extra repeats of the side with more are left out). "Correct" means full
  credit (score >= 1). Repeats are independent draws given the sample, so under "no change" (the same chance
  of success per sample on both sides) each discordant pair is equally likely to go either way, whatever the
  sample's difficulty: the binomial test is exact, conditional on the fixed set of samples the suite asks.
  A suite with partial credit (any score strictly between 0 and 1) is tested with a paired sign-flip
  permutation test of the per-sample differences instead (``--bootstrap`` random sign flips, at least 1000,
  seeded; exact enumeration when there are few samples), because "full credit" would ignore partial changes.
- Several suite x effort groups: the gate fails if ANY group regresses, so the p-values are Holm-adjusted
  over the groups compared (``--correction holm``, the default; ``none`` to test each group alone). That
  keeps the chance that pure noise fails the gate at most ``--alpha`` however many groups a sweep holds.
- Verdict: "regressed" when the drop is at least ``--min-drop`` points AND the adjusted p < ``--alpha``;
  "improved" when the gain is at least ``--min-gain`` points AND adjusted p < alpha; otherwise "no change"
  (a big difference that is not significant is noise; a significant one below the threshold is too small to
  act on). The bootstrap CI is reported as the size of the change and its uncertainty over problems (it
  answers "how big, for problems like these"); it is not a second vote: the exact test already bounds the
  false-alarm rate by alpha, and a second requirement would only cost power.
  A baseline group with no candidate (or no common sample) is "missing" and fails the gate too.
- Model card range: the candidate's pass@1 is flagged when it lies outside card +/- ``--card-tolerance``
  points (only for pass@1-style card numbers; Elo rows are skipped). Flags fail the gate only with
  ``--fail-on-card``.

Exit code: 0 pass, 1 a regression (or missing group, or a card flag with --fail-on-card), 2 usage error.
Writes a JUnit XML (one test case per suite x effort, plus one per card range check) and a Markdown summary.
"""

from __future__ import annotations

import argparse
import math
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evals.card import card_value
from evals.store import find_runs
from evals.types import EFFORTS
from reports.summary import load_run


@dataclass
class Thresholds:
    min_drop: float = 3.0  # points
    min_gain: float | None = None  # points; None: same as min_drop
    alpha: float = 0.05
    correction: str = "holm"  # holm | none: multiple-comparison adjustment over suite x effort groups
    card_tolerance: float = 5.0  # points
    fail_on_card: bool = False
    bootstrap: int = 10_000
    seed: int = 0
    confidence: float = 0.95

    @property
    def gain(self) -> float:
        return self.min_drop if self.min_gain is None else self.min_gain


@dataclass
class Side:
    """All graded attempts of one side for one suite x effort (runs pooled)."""

    frame: pd.DataFrame  # sample_id, repeat, score
    runs: list[str] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    card: str | None = None
    card_key: str | None = None
    median_tokens: float = math.nan


@dataclass
class Comparison:
    suite: str
    effort: str
    verdict: str  # regressed | improved | no change | missing | new
    reason: str
    n_pairs: int = 0
    base_mean: float = math.nan  # points, over paired samples
    cand_mean: float = math.nan
    diff: float = math.nan
    ci_lo: float = math.nan
    ci_hi: float = math.nan
    losses: int = 0  # discordant attempt pairs: baseline correct, candidate not
    gains: int = 0  # candidate correct, baseline not
    p_value: float = math.nan  # the test's own p for this group
    p_adjusted: float = math.nan  # after the correction over groups (what the verdict uses)
    test: str = ""  # mcnemar | sign-flip
    cand_pass1: float = math.nan  # points, over every candidate sample
    card: float | None = None
    card_flag: str | None = None  # why the candidate is outside the card range, or None
    base_runs: list[str] = field(default_factory=list)
    cand_runs: list[str] = field(default_factory=list)
    models: str = ""
    base_tokens: float = math.nan
    cand_tokens: float = math.nan
    only_base: int = 0  # samples graded only in the baseline
    only_cand: int = 0

    @property
    def failed(self) -> bool:
        return self.verdict in ("regressed", "missing")


# -- loading -----------------------------------------------------------------------------------------------
def _split_dirs(spec: str | Path | list[str | Path]) -> list[Path]:
    items = spec if isinstance(spec, list) else [spec]
    out: list[Path] = []
    for item in items:
        out += [Path(p) for p in str(item).split(",") if p]
    return out


def load_side(dirs: str | Path | list[str | Path]) -> dict[tuple[str, str], Side]:
    groups: dict[tuple[str, str], list[tuple[Any, pd.DataFrame]]] = {}
    for path in sorted({p for d in _split_dirs(dirs) for p in find_runs(d)}):
        run = load_run(path)
        m = run.manifest
        key = (str(m.get("suite")), str(m.get("effort")))
        groups.setdefault(key, []).append((run, run.frame))
    sides = {}
    for key, runs in groups.items():
        frames = [f[f.score.notna()][["sample_id", "repeat", "score"]] for _, f in runs if not f.empty]
        tokens = [f.completion_tokens for _, f in runs if not f.empty]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["sample_id", "repeat", "score"])
        first = runs[0][0].manifest
        sides[key] = Side(frame=frame, runs=[str(r.path) for r, _ in runs],
                          models={str(r.manifest.get("model")) for r, _ in runs}, card=first.get("card"),
                          card_key=first.get("card_key"),
                          median_tokens=float(pd.concat(tokens).median()) if tokens else math.nan)
    return sides


# -- statistics ----------------------------------------------------------------------------------------------
def paired_bootstrap_ci(diffs: np.ndarray, n_boot: int = 10_000, seed: int = 0,
                        confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of paired differences, resampling the pairs (seeded)."""
    d = np.asarray(diffs, dtype=float)
    if len(d) == 0:
        return math.nan, math.nan
    if len(d) == 1 or n_boot <= 0:
        return float(d.mean()), float(d.mean())
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // len(d))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, len(d), size=(stop - start, len(d)))
        means[start:stop] = d[idx].mean(axis=1)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(lo), float(hi)


def mcnemar_exact(losses: int, gains: int) -> float:
    """Two-sided exact McNemar p-value: binomial test of the discordant pairs against 1/2."""
    n = losses + gains
    if n == 0:
        return 1.0
    return float(stats.binomtest(min(losses, gains), n, 0.5).pvalue)


def sign_flip_test(diffs: np.ndarray, n_resamples: int = 10_000, seed: int = 0) -> float:
    """Two-sided paired permutation test of mean(diffs) = 0: random sign flips of the per-sample differences."""
    d = np.asarray(diffs, dtype=float)
    if len(d) == 0 or not np.any(d):
        return 1.0
    res = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=max(n_resamples, 1000),
                                 alternative="two-sided", random_state=seed)
    return float(min(1.0, res.pvalue))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _ranked_correct(frame: pd.DataFrame, samples: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per graded attempt of ``samples``: a pairing key (sample, rank of its repeat) and full credit or not."""
    codes = pd.Index(samples).get_indexer(frame.sample_id)
    keep = codes >= 0
    codes, repeats = codes[keep], frame.repeat.to_numpy()[keep]
    correct = frame.score.to_numpy(dtype=float)[keep] >= 1.0
    order = np.lexsort((repeats, codes))
    codes, correct = codes[order], correct[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.array([], dtype=int)
    rank = np.arange(len(codes)) - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    return codes.astype(np.int64) * (1 << 32) + rank, correct


def discordant_pairs(base: pd.DataFrame, cand: pd.DataFrame, samples: list[str]) -> tuple[int, int]:
    """(losses, gains) over per-attempt pairs: i-th graded attempt of each side within a sample."""
    b_key, b_ok = _ranked_correct(base, samples)
    c_key, c_ok = _ranked_correct(cand, samples)
    _, bi, ci = np.intersect1d(b_key, c_key, assume_unique=True, return_indices=True)
    bc, cc = b_ok[bi], c_ok[ci]
    return int(np.sum(bc & ~cc)), int(np.sum(~bc & cc))


def _card_check(cmp: Comparison, cand: Side, th: Thresholds) -> None:
    card = card_value(cand.card, cand.card_key, cmp.effort)
    if card is None or "elo" in str(cand.card_key).lower() or math.isnan(cmp.cand_pass1):
        return
    cmp.card = card
    off = cmp.cand_pass1 - card
    if abs(off) > th.card_tolerance:
        cmp.card_flag = (f"candidate pass@1 {cmp.cand_pass1:.1f} is {abs(off):.1f} points "
                         f"{'below' if off < 0 else 'above'} the model card's {card:.1f} "
                         f"(tolerance ±{th.card_tolerance:g})")


def compare_side(suite: str, effort: str, base: Side | None, cand: Side | None, th: Thresholds) -> Comparison:
    if cand is None:
        return Comparison(suite, effort, "missing", "no candidate run for this suite x effort",
                          base_runs=base.runs if base else [])
    cand_means = cand.frame.groupby("sample_id").score.mean()
    cand_pass1 = 100 * float(cand_means.mean()) if len(cand_means) else math.nan
    if base is None:
        cmp = Comparison(suite, effort, "new", "no baseline run for this suite x effort: nothing to compare",
                         cand_runs=cand.runs, cand_pass1=cand_pass1, models=", ".join(sorted(cand.models)),
                         cand_tokens=cand.median_tokens)
        _card_check(cmp, cand, th)
        return cmp
    base_means = base.frame.groupby("sample_id").score.mean()
    common = sorted(set(base_means.index) & set(cand_means.index))
    models = sorted(base.models) if base.models == cand.models else [
        f"{'+'.join(sorted(base.models))} -> {'+'.join(sorted(cand.models))}"]
    cmp = Comparison(suite, effort, "no change", "", n_pairs=len(common), base_runs=base.runs, cand_runs=cand.runs,
                     cand_pass1=cand_pass1, models=", ".join(models), base_tokens=base.median_tokens,
                     cand_tokens=cand.median_tokens, only_base=len(set(base_means.index) - set(common)),
                     only_cand=len(set(cand_means.index) - set(common)))
    _card_check(cmp, cand, th)
    if not common:
        cmp.verdict, cmp.reason = "missing", "no sample graded on both sides"
        return cmp
    b = base_means.loc[common].to_numpy(dtype=float)
    c = cand_means.loc[common].to_numpy(dtype=float)
    d = 100 * (c - b)
    cmp.base_mean, cmp.cand_mean, cmp.diff = 100 * float(b.mean()), 100 * float(c.mean()), float(d.mean())
    cmp.ci_lo, cmp.ci_hi = paired_bootstrap_ci(d, th.bootstrap, th.seed, th.confidence)
    cmp.losses, cmp.gains = discordant_pairs(base.frame, cand.frame, common)
    scores = np.concatenate([base.frame.score.to_numpy(dtype=float), cand.frame.score.to_numpy(dtype=float)])
    if np.all((scores == 0.0) | (scores == 1.0)):
        cmp.test, cmp.p_value = "mcnemar", mcnemar_exact(cmp.losses, cmp.gains)
    else:
        cmp.test, cmp.p_value = "sign-flip", sign_flip_test(d, th.bootstrap, th.seed)
    cmp.p_adjusted = cmp.p_value
    return cmp


def decide(cmp: Comparison, th: Thresholds, n_tests: int) -> None:
    """The verdict of a compared group from its difference and (adjusted) p-value; see the module docstring."""
    significant = cmp.p_adjusted < th.alpha
    adj = f" (Holm over {n_tests} groups)" if th.correction == "holm" and n_tests > 1 else ""
    sig_text = f"p={cmp.p_adjusted:.3g}{adj} {'<' if significant else '≥'} {th.alpha:g}"
    if cmp.diff <= -th.min_drop and significant:
        cmp.verdict, cmp.reason = "regressed", f"dropped {-cmp.diff:.1f} points (≥ {th.min_drop:g}), {sig_text}"
    elif cmp.diff >= th.gain and significant:
        cmp.verdict, cmp.reason = "improved", f"gained {cmp.diff:.1f} points (≥ {th.gain:g}), {sig_text}"
    elif not significant:
        cmp.verdict, cmp.reason = "no change", f"Δ {cmp.diff:+.1f} points is within noise ({sig_text})"
    else:
        cmp.verdict, cmp.reason = "no change", (f"significant ({sig_text}) but |Δ| {abs(cmp.diff):.1f} < "
                                                f"{th.min_drop if cmp.diff < 0 else th.gain:g} points")


def compare(baseline: str | Path | list[str | Path], candidate: str | Path | list[str | Path],
            th: Thresholds | None = None) -> list[Comparison]:
    th = th or Thresholds()
    base, cand = load_side(baseline), load_side(candidate)
    if not base:
        raise FileNotFoundError(f"no baseline runs (manifest.json) under {baseline}")
    if not cand:
        raise FileNotFoundError(f"no candidate runs (manifest.json) under {candidate}")
    return compare_sides(base, cand, th)


def compare_sides(base: dict[tuple[str, str], Side], cand: dict[tuple[str, str], Side],
                  th: Thresholds) -> list[Comparison]:
    """Every suite x effort group of either side, compared, with the p-values adjusted over the groups."""
    if th.correction not in ("holm", "none"):
        raise ValueError(f"--correction must be holm or none, got {th.correction!r}")
    order = {e: i for i, e in enumerate(EFFORTS)}
    keys = sorted(set(base) | set(cand), key=lambda k: (k[0], order.get(k[1], 9), k[1]))
    results = [compare_side(s, e, base.get((s, e)), cand.get((s, e)), th) for s, e in keys]
    tested = [r for r in results if r.test]
    if th.correction == "holm":
        for r, p in zip(tested, holm([r.p_value for r in tested]), strict=True):
            r.p_adjusted = p
    for r in tested:
        decide(r, th, len(tested))
    return results


def gate_failed(results: list[Comparison], th: Thresholds) -> bool:
    return any(r.failed for r in results) or (th.fail_on_card and any(r.card_flag for r in results))


# -- outputs -----------------------------------------------------------------------------------------------
def _f(v: Any, digits: int = 1, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _p(r: Comparison) -> str:
    if math.isnan(r.p_value):
        return "–"
    return _f(r.p_value, 3) + ("" if r.p_adjusted == r.p_value else f" ({_f(r.p_adjusted, 3)})")


ICON = {"regressed": "🔴 regressed", "improved": "🟢 improved", "no change": "⚪ no change", "missing": "🔴 missing",
        "new": "🔵 new"}


def to_markdown(results: list[Comparison], th: Thresholds, baseline: Any, candidate: Any) -> str:
    failed = gate_failed(results, th)
    n_reg = sum(r.verdict == "regressed" for r in results)
    n_imp = sum(r.verdict == "improved" for r in results)
    n_miss = sum(r.verdict == "missing" for r in results)
    n_card = sum(bool(r.card_flag) for r in results)
    head = "FAIL" if failed else "PASS"
    lines = [
        "# gpt-oss regression check", "",
        f"**{head}**: {n_reg} regressed, {n_imp} improved, {n_miss} missing, "
        f"{len(results) - n_reg - n_imp - n_miss} without a significant change; {n_card} outside the model card range"
        + (" (fails the gate)" if th.fail_on_card and n_card else "") + ".", "",
        f"Baseline `{baseline}` vs candidate `{candidate}`. Thresholds: regression = drop ≥ {th.min_drop:g} points and "
        f"p < {th.alpha:g}; improvement = gain ≥ {th.gain:g} points and p < {th.alpha:g}"
        + ("; p Holm-adjusted over the groups compared" if th.correction == "holm" else "; p not adjusted")
        + f"; card tolerance ±{th.card_tolerance:g} points.", "",
        "| suite | effort | verdict | pairs | baseline | candidate | Δ points (95% CI) | discordant (lost / won) | "
        "p (adjusted) | "
        "card | median tokens (base → cand) | why |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        card = "–" if r.card is None else f"{r.card:.1f}" + (" ⚠️" if r.card_flag else " ✓")
        ci = f"{_f(r.diff, signed=True)} ({_f(r.ci_lo, signed=True)} to {_f(r.ci_hi, signed=True)})" \
            if not math.isnan(r.diff) else "–"
        lines.append(
            f"| {r.suite} | {r.effort} | {ICON.get(r.verdict, r.verdict)} | {r.n_pairs} | {_f(r.base_mean)} | "
            f"{_f(r.cand_mean if not math.isnan(r.cand_mean) else r.cand_pass1)} | {ci} | {r.losses} / {r.gains} | "
            f"{_p(r)} | {card} | "
            f"{_f(r.base_tokens, 0)} → {_f(r.cand_tokens, 0)} | {r.reason} |")
    flags = [r for r in results if r.card_flag]
    if flags:
        lines += ["", "## Model card range", ""] + [f"- {r.suite} / {r.effort}: {r.card_flag}" for r in flags]
    partial = [r for r in results if r.only_base or r.only_cand]
    if partial:
        lines += ["", "## Unpaired samples", ""] + [
            f"- {r.suite} / {r.effort}: {r.only_base} only in the baseline, {r.only_cand} only in the candidate "
            "(left out of the comparison)" for r in partial]
    lines += ["", "Method: per-sample scores (mean over repeats) paired by sample id; CI from a seeded paired bootstrap "
              f"({th.bootstrap} resamples); p from McNemar's exact test on per-attempt pairs (i-th repeat vs i-th "
              "repeat within a sample, correct = full credit), or a paired sign-flip permutation test where scores "
              "give partial credit; the verdict needs both the threshold and p < alpha. See `reports/compare.py`."]
    return "\n".join(lines) + "\n"


def to_junit(results: list[Comparison], th: Thresholds, baseline: Any, candidate: Any) -> ET.ElementTree:
    cases: list[ET.Element] = []
    failures = 0
    for r in results:
        cls = f"gptoss.compare.{r.suite}"
        detail = (f"{r.reason}\nbaseline {_f(r.base_mean)} ({', '.join(r.base_runs) or 'none'})\n"
                  f"candidate {_f(r.cand_mean if not math.isnan(r.cand_mean) else r.cand_pass1)} "
                  f"({', '.join(r.cand_runs) or 'none'})\n"
                  f"pairs {r.n_pairs}, delta {_f(r.diff, signed=True)} points, 95% CI {_f(r.ci_lo, signed=True)} to "
                  f"{_f(r.ci_hi, signed=True)}, discordant lost {r.losses} / won {r.gains}, p {_f(r.p_value, 4)} "
                  f"({r.test or 'no test'}), adjusted p {_f(r.p_adjusted, 4)}")
        case = ET.Element("testcase", classname=cls, name=f"{r.effort} regression gate", time="0")
        if r.failed:
            failures += 1
            fail = ET.SubElement(case, "failure", message=f"{r.verdict}: {r.reason}", type=r.verdict)
            fail.text = detail
        ET.SubElement(case, "system-out").text = f"verdict: {r.verdict}\n{detail}"
        cases.append(case)
        if r.card is not None:
            card_case = ET.Element("testcase", classname=cls, name=f"{r.effort} model card range", time="0")
            text = r.card_flag or (f"candidate pass@1 {_f(r.cand_pass1)} within ±{th.card_tolerance:g} of the card's "
                                   f"{r.card:.1f}")
            if r.card_flag and th.fail_on_card:
                failures += 1
                ET.SubElement(card_case, "failure", message=r.card_flag, type="card-range").text = text
            ET.SubElement(card_case, "system-out").text = ("WARNING " if r.card_flag else "") + text
            cases.append(card_case)
    root = ET.Element("testsuites", name="gptoss-eval-compare", tests=str(len(cases)), failures=str(failures))
    suite = ET.SubElement(root, "testsuite", name="gptoss-eval-compare", tests=str(len(cases)),
                          failures=str(failures), errors="0", skipped="0")
    props = ET.SubElement(suite, "properties")
    for name, value in (("baseline", baseline), ("candidate", candidate), ("min_drop", th.min_drop),
                        ("min_gain", th.gain), ("alpha", th.alpha), ("correction", th.correction),
                        ("card_tolerance", th.card_tolerance),
                        ("bootstrap", th.bootstrap), ("seed", th.seed)):
        ET.SubElement(props, "property", name=name, value=str(value))
    suite.extend(cases)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gptoss-eval-compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", help="baseline run dir(s) or folder(s) of runs (comma-separated)")
    parser.add_argument("candidate", help="candidate run dir(s) or folder(s) of runs (comma-separated)")
    parser.add_argument("--junit", default=None, help="write a JUnit XML file here")
    parser.add_argument("--markdown", default=None, help="write the Markdown summary here (it is always printed)")
    parser.add_argument("--min-drop", type=float, default=3.0, help="smallest drop in points that fails (default 3)")
    parser.add_argument("--min-gain", type=float, default=None, help="smallest gain reported as improved "
                                                                     "(default: --min-drop)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level of the exact test (default 0.05)")
    parser.add_argument("--correction", choices=("holm", "none"), default="holm",
                        help="adjust p-values over the suite x effort groups (default holm)")
    parser.add_argument("--card-tolerance", type=float, default=5.0,
                        help="flag a candidate outside model card ± this many points (default 5)")
    parser.add_argument("--fail-on-card", action="store_true", help="a model card flag fails the gate too")
    parser.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    args = parser.parse_args(argv)
    th = Thresholds(min_drop=args.min_drop, min_gain=args.min_gain, alpha=args.alpha, correction=args.correction,
                    card_tolerance=args.card_tolerance, fail_on_card=args.fail_on_card, bootstrap=args.bootstrap,
                    seed=args.seed)
    try:
        results = compare(args.baseline, args.candidate, th)
    except (FileNotFoundError, ValueError) as exc:
        print(f"gptoss-eval-compare: error: {exc}", file=sys.stderr)
        return 2
    md = to_markdown(results, th, args.baseline, args.candidate)
    print(md)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(md, encoding="utf-8")
    if args.junit:
        Path(args.junit).parent.mkdir(parents=True, exist_ok=True)
        to_junit(results, th, args.baseline, args.candidate).write(args.junit, encoding="utf-8", xml_declaration=True)
    return 1 if gate_failed(results, th) else 0


if __name__ == "__main__":
    sys.exit(main())
