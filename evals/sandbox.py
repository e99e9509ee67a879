"""Run an untrusted program under bubblewrap with resource limits, measured from inside the sandbox.

One call, one throw-away sandbox::

    res = run_sandboxed(["./a.out"], workdir=None, stdin_path="in.txt", cpu_seconds=2, wall_seconds=6,
                        memory_bytes=256 << 20, max_processes=1, max_output_bytes=16 << 20,
                        ro_binds=[("/host/build/a.out", "/prog/a.out")])

What the sandbox is made of:

- ``bwrap --unshare-all`` (no network, own pid/ipc/uts/user/cgroup namespaces), ``--die-with-parent``,
  ``--new-session``, read-only ``/usr`` (plus the ``/bin``, ``/lib*`` symlinks and the dynamic-linker files of
  ``/etc``), a fresh ``/proc`` and minimal ``/dev``, a size-capped tmpfs ``/tmp``; the root is remounted
  read-only, so the only writable places are ``/tmp`` and the work dir ``/sandbox``;
- bwrap itself runs with the real uid ``uid`` (65534 by default) when the caller is root: RLIMIT_NPROC is not
  enforced for root, and a non-root real uid makes the fork-bomb limit hold;
- inside, a tiny C helper (compiled once into a cache dir) is PID 1 of the namespace: it sets the rlimits,
  forks and execs the program, enforces the wall clock with a timer (on expiry it SIGKILLs every process of the
  namespace), reaps orphans, and writes ``getrusage(RUSAGE_CHILDREN)`` (CPU time, peak RSS) to a pipe whose
  end the program never sees. When it exits, the kernel kills whatever is left in the pid namespace, so a
  daemonised grandchild cannot outlive the run;
- stdin is an open file (fast-input idioms read nothing from a pipe); stdout and stderr are read while the
  program runs and the run is killed as soon as either exceeds ``max_output_bytes``.

An infrastructure failure (bwrap missing, namespaces refused, the helper did not report) raises
:class:`SandboxError` (:class:`SandboxUnavailable` for "cannot sandbox here at all"); anything the program does
comes back as a :class:`SandboxResult`.

Known limits: memory is capped with RLIMIT_AS (address space, not RSS), so "out of memory" is inferred
(peak RSS near the limit, a failed-allocation message on stderr, or a crash near the limit) rather than
reported by a cgroup; there is no seccomp filter.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import selectors
import shutil
import signal as _signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SANDBOX_DIR = "/sandbox"  # where the work dir appears inside the sandbox
DEFAULT_UID = 65534  # nobody
_INSTALL_HINT = "bubblewrap (bwrap) not found; install it: apt-get install bubblewrap"
_OOM_MARKERS = (b"std::bad_alloc", b"MemoryError", b"Cannot allocate memory", b"out of memory",
                b"Out of memory", b"memory exhausted")

__all__ = [
    "SANDBOX_DIR",
    "SandboxError",
    "SandboxResult",
    "SandboxUnavailable",
    "cache_dir",
    "check_available",
    "run_sandboxed",
    "sandbox_workdir",
]


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program inside it)."""


class SandboxUnavailable(SandboxError):
    """Sandboxing is impossible on this machine (bwrap missing, or it cannot create namespaces)."""


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int | None  # None when the program was killed by a signal (or by us)
    signal: int | None  # terminating signal number, if any
    stdout: bytes  # at most max_output_bytes
    stderr: bytes  # at most min(max_output_bytes, 64 KiB)
    stdout_truncated: bool
    stderr_truncated: bool
    cpu_seconds: float | None  # user+sys of the program and its reaped descendants; None if never reported
    peak_memory_bytes: int | None  # max RSS of the largest process, from inside the sandbox
    wall_seconds: float  # program wall time from inside the sandbox (host-side time if it never reported)
    timed_out: bool  # CPU limit exceeded (or SIGXCPU), or wall clock expired
    output_limited: bool  # stdout or stderr exceeded max_output_bytes; the run was killed
    oom: bool  # memory limit hit (inferred, see the module doc)

    @property
    def ok(self) -> bool:
        """Exited 0 with no limit hit."""
        return self.exit_code == 0 and not (self.timed_out or self.output_limited or self.oom)


