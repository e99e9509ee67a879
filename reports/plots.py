"""Report plots (matplotlib, Agg backend): written as PNG files beside the report and embedded in report.html.

Every function takes the report's runs (summary row + attempt frame, see ``reports.html.ReportRun``) and
writes one PNG. Distributions use box plots with whiskers at the 5th / 95th percentiles and no outlier
markers, so a 100,000-attempt store draws as fast as a small one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evals.types import EFFORTS  # noqa: E402

DPI = 110
PLOTS = {  # file stem -> caption
    "score_vs_effort": "pass@1 by reasoning effort (bars: 95% CI over problems; hollow markers: model card)",
    "score_vs_tokens": "The effort trade-off: pass@1 against median completion tokens per answer",
    "tokens": "Completion tokens per attempt (box: quartiles, whiskers: 5th-95th percentile)",
    "latency": "Latency per attempt, seconds (box: quartiles, whiskers: 5th-95th percentile)",
    "throughput": "Throughput per run: output tokens per second of wall time, and attempts per hour",
}


def _isnum(v: Any) -> bool:
    return isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))


def group_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (str(row.get("model")), str(row.get("suite")), str(row.get("transport")))


def run_labels(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Short labels naming only what differs between runs (suite and effort always)."""
    varying = [f for f in ("model", "transport", "tag") if len({str(r.get(f)) for r in rows}) > 1]
    labels = []
    for r in rows:
        parts = [str(r.get("suite")), str(r.get("effort"))] + [str(r.get(f)) for f in varying]
        labels.append(" / ".join(parts))
    seen: dict[str, int] = {}
    out = []
    for label in labels:  # two runs with identical settings (e.g. two tags) still get distinct labels
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def _groups(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    order = {e: i for i, e in enumerate(EFFORTS)}
    for r in rows:
        if r.get("n"):
            groups.setdefault(group_key(r), []).append(r)
    for g in groups.values():
        g.sort(key=lambda r: order.get(r.get("effort"), 9))
    return groups


def _group_label(key: tuple[str, str, str], keys: Sequence[tuple[str, str, str]]) -> str:
    parts = [key[1]]
    if len({k[0] for k in keys}) > 1:
        parts.insert(0, key[0])
    if len({k[2] for k in keys}) > 1:
        parts.append(key[2])
    return " ".join(parts)


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_score_vs_effort(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    groups = _groups(rows)
    x_of = {e: i for i, e in enumerate(EFFORTS)}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (key, g) in enumerate(groups.items()):
        color = colors[i % len(colors)]
        xs = [x_of.get(r["effort"], len(EFFORTS)) for r in g]
        ys = [r["pass@1"] for r in g]
        err = [[r["pass@1"] - r["ci_lo"] for r in g], [r["ci_hi"] - r["pass@1"] for r in g]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=4, color=color, label=_group_label(key, list(groups)))
        card = [(x, r["card"]) for x, r in zip(xs, g, strict=True) if _isnum(r.get("card")) and r["card"] <= 100]
        if card:
            ax.plot([c[0] for c in card], [c[1] for c in card], linestyle="--", marker="o", fillstyle="none",
                    color=color, alpha=0.7, label=f"{_group_label(key, list(groups))} (card)")
    if not groups:
        _empty(ax, "no graded attempts")
    ax.set_xticks(range(len(EFFORTS)), EFFORTS)
    ax.set_xlabel("reasoning effort")
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    if groups:
        ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_score_vs_tokens(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    groups = _groups(rows)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (key, g) in enumerate(groups.items()):
        color = colors[i % len(colors)]
        xs = [max(r["median_completion_tokens"], 1.0) for r in g]
        ys = [r["pass@1"] for r in g]
        ax.plot(xs, ys, marker="o", color=color, label=_group_label(key, list(groups)))
        for x, y, r in zip(xs, ys, g, strict=True):
            ax.annotate(r["effort"], (x, y), textcoords="offset points", xytext=(5, -10), fontsize=8, color=color)
    if groups:
        ax.set_xscale("log")
        ax.legend(fontsize=8, loc="lower right")
    else:
        _empty(ax, "no graded attempts")
    ax.set_xlabel("median completion tokens per answer (log scale)")
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)


def _box(frames: Sequence[pd.DataFrame], labels: Sequence[str], column: str, xlabel: str, path: Path,
         log: bool) -> Path:
    data = [f[column].dropna().to_numpy(dtype=float) if column in f else np.array([]) for f in frames]
    keep = [(d, lab) for d, lab in zip(data, labels, strict=True) if len(d)]
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.42 * max(len(keep), 1)))
    if keep:
        # precomputed statistics: no sort of 100k values inside matplotlib, no outlier markers
        stats = []
        for d, lab in keep:
            q5, q25, q50, q75, q95 = np.percentile(d, [5, 25, 50, 75, 95])
            stats.append({"med": q50, "q1": q25, "q3": q75, "whislo": q5, "whishi": q95, "fliers": [],
                          "mean": float(d.mean()), "label": lab})
        ax.bxp(stats, orientation="horizontal", showfliers=False, showmeans=True,
               meanprops={"marker": "d", "markersize": 5})
        ax.invert_yaxis()
        if log and all(s["whislo"] > 0 for s in stats):
            ax.set_xscale("log")
    else:
        _empty(ax, "no attempts")
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3, axis="x", which="both")
    return _save(fig, path)


def plot_tokens(rows: Sequence[dict[str, Any]], frames: Sequence[pd.DataFrame], path: Path) -> Path:
    return _box(frames, run_labels(rows), "completion_tokens", "completion tokens (log scale; diamond: mean)",
                path, log=True)


def plot_latency(rows: Sequence[dict[str, Any]], frames: Sequence[pd.DataFrame], path: Path) -> Path:
    return _box(frames, run_labels(rows), "latency_s", "seconds per attempt (log scale; diamond: mean)", path,
                log=True)


def plot_throughput(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    labels = run_labels(rows)
    tps = [r.get("output_tokens_per_s") if _isnum(r.get("output_tokens_per_s")) else 0.0 for r in rows]
    per_h = [r["attempts"] / (r["wall_s"] / 3600) if _isnum(r.get("wall_s")) and r.get("wall_s") else 0.0
             for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 0.9 + 0.42 * max(len(rows), 1)), sharey=True)
    y = np.arange(len(rows))
    ax1.barh(y, tps, color="#4c72b0")
    ax1.set_yticks(y, labels)
    ax1.invert_yaxis()
    ax1.set_xlabel("output tokens / s (wall time)")
    ax2.barh(y, per_h, color="#55a868")
    ax2.set_xlabel("attempts / hour")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, axis="x")
    return _save(fig, path)


def write_plots(rows: Sequence[dict[str, Any]], frames: Sequence[pd.DataFrame], out_dir: str | Path) -> dict[str, Path]:
    """All report plots as PNG files in ``out_dir`` (``<stem>.png``); returns stem -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "score_vs_effort": plot_score_vs_effort(rows, out / "score_vs_effort.png"),
        "score_vs_tokens": plot_score_vs_tokens(rows, out / "score_vs_tokens.png"),
        "tokens": plot_tokens(rows, frames, out / "tokens.png"),
        "latency": plot_latency(rows, frames, out / "latency.png"),
        "throughput": plot_throughput(rows, out / "throughput.png"),
    }
