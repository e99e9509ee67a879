"""Fault injection through the real console script: wrong-shaped replies on every transport, 5xx and timeouts at
20 %, slow drips, requests that never get an answer, servers killed at several points of a run, and bad configs
and damaged stores. Each test asserts what a user checks: the exit code and its one line, every attempt stored
once with its reason, exact scores, and no request repeated for a finished attempt.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evals.store import RunStore
from tests.conftest import ScriptedServerProcess, run_cli
from tests.runners.test_cli_scripted import EXPECTED, MINI, SCRIPT, _args, _grades, _keys, _run_dir
from tests.support.scripted_server import WRONG_SHAPES

ALL = sorted(f"p{i}#{r}" for i in range(1, 6) for r in range(2))  # 5 problems x 2 repeats


def _attempts(run_dir: Path) -> dict[str, dict]:
    return {(a := json.loads(line))["key"]: a for line in (run_dir / "attempts.jsonl").read_text().splitlines()}


def _one_error_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gptoss-eval: error: "), proc.stderr
    return lines[0]


def _poisoned(reply: dict) -> dict:
    """SCRIPT with the 'divisors' problem (p2) answered by ``reply`` and everything else as usual."""
    return {**SCRIPT, "rules": [{"match": "divisors", "reply": reply}, *SCRIPT["rules"]]}


def _only_p2_failed(run_dir: Path, reason: str) -> dict:
    attempts = _attempts(run_dir)
    assert sorted(attempts) == sorted(_keys(run_dir))  # each attempt stored once
    p2 = [a for a in attempts.values() if a["sample_id"] == "p2"]
    assert p2 and all(a["status"] == "error" and "request failed" in a["error"] and reason in a["error"]
                      for a in p2), [a["error"] for a in p2]
    assert all(a["status"] == "ok" for a in attempts.values() if a["sample_id"] != "p2")
    grades = _grades(run_dir)
    assert grades == {k: (0.0 if k.startswith("p2#") else EXPECTED[k.split("#")[0]]) for k in attempts}
    return attempts


# -- replies the client cannot read ------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("transport", ["chat", "responses", "harmony"])
def test_wrong_shaped_replies_are_retried_then_recorded_and_the_run_goes_on(scripted_server, tmp_path, transport,
                                                                             stream):
    # p2 gets the next wrong shape on every try: 8 tries see all 8 shapes, each one refused
    server = scripted_server(_poisoned({"analysis": "x", "final": "\\boxed{9}", "wrong_shapes": list(WRONG_SHAPES)}))
    proc = run_cli(*_args(server, tmp_path, f"client={transport}", f"client.stream={str(stream).lower()}",
                          "repeats=1", f"client.max_retries={len(WRONG_SHAPES) - 1}"))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    attempts = _only_p2_failed(_run_dir(tmp_path), f"on every one of {len(WRONG_SHAPES)} tries")
    assert "not" in attempts["p2#0"]["error"]  # the last shape's reason, e.g. "... is a number, not a string"
    assert sum(1 for r in server.requests() if "divisors" in r["user"]) == len(WRONG_SHAPES)  # bounded


# -- 5xx and timeouts at a rate --------------------------------------------------------------------------
@pytest.mark.parametrize("transport,stream", [("chat", False), ("harmony", True)])
def test_a_fifth_of_requests_failing_and_a_fifth_hanging_still_gives_exact_scores(scripted_server, tmp_path,
                                                                                   transport, stream):
    server = scripted_server({**SCRIPT, "faults": {"error_rate": 0.2, "error_status": 503, "timeout_rate": 0.2,
                                                   "seed": 5}})
    proc = run_cli(*_args(server, tmp_path, f"client={transport}", f"client.stream={str(stream).lower()}",
                          "repeats=4", "concurrency=4", "client.timeout_s=2", "client.max_retries=10"))
    assert proc.returncode == 0, proc.stderr
    keys = _keys(_run_dir(tmp_path))
    assert len(keys) == len(set(keys)) == 20  # nothing lost, nothing duplicated
    grades = _grades(_run_dir(tmp_path))
    assert grades == {f"{p}#{r}": s for p, s in EXPECTED.items() for r in range(4)}  # exact
    assert {a["status"] for a in _attempts(_run_dir(tmp_path)).values()} == {"ok"}
    assert len(server.requests()) > 25  # faults were injected and retried (about 36 % of tries fail)


# -- slow drips --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("limit,drip_s,reason", [
    (["client.timeout_s=3"], 0.5, "no complete reply within client.timeout_s=3 s"),
    (["client.timeout_s=120", "client.read_timeout_s=2"], 60, "no data for client.read_timeout_s=2 s"),
], ids=["total-timeout", "read-timeout"])
def test_a_reply_that_drips_is_ended_by_the_client_timeout_and_recorded(scripted_server, tmp_path, stream, limit,
                                                                        drip_s, reason):
    server = scripted_server(_poisoned({"analysis": "x", "final": "\\boxed{9}", "drip_s": drip_s}))
    proc = run_cli(*_args(server, tmp_path, f"client.stream={str(stream).lower()}", "repeats=1",
                          "client.max_retries=1", *limit))
    assert proc.returncode == 0, proc.stderr
    _only_p2_failed(_run_dir(tmp_path), reason)
    assert sum(1 for r in server.requests() if "divisors" in r["user"]) == 2  # 1 + 1 retry


# -- a server that accepts but does not answer -------------------------------------------------------------
@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_request_that_never_gets_an_answer_is_recorded_and_the_run_goes_on(scripted_server, tmp_path,
                                                                             concurrency):
    # concurrency 1: nothing else is in flight when p2 gives up, so the one-token probe decides
    server = scripted_server(_poisoned({"hang": True}))
    proc = run_cli(*_args(server, tmp_path, "repeats=2", f"concurrency={concurrency}", "client.timeout_s=2",
                          "client.max_retries=1"))
    assert proc.returncode == 0, proc.stderr
    _only_p2_failed(_run_dir(tmp_path), "no complete reply within client.timeout_s=2 s")
    assert sum(1 for r in server.requests() if "divisors" in r["user"]) == 4  # 2 repeats x (1 + 1 retry)

    # a rerun has nothing to do: recorded errors are finished attempts
    before = len(server.requests())
    assert run_cli(*_args(server, tmp_path, "repeats=2", f"concurrency={concurrency}")).returncode == 0
    assert len(server.requests()) == before


@pytest.mark.parametrize("fault", [{"default": {"hang": True}}, {**SCRIPT, "faults": {"error_rate": 1.0}}],
                         ids=["never-answers", "always-500"])
def test_a_server_that_answers_nothing_stops_the_run_and_records_no_error(scripted_server, tmp_path, fault):
    server = scripted_server(fault)
    proc = run_cli(*_args(server, tmp_path, "repeats=2", "client.timeout_s=1", "client.max_retries=1"))
    assert proc.returncode == 3
    assert "stopped answering" in _one_error_line(proc) and "rerun the same command to resume" in proc.stderr
    attempts = _run_dir(tmp_path) / "attempts.jsonl"
    assert not attempts.exists() or attempts.read_text() == ""  # nothing stored as a failed attempt
    healthy = scripted_server(SCRIPT)
    again = run_cli(*_args(healthy, tmp_path, "repeats=2"))
    assert again.returncode == 0, again.stderr
    assert sorted(_keys(_run_dir(tmp_path))) == ALL and len(healthy.requests()) == 10


# -- the server killed at several points of a run ---------------------------------------------------------
@pytest.mark.parametrize("die_after,concurrency,stream", [
    (0, 1, False), (1, 1, False), (5, 1, False), (9, 1, False), (5, 4, True),
], ids=["after-0", "after-1", "half", "all-but-one", "half-streamed-4-in-flight"])
def test_a_server_killed_mid_run_loses_and_repeats_nothing(scripted_server, tmp_path, die_after, concurrency,
                                                           stream):
    dying = scripted_server({**SCRIPT, "faults": {"die_after": die_after, "token_delay_s": 0.002}})
    extra = ["repeats=2", f"concurrency={concurrency}", f"client.stream={str(stream).lower()}"]
    proc = run_cli(*_args(dying, tmp_path, *extra, "client.max_retries=2"))
    assert proc.returncode == 3
    line = _one_error_line(proc)
    assert "stopped answering" in line and "rerun the same command to resume" in line
    run_dir = _run_dir(tmp_path)
    stored = RunStore(run_dir).attempts()  # readable, strictly
    if concurrency == 1:
        assert len(stored) == die_after
    assert len(stored) <= die_after and {a.status for a in stored.values()} <= {"ok"}
    assert json.loads((run_dir / "manifest.json").read_text())["sessions"][-1]["status"] == "failed"

    healthy = scripted_server(SCRIPT)
    again = run_cli(*_args(healthy, tmp_path, *extra))
    assert again.returncode == 0, again.stderr
    keys = _keys(run_dir)
    assert sorted(keys) == ALL  # nothing lost, nothing duplicated
    assert len(healthy.requests()) == 10 - len(stored)
    assert not {r["seed"] for r in healthy.requests()} & {a.seed for a in stored.values()}  # none repeated
    assert _grades(run_dir) == {f"{p}#{r}": s for p, s in EXPECTED.items() for r in range(2)}


# -- bad configs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("override,message", [
    ("suite.nonexistent=1", "unknown option suite.nonexistent: the config has no such key"),
    ("+suite.x=1", "suite.x is not an option of suite aime2025"),
    ("concurency=3", "unknown option concurency: the config has no such key; did you mean concurrency?"),
    ("client.timout_s=5", "unknown option client.timout_s: the config has no such key; did you mean "
                          "client.timeout_s?"),
    ("suite=aime2026", "Could not find 'suite/aime2026'. Available options in 'suite': aime2024, aime2024_tools"),
    ("sampling.temperature=${nowhere}", "Interpolation key 'nowhere' not found"),
    ("suite.path=[unclosed", "no viable alternative at input '[unclosed'"),
])
def test_unknown_keys_are_one_line_errors(scripted_server, tmp_path, override, message):
    server = scripted_server(SCRIPT)
    proc = run_cli(*_args(server, tmp_path, override))
    assert proc.returncode == 2
    assert message in _one_error_line(proc)
    assert server.requests() == [] and not any(tmp_path.rglob("attempts.jsonl"))


@pytest.mark.parametrize("override,message", [
    ("progress=maybe", "progress='maybe' is not valid: expected true or false"),
    ("client.stream=yes", "client.stream='yes' is not valid: expected true or false"),
    ("sampling.top_p=0", "sampling.top_p=0 is not valid: expected a number > 0 and <= 1"),
    ("sampling.top_p=1.5", "sampling.top_p=1.5 is not valid"),
    ("sampling.max_tokens=2.5", "sampling.max_tokens=2.5 is not valid: expected an integer >= 1 (or null)"),
    ("client.read_timeout_s=0", "client.read_timeout_s=0 is not valid: expected a number > 0 (or null)"),
    ("client.timeout_s=[1,2]", "client.timeout_s=[1, 2] is not valid: expected a number >= 0"),
    ("client.down_after=0", "client.down_after=0 is not valid: expected an integer >= 1"),
    ("client.probe_interval_s=soon", "client.probe_interval_s='soon' is not valid"),
    ("seed=1.5", "seed=1.5 is not valid: expected an integer"),
    ("shard.count=0", "shard.count=0 is not valid: expected an integer >= 1"),
    ("shard.index=2", "shard.index=2 is not valid: expected an integer < shard.count=1"),
    ("model.max_model_len=-5", "model.max_model_len=-5 is not valid"),
    ("suite.limit=many", "suite.limit='many' is not valid: expected an integer >= 1 (or null)"),
    ("action=dance", "action='dance' is not valid: expected run, "),
    ("server.base_url=null", "server=attach needs server.base_url"),
])
def test_wrong_types_are_one_line_errors_before_any_request(scripted_server, tmp_path, override, message):
    server = scripted_server(SCRIPT)
    proc = run_cli(*_args(server, tmp_path, override))
    assert proc.returncode == 2
    assert message in _one_error_line(proc)
    assert server.requests() == []


@pytest.mark.parametrize("override,message", [
    ("server.replicas=two", "server.replicas='two' is not valid: expected an integer >= 1"),
    ("server.gpu_memory_utilization=2", "server.gpu_memory_utilization=2 is not valid: expected a number > 0 and "
                                        "<= 1 (or null)"),
    ("server.port=70000", "server.port=70000 is not valid: expected an integer >= 0 and <= 65535"),
    ("server.enforce_eager=sometimes", "server.enforce_eager='sometimes' is not valid: expected true or false"),
    ("server.extra_args=--foo", "server.extra_args='--foo' is not valid: expected a list"),
])
def test_wrong_server_values_are_refused_before_vllm_is_started(tmp_path, override, message):
    proc = run_cli("server=spawn", "server.python=/nonexistent/python", "suite=aime2025", f"suite.path={MINI}",
                   f"paths.root={tmp_path}", "progress=false", override)
    assert proc.returncode == 2
    assert message in _one_error_line(proc)
    assert not any(tmp_path.rglob("server.log"))


@pytest.mark.parametrize("suite,words", [("aime2025", "AIME data file"), ("codeforces", "codeforces")])
def test_a_missing_data_file_is_one_line_naming_it(scripted_server, tmp_path, suite, words):
    server = scripted_server(SCRIPT)
    missing = tmp_path / "nowhere" / "problems.jsonl"
    proc = run_cli("server=attach", f"server.base_url={server.base_url}", f"suite={suite}", f"suite.path={missing}",
                   f"paths.root={tmp_path}", "progress=false")
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert str(missing) in line and words in line
    assert server.requests() == []


# -- damaged stores ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished 10-attempt run to damage (copied per test)."""
    root = tmp_path_factory.mktemp("finished")
    server = ScriptedServerProcess(SCRIPT, root).start()
    try:
        proc = run_cli(*_args(server, root / "out", "repeats=2"))
        assert proc.returncode == 0, proc.stderr
    finally:
        server.stop()
    return root / "out"