# --------------------------------------------------------------------------------------------------------------
# The PID-1 helper
# --------------------------------------------------------------------------------------------------------------

_INIT_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* usage: init RESULT_FD CPU_S WALL_S AS STACK NPROC FSIZE NOFILE -- PROGRAM ARGS...   (0 = no limit)
 *    or: init --drop UID COMMAND ARGS...   (outside the sandbox: become UID:UID, no groups, exec COMMAND) */

static volatile sig_atomic_t expired = 0;

static void on_alarm(int sig) {
    (void)sig;
    expired = 1;
    kill(-1, SIGKILL); /* as PID 1: every other process of the namespace */
}

static void lim(int res, unsigned long long soft, unsigned long long hard) {
    struct rlimit r;
    r.rlim_cur = soft;
    r.rlim_max = hard;
    if (setrlimit(res, &r) != 0) _exit(121);
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "--drop") == 0) {
        unsigned id = (unsigned)strtoul(argv[2], 0, 10);
        if (setgroups(0, 0) != 0 || setgid(id) != 0 || setuid(id) != 0) {
            perror("sandbox-init: cannot drop privileges");
            return 125;
        }
        execvp(argv[3], argv + 3);
        perror("sandbox-init: exec");
        return 126;
    }
    if (argc < 11 || strcmp(argv[9], "--") != 0) {
        fprintf(stderr, "sandbox-init: bad usage\n");
        return 120;
    }
    int rfd = atoi(argv[1]);
    double cpu = atof(argv[2]), wall = atof(argv[3]);
    unsigned long long as = strtoull(argv[4], 0, 10), stack = strtoull(argv[5], 0, 10);
    unsigned long long nproc = strtoull(argv[6], 0, 10), fsize = strtoull(argv[7], 0, 10);
    unsigned long long nofile = strtoull(argv[8], 0, 10);
    char **cmd = argv + 10;
    if (fcntl(rfd, F_SETFD, FD_CLOEXEC) != 0) return 122;
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) != 0) return 123;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) return 124;
    if (pid == 0) {
        close(ep[0]);
        if (cpu > 0) {
            unsigned long long c = (unsigned long long)cpu + 1;
            lim(RLIMIT_CPU, c, c + 1);
        }
        if (as) lim(RLIMIT_AS, as, as);
        if (stack) lim(RLIMIT_STACK, stack, stack);
        if (nproc) lim(RLIMIT_NPROC, nproc, nproc);
        if (fsize) lim(RLIMIT_FSIZE, fsize, fsize);
        if (nofile) lim(RLIMIT_NOFILE, nofile, nofile);
        lim(RLIMIT_CORE, 0, 0);
        execvp(cmd[0], cmd);
        int e = errno;
        if (write(ep[1], &e, sizeof e) < 0) _exit(126);
        _exit(127);
    }
    close(ep[1]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, 0);
    if (wall > 0) {
        struct itimerval it;
        memset(&it, 0, sizeof it);
        it.it_value.tv_sec = (long)wall;
        it.it_value.tv_usec = (long)((wall - (double)(long)wall) * 1e6);
        if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
        setitimer(ITIMER_REAL, &it, 0);
    }
    int exec_errno = 0;
    for (;;) {
        ssize_t n = read(ep[0], &exec_errno, sizeof exec_errno);
        if (n >= 0 || errno != EINTR) break;
    }
    int status = 0;
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w == pid) { status = st; break; }
        if (w < 0 && errno != EINTR) break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    long long cpu_us = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL
                       + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    long long wall_us = (long long)(t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
    dprintf(rfd, "sbx1 %d %d %lld %ld %lld %d\n", exec_errno, status, cpu_us, ru.ru_maxrss, wall_us,
            (int)expired);
    return 0; /* leaving PID 1 kills the rest of the namespace */
}
"""

_init_lock = threading.Lock()
_init_path: Path | None = None
_checked: dict[int, str | None] = {}  # uid -> None (works) or the error text


def cache_dir() -> Path:
    """A cache directory readable by the sandbox uid (``$GPTOSS_SANDBOX_CACHE`` or /var/tmp/gptoss-eval-<uid>)."""
    d = Path(os.environ.get("GPTOSS_SANDBOX_CACHE") or f"/var/tmp/gptoss-eval-{os.getuid()}")
    d.mkdir(parents=True, exist_ok=True)
    st = d.stat()
    if st.st_uid != os.getuid():
        raise SandboxError(f"cache dir {d} must be owned by uid {os.getuid()} (it holds binaries run as root)")
    if st.st_mode & 0o777 != 0o755:
        d.chmod(0o755)  # readable by the sandbox uid, writable only by us
    return d


def _init_binary() -> Path:
    global _init_path
    with _init_lock:
        if _init_path is not None and _init_path.exists():
            return _init_path
        digest = hashlib.sha256(_INIT_C.encode()).hexdigest()[:16]
        out = cache_dir() / f"sandbox-init-{digest}"
        if not out.exists():
            cc = shutil.which("gcc") or shutil.which("cc")
            if cc is None:
                raise SandboxUnavailable("a C compiler (gcc) is needed once to build the sandbox helper")
            with tempfile.TemporaryDirectory() as td:
                src = Path(td) / "init.c"
                src.write_text(_INIT_C)
                tmp_out = out.with_name(out.name + f".tmp{os.getpid()}")
                last = None
                for extra in (["-static"], []):  # static starts faster; fall back if libc.a is missing
                    p = subprocess.run([cc, "-O2", *extra, "-o", str(tmp_out), str(src)],
                                       capture_output=True, text=True)
                    if p.returncode == 0:
                        break
                    last = p.stderr
                else:
                    raise SandboxError(f"cannot build the sandbox helper: {last}")
                tmp_out.chmod(0o755)
                os.replace(tmp_out, out)
        _init_path = out
        return out


# --------------------------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------------------------

def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), f"/{name}"]
        elif p.is_dir():
            args += ["--ro-bind", str(p), f"/{name}"]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    return args


def _bwrap() -> str:
    b = shutil.which("bwrap")
    if b is None:
        raise SandboxUnavailable(_INSTALL_HINT)
    return b


def _drop_kwargs(uid: int) -> dict:
    # As root, run bwrap itself with the real uid `uid`: RLIMIT_NPROC is never enforced for root.
    if os.geteuid() == 0 and uid != 0:
        return {"user": uid, "group": uid, "extra_groups": []}
    return {}


def _drop_prefix(uid: int, init: Path) -> list[str]:
    # Same as _drop_kwargs, done by the helper: Popen(user=...) must fork() the whole Python process (slow for a
    # big one), while a plain Popen can vfork(); the helper drops to `uid` and execs bwrap.
    if os.geteuid() == 0 and uid != 0:
        return [str(init), "--drop", str(uid)]
    return []


def check_available(uid: int = DEFAULT_UID) -> None:
    """Raise :class:`SandboxUnavailable` unless bwrap can create the namespaces we need (cached per uid)."""
    if uid not in _checked:
        bwrap = _bwrap()
        args = [bwrap, "--unshare-all", "--die-with-parent", "--as-pid-1", *_system_binds(), "--uid", str(uid),
                "--gid", str(uid), "/bin/true"]
        try:
            p = subprocess.run(args, capture_output=True, text=True, timeout=30, **_drop_kwargs(uid))
            _checked[uid] = None if p.returncode == 0 else (p.stderr.strip() or f"exit {p.returncode}")
        except (OSError, subprocess.SubprocessError) as e:
            _checked[uid] = str(e)
    err = _checked[uid]
    if err is not None:
        raise SandboxUnavailable(f"bubblewrap cannot create namespaces here ({err}); unprivileged user "
                                 "namespaces must be enabled (sysctl kernel.unprivileged_userns_clone=1)")


@contextlib.contextmanager
def sandbox_workdir(uid: int = DEFAULT_UID, prefix: str = "sbx-") -> Iterator[Path]:
    """A temporary host directory writable by the sandbox uid; removed (with everything inside) on exit."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if os.geteuid() == 0:
            os.chown(d, uid, uid)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _norm_binds(ro_binds: Sequence[str | os.PathLike | tuple[str | os.PathLike, str]]) -> list[str]:
    out: list[str] = []
    for b in ro_binds:
        if isinstance(b, tuple):
            src, dst = str(b[0]), str(b[1])
        else:
            src = dst = str(b)
        if not os.path.exists(src):
            raise SandboxError(f"ro_bind source does not exist: {src}")
        out += ["--ro-bind", src, dst]
    return out


