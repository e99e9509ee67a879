"""``gptoss-eval-data``: fetch, verify, unpack and find suite data, through the real download code against a local
HTTP server on 127.0.0.1 (``$GPTOSS_EVAL_DATA_MIRROR``), never the network.

The tau2 archive is built from the repository's tau2 test data (whose files are byte-for-byte the upstream ones at
the pinned commit, so their real pinned sha256s are checked) plus tau2-shaped sources written here (their pins are
replaced by the test: upstream code is not copied into the tests)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from runners import data as dfetch
from tests.conftest import ROOT, SHARED_DATA

SHARED_TAU2 = SHARED_DATA / "tau_bench" / "tau2_retail"
needs_tau2 = pytest.mark.skipif(not (SHARED_TAU2 / "db.json").is_file(),
                                reason=f"tau2 retail test data not found at {SHARED_TAU2}")


# --------------------------------------------------------------------------------------------------------------
# a local HTTP server


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        if self.path in self.server.stall:  # type: ignore[attr-defined]
            body = Path(self.translate_path(self.path)).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.server.stopping.wait(60)  # type: ignore[attr-defined]
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


class LocalServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.httpd.requests = []  # type: ignore[attr-defined]
        self.httpd.stall = set()  # type: ignore[attr-defined]
        self.httpd.stopping = threading.Event()  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests  # type: ignore[attr-defined]

    def put(self, url: str, body: bytes) -> str:
        """Serve ``body`` where the mirror maps ``url``; returns the path on this server."""
        parts = urllib.parse.urlsplit(url)
        rel = parts.netloc + parts.path
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return "/" + rel

    def close(self) -> None:
        self.httpd.stopping.set()  # type: ignore[attr-defined]
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path / "www")
    yield srv
    srv.close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: LocalServer) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(dfetch.CACHE_ENV, str(root))
    monkeypatch.setenv(dfetch.MIRROR_ENV, server.url)
    for var in ("TAU_RETAIL_DATA", "TAU2_RETAIL_DATA"):
        monkeypatch.delenv(var, raising=False)
    return root


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def targz(top: str, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, body in files.items():
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------------------
# a small suite of our own: an archive of two files and one single file


DEMO_FILES = {"docs/a.txt": b"alpha\n" * 50, "b.json": json.dumps({"x": list(range(100))}).encode()}
DEMO_SINGLE = b"single file body\n"
DEMO_REV = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch, server: LocalServer, cache: Path) -> dfetch.SuiteData:
    archive_url = "https://codeload.github.com/example/demo/tar.gz/{revision}"
    single_url = "https://raw.githubusercontent.com/example/other/fixed/single.txt"
    spec = dfetch.SuiteData(
        name="demo", about="a test suite", revision=DEMO_REV, suites=("demo",), pinned_revisions=(DEMO_REV,),
        sources=(dfetch.Source(archive_url, tuple(dfetch.PinnedFile(f"upstream/{p}", sha(b), p)
                                                  for p, b in DEMO_FILES.items())),
                 dfetch.Source(single_url, (dfetch.PinnedFile("single.txt", sha(DEMO_SINGLE), "single.txt"),),
                               archive=False, fixed=True)))
    monkeypatch.setitem(dfetch.SUITES, "demo", spec)
    for rev in (DEMO_REV, "feedface"):
        server.put(archive_url.format(revision=rev), targz(f"demo-{rev}", {**DEMO_FILES, "unused.bin": b"\0" * 10}))
    server.put(single_url, DEMO_SINGLE)
    return spec


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = dfetch.main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_fetch_verifies_unpacks_and_a_second_fetch_is_a_no_op(demo, cache, server, capsys) -> None:
    rc, out, err = run_cli(capsys, "fetch", "demo")
    assert rc == 0, err
    folder = cache / "demo" / DEMO_REV
    assert "verified and unpacked" in out and str(folder) in out
    for rel, body in DEMO_FILES.items():
        assert (folder / "upstream" / rel).read_bytes() == body
    assert (folder / "single.txt").read_bytes() == DEMO_SINGLE
    assert not (folder / "upstream" / "unused.bin").exists()  # only the pinned members are unpacked
    done = json.loads((folder / dfetch.COMPLETE).read_text())
    assert done["verified"] is True and done["revision"] == DEMO_REV
    assert sorted(os.listdir(cache / "demo")) == [DEMO_REV]  # no temporary folder left beside it

    n_requests, stamp = len(server.requests), (folder / dfetch.COMPLETE).stat().st_mtime_ns
    rc, out, _ = run_cli(capsys, "fetch", "demo")
    assert rc == 0 and "already in" in out
    assert len(server.requests) == n_requests and (folder / dfetch.COMPLETE).stat().st_mtime_ns == stamp

    rc, out, _ = run_cli(capsys, "path", "demo")
    assert rc == 0 and out.strip() == str(folder)
    rc, out, _ = run_cli(capsys, "verify", "demo")
    assert rc == 0 and "verified: demo" in out


def test_a_corrupted_byte_fails_naming_the_file_and_leaves_nothing(demo, cache, server, capsys) -> None:
    bad = dict(DEMO_FILES)
    bad["b.json"] = bad["b.json"][:10] + b"X" + bad["b.json"][11:]
    server.put(demo.sources[0].url.format(revision=DEMO_REV), targz(f"demo-{DEMO_REV}", bad))
    rc, out, err = run_cli(capsys, "fetch", "demo")
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "b.json" in err and sha(DEMO_FILES["b.json"]) in err and "nothing was kept" in err
    assert not (cache / "demo").exists() or os.listdir(cache / "demo") == []
    rc, _, err = run_cli(capsys, "path", "demo")
    assert rc == 2 and "gptoss-eval-data fetch demo" in err


def test_a_cached_file_changed_later_fails_verify(demo, cache, capsys) -> None:
    assert run_cli(capsys, "fetch", "demo")[0] == 0
    (cache / "demo" / DEMO_REV / "upstream" / "docs" / "a.txt").write_bytes(b"changed")
    rc, _, err = run_cli(capsys, "verify", "demo")
    assert rc == 1 and "docs/a.txt" in err and sha(DEMO_FILES["docs/a.txt"]) in err


def test_unknown_suite_lists_the_names(cache, capsys) -> None:
    rc, _, err = run_cli(capsys, "fetch", "tau3_retail")
    assert rc == 2 and len(err.strip().splitlines()) == 1
    for name in ("tau_retail", "tau2_retail", "codeforces", "aime", "swebench_verified", "gpqa_diamond"):
        assert name in err


def test_an_unpinned_revision_is_refused_unless_allowed_and_then_recorded_unverified(demo, cache, capsys) -> None:
    rc, _, err = run_cli(capsys, "fetch", "demo", "--revision", "feedface")
    assert rc == 2 and "--allow-unverified" in err and "feedface" in err
    assert not (cache / "demo" / "feedface").exists()
    rc, out, err = run_cli(capsys, "fetch", "demo", "--revision", "feedface", "--allow-unverified")
    assert rc == 0 and "UNVERIFIED" in out, err
    folder = cache / "demo" / "feedface"
    assert json.loads((folder / dfetch.COMPLETE).read_text())["verified"] is False
    assert dfetch.provenance(folder / "upstream" / "docs") == {"suite": "demo", "revision": "feedface",
                                                               "verified": False, "folder": str(folder.resolve())}
    rc, _, err = run_cli(capsys, "verify", "demo")  # the pinned revision is not fetched
    assert rc == 1 and "not fetched" in err


def test_no_network_names_the_host_and_the_offline_way(demo, cache, monkeypatch, capsys) -> None:
    from runners.vllm_server import free_port

    monkeypatch.setenv(dfetch.MIRROR_ENV, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    rc, _, err = run_cli(capsys, "fetch", "demo")
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "cannot reach 127.0.0.1" in err and "--from DIR" in err
    assert not (cache / "demo").exists() or os.listdir(cache / "demo") == []


def test_from_dir_imports_a_checkout_offline(demo, cache, tmp_path, monkeypatch, capsys) -> None:
    from runners.vllm_server import free_port

    monkeypatch.setenv(dfetch.MIRROR_ENV, f"http://127.0.0.1:{free_port()}")  # the network is not used
    checkout = tmp_path / "checkout"
    for rel, body in {**DEMO_FILES, "single.txt": DEMO_SINGLE}.items():
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        (checkout / rel).write_bytes(body)
    rc, out, err = run_cli(capsys, "fetch", "demo", "--from", str(checkout))
    assert rc == 0, err
    assert (cache / "demo" / DEMO_REV / "upstream" / "b.json").read_bytes() == DEMO_FILES["b.json"]
    (checkout / "b.json").write_bytes(b"{}")
    rc, _, err = run_cli(capsys, "fetch", "demo", "--from", str(checkout), "--force")
    assert rc == 2 and "b.json" in err
    assert (cache / "demo" / DEMO_REV / "upstream" / "b.json").read_bytes() == DEMO_FILES["b.json"]  # kept whole


def test_a_hub_suite_offline_fails_in_one_line(cache, tmp_path) -> None:
    # Its own process, as a user runs it: the hub libraries read HF_HUB_OFFLINE when first imported, so in this
    # process (where another test may have imported them already) setting it would not take effect.
    hf = tmp_path / "hf"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(hf), "HF_DATASETS_CACHE": str(hf / "datasets")}
    proc = subprocess.run([sys.executable, "-m", "runners.data", "fetch", "swebench_verified"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    err = proc.stderr
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1 and "SWE-bench/SWE-bench_Verified" in err, err


def test_the_codeelo_histogram_is_counted_from_the_sorted_ratings() -> None:
    doc = json.loads(dfetch.codeelo_histogram(b"[-5, 100, 100, 1500]"))
    assert doc["n_users"] == 4 and doc["histogram"] == {"-5": 1, "100": 2, "1500": 1}
    from tasks.codeforces.rating import percentile

    assert percentile(1000, doc) == 75.0


# --------------------------------------------------------------------------------------------------------------
# tau2 retail: a tau2-bench-shaped archive


def tau2_sources(prompts: dict) -> dict[str, bytes]:
    """Sources shaped like tau2-bench's (triple-quoted templates with .strip(), module constants among other code),
    carrying the prompt values our test data pins."""
    def block(text: str) -> str:
        return '"""\n' + text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"') + '\n"""'

    user_template = prompts["user_system_prompt_template"].replace("{global_user_sim_guidelines}",
                                                                   "{global_user_sim_guidelines_with_persona}")
    stop, transfer, oos = prompts["user_stop_tokens"]
    return {
        "src/tau2/agent/llm_agent.py": textwrap.dedent("""\
            from typing import Optional

            AGENT_INSTRUCTION = {instr}.strip()

            SYSTEM_PROMPT = {system}.strip()


            class LLMAgent:
                STOP_TOKEN = "###STOP###"

                def system_prompt(self, policy: str) -> str:
                    return SYSTEM_PROMPT.format(domain_policy=policy, agent_instruction=AGENT_INSTRUCTION)
            """).format(instr=block(prompts["agent_instruction"]), system=block(prompts["agent_system_prompt_template"])),
        "src/tau2/user/user_simulator.py": textwrap.dedent("""\
            from tau2.user.user_simulator_base import OUT_OF_SCOPE, STOP, TRANSFER

            GUIDELINES_DIR = "data/tau2/user_simulator"

            SYSTEM_PROMPT = {template}.strip()
            """).format(template=block(user_template)),
        "src/tau2/user/user_simulator_base.py": f"STOP = {stop!r}\nTRANSFER = {transfer!r}\nOUT_OF_SCOPE = {oos!r}\n",
        "src/tau2/orchestrator/orchestrator.py": textwrap.dedent("""\
            from tau2.data_model.message import AssistantMessage

            DEFAULT_FIRST_AGENT_MESSAGE = AssistantMessage(
                role="assistant", content={greeting!r}, cost=0.0
            )
            """).format(greeting=prompts["first_agent_message"]),
    }


