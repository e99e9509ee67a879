"""The bubblewrap sandbox: limits, measurement, containment, clean-up. Skipped when bwrap is unusable here."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from evals import sandbox
from evals.sandbox import SandboxError, SandboxUnavailable, run_sandboxed, sandbox_workdir
from tests.conftest import needs_bwrap
from tests.support.procs import cmdline, descendants
from tests.support.sandbox_leftovers import sandbox_leftovers

pytestmark = needs_bwrap

PY = "/usr/bin/python3"
LIMITS = dict(cpu_seconds=2.0, wall_seconds=4.0, memory_bytes=256 << 20, max_processes=8,
              max_output_bytes=1 << 20)


def run(argv, **kw):
    opts = {**LIMITS, "workdir": None, **kw}
    return run_sandboxed(argv, **opts)


def py(code: str, **kw):
    return run([PY, "-c", code], **kw)


live_sandbox_processes = sandbox_leftovers


def others_inbox(name: str) -> bool:
    """A lane inbox of another process (other jobs on this machine run sandboxes too)."""
    return name.startswith("sbx-in-") and not name.startswith(f"sbx-in-{os.getpid()}-")


@pytest.fixture(autouse=True)
def nothing_left_behind():
    before = set(os.listdir("/tmp"))
    yield
    deadline = time.monotonic() + 3
    while live_sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_sandbox_processes() == []
    assert {n for n in set(os.listdir("/tmp")) - before if n.startswith("sbx-") and not others_inbox(n)} == set()


def test_basic_run_measures_inside():
    r = py("import sys; sys.stdout.write('hi'); sys.stderr.write('err'); sys.exit(3)")
    assert r.exit_code == 3 and r.signal is None
    assert r.stdout == b"hi" and r.stderr == b"err"
    assert r.cpu_seconds is not None and 0 < r.cpu_seconds < 1
    assert r.peak_memory_bytes is not None and r.peak_memory_bytes > 1 << 20
    assert not (r.timed_out or r.oom or r.output_limited or r.ok)


def test_cpu_time_is_measured():
    r = py("import time\nt=time.process_time()\nwhile time.process_time()-t<0.4: pass")
    assert r.ok and 0.35 < r.cpu_seconds < 1.0


def test_runs_as_nobody_without_network_or_host_files():
    code = (
        "import os, socket\n"
        "print(os.getuid(), os.getgid())\n"
        "for p in ('/etc/shadow', '/etc/passwd', '/root', '/work', '/home'):\n"
        "    print(p, os.path.exists(p))\n"
        "print(sorted(socket.if_nameindex()))\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 80), timeout=2); print('net open')\n"
        "except OSError as e: print('net blocked', e.errno)\n"
    )
    r = py(code)
    out = r.stdout.decode()
    assert r.ok, r.stderr
    assert out.splitlines()[0] == f"{sandbox.DEFAULT_UID} {sandbox.DEFAULT_UID}"
    for p in ("/etc/shadow", "/etc/passwd", "/root", "/work", "/home"):
        assert f"{p} False" in out
    assert "net blocked" in out and "net open" not in out


def test_root_and_system_are_read_only(tmp_path):
    code = (
        "import os\n"
        "for p in ('/x', '/usr/x', '/etc/x', '/proc/x'):\n"
        "    try:\n"
        "        open(p, 'w').write('x'); print('WROTE', p)\n"
        "    except OSError: pass\n"
        "open('/sandbox/ok', 'w').write('fine'); open('/tmp/ok', 'w').write('fine'); print('done')\n"
    )
    with sandbox_workdir() as wd:
        r = run([PY, "-c", code], workdir=wd)
        assert r.ok, r.stderr
        assert b"WROTE" not in r.stdout and r.stdout.strip() == b"done"
        assert (wd / "ok").read_text() == "fine"
    assert not wd.exists()
    assert not Path("/usr/x").exists()


def test_stdin_is_a_file_not_a_pipe(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("3 4\n")
    r = py("import os, stat, sys\nprint(stat.S_ISREG(os.fstat(0).st_mode), sum(map(int, sys.stdin.read().split())))",
           stdin_path=f)
    assert r.stdout.split() == [b"True", b"7"]


def test_wall_timeout_kills_sleeper():
    t = time.monotonic()
    r = run(["/bin/sleep", "1000"], wall_seconds=1.0)
    assert time.monotonic() - t < 3
    assert r.timed_out and r.exit_code is None and r.signal == 9


def test_cpu_limit():
    r = py("while True: pass", cpu_seconds=0.5, wall_seconds=5.0)
    assert r.timed_out and r.cpu_seconds >= 0.5


def test_memory_bomb_is_oom():
    r = py("x = bytearray(1 << 30)", memory_bytes=128 << 20)
    assert r.oom and not r.ok
    r = py("x = []\nwhile True: x.append(bytearray(8 << 20))", memory_bytes=128 << 20)
    assert r.oom and r.peak_memory_bytes < 160 << 20


def test_gigabyte_of_output_is_cut_off_while_reading():
    t = time.monotonic()
    r = py("import sys\nb = b'x' * (1 << 20)\nfor _ in range(1024): sys.stdout.buffer.write(b)",
           max_output_bytes=4 << 20)
    assert r.output_limited and r.stdout_truncated and len(r.stdout) == 4 << 20
    assert time.monotonic() - t < 3


def test_stderr_flood_is_capped():
    r = py("import sys\nsys.stderr.write('e' * (3 << 20))", max_output_bytes=1 << 20)
    assert r.output_limited and r.stderr_truncated and len(r.stderr) <= 64 << 10


def test_fork_bomb_is_contained():
    code = ("import os\nwhile True:\n    try:\n        os.fork()\n"  # forever: only the limits end it
            "    except OSError: pass\n")
    t = time.monotonic()
    r = py(code, max_processes=8, wall_seconds=2.0)
    assert time.monotonic() - t < 5
    assert not r.ok
    healthy = py("print('alive')")
    assert healthy.stdout == b"alive\n"


def test_nproc_limit_holds():
    code = ("import os, time\nkids = 0\nfor _ in range(50):\n    try:\n        pid = os.fork()\n"
            "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(5); os._exit(0)\n    kids += 1\n"
            "print(kids)")
    r = py(code, max_processes=5)
    assert r.exit_code == 0
    assert int(r.stdout) <= 5


def test_daemonized_grandchild_dies_with_the_run():
    t = time.monotonic()
    r = run(["/bin/sh", "-c", "(setsid /bin/sleep 1000 >/dev/null 2>&1 &); echo parent-done"])
    assert r.ok and r.stdout == b"parent-done\n"
    assert time.monotonic() - t < 2
    # the autouse fixture checks that no sleep of the sandbox uid survived


def test_grandchild_keeping_stdout_open_does_not_hang():
    t = time.monotonic()
    r = run(["/bin/sh", "-c", "(setsid /bin/sleep 1000 &); echo x"])
    assert r.stdout == b"x\n" and time.monotonic() - t < 2


def test_infrastructure_errors_are_exceptions(tmp_path):
    with pytest.raises(SandboxError):
        run(["/no/such/program"])
    with pytest.raises(SandboxError):
        run(["/bin/true"], ro_binds=[str(tmp_path / "missing")])


def test_missing_bwrap_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        run(["/bin/true"])


def test_program_failure_is_not_an_exception():
    r = run(["/bin/sh", "-c", "kill -SEGV $$"])
    assert r.signal == 11 and r.exit_code is None and not r.timed_out


def test_runs_in_parallel_threads():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as ex:
        rs = list(ex.map(lambda i: py(f"print({i})"), range(8)))
    assert [int(r.stdout) for r in rs] == list(range(8))


def test_cache_dir_is_readable_by_sandbox_uid():
    d = sandbox.cache_dir()
    assert d.stat().st_mode & 0o005 == 0o005
    assert shutil.which("bwrap")


# --- hostile corpus: signals, timing, network interfaces (one-shot sandbox) ------------------------------------

def test_network_namespace_has_only_loopback():
    r = py("import socket; print(' '.join(sorted(n for _, n in socket.if_nameindex())))")
    assert r.ok, r.stderr
    assert r.stdout.split() == [b"lo"]


def test_signals_cannot_reach_the_helper():
    # kill(-1) reaches every process of the namespace the caller may signal except PID 1 (the helper) and
    # itself; PID 1 ignores signals it has no handler for, so the run ends normally and reports.
    code = ("import os, signal\n"
            "for s in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGALRM, signal.SIGCHLD):\n"
            "    os.kill(1, s)\n"
            "    os.kill(os.getppid(), s)\n"
            "try:\n    os.kill(-1, signal.SIGKILL)\nexcept ProcessLookupError: pass\n"  # nobody else to kill
            "print('still here', os.getppid())")
    r = py(code)
    assert r.ok, r.stderr
    assert r.stdout == b"still here 1\n" and not r.timed_out


def test_trapping_sigxcpu_and_sigterm_does_not_escape_the_cpu_limit():
    code = ("import signal\n"
            "for s in (signal.SIGXCPU, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
            "    signal.signal(s, signal.SIG_IGN)\n"
            "while True: pass")
    t = time.monotonic()
    r = py(code, cpu_seconds=0.5, wall_seconds=10.0)
    assert r.timed_out and not r.ok and r.signal == 9  # the hard limit's SIGKILL cannot be trapped
    assert r.cpu_seconds < sandbox.cpu_rlimit_seconds(0.5) + 1.5 and time.monotonic() - t < 8


def test_busy_loop_on_the_wall_clock_is_a_timeout():
    r = py("import time\nt = time.time()\nwhile time.time() < t + 1000: pass", cpu_seconds=0.5, wall_seconds=10.0)
    assert r.timed_out and not r.ok


def test_child_sleeping_past_the_limit_is_killed():
    t = time.monotonic()
    r = py("import os, time\nif os.fork() == 0:\n    time.sleep(1000)\nos.wait()", wall_seconds=1.0)
    assert r.timed_out and time.monotonic() - t < 4
    # the parent returning early does not keep the sleeper alive either (the autouse fixture checks the host)
    r = py("import os, time\nif os.fork() == 0:\n    time.sleep(1000)\nprint('parent done')", wall_seconds=5.0)
    assert r.ok and r.stdout == b"parent done\n"


def test_dev_is_read_only_and_dev_shm_is_capped():
    code = ("import os\n"
            "try:\n    open('/dev/pwned', 'w'); print('dev writable')\nexcept OSError: print('dev read-only')\n"
            "n = 0\n"
            "try:\n"
            "    with open('/dev/shm/fill', 'wb') as f:\n"
            "        while n < 64: f.write(b'x' * (1 << 20)); f.flush(); n += 1\n"
            "except OSError: pass\n"
            "print(n)")
    r = py(code, tmpfs_bytes=4 << 20)
    assert r.ok, r.stderr
    out = r.stdout.split()
    assert out[:2] == [b"dev", b"read-only"] and int(out[2]) <= 4


# --- the long-lived sandbox (SandboxLane): many runs, nothing carried from one to the next ---------------------

LANE_LIMITS = dict(cpu_seconds=2.0, wall_seconds=4.0, memory_bytes=512 << 20, max_processes=8,
                   max_output_bytes=1 << 20)


@pytest.fixture
def lane():
    with sandbox.SandboxLane() as ln:
        yield ln


def lane_py(ln, code: str, **kw):
    return ln.run([PY, "-c", code], **{**LANE_LIMITS, **kw})


def _runner_pid(ln) -> int:
    """Host pid of the lane's PID-1 helper (serve mode)."""
    for p in descendants(ln.bwrap_pid):
        if cmdline(p).startswith("/.sandbox-init --serve"):
            return p
    raise AssertionError("no runner found")


