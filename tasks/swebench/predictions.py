"""SWE-bench predictions (``instance_id``, ``model_name_or_path``, ``model_patch``) from a run's stored attempts.

    python -m tasks.swebench.predictions RUN_DIR --out preds.jsonl [--repeat 0] [--model-name NAME]

One line per instance (swebench keys predictions by instance id, so each repeat is its own file). Attempts
that ended without a patch are written with an empty ``model_patch`` so the harness counts them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evals.store import RunStore


def predictions_from_run(run_dir: str | Path, *, repeat: int = 0, model_name: str | None = None,
                         include_errors: bool = True) -> list[dict[str, Any]]:
    """Predictions for every stored attempt of ``repeat`` in ``run_dir``, ordered by instance id."""
    store = RunStore(run_dir)
    attempts = [a for a in store.attempts().values() if a.repeat == repeat]
    if not attempts and not store.attempts_path.exists():
        raise FileNotFoundError(f"no attempts.jsonl in {run_dir}")
    preds = []
    for a in sorted(attempts, key=lambda a: a.sample_id):
        if a.status != "ok" and not include_errors:
            continue
        patch = a.info.get("patch") or a.output.get("patch") or ""
        name = model_name or f"{a.model}__{a.effort}"
        preds.append({"instance_id": a.sample_id, "model_name_or_path": name, "model_patch": patch})
    return preds


def write_predictions(run_dir: str | Path, out: str | Path, **kwargs: Any) -> int:
    """Write :func:`predictions_from_run` as JSONL to ``out``; returns the number of lines."""
    preds = predictions_from_run(run_dir, **kwargs)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for p in preds:
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    return len(preds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.swebench.predictions",
                                 description="Write SWE-bench predictions JSONL from a run directory.")
    ap.add_argument("run_dir")
    ap.add_argument("--out", required=True, help="predictions file to write (JSONL)")
    ap.add_argument("--repeat", type=int, default=0, help="which repeat to export (default 0)")
    ap.add_argument("--model-name", default=None, help="model_name_or_path (default: <model>__<effort>)")
    ap.add_argument("--skip-errors", action="store_true", help="leave out attempts whose status is not ok")
    args = ap.parse_args(argv)
    n = write_predictions(args.run_dir, args.out, repeat=args.repeat, model_name=args.model_name,
                          include_errors=not args.skip_errors)
    print(f"wrote {n} predictions to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