def _store_files(run_dir: Path) -> dict[str, bytes]:
    """Everything the run wrote (Hydra's own job log and .hydra/ folder aside)."""
    return {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and p.suffix != ".log"}


def _damage_middle_line(path: Path, replacement: bytes) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = replacement
    path.write_bytes(b"".join(lines))


@pytest.mark.parametrize("file,damage,message", [
    ("attempts.jsonl", b'{"key": "p3#0", "status": "ok", "outp\n', "attempts.jsonl:3 is not valid JSON"),
    ("attempts.jsonl", b'{"hello": "world"}\n', "attempts.jsonl:3 is not a stored attempt"),
    ("grades.jsonl", b"\x00\x00\x00 disk garbage\n", "grades.jsonl:3 is not valid JSON"),
    ("grades.jsonl", b"[1, 2, 3]\n", "grades.jsonl:3 is not a stored grade"),
    ("manifest.json", None, "manifest.json is not valid JSON"),
])
@pytest.mark.parametrize("action", ["run", "regrade"])
def test_a_damaged_store_is_one_line_and_nothing_is_overwritten(scripted_server, tmp_path, finished_run, file,
                                                                damage, message, action):
    root = tmp_path / "out"
    shutil.copytree(finished_run, root)
    run_dir = _run_dir(root)
    if damage is None:
        (run_dir / file).write_bytes((run_dir / file).read_bytes()[:-40])
    else:
        _damage_middle_line(run_dir / file, damage)
    before = _store_files(run_dir)
    server = scripted_server(SCRIPT)
    proc = run_cli(*_args(server, root, "repeats=2", f"action={action}"))
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert message in line and str(run_dir) in line
    assert _store_files(run_dir) == before  # byte for byte
    assert server.requests() == []