def test_lane_runs_many_programs_in_one_sandbox(lane, tmp_path):
    for i in range(5):
        f = tmp_path / f"in{i}.txt"
        f.write_text(f"{i} {i * 10}\n")
        r = lane_py(lane, "import os, stat, sys\n"
                          "print(stat.S_ISREG(os.fstat(0).st_mode), sum(map(int, sys.stdin.read().split())), "
                          "os.getcwd(), os.getuid())", stdin_path=f)
        assert r.ok, r.stderr
        assert r.stdout.split() == [b"True", str(11 * i).encode(), b"/sandbox", str(sandbox.DEFAULT_UID).encode()]
        assert 0 < r.cpu_seconds < 1 and r.peak_memory_bytes > 1 << 20
    r = lane.run(["/bin/sh", "-c", "exit 7"], **LANE_LIMITS)
    assert r.exit_code == 7 and not r.ok
    r = lane_py(lane, "print(open('/in/data.txt').read(), end='')", files={"data.txt": b"hello"})
    assert r.stdout == b"hello"
    assert lane.stats.starts == 1 and lane.stats.runs == 7


def test_lane_daemon_of_one_run_is_gone_before_the_next(lane):
    r = lane.run(["/bin/sh", "-c", "(setsid /bin/sleep 1000 >/dev/null 2>&1 &); echo started"], **LANE_LIMITS)
    assert r.ok and r.stdout == b"started\n"
    assert not [p for p in descendants(lane.bwrap_pid) if "sleep 1000" in cmdline(p)]
    # inside: kill(-1, 0) succeeds while any other process of the namespace (but PID 1) exists
    r = lane_py(lane, "import os\ntry:\n    os.kill(-1, 0); print('others alive')\n"
                      "except ProcessLookupError: print('alone')")
    assert r.stdout == b"alone\n"
    assert lane.stats.starts == 1


