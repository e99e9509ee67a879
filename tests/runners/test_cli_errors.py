"""runners/errors.py: which errors stop a run with one line and which exit status each gets (the console-script
tests check the same lines end to end; here every kind is covered in one place, a bug included)."""

from __future__ import annotations

import errno

import pytest
from omegaconf import OmegaConf
from omegaconf.errors import InterpolationResolutionError

from evals.clients import RequestRejected, ServerUnavailable
from evals.store import StoreError
from evals.task import DataUnavailable, TaskError
from runners.doctor import DoctorFailed
from runners.errors import UserError, run_error
from runners.vllm_server import ServerStartError


@pytest.mark.parametrize("exc", [UserError("concurrency=0 is not valid"), TaskError("no docker"),
                                 DataUnavailable("no data"), StoreError("line 3 is damaged"),
                                 ServerStartError("vLLM exited"), DoctorFailed("1 check failed"),
                                 RequestRejected("400: bad request")])
def test_errors_that_already_read_as_one_line_exit_2_with_their_message(exc):
    assert run_error(exc) == (str(exc), 2)


def test_a_server_that_stopped_answering_exits_3_and_says_to_rerun():
    line, status = run_error(ServerUnavailable("5 requests in a row failed"))
    assert status == 3
    assert line == ("the model server stopped answering: 5 requests in a row failed. Every finished attempt is "
                    "stored; rerun the same command to resume.")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_a_full_disk_exits_4_naming_the_file_or_the_output_root(code):
    named = OSError(code, "No space left on device", "/runs/a/attempts.jsonl")
    assert run_error(named, "/runs") == ("cannot write the run (No space left on device: /runs/a/attempts.jsonl). "
                                         "Every attempt written before is intact; free space and rerun the same "
                                         "command to resume.", 4)
    assert "(No space left on device: /runs)" in run_error(OSError(code, "No space left on device"), "/runs")[0]


def test_an_unresolvable_interpolation_is_one_line():
    cfg = OmegaConf.create({"a": "${nothing.here}"})
    with pytest.raises(InterpolationResolutionError) as info:
        _ = cfg.a
    line, status = run_error(info.value)
    assert status == 2 and "\n" not in line and "nothing.here" in line


@pytest.mark.parametrize("exc", [KeyError("x"), ValueError("a bug"), OSError(errno.EACCES, "Permission denied")])
def test_anything_else_is_a_bug_that_keeps_its_traceback(exc):
    assert run_error(exc) is None