def tau2_tree_files() -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(files of the tau2-bench archive, the first-release tasks file), from the test data."""
    prompts = json.loads((SHARED_TAU2 / "prompts.json").read_text())
    retail = "data/tau2/domains/retail/"
    files = {retail + n: (SHARED_TAU2 / n).read_bytes() for n in ("db.json", "policy.md", "tasks.json",
                                                                    "split_tasks.json")}
    files["data/tau2/user_simulator/simulation_guidelines.md"] = (SHARED_TAU2 / "user_simulation_guidelines.md").read_bytes()
    files.update({k: v.encode() for k, v in tau2_sources(prompts).items()})
    return files, {"tasks_2025-06": (SHARED_TAU2 / "tasks_2025-06-release.json").read_bytes()}


def serve_tau2(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Serve the tau2 archive and the first-release file; pin our sources' sha256s (the data files keep the
    real upstream pins). Returns the archive's path on the server."""
    files, first = tau2_tree_files()
    spec = dfetch.SUITES["tau2_retail"]
    archive_src, single_src = spec.sources
    ours = {rel: sha(body) for rel, body in files.items() if rel.startswith("src/")}
    pinned = tuple(dataclasses.replace(f, sha256=ours.get(f.dest, f.sha256)) for f in archive_src.files)
    monkeypatch.setitem(dfetch.SUITES, "tau2_retail",
                        dataclasses.replace(spec, sources=(dataclasses.replace(archive_src, files=pinned), single_src)))
    path = server.put(archive_src.url.format(revision=spec.revision), targz(f"tau2-bench-{spec.revision}", files))
    server.put(single_src.url, first["tasks_2025-06"])
    return path