def run_sandboxed(
    argv: Sequence[str],
    *,
    workdir: str | os.PathLike | None,
    stdin_path: str | os.PathLike | None = None,
    cpu_seconds: float,
    wall_seconds: float,
    memory_bytes: int,
    max_processes: int,
    max_output_bytes: int,
    uid: int = DEFAULT_UID,
    ro_binds: Sequence[str | os.PathLike | tuple[str | os.PathLike, str]] = (),
    env: Mapping[str, str] | None = None,
    workdir_readonly: bool = False,
    tmpfs_bytes: int = 64 << 20,
    file_size_bytes: int = 64 << 20,
    max_open_files: int = 256,
    stack_bytes: int | None = None,
    mount_proc: bool = True,
) -> SandboxResult:
    """Run ``argv`` in a fresh bubblewrap sandbox and return what happened.

    ``workdir``: host directory bound at ``/sandbox`` (read-write unless ``workdir_readonly``; it is chowned to
    ``uid`` when we are root), or None for a private tmpfs of ``tmpfs_bytes``. The program starts in
    ``/sandbox``. ``ro_binds``: extra read-only paths, ``path`` or ``(host_path, sandbox_path)``.
    ``memory_bytes`` caps the address space (RLIMIT_AS) and, unless ``stack_bytes`` says otherwise, the stack.
    ``max_processes`` is RLIMIT_NPROC for the program (threads count). ``env`` replaces the environment
    (default: PATH, LANG, HOME only). ``cpu_seconds`` is enforced by RLIMIT_CPU (rounded up, +1 s) and checked
    exactly afterwards; ``wall_seconds`` by the in-sandbox timer, with a host-side kill 2 s later as a backstop.
    ``mount_proc=False`` leaves out ``/proc`` (a few ms faster, less to look at; most programs never need it).
    """
    if not argv:
        raise ValueError("argv is empty")
    bwrap = _bwrap()
    check_available(uid)
    init = _init_binary()
    args = [*_drop_prefix(uid, init), bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
            "--die-with-parent", "--new-session", "--as-pid-1",
            *_system_binds(), *(["--proc", "/proc"] if mount_proc else []), "--dev", "/dev",
            "--size", str(int(tmpfs_bytes)), "--tmpfs", "/tmp"]
    if workdir is None:
        args += ["--size", str(int(tmpfs_bytes)), "--perms", "0700", "--tmpfs", SANDBOX_DIR]
    else:
        wd = Path(workdir)
        if not wd.is_dir():
            raise SandboxError(f"workdir is not a directory: {wd}")
        if os.geteuid() == 0 and wd.stat().st_uid != uid:
            os.chown(wd, uid, uid)
        args += ["--ro-bind" if workdir_readonly else "--bind", str(wd), SANDBOX_DIR]
    args += _norm_binds(ro_binds)
    args += ["--ro-bind", str(init), "/.sandbox-init", "--remount-ro", "/",
             "--uid", str(uid), "--gid", str(uid), "--hostname", "sandbox", "--chdir", SANDBOX_DIR,
             "--clearenv"]
    environment = dict(env) if env is not None else {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                                                     "HOME": SANDBOX_DIR}
    for k, v in environment.items():
        args += ["--setenv", k, v]

    r_read, r_write = os.pipe()
    stack = memory_bytes if stack_bytes is None else stack_bytes
    args += ["/.sandbox-init", str(r_write), repr(float(cpu_seconds)), repr(float(wall_seconds)),
             str(int(memory_bytes)), str(int(stack)), str(int(max_processes)), str(int(file_size_bytes)),
             str(int(max_open_files)), "--", *argv]

    stdin_f = open(stdin_path, "rb") if stdin_path is not None else open(os.devnull, "rb")  # noqa: SIM115
    t0 = time.monotonic()
    try:
        try:
            proc = subprocess.Popen(args, stdin=stdin_f, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    pass_fds=(r_write,), start_new_session=True)
        except OSError as e:
            raise SandboxError(f"cannot start bwrap: {e}") from e
        finally:
            os.close(r_write)
            stdin_f.close()
        killed_by_us = ""
        out, err = bytearray(), bytearray()
        n_out = n_err = 0
        err_keep = min(max_output_bytes, 64 << 10)
        sel = selectors.DefaultSelector()
        try:
            assert proc.stdout is not None and proc.stderr is not None
            sel.register(proc.stdout, selectors.EVENT_READ, "out")
            sel.register(proc.stderr, selectors.EVENT_READ, "err")
            deadline = t0 + wall_seconds + 2.0
            open_streams = 2
            while open_streams:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    killed_by_us = "wall"
                    break
                for key, _ in sel.select(timeout=min(remaining, 1.0)):
                    chunk = os.read(key.fd, 1 << 16)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    if key.data == "out":
                        n_out += len(chunk)
                        if len(out) < max_output_bytes:
                            out += chunk[: max_output_bytes - len(out)]
                    else:
                        n_err += len(chunk)
                        if len(err) < err_keep:
                            err += chunk[: err_keep - len(err)]
                if n_out > max_output_bytes or n_err > max_output_bytes:
                    killed_by_us = "output"
                    break
        finally:
            sel.close()
            if killed_by_us or proc.poll() is None:
                if killed_by_us:
                    _kill(proc)
                try:
                    proc.wait(timeout=wall_seconds + 5.0 if not killed_by_us else 10.0)
                except subprocess.TimeoutExpired:
                    killed_by_us = killed_by_us or "wall"
                    _kill(proc)
                    proc.wait()
            for f in (proc.stdout, proc.stderr):
                if f is not None:
                    f.close()
        host_wall = time.monotonic() - t0
        with os.fdopen(r_read, "rb") as rf:
            report = rf.read(4096).decode(errors="replace").split()
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(r_read)
        raise

    out_b, err_b = bytes(out), bytes(err)
    if len(report) != 7 or report[0] != "sbx1":
        if killed_by_us:
            return SandboxResult(exit_code=None, signal=int(_signal.SIGKILL), stdout=out_b, stderr=err_b,
                                 stdout_truncated=n_out > len(out_b), stderr_truncated=n_err > len(err_b),
                                 cpu_seconds=None, peak_memory_bytes=None, wall_seconds=host_wall,
                                 timed_out=killed_by_us == "wall", output_limited=killed_by_us == "output",
                                 oom=False)
        tail = err_b[-2000:].decode(errors="replace").strip()
        raise SandboxError(f"sandbox did not start or did not report (bwrap exit {proc.returncode}): {tail}")
    exec_errno, status, cpu_us, maxrss_kb, wall_us, expired = (int(x) for x in report[1:])
    if exec_errno:
        raise SandboxError(f"cannot execute {argv[0]!r} in the sandbox: {os.strerror(exec_errno)}")
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    cpu = cpu_us / 1e6
    peak = maxrss_kb * 1024
    timed_out = bool(expired) or cpu > cpu_seconds or sig == _signal.SIGXCPU or killed_by_us == "wall"
    abnormal = exit_code != 0
    oom = peak >= memory_bytes or (abnormal and not timed_out and (
        peak >= 0.9 * memory_bytes or any(m in err_b for m in _OOM_MARKERS)))
    return SandboxResult(exit_code=exit_code if not killed_by_us else None,
                         signal=sig if not killed_by_us else int(_signal.SIGKILL),
                         stdout=out_b, stderr=err_b,
                         stdout_truncated=n_out > len(out_b), stderr_truncated=n_err > len(err_b),
                         cpu_seconds=cpu, peak_memory_bytes=peak, wall_seconds=wall_us / 1e6,
                         timed_out=timed_out, output_limited=killed_by_us == "output", oom=oom)


def _kill(proc: subprocess.Popen) -> None:
    # bwrap leads its own process group (start_new_session); killing it makes the kernel SIGKILL the sandbox's
    # PID 1 (--die-with-parent), which takes the whole pid namespace with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, _signal.SIGKILL)


def cpu_rlimit_seconds(cpu_seconds: float) -> int:
    """The RLIMIT_CPU soft limit the helper sets for a given ``cpu_seconds`` (documentation/tests)."""
    return int(math.floor(cpu_seconds)) + 1
