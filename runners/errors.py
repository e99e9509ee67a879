"""What the user sees when a run cannot go on: one line on stderr and an exit status.

2: bad input or a check that failed before spending (config, data, keys, sandbox, a refused request);
3: the model server stopped answering mid-run (every finished attempt is stored: rerun to resume);
4: the disk is full (everything written before is intact: free space and rerun).
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import errno

from hydra.errors import MissingConfigException
from omegaconf.errors import InterpolationResolutionError, OmegaConfBaseException

from evals.clients import RequestRejected, ServerUnavailable
from evals.store import StoreError
from evals.task import TaskError
from runners.doctor import DoctorFailed
from runners.vllm_server import ServerStartError

PREFIX = "gptoss-eval: error: "
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class UserError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


# Errors whose message is already the line to print.
ONE_LINE_ERRORS = (UserError, TaskError, StoreError, ServerStartError, DoctorFailed, RequestRejected)


def config_error_line(exc: Exception) -> str:
    """Hydra's and OmegaConf's multi-line config errors as one line (with a close match for a typo'd key)."""
    cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else exc
    text = str(exc)
    if isinstance(exc, MissingConfigException) and "Available options in" in text:
        head, options = text.split("Available options in", 1)
        group, _, names = options.partition(":")
        names = names.split("Config search path:")[0].split()
        return f"{head.strip()}. Available options in {group.strip()}: {', '.join(names)}"
    if isinstance(cause, OmegaConfBaseException) and "not in struct" in str(cause):
        key = cause.full_key or str(cause.key)
        parent = cause.parent_node
        known = [str(k) for k in parent.keys()] if parent is not None and hasattr(parent, "keys") else []
        close = difflib.get_close_matches(str(cause.key), known, n=1)
        hint = f"; did you mean {key.rsplit('.', 1)[0] + '.' if '.' in key else ''}{close[0]}?" if close else ""
        return f"unknown option {key}: the config has no such key{hint} (gptoss-eval --help lists the options)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(line for line in lines if not line.startswith(("full_key:", "object_type=", "See https://")))


def run_error(exc: BaseException, root: str = "") -> tuple[str, int] | None:
    """The line (without the ``gptoss-eval: error:`` prefix) and exit status for an error that stops a run;
    None for anything else (a bug: it keeps its traceback). ``root``: the output folder, for a full disk."""
    if isinstance(exc, ONE_LINE_ERRORS):
        return str(exc), 2
    if isinstance(exc, InterpolationResolutionError):  # e.g. a ${...} on the command line that names nothing
        return config_error_line(exc), 2
    if isinstance(exc, ServerUnavailable):
        return (f"the model server stopped answering: {exc}. Every finished attempt is stored; rerun the same "
                f"command to resume.", 3)
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return (f"cannot write the run ({exc.strerror}: {exc.filename or root}). Every attempt written before is "
                f"intact; free space and rerun the same command to resume.", 4)
    return None
