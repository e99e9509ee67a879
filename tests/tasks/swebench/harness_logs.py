"""What ``swebench.harness.run_evaluation`` (5.0.2) leaves on disk, laid down without Docker.

The Docker run itself is the one thing these tests cannot do here, so this writes exactly what its
``run_instance`` writes per instance under ``logs/run_evaluation/<run_id>/<model>/<instance_id>/``, with
swebench's own functions wherever it uses them: the eval script's output (run for real in a local clone,
as ``/eval.sh`` runs in the container) as ``test_output.txt``; ``report.json`` from ``get_eval_report``;
``run_instance.log`` through swebench's ``setup_logger`` with the messages ``run_instance`` logs; and, on
request, the run summary from swebench's ``make_run_report``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tasks.swebench.environments import LocalEnvironment
from tests.tasks.swebench.conftest import VENV_BIN

# what happens to an instance in the harness
RUN_TESTS, APPLY_FAILS, TIMES_OUT, DOCKER_FAILS = "run_tests", "apply_fails", "times_out", "docker_fails"


def _eval_output(row: dict[str, Any], patch: str) -> str:
    """The eval script's output with ``patch`` applied to a fresh clone (what the harness's /eval.sh prints)."""
    env = LocalEnvironment(row["local_repo"], row["base_commit"], sandbox=False, path=[VENV_BIN])
    env.start()
    try:
        ok, log = env.apply_diff(patch)
        assert ok, log
        _, output, _ = env.run_script(row["eval_script"], 120)
        return output.replace(env.host_repo, "/testbed")  # as seen inside the container
    finally:
        env.close()


def write_instance(root: Path, run_id: str, model: str, row: dict[str, Any], patch: str, fate: str,
                   timeout: int = 900) -> Path:
    """One instance's harness log dir as ``run_instance`` leaves it for ``fate``."""
    from swebench.harness.constants import APPLY_PATCH_FAIL, APPLY_PATCH_PASS
    from swebench.harness.grading import get_eval_report
    from swebench.harness.utils import make_test_spec
    from swebench.logger import close_logger, setup_logger

    iid = row["instance_id"]
    d = root / "logs" / "run_evaluation" / run_id / model.replace("/", "__") / iid
    d.mkdir(parents=True, exist_ok=True)
    logger = setup_logger(iid, d / "run_instance.log")
    try:
        logger.info(f"Container for {iid} started: 0123456789ab")
        (d / "patch.diff").write_text(patch)
        logger.info(f"Intermediate patch for {iid} written to {d / 'patch.diff'}, now applying to container...")
        if fate == DOCKER_FAILS:
            logger.error(f"Error in evaluating model for {iid}: Error response from daemon: no such image\n"
                         f"Check ({d / 'run_instance.log'}) for more information.")
            return d
        if fate == APPLY_FAILS:
            for cmd in ("git apply --verbose", "git apply --verbose --reject", "patch --batch --fuzz=5 -p1 -i"):
                logger.info(f"Failed to apply patch to container: {cmd}")
            logger.info(f"{APPLY_PATCH_FAIL}:\nerror: patch failed: calc/ops.py:1\nerror: calc/ops.py: patch does "
                        f"not apply\n")
            logger.info(f"EvaluationError {iid}: {APPLY_PATCH_FAIL}")
            return d
        logger.info(f"{APPLY_PATCH_PASS}:\nChecking patch calc/ops.py...\nApplied patch calc/ops.py cleanly.\n")
        output = _eval_output(row, patch)
        with open(d / "test_output.txt", "w") as fh:
            fh.write(output)
            if fate == TIMES_OUT:
                fh.write(f"\n\nTimeout error: {timeout} seconds exceeded.")
        if fate == TIMES_OUT:
            logger.info(f"EvaluationError {iid}: Test timed out after {timeout} seconds.")
            return d
        pred = {"instance_id": iid, "model_name_or_path": model, "model_patch": patch}
        report = get_eval_report(make_test_spec(dict(row)), pred, str(d / "test_output.txt"),
                                 include_tests_status=True)
        (d / "report.json").write_text(json.dumps(report, indent=4))
        logger.info(f"Result for {iid}: resolved: {report[iid]['resolved']}")
        return d
    finally:
        close_logger(logger)


def run_report(root: Path, run_id: str, predictions: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict:
    """swebench's own run summary (``make_run_report``, no Docker client) over the laid-down logs."""
    from swebench.harness.reporting import make_run_report

    here = os.getcwd()
    os.chdir(root)  # the harness's log dir is relative to its working directory
    try:
        path = make_run_report({p["instance_id"]: p for p in predictions}, rows, run_id, None, str(root))
    finally:
        os.chdir(here)
    return json.loads(Path(root, path).read_text())
