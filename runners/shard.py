"""Sharded and multi-server runs: split a suite into shards, merge shard stores, start N replicas.

Split: ``shard.index`` / ``shard.count`` (config) keep every ``count``-th sample of the suite's stable order,
starting at ``index``: the shards cover every sample exactly once, whatever the machine. A shard's store is
an ordinary run store (same settings hash as the unsharded run, ``shard`` recorded in its manifest).

Merge: ``python -m runners.shard merge OUT DIR...`` concatenates the attempts and grades of shard stores
into one run store ``OUT`` (then reported like any run). It refuses stores with different settings hashes,
the same attempt key in two stores, shards of different ``shard.count`` or a shard given twice, and (unless
``--allow-partial``) a missing shard.

Replicas: ``server.replicas: N`` (spawn mode) starts N vLLM servers, each on its own port, with
``server.replica_env[i]`` added to replica i's environment (e.g. ``CUDA_VISIBLE_DEVICES``); the client
balances over them (evals/balancer.py).

``PerJobServers`` is the Hydra callback for cluster launchers (submitit): each job starts its own server, so
nothing is started at sweep start; at sweep end the shards of every suite x effort are merged (into
``<sweep>/<suite>/<effort>/merged``) and the sweep report is written.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, TypeVar

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from evals.store import RunStore, StoreError, read_jsonl

log = logging.getLogger(__name__)
T = TypeVar("T")


# -- split ----------------------------------------------------------------------------------------------
def shard_of(cfg: DictConfig) -> tuple[int, int]:
    """(index, count) from ``cfg.shard`` (absent: one shard)."""
    shard = cfg.get("shard") or {}
    count = int(shard.get("count", 1) or 1)
    index = int(shard.get("index", 0) or 0)
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard.index must be in [0, shard.count), got index={index} count={count}")
    return index, count


def split(samples: list[T], index: int, count: int) -> list[T]:
    """Shard ``index`` of ``count``: every count-th sample from ``index`` on (sizes differ by at most one)."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard.index must be in [0, shard.count), got index={index} count={count}")
    return samples[index::count]


# -- merge ----------------------------------------------------------------------------------------------
class MergeError(Exception):
    pass


def merge(out: str | Path, dirs: list[str | Path], allow_partial: bool = False) -> dict[str, Any]:
    """Merge shard stores ``dirs`` into one run store ``out``; returns the merged manifest."""
    out = Path(out)
    stores = [RunStore(d) for d in dirs]
    manifests = []
    for st in stores:
        m = st.read_manifest()
        if m is None:
            raise MergeError(f"{st.root} has no manifest.json: not a run store")
        manifests.append(m)
    hashes = {m.get("settings_hash") for m in manifests}
    if len(hashes) != 1:
        detail = ", ".join(f"{st.root}: {m.get('settings_hash')}" for st, m in zip(stores, manifests, strict=True))
        raise MergeError(f"the stores were run with different settings (settings hash: {detail}); "
                         "only shards of one run can be merged")
    shards = [m.get("shard") or {"index": 0, "count": 1} for m in manifests]
    counts = {int(s["count"]) for s in shards}
    if len(counts) != 1:
        raise MergeError(f"shards of different splits (shard.count {sorted(counts)}) cannot be merged")
    count = counts.pop()
    seen: dict[int, Path] = {}
    for st, s in zip(stores, shards, strict=True):
        if int(s["index"]) in seen:
            raise MergeError(f"shard {s['index']} of {count} given twice ({seen[int(s['index'])]} and {st.root})")
        seen[int(s["index"])] = st.root
    missing = sorted(set(range(count)) - set(seen))
    if missing and not allow_partial:
        raise MergeError(f"shards {missing} of {count} are missing (--allow-partial merges what is there)")
    if (out / "attempts.jsonl").exists() or (out / "manifest.json").exists():
        raise MergeError(f"{out} already holds a run; merge into a new directory")

    attempts: dict[str, dict[str, Any]] = {}
    grades: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    for st in stores:
        mine = {d["key"]: d for d in read_jsonl(st.attempts_path)}  # a later line of one store wins (as resume)
        for key, d in mine.items():
            if key in attempts:
                raise MergeError(f"attempt {key!r} is in both {origin[key]} and {st.root}: refusing to merge "
                                 "duplicates (were the shards split the same way?)")
            attempts[key] = d
            origin[key] = st.root
        for d in read_jsonl(st.grades_path):
            if d["key"] in mine:
                grades[d["key"]] = d

    first = manifests[0]
    merged = {k: v for k, v in first.items() if k not in ("sessions", "shard", "server", "n_samples")}
    merged.update({
        "n_samples": sum(int(m.get("n_samples") or 0) for m in manifests),
        "shard": {"index": 0, "count": 1, "merged_from": [
            {"dir": str(st.root), "index": int(s["index"]), "count": count, "attempts": sum(
                1 for k in attempts if origin[k] == st.root)} for st, s in zip(stores, shards, strict=True)],
            "missing": missing},
        "sessions": [dict(sess, shard=int(s["index"])) for m, s in zip(manifests, shards, strict=True)
                     for sess in m.get("sessions", [])],
        "servers": [m.get("server") for m in manifests],
    })
    out.mkdir(parents=True, exist_ok=True)
    store = RunStore(out)
    tmp_a = store.attempts_path.with_suffix(".jsonl.tmp")
    tmp_g = store.grades_path.with_suffix(".jsonl.tmp")
    with open(tmp_a, "w", encoding="utf-8") as fa, open(tmp_g, "w", encoding="utf-8") as fg:
        for key, d in attempts.items():
            fa.write(json.dumps(d, ensure_ascii=False, default=str) + "\n")
            if key in grades:
                fg.write(json.dumps(grades[key], ensure_ascii=False, default=str) + "\n")
    tmp_a.replace(store.attempts_path)
    tmp_g.replace(store.grades_path)
    store.write_manifest(merged)
    return merged