@needs_tau2
def test_tau2_prompts_read_from_a_tau2_shaped_tree_equal_the_pinned_ones(tmp_path) -> None:
    from tasks.tau2_retail.data import PROMPT_KEYS, PROMPTS_SHA256, prompts_sha256, read_source_prompts

    pinned = json.loads((SHARED_TAU2 / "prompts.json").read_text())
    for rel, body in tau2_sources(pinned).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    got = read_source_prompts(tmp_path)
    assert {k: got[k] for k in PROMPT_KEYS} == {k: pinned[k] for k in PROMPT_KEYS}
    assert got["agent_instruction"].startswith("You are a customer service agent") and prompts_sha256(got) == PROMPTS_SHA256


def test_tau2_source_without_a_constant_names_the_file(tmp_path) -> None:
    from tasks.tau2_retail.data import Tau2RetailDataError, read_source_prompts

    prompts = {"agent_instruction": "a", "agent_system_prompt_template": "{agent_instruction}",
               "user_system_prompt_template": "{global_user_sim_guidelines}", "first_agent_message": "hi",
               "user_stop_tokens": ["S", "T", "O"]}
    for rel, body in tau2_sources(prompts).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    assert read_source_prompts(tmp_path)["user_stop_tokens"] == ["S", "T", "O"]
    (tmp_path / "src/tau2/user/user_simulator_base.py").write_text("STOP = make_token()\n")
    with pytest.raises(Tau2RetailDataError, match=r"user_simulator_base\.py.*no string STOP"):
        read_source_prompts(tmp_path)
    (tmp_path / "src/tau2/agent/llm_agent.py").unlink()
    with pytest.raises(Tau2RetailDataError, match=r"Missing tau2 source .*llm_agent\.py"):
        read_source_prompts(tmp_path)


