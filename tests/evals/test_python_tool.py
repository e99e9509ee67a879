"""The sandboxed python kernel behind gpt-oss's built-in python tool: state, cells, limits, containment, clean-up,
and the pinned tool environment it runs in."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from evals import tool_env
from evals.python_tool import PythonKernel, PythonToolLimits, ToolEnvMissing
from tests.conftest import needs_bwrap


def _tool_env_problem() -> str:
    try:
        tool_env.require()
        return ""
    except ToolEnvMissing as exc:
        return str(exc)


needs_tool_env = pytest.mark.skipif(bool(_tool_env_problem()), reason=_tool_env_problem())
pytestmark = [needs_bwrap, needs_tool_env]

LIMITS = PythonToolLimits(timeout_s=5.0, memory_bytes=512 << 20, max_processes=16, max_output_chars=2000,
                          max_output_bytes=1 << 20)


def session(coro_fn, limits: PythonToolLimits = LIMITS):
    """Run ``coro_fn(kernel)`` with a fresh kernel, closed afterwards."""
    async def main():
        async with PythonKernel(limits) as kernel:
            return await coro_fn(kernel)

    return asyncio.run(main())


def processes_with(tag: str) -> list[str]:
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if tag in ln and ln.split()[1][0] != "Z" and "ps -eo" not in ln]


def test_cells_share_state_and_print_the_last_expression_like_a_notebook():
    async def go(k):
        first = await k.run("import math\nx = 6 * 7\nprint('hello')\nimport sys; print('warn', file=sys.stderr)\nx")
        second = await k.run("def f(n):\n    return math.comb(n, 2)\nf(x) + 1")
        none = await k.run("y = None\ny")
        err = await k.run("x = 1\n1 / 0")
        after = await k.run("x, _")  # the failing cell's assignment stands; _ is the last shown value
        syntax = await k.run("def broken(:\n")
        where = await k.run("import os; os.getcwd(), os.getuid()")
        return first, second, none, err, after, syntax, where, k.stats

    first, second, none, err, after, syntax, where, stats = session(go)
    assert first == "hello\nwarn\n42\n"
    assert second == f"{42 * 41 // 2 + 1}\n"
    assert none == ""
    assert "ZeroDivisionError: division by zero" in err and '<cell 4>", line 2' in err and "1 / 0" in err
    assert "_main" not in err and "_cell" not in err  # the driver's own frames are not shown
    assert after == "(1, 862)\n"
    assert "SyntaxError" in syntax
    assert where == "('/mnt/data', 65534)\n"
    assert stats.calls == 7 and stats.starts == 1 and stats.timeouts == stats.crashes == 0


def test_hanging_call_is_cut_off_reported_and_the_kernel_restarts_without_state():
    limits = PythonToolLimits(timeout_s=1.5, memory_bytes=512 << 20, max_processes=16)

    async def go(k):
        await k.run("x = 5")
        t0 = time.monotonic()
        hung = await k.run("print('started', flush=True)\nwhile True:\n    pass")
        took = time.monotonic() - t0
        lost = await k.run("x")
        again = await k.run("x = 7\nx * 2")
        return hung, took, lost, again, k.stats

    hung, took, lost, again, stats = session(go, limits)
    assert hung.startswith("started\n") and "timed out after 1.5 s" in hung and "lost" in hung
    assert took < 5
    assert "NameError" in lost
    assert again == "14\n"
    assert stats.timeouts == 1 and stats.starts == 2


def test_hostile_code_is_contained():
    tag = f"kernel-probe-{secrets.token_hex(4)}"

    async def go(k):
        net = await k.run("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=2)\n"
                          "    print('net open')\nexcept OSError as e:\n    print('net blocked')")
        writes = await k.run(
            "import os\nres = []\nfor p in ('/usr/evil', '/etc/evil', '/evil', '/work/evil', '/root/evil'):\n"
            "    try:\n        open(p, 'w').write('x'); res.append(p)\n    except OSError:\n        pass\n"
            "open('/mnt/data/ok.txt', 'w').write('fine')\nprint('written:', res, open('ok.txt').read())")
        hosts = await k.run("import os\n[p for p in ('/work', '/root', '/home', '/etc/shadow') if os.path.exists(p)]")
        fork = await k.run(
            "import os, time\nn = 0\ntry:\n    for _ in range(10000):\n        if os.fork() == 0:\n"
            "            time.sleep(60); os._exit(0)\n        n += 1\nexcept OSError as e:\n"
            "    print('fork refused after', n)")
        alive = await k.run("21 * 2")
        mem = await k.run("try:\n    big = bytearray(4 << 30)\nexcept MemoryError:\n    print('no memory')\n"
                          "hog = []\ntry:\n    while True:\n        hog.append(bytearray(16 << 20))\n"
                          "except MemoryError:\n    n = len(hog); hog = None\n    print('capped at', n * 16, 'MiB')")
        flood = await k.run("print('y' * 50_000)")
        bomb = await k.run("while True:\n    print('z' * 10_000)")
        restarted = await k.run("'back'")
        orphan = await k.run("import subprocess, sys\np = subprocess.Popen([sys.executable, '-c', "
                             f"'import time; time.sleep(300)', '{tag}'], start_new_session=True)\np.pid > 0")
        deadline = time.monotonic() + 5
        while not processes_with(tag) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert processes_with(tag), "the probe process should be running before close()"
        return net, writes, hosts, fork, alive, mem, flood, bomb, restarted, orphan

    net, writes, hosts, fork, alive, mem, flood, bomb, restarted, orphan = session(go)
    assert net == "net blocked\n"
    assert writes == "written: [] fine\n"
    assert hosts == "[]\n"
    assert fork.startswith("fork refused after") and int(fork.split()[-1]) < 16
    assert alive == "42\n"  # the kernel survived the fork bomb
    assert mem.startswith("no memory\ncapped at") and int(mem.split()[-2]) <= 512
    assert len(flood) < 2200 and "characters of output omitted" in flood
    assert "kernel died (the output exceeded 1 MiB)" in bomb and len(bomb) < 2500
    assert restarted == "'back'\n"
    assert orphan == "True\n"
    deadline = time.monotonic() + 5  # close() took the kernel and everything it started with it
    while processes_with(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(tag) == []


def test_a_dying_kernel_is_reported_and_replaced():
    async def go(k):
        await k.run("x = 1")
        died = await k.run("import os\nprint('bye', flush=True)\nos._exit(3)")
        fresh = await k.run("'x' in globals()")
        return died, fresh, k.stats

    died, fresh, stats = session(go)
    assert died.startswith("bye\n") and "kernel died (exited with code 3)" in died and "lost" in died
    assert fresh == "False\n"
    assert stats.crashes == 1 and stats.starts == 2


def test_limits_come_from_suite_options():
    lim = PythonToolLimits.from_options({"timeout_s": 30, "memory_mb": 1024, "ro_binds": [["/a", "/b"]],
                                         "pythonpath": ["/b"], "python": None, "env": None})
    assert lim.timeout_s == 30 and lim.memory_bytes == 1 << 30 and lim.ro_binds == (("/a", "/b"),)
    assert lim.python == "/usr/bin/python3" and lim.env == "pinned"
    with pytest.raises(ValueError, match="unknown python tool options"):
        PythonToolLimits.from_options({"timout_s": 3})
    with pytest.raises(ValueError, match="pinned, host"):
        PythonToolLimits.from_options({"env": "conda"})


# -- the tool environment ----------------------------------------------------------------------------------------

def test_the_model_can_import_the_math_packages_and_sympy_computes():
    async def go(k):
        imports = await k.run("import sympy as sp, numpy as np, scipy, mpmath, networkx as nx")
        solved = await k.run("x = sp.symbols('x')\nsorted(sp.solve(x**2 - 5*x + 6, x))")
        mixed = await k.run("from scipy.special import comb\nint(comb(10, 3)), int(np.arange(1, 11).sum()), "
                            "str(mpmath.mpf(2).sqrt())[:6], nx.shortest_path_length(nx.path_graph(5), 0, 4), "
                            "sp.nextprime(2024), sp.totient(2024)")
        where = await k.run("import sys, os\nsys.executable, sys.prefix, os.access(sys.prefix, os.W_OK)")
        versions = await k.run("[m.__version__ for m in (np, scipy, sp, mpmath, nx)]")
        return imports, solved, mixed, where, versions

    imports, solved, mixed, where, versions = session(go)
    assert imports == ""
    assert solved == "[2, 3]\n"
    assert mixed == "(120, 55, '1.4142', 4, 2027, 880)\n"
    assert where == "('/opt/python-tool/bin/python3', '/opt/python-tool', False)\n"  # read-only, not the host's
    assert versions == repr([tool_env.TOOL_PACKAGES[n] for n in ("numpy", "scipy", "sympy", "mpmath", "networkx")]) \
        + "\n"


def test_the_settings_carry_the_interpreter_and_every_package_version():
    settings = PythonToolLimits().settings()
    assert settings["env"] == "pinned"
    assert settings["interpreter"]["packages"] == tool_env.TOOL_PACKAGES  # exactly the pins, nothing else
    assert settings["interpreter"]["python"].count(".") == 2
    host = PythonToolLimits(env="host").settings()
    assert host["python"] == "/usr/bin/python3" and "interpreter" not in host


def test_the_host_interpreter_is_still_available_on_request():
    limits = PythonToolLimits(env="host", timeout_s=5.0)
    assert session(lambda k: k.run("import sys\nsys.executable"), limits) == "'/usr/bin/python3'\n"


@pytest.fixture
def empty_tool_cache(monkeypatch):
    """A sandbox cache (readable by the sandbox uid) holding no tool environment."""
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="no-tool-env-") as d:
        os.chmod(d, 0o755)
        monkeypatch.setenv("GPTOSS_SANDBOX_CACHE", d)
        yield Path(d)


def test_a_missing_tool_environment_stops_the_kernel_and_names_the_set_up_command(empty_tool_cache):
    with pytest.raises(ToolEnvMissing, match="run `bash runners/setup_tool_env.sh` first"):
        PythonToolLimits().settings()
    with pytest.raises(ToolEnvMissing, match="setup_tool_env.sh"):  # never a text answer to the model
        session(lambda k: k.run("1 + 1"), LIMITS)


# -- where it behaves like IPython -------------------------------------------------------------------------------

def test_a_trailing_semicolon_hides_the_result_and_display_prints_reprs():
    async def go(k):
        return [await k.run(code) for code in (
            "x = 41;\nx + 1;", "x + 1;  # quiet, a comment after it", "x + 1  # shown", "display(x, 'a'); None",
            "display([1, 2])\n'last'", "s = 'a;'\ns", "_")]

    quiet, commented, shown, disp, both, semicolon_in_string, underscore = session(go)
    assert quiet == commented == ""
    assert shown == "42\n"
    assert disp == "41\n'a'\n"
    assert both == "[1, 2]\n'last'\n"
    assert semicolon_in_string == "'a;'\n"
    assert underscore == "'a;'\n"


def test_magics_are_not_supported_and_say_so_as_python_would():
    out = session(lambda k: k.run("%time sum(range(10))"))
    assert "SyntaxError" in out