def test_lane_writable_dirs_ipc_and_keyrings_are_clean_for_the_next_run(lane):
    dirty = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(oct(os.stat('/tmp').st_mode & 0o7777))\n"
        "for d in ('/tmp', '/sandbox', '/dev/shm'):\n"
        "    open(d + '/leak', 'w').write('secret')\n"
        "    os.makedirs(d + '/deep/er/est'); open(d + '/deep/er/est/f', 'w').write('x')\n"
        "    os.symlink('/etc/passwd', d + '/link')\n"
        "    os.chmod(d + '/deep/er', 0); os.chmod(d + '/deep', 0o500)\n"
        "os.chmod('/tmp', 0o700)\n"
        "assert libc.shmget(4242, 4096, 0o1000 | 0o600) >= 0\n"  # IPC_CREAT, a segment kept after exit
        "assert libc.syscall(248, b'user', b'leak', b'secret', 6, -4) > 0\n"  # add_key to the user keyring
        "assert libc.syscall(248, b'user', b'leak2', b'secret', 6, -3) > 0\n"  # and to the session keyring
        "print('dirtied')")
    r = lane_py(lane, dirty)
    assert r.ok and r.stdout.endswith(b"dirtied\n"), r.stderr
    tmp_mode = r.stdout.split()[0].decode()
    check = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print([(d, sorted(os.listdir(d))) for d in ('/tmp', '/sandbox', '/dev/shm')])\n"
        "print(oct(os.stat('/tmp').st_mode & 0o7777))\n"
        "print(libc.shmget(4242, 0, 0) < 0)\n"
        "print(libc.syscall(250, 10, -4, b'user', b'leak', 0) < 0, libc.syscall(250, 10, -3, b'user', b'leak2', 0) < 0)")
    r = lane_py(lane, check)
    assert r.ok, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "[('/tmp', []), ('/sandbox', []), ('/dev/shm', [])]"
    assert lines[1] == tmp_mode and lines[2] == "True" and lines[3] == "True True"  # mode restored, IPC, keys gone
    assert lane.stats.starts == 1 and lane.stats.retired == 0