@needs_tau2
def test_tau2_missing_data_is_one_line_naming_the_fetch_command(cache) -> None:
    from evals.task import DataUnavailable
    from tasks.tau2_retail.task import Tau2RetailTask

    with pytest.raises(DataUnavailable) as ei:
        Tau2RetailTask().load()
    msg = str(ei.value)
    assert len(msg.splitlines()) == 1 and "`gptoss-eval-data fetch tau2_retail`" in msg and str(cache) in msg


@needs_tau2
def test_tau2_fetch_killed_midway_is_redone_and_the_suite_finds_its_data(cache, server, monkeypatch,
                                                                        capsys) -> None:
    from tasks.tau2_retail import selfcheck
    from tasks.tau2_retail.data import clear_data_cache
    from tasks.tau2_retail.task import Tau2RetailTask

    archive = serve_tau2(server, monkeypatch)
    server.httpd.stall.add(archive)  # type: ignore[attr-defined]
    env = {**os.environ, dfetch.CACHE_ENV: str(cache), dfetch.MIRROR_ENV: server.url}
    proc = subprocess.Popen([sys.executable, "-m", "runners.data", "fetch", "tau2_retail"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    parent = cache / "tau2_retail"
    while time.monotonic() < deadline and not any(parent.glob(f"{dfetch.TMP_PREFIX}*/.download.tar.gz")):
        time.sleep(0.1)
    time.sleep(0.5)  # half the archive is on disk
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = list(parent.glob(f"{dfetch.TMP_PREFIX}*"))
    assert partial and not (parent / dfetch.SUITES["tau2_retail"].revision).exists()
    rc, _, err = run_cli(capsys, "path", "tau2_retail")
    assert rc == 2 and "not fetched" in err

    server.httpd.stall.clear()  # type: ignore[attr-defined]
    rc, out, err = run_cli(capsys, "fetch", "tau2_retail")
    assert rc == 0, err
    folder = parent / dfetch.SUITES["tau2_retail"].revision
    assert os.listdir(parent) == [folder.name]  # the killed fetch's leftovers are gone
    rc, out, _ = run_cli(capsys, "path", "tau2_retail")
    assert out.strip() == str(folder)

    clear_data_cache()
    try:
        task = Tau2RetailTask(release="2025-06", split="test")  # no data_dir, no $TAU2_RETAIL_DATA
        assert len(task.load()) == 40
        settings = task.settings()
        assert settings["data_fetch"]["verified"] is True and settings["data_fetch"]["folder"] == str(folder)
        assert "prompts.json" not in settings["files_sha256"]
        rc = selfcheck.main(["--release", "current", "--splits", "test"])
        assert rc == 0 and "matched 40 / 40" in capsys.readouterr().out
    finally:
        clear_data_cache()


def test_codeforces_finds_testlib_and_the_histogram_in_the_cache(cache, tmp_path, monkeypatch, capsys) -> None:
    from tasks.codeforces.metrics import HISTOGRAM_HINT, _histogram_path
    from tasks.codeforces.task import CodeforcesTask

    assert CodeforcesTask().testlib_h is None and _histogram_path({}, None) is None
    assert "gptoss-eval-data fetch codeforces" in HISTOGRAM_HINT
    folder = tmp_path / "cf"
    folder.mkdir()
    (folder / "testlib.h").write_bytes(b"// a stand-in header\n")
    (folder / "sorted_ratings.json").write_bytes(b"[800, 1200, 1200, 2400]")
    spec = dfetch.SUITES["codeforces"]
    ours = {"testlib.h": sha(b"// a stand-in header\n"), "human_ratings_codeelo.json": sha(b"[800, 1200, 1200, 2400]")}
    sources = tuple(dataclasses.replace(s, files=tuple(dataclasses.replace(f, sha256=ours[f.dest]) for f in s.files))
                    for s in spec.sources)
    monkeypatch.setitem(dfetch.SUITES, "codeforces", dataclasses.replace(spec, sources=sources))
    rc, _, err = run_cli(capsys, "fetch", "codeforces", "--from", str(folder))
    assert rc == 0, err
    cached = cache / "codeforces" / spec.revision
    assert CodeforcesTask().testlib_h == str(cached / "testlib.h")
    assert CodeforcesTask(testlib_h="/data/testlib.h").testlib_h == "/data/testlib.h"  # an explicit one wins
    hist = _histogram_path({}, None)
    assert hist == str(cached / "human_ratings_codeelo.json")
    assert json.loads(Path(hist).read_text())["histogram"] == {"800": 1, "1200": 2, "2400": 1}
    assert _histogram_path({"config": {"suite": {"human_histogram": "/data/h.json"}}}, None) == "/data/h.json"


def test_a_run_without_fetched_data_stops_before_any_request_naming_the_fetch(cache, scripted_server,
                                                                            tmp_path) -> None:
    from tests.conftest import run_cli as run_harness
    from tests.runners.test_cli_scripted import SCRIPT

    server = scripted_server(SCRIPT)
    proc = run_harness("suite=tau2_retail", "server=attach", f"server.base_url={server.base_url}",
                       f"paths.root={tmp_path / 'out'}", "progress=false",
                       env={dfetch.CACHE_ENV: str(cache), "TAU2_RETAIL_DATA": ""}, timeout=180)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "`gptoss-eval-data fetch tau2_retail`" in last and str(cache) in last, last
    assert server.requests() == []


# --------------------------------------------------------------------------------------------------------------
# Tau-Bench v1 retail: a tau-bench-shaped archive (the database and wiki are the upstream bytes of the test data;
# tasks, tool modules and user.py are written here in upstream's shape from the test data's JSON)

SHARED_V1 = SHARED_DATA / "tau_bench" / "v1_retail"


def tau_v1_tree_files() -> dict[str, bytes]:
    retail = "tau_bench/envs/retail/"
    files = {retail + "data/" + n: (SHARED_V1 / n).read_bytes() for n in ("users.json", "orders.json", "products.json")}
    files[retail + "wiki.md"] = (SHARED_V1 / "wiki.md").read_bytes()
    for split in ("test", "dev", "train"):
        tasks = json.loads((SHARED_V1 / f"tasks_{split}.json").read_text())
        calls = [f"    Task(annotator={t.get('annotator', '')!r}, user_id={t['user_id']!r}, "
                 f"instruction={t['instruction']!r}, actions=["
                 + ", ".join(f"Action(name={a['name']!r}, kwargs={a['kwargs']!r})" for a in t["actions"])
                 + f"], outputs={t.get('outputs', [])!r})," for t in tasks]
        files[retail + f"tasks_{split}.py"] = ("from tau_bench.types import Action, Task\n\nTASKS_"
                                               f"{split.upper()} = [\n" + "\n".join(calls) + "\n]\n").encode()
    imports, names = [], []
    for schema in json.loads((SHARED_V1 / "tools.json").read_text()):
        module = schema["function"]["name"]
        cls = "".join(w.title() for w in module.split("_"))
        imports.append(f"from .{module} import {cls}")
        names.append(cls)
        files[retail + f"tools/{module}.py"] = (f"class {cls}:\n    @staticmethod\n    def invoke(data):\n"
                                                f"        return ''\n\n    @staticmethod\n    def get_info():\n"
                                                f"        return {schema!r}\n").encode()
    files[retail + "tools/__init__.py"] = ("\n".join(imports) + f"\n\nALL_TOOLS = [{', '.join(names)}]\n").encode()
    template = json.loads((SHARED_V1 / "user_sim_prompt.json").read_text())["system_prompt_template"]
    before, after = template.split("{instruction_display}")
    files["tau_bench/envs/user.py"] = (
        "class LLMUserSimulationEnv:\n    def build_system_prompt(self, instruction):\n"
        "        instruction_display = instruction\n"
        f"        return f{before!r}'{{instruction_display}}'f{after!r}\n").encode()
    return files


@pytest.mark.skipif(not (SHARED_V1 / "tasks_test.json").is_file(), reason=f"tau v1 test data not found at {SHARED_V1}")
def test_tau_v1_fetch_from_an_archive_and_the_suite_finds_it(cache, server, monkeypatch, capsys) -> None:
    from tasks.tau_retail.data import clear_data_cache
    from tasks.tau_retail.task import TauRetailTask

    files = tau_v1_tree_files()
    spec = dfetch.SUITES["tau_retail"]
    (src,) = spec.sources
    upstream_bytes = {"data/users.json", "data/orders.json", "data/products.json", "wiki.md"}
    pins = tuple(f if f.dest.removeprefix("tau_bench/envs/retail/") in upstream_bytes
                 else dataclasses.replace(f, sha256=sha(files[f.dest])) for f in src.files)
    monkeypatch.setitem(dfetch.SUITES, "tau_retail", dataclasses.replace(spec, sources=(dataclasses.replace(
        src, files=pins),)))
    server.put(src.url.format(revision=spec.revision), targz(f"tau-bench-{spec.revision}", files))
    rc, _, err = run_cli(capsys, "fetch", "tau_retail")
    assert rc == 0, err
    clear_data_cache()
    try:
        task = TauRetailTask()  # no data_dir, no $TAU_RETAIL_DATA: the cache
        assert len(task.load()) == 115
        data = task.data()
        assert data.layout == "upstream" and len(data.tools_schema) == 16
        assert data.tools_schema == json.loads((SHARED_V1 / "tools.json").read_text())
        assert task.settings()["data_fetch"]["verified"] is True
    finally:
        clear_data_cache()
