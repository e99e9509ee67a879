"""Environments: local clone (plain and bubblewrapped) for real, Docker by its command lines."""

from __future__ import annotations

import shutil
import time

import pytest

from tasks.swebench.environments import (
    TIMEOUT_EXIT,
    DockerEnvironment,
    EnvError,
    EnvironmentUnavailable,
    LocalEnvironment,
    decode_output,
    make_environment,
    truncate_middle,
)
from tests.tasks.swebench.conftest import VENV_BIN, needs_bwrap


@pytest.fixture(params=[False, pytest.param(True, marks=needs_bwrap)], ids=["plain", "bwrap"])
def env(request, toy):
    e = LocalEnvironment(toy.row["local_repo"], toy.row["base_commit"], sandbox=request.param, path=[VENV_BIN],
                         max_output_chars=2000)
    e.start()
    yield e
    e.close()


def test_exec_runs_in_the_repo_and_reports_exit_codes(env):
    code, out = env.exec(["bash", "-lc", "pwd; ls calc; exit 3"])
    assert code == 3
    assert out.splitlines()[0] == env.repo_path and "ops.py" in out
    assert env.exec(["git", "rev-parse", "HEAD"]).output.strip() == env.base_commit
    code, out = env.exec(["definitely-not-a-command-xyz"])
    assert code != 0 and out


def test_a_command_that_never_ends_is_killed_at_its_timeout(env):
    t0 = time.monotonic()
    res = env.exec(["bash", "-c", "echo started; sleep 300"], timeout=1)
    assert time.monotonic() - t0 < 15
    assert res.timed_out and res.exit_code == TIMEOUT_EXIT
    assert "started" in res.output and "timed out after 1 s" in res.output


def test_binary_and_huge_output_are_decoded_and_truncated(env):
    res = env.exec(["bash", "-c", "printf 'ok\\x00\\xff\\xfe\\x1b[31m'; head -c 3000 /dev/urandom"])
    assert res.exit_code == 0 and res.output.startswith(("ok", "[binary output"))
    assert "\x00" not in res.output and len(res.output) < 2200
    res = env.exec(["python", "-c", "print('A' * 100000); print('THE END')"])
    assert res.truncated and ("characters truncated" in res.output or "bytes truncated" in res.output)
    assert res.output.rstrip().endswith("THE END") and len(res.output) < 2200


def test_files_and_diff_include_new_files(env):
    assert env.read_text("missing.py") is None
    env.write_text("calc/new_module.py", "X = 1\n")
    env.delete("tests/__init__.py")
    text = env.read_text(f"{env.repo_path}/calc/ops.py")
    env.write_text("calc/ops.py", text.replace("a - b", "a + b"))
    diff = env.diff()
    assert "+++ b/calc/new_module.py" in diff and "+X = 1" in diff
    assert "deleted file mode" in diff and "+    return a + b" in diff
    assert diff.startswith("diff --git")


def test_eval_script_git_config_stays_inside_the_environment(env, tmp_path):
    import os

    before = os.path.exists(os.path.expanduser("~/.gitconfig")) and open(os.path.expanduser("~/.gitconfig")).read()
    code, log, timed_out = env.run_script("git config --global --add safe.directory /testbed\necho hi", 30)
    assert code == 0 and "hi" in log and not timed_out
    after = os.path.exists(os.path.expanduser("~/.gitconfig")) and open(os.path.expanduser("~/.gitconfig")).read()
    assert before == after


def test_close_removes_the_clone(toy):
    e = LocalEnvironment(toy.row["local_repo"], toy.row["base_commit"], sandbox=False)
    e.start()
    host = e.host_repo
    assert host and shutil.os.path.isdir(host)
    e.close()
    e.close()
    assert not shutil.os.path.exists(host)


def test_bad_source_or_commit_is_an_environment_error(toy, tmp_path):
    with pytest.raises(EnvError, match="not a git repository"):
        LocalEnvironment(tmp_path, "abc", sandbox=False).start()
    with pytest.raises(EnvError, match="checkout"):
        LocalEnvironment(toy.row["local_repo"], "0" * 40, sandbox=False).start()


def test_make_environment_needs_a_repo_source_for_local(toy):
    row = {k: v for k, v in toy.row.items() if k != "local_repo"}
    with pytest.raises(EnvironmentUnavailable, match="repos_dir"):
        make_environment("local", row)
    env = make_environment("local", row, repos_dir="/srv/repos", sandbox=False)
    assert isinstance(env, LocalEnvironment) and env.source == "/srv/repos/toy__calc"
    assert isinstance(make_environment("docker", row), DockerEnvironment)
    with pytest.raises(ValueError):
        make_environment("kubernetes", row)


# -- Docker: command construction and a clear error without an engine -----------------------------------

def test_docker_command_lines():
    d = DockerEnvironment("swebench/sweb.eval.x86_64.psf_1776_requests-1142:latest", "abc123", name="c1",
                          platform="linux/amd64")
    assert d.run_argv() == ["docker", "run", "-d", "--name", "c1", "-w", "/testbed", "--platform", "linux/amd64",
                            "swebench/sweb.eval.x86_64.psf_1776_requests-1142:latest", "tail", "-f", "/dev/null"]
    argv = d.exec_argv(["python", "-c", "print(1)"], timeout=30)
    assert argv[:6] == ["docker", "exec", "-w", "/testbed", "c1", "timeout"]
    assert argv[6:9] == ["-s", "KILL", "30"]
    assert argv[9:11] == ["bash", "-c"]
    assert "source /opt/miniconda3/bin/activate" in argv[11] and "conda activate testbed" in argv[11]
    assert argv[11].endswith('exec "$@"') and argv[12:] == ["_", "python", "-c", "print(1)"]
    assert d.exec_argv(["cat"], None, "/tmp", interactive=True)[:6] == ["docker", "exec", "-i", "-w", "/tmp", "c1"]
    assert d.rm_argv() == ["docker", "rm", "-f", "c1"]
    assert d.engine_check_argv()[:2] == ["docker", "version"]
    plain = DockerEnvironment("img", "abc", name="c2", conda_env="")
    assert plain.exec_argv(["ls"])[-4:] == ["-c", 'exec "$@"', "_", "ls"]


def test_docker_without_an_engine_raises_a_clear_error():
    d = DockerEnvironment("img", "abc", docker="no-such-docker-client-xyz")
    with pytest.raises(EnvironmentUnavailable, match="not installed"):
        d.start()
    if shutil.which("docker"):
        real = DockerEnvironment("img", "abc")
        try:
            real.check_engine()
        except EnvironmentUnavailable as exc:
            assert "no Docker engine answers" in str(exc) or "did not answer" in str(exc)
        else:
            pytest.skip("a Docker engine answers here; nothing to check")
    with pytest.raises(EnvError, match="not started"):
        d.exec(["ls"])


def test_decoding_and_truncation_helpers():
    assert decode_output(b"caf\xc3\xa9 \xff\x00") == "café \ufffd\ufffd"
    assert decode_output(bytes(range(256)) * 4).startswith("[binary output: 1024 bytes")
    text, cut = truncate_middle("a" * 50 + "b" * 50, 20)
    assert cut and text.startswith("a" * 10) and text.endswith("b" * 10) and "80 characters truncated" in text
    assert truncate_middle("short", 20) == ("short", False)
