"""Calibration of the Codeforces Elo interval by simulation (issue 23).

A model of known true rating R "solves" each rated problem of the local problem set with the logistic probability
the estimator assumes, using the problem's TRUE difficulty: the listed rating itself, or the listed rating plus
N(0, noise^2) (real listed ratings are noisy). Each problem gets ``repeats`` independent attempts. The estimator
only sees the listed ratings. For every (R, noise, repeats) cell and method we report the coverage of the 95%
interval, the bias and sd of the point estimate, and the mean interval width.

    .venv/bin/python tests/bench/bench_elo_calibration.py                       # the README's table
    .venv/bin/python tests/bench/bench_elo_calibration.py --draws 50 --ratings 1200,2600 --repeats 4

Difficulties: ``--difficulties FILE`` (JSONL rows with ``cf_rating`` or ``rating``); by default the 109 rated
problems of the repository's test data (../shared/data/codeforces/codecontests_cf300.jsonl), else 109 ratings
spread evenly over 900-3100.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tasks.codeforces.rating import METHODS, estimate_rating  # noqa: E402

DEFAULT_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "codeforces" / "codecontests_cf300.jsonl"


def load_difficulties(path: Path | None) -> tuple[np.ndarray, str]:
    path = path or DEFAULT_FILE
    if path.is_file():
        vals = []
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            r = row.get("cf_rating", row.get("rating"))
            if r:
                vals.append(float(r))
        return np.array(sorted(vals)), f"{len(vals)} rated problems of {path.name}"
    return np.linspace(900, 3100, 109), "109 ratings spread evenly over 900-3100 (test data absent)"


def run_cell(args: tuple[np.ndarray, float, float, int, int, int, str]) -> dict:
    listed, true_r, noise, repeats, draws, seed, method = args
    rng = np.random.default_rng(seed)
    est, lo, hi, hits = [], [], [], 0
    for _ in range(draws):
        true_d = listed + rng.normal(0.0, noise, len(listed)) if noise else listed
        p = 1.0 / (1.0 + 10.0 ** ((true_d - true_r) / 400.0))
        solved = rng.binomial(repeats, p)
        e = estimate_rating([(float(d), int(s), repeats) for d, s in zip(listed, solved, strict=True)], method=method)
        est.append(e.rating)
        lo.append(e.ci95[0])
        hi.append(e.ci95[1])
        hits += e.ci95[0] <= true_r <= e.ci95[1]
    est_a = np.array(est)
    return {"true_rating": true_r, "noise": noise, "repeats": repeats, "method": method, "draws": draws,
            "coverage": hits / draws, "bias": float(est_a.mean() - true_r), "sd": float(est_a.std(ddof=1)),
            "mean_width": float(np.mean(np.array(hi) - np.array(lo)))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=200, help="simulated runs per cell (default 200)")
    ap.add_argument("--ratings", default="800,1200,1600,2000,2400,2800,3000")
    ap.add_argument("--noise", default="0,250", help="sd of true minus listed difficulty")
    ap.add_argument("--repeats", default="1,4,8")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"of {', '.join(METHODS)}")
    ap.add_argument("--difficulties", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    a = ap.parse_args(argv)
    listed, what = load_difficulties(a.difficulties)
    cells = []
    for method in a.methods.split(","):
        for noise in (float(x) for x in a.noise.split(",")):
            for reps in (int(x) for x in a.repeats.split(",")):
                for r in (float(x) for x in a.ratings.split(",")):
                    seed = hash((a.seed, int(r), int(noise), reps)) % 2**32  # same draws for every method
                    cells.append((listed, r, noise, reps, a.draws, seed, method))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(a.workers) as pool:
        rows = list(pool.map(run_cell, cells))
    print(f"difficulties: {what}; {a.draws} draws per cell; {time.perf_counter() - t0:.0f} s")
    print("| method | noise | repeats | true R | coverage | bias | sd | mean width |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['noise']:.0f} | {r['repeats']} | {r['true_rating']:.0f} | {r['coverage']:.2f} | "
              f"{r['bias']:+.0f} | {r['sd']:.0f} | {r['mean_width']:.0f} |")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