def test_lane_peak_memory_and_cpu_are_per_run(lane):
    big = lane_py(lane, "x = bytearray(300 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\n"
                        "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass")
    assert big.ok and big.peak_memory_bytes > 280 << 20 and big.cpu_seconds >= 0.3
    small = lane_py(lane, "print(1)")
    assert small.ok and small.peak_memory_bytes < 64 << 20 and small.cpu_seconds < 0.25
    assert lane.stats.starts == 1


def test_lane_program_cannot_signal_or_ptrace_the_runner(lane):
    attack = (
        "import ctypes, os, signal\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "for s in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGSEGV, signal.SIGCHLD):\n"
        "    os.kill(1, s)\n"
        "try:\n    os.kill(-1, signal.SIGKILL)\nexcept ProcessLookupError: pass\n"
        "rc = libc.ptrace(16, 1, 0, 0)\n"  # PTRACE_ATTACH to the runner
        "print('ptrace', rc, ctypes.get_errno())\n"
        "print('proc', os.path.exists('/proc/1/mem'))")
    r = lane_py(lane, attack)
    assert r.ok, r.stderr
    out = r.stdout.decode().split()
    assert out[:3] == ["ptrace", "-1", "1"] and out[3:] == ["proc", "False"]  # EPERM; no /proc to poke at
    assert lane_py(lane, "print('next')").stdout == b"next\n"
    assert lane.stats.starts == 1 and lane.stats.lost == 0


