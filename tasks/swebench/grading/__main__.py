"""The command line of SWE-bench grading, ``python -m tasks.swebench.grading``: grade stored runs after the fact
with the package's functions, write the grades back and refresh the run's suite metrics and report.md."""

from __future__ import annotations

import json
import shlex
import sys

from runners.suite_report import refresh_report
from tasks.swebench.grading import (
    HARNESS_WORKDIR,
    breakdown_from_runs,
    grade_run_docker,
    grade_run_from_logs,
    grade_run_stored,
)

USAGE = """\
  python -m tasks.swebench.grading RUN_DIR...               resolved rate and why unresolved, per effort (JSON)
  python -m tasks.swebench.grading RUN_DIR --docker [--workers N] [--timeout S] [--run-id ID] [--dry-run]
        predictions -> swebench.harness.run_evaluation on this Docker host -> the run's grades and report.md
  python -m tasks.swebench.grading RUN_DIR --from-logs [LOG_DIR] [--run-id ID] [--use-reports]
        no Docker: re-grade a harness run's saved test logs with swebench's own functions
  python -m tasks.swebench.grading RUN_DIR --stored
        no Docker: re-grade the eval-script logs a local-environment run stored with its attempts
"""


def main(argv: list[str] | None = None) -> int:
    """Grade stored SWE-bench runs after the fact and write the grades (and report.md) back."""
    import argparse

    from evals.store import StoreError
    from evals.task import TaskError
    from tasks.swebench.environments import EnvironmentUnavailable

    ap = argparse.ArgumentParser(prog="python -m tasks.swebench.grading", description=main.__doc__, usage=USAGE)
    ap.add_argument("run_dirs", nargs="+", help="run directories (holding manifest.json and attempts.jsonl)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--docker", action="store_true", help="run the official harness on this Docker host")
    mode.add_argument("--from-logs", nargs="?", const="", default=None, metavar="LOG_DIR",
                      help="grade from a finished harness run's logs/run_evaluation/<run_id> (default: this run "
                           "dir's swebench_harness/)")
    mode.add_argument("--stored", action="store_true", help="re-grade the eval-script logs stored in the run")
    ap.add_argument("--workers", type=int, default=4, help="harness --max_workers (default 4)")
    ap.add_argument("--timeout", type=int, default=1800, help="harness --timeout per instance, s (default 1800)")
    ap.add_argument("--run-id", default=None, help="harness --run_id (default: from the run's model, suite, "
                                                    "effort and settings hash)")
    ap.add_argument("--dataset", default=None, help="dataset file or hub id (default: the run's suite.path or "
                                                    "hub id)")
    ap.add_argument("--split", default=None, help="dataset split (default: the run's)")
    ap.add_argument("--workdir", default=None, help="where the harness runs and writes its logs (default: "
                                                    f"RUN_DIR/{HARNESS_WORKDIR})")
    ap.add_argument("--dry-run", action="store_true", help="--docker: write predictions, print the command lines")
    ap.add_argument("--use-reports", action="store_true", help="--from-logs: read the harness's report.json "
                                                               "files instead of re-grading test_output.txt")
    args = ap.parse_args(argv)
    writing = args.docker or args.stored or args.from_logs is not None
    try:
        if not writing:
            print(json.dumps(breakdown_from_runs(args.run_dirs), indent=2))
            return 0
        if len(args.run_dirs) != 1:
            raise ValueError("--docker, --from-logs and --stored grade one run directory at a time")
        if args.workers < 1 or args.timeout < 1:
            raise ValueError("--workers and --timeout must be positive")
        run_dir = args.run_dirs[0]
        if args.docker:
            result = grade_run_docker(run_dir, run_id=args.run_id, dataset=args.dataset, split=args.split,
                                      max_workers=args.workers, timeout=args.timeout, workdir=args.workdir,
                                      dry_run=args.dry_run)
        elif args.stored:
            result = grade_run_stored(run_dir, dataset=args.dataset, split=args.split)
        else:
            result = grade_run_from_logs(run_dir, log_dir=args.from_logs or None, run_id=args.run_id,
                                         dataset=args.dataset, split=args.split, use_reports=args.use_reports)
        if args.dry_run:
            for argv_ in result["argv"]:
                print(shlex.join(argv_))
            return 0
        # the entry point refreshes the suite metrics and the report; the library functions never do
        report = refresh_report(run_dir)
    except (EnvironmentUnavailable, TaskError, StoreError, FileNotFoundError, ValueError) as exc:
        print(f"grading: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # the harness itself failed; its logs say why, the old grades are untouched
        print(f"grading: error: {exc}", file=sys.stderr)
        return 1
    print(f"graded {result['graded']} attempts by {result['method']}: {result['resolved']} resolved, "
          f"{result['changed']} grades changed; wrote grades.jsonl and {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