# -- replicas -------------------------------------------------------------------------------------------


# -- cluster sweeps -------------------------------------------------------------------------------------
class PerJobServers(Callback):
    """For cluster launchers: no sweep-wide server (each job starts its own); merge shards at sweep end."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from reports.html import write_full_report

        sweep_dir = Path(config.hydra.sweep.dir)
        merged_dirs = merge_sweep(sweep_dir)
        roots = merged_dirs or [sweep_dir]
        try:
            paths = write_full_report(roots, sweep_dir)  # Markdown, CSV, HTML and plots (as SharedServer)
            log.info("sweep report: %s", paths["markdown"])
        except Exception as exc:  # the per-job stores are on disk; say why the combined report is not
            log.error("could not write the sweep report: %s", exc)


def merge_sweep(sweep_dir: Path) -> list[Path]:
    """Merge the shard stores under ``sweep_dir`` per run id into ``<first shard's parent>/merged``."""
    groups: dict[str, list[Path]] = {}
    for manifest in sorted(sweep_dir.rglob("manifest.json")):
        try:
            m = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if "merged_from" in (m.get("shard") or {}) or not m.get("shard"):
            continue
        groups.setdefault(str(m.get("run_id")), []).append(manifest.parent)
    out = []
    for run_id, dirs in groups.items():
        target = dirs[0].parent / "merged"
        if target.exists():
            import shutil

            shutil.rmtree(target)  # rebuilt from the shards every time
        try:
            merge(target, dirs, allow_partial=True)
            out.append(target)
        except (MergeError, StoreError) as exc:
            log.error("could not merge the shards of %s: %s", run_id, exc)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.shard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge", help="merge shard stores into one run store")
    m.add_argument("out", type=Path)
    m.add_argument("dirs", type=Path, nargs="+")
    m.add_argument("--allow-partial", action="store_true", help="merge even if some shards are missing")
    m.add_argument("--no-report", action="store_true", help="do not write report.md / summary.csv into OUT")
    args = parser.parse_args(argv)
    try:
        merged = merge(args.out, args.dirs, allow_partial=args.allow_partial)
    except (MergeError, StoreError) as exc:
        print(f"runners.shard: error: {exc}", file=sys.stderr)
        return 2
    n = sum(s["attempts"] for s in merged["shard"]["merged_from"])
    print(f"merged {len(args.dirs)} shard stores ({n} attempts) into {args.out}")
    if not args.no_report:
        from reports.summary import write_reports

        print(f"report: {write_reports([args.out], args.out)['markdown']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