def test_lane_program_changing_what_the_runner_passes_on_retires_the_sandbox(lane):
    r = lane_py(lane, "import os, resource\n"
                      "resource.prlimit(1, resource.RLIMIT_NOFILE, (32, 32))\n"
                      "os.setpriority(os.PRIO_PROCESS, 1, 15)\n"
                      "print('changed')")
    assert r.ok and r.stdout == b"changed\n"  # the run itself stands
    assert lane.stats.retired == 1
    r = lane_py(lane, "import os, resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE)[1], "
                      "os.getpriority(os.PRIO_PROCESS, 0))", max_open_files=256)
    assert r.stdout.split() == [b"256", b"0"] and lane.stats.starts == 2


def test_lane_output_flood_and_sleeper_keep_the_sandbox(lane):
    t = time.monotonic()
    r = lane_py(lane, "import sys\nb = b'x' * (1 << 20)\nfor _ in range(1024): sys.stdout.buffer.write(b)",
                max_output_bytes=4 << 20)
    assert r.output_limited and len(r.stdout) == 4 << 20 and time.monotonic() - t < 5
    r = lane.run(["/bin/sleep", "1000"], **{**LANE_LIMITS, "wall_seconds": 0.5})
    assert r.timed_out and r.signal == 9
    r = lane_py(lane, "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass", wall_seconds=1.0)
    assert not r.ok
    assert lane_py(lane, "print('ok')").stdout == b"ok\n"
    assert lane.stats.starts == 1


def test_lane_runner_killed_mid_run_is_an_error_and_a_fresh_sandbox_takes_over(lane):
    assert lane_py(lane, "print('warm')").ok
    runner = _runner_pid(lane)

    def kill_runner_once_the_program_runs():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if descendants(runner):  # the program has started
                os.kill(runner, 9)
                return
            time.sleep(0.01)

    import threading

    th = threading.Thread(target=kill_runner_once_the_program_runs)
    th.start()
    with pytest.raises(SandboxError, match="runner"):
        lane_py(lane, "import time\ntime.sleep(3)\nprint('done')", wall_seconds=10.0)
    th.join()
    assert lane.stats.lost == 1
    assert lane_py(lane, "print('fresh')").stdout == b"fresh\n" and lane.stats.starts == 2


def test_lane_silent_runner_is_an_error():
    with sandbox.SandboxLane(report_grace_s=0.5) as ln:
        assert lane_py(ln, "print('warm')").ok
        os.kill(_runner_pid(ln), 19)  # SIGSTOP: alive but silent
        t = time.monotonic()
        with pytest.raises(SandboxError, match="stopped answering"):
            lane_py(ln, "print('never')", wall_seconds=0.5)
        assert time.monotonic() - t < 5 and ln.stats.lost == 1
        assert lane_py(ln, "print('fresh')").stdout == b"fresh\n" and ln.stats.starts == 2


def test_lane_infrastructure_errors(lane, tmp_path):
    with pytest.raises(SandboxError, match="cannot execute"):
        lane.run(["/no/such/program"], **LANE_LIMITS)
    assert lane_py(lane, "print(1)").ok and lane.stats.starts == 1  # a bad command does not cost the sandbox
    with pytest.raises(SandboxError):
        with sandbox.SandboxLane(ro_binds=[str(tmp_path / "missing")]) as bad:
            bad.run(["/bin/true"], **LANE_LIMITS)
