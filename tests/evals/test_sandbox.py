"""The bubblewrap sandbox: limits, measurement, containment, clean-up. Skipped when bwrap is unusable here."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from evals import sandbox
from evals.sandbox import SandboxError, SandboxUnavailable, run_sandboxed, sandbox_workdir
from tests.conftest import needs_bwrap

pytestmark = needs_bwrap

PY = "/usr/bin/python3"
LIMITS = dict(cpu_seconds=2.0, wall_seconds=4.0, memory_bytes=256 << 20, max_processes=8,
              max_output_bytes=1 << 20)


def run(argv, **kw):
    opts = {**LIMITS, "workdir": None, **kw}
    return run_sandboxed(argv, **opts)


def py(code: str, **kw):
    return run([PY, "-c", code], **kw)


def live_sandbox_processes() -> list[str]:
    """Non-zombie processes owned by the sandbox uid (zombies re-parented to the host init are not alive)."""
    out = subprocess.run(["ps", "-u", str(sandbox.DEFAULT_UID), "-o", "pid=,stat=,args="],
                         capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if ln.split() and not ln.split()[1].startswith("Z")]


@pytest.fixture(autouse=True)
def nothing_left_behind():
    before = set(os.listdir("/tmp"))
    yield
    deadline = time.monotonic() + 3
    while live_sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_sandbox_processes() == []
    assert {n for n in set(os.listdir("/tmp")) - before if n.startswith("sbx-")} == set()


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
    code = ("import os\nn = 0\nwhile n < 100000:\n    try:\n        os.fork(); n += 1\n"
            "    except OSError: n += 1\n")
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
