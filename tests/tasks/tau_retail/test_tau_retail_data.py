"""Data loading: missing / corrupted files give clear errors; the upstream checkout layout loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evals.task import DataUnavailable
from tasks.tau_retail import FILE_SHA256, RetailEnv, TauRetailDataError, TauRetailTask, load_data
from tasks.tau_retail.data import USER_SIM_TEMPLATE_SHA256, clear_data_cache, sha256_bytes


@pytest.fixture()
def copy_dir(data_dir: Path, tmp_path: Path):
    dst = tmp_path / "v1_retail"
    shutil.copytree(data_dir, dst)
    for f in dst.iterdir():
        f.chmod(0o644)
    clear_data_cache()
    yield dst
    clear_data_cache()


def test_pinned_hashes_match_shared_files(data_dir: Path) -> None:
    for name, digest in FILE_SHA256.items():
        assert sha256_bytes((data_dir / name).read_bytes()) == digest, name


def test_corrupted_db_file(copy_dir: Path) -> None:
    p = copy_dir / "orders.json"
    raw = bytearray(p.read_bytes())
    i = raw.index(b'"pending"')
    raw[i + 1 : i + 8] = b"Pending"
    p.write_bytes(bytes(raw))
    with pytest.raises(TauRetailDataError) as ei:
        load_data(copy_dir)
    msg = str(ei.value)
    assert "orders.json" in msg and "Corrupted" in msg and FILE_SHA256["orders.json"] in msg


def test_corrupted_task_file_detected_on_use(copy_dir: Path) -> None:
    p = copy_dir / "tasks_test.json"
    p.write_bytes(p.read_bytes().replace(b"#W2378156", b"#W2378157", 1))
    env = RetailEnv(copy_dir)  # DB is fine
    with pytest.raises(TauRetailDataError, match=r"tasks_test\.json.*" + FILE_SHA256["tasks_test.json"]):
        env.reset(0)


def test_truncated_json(copy_dir: Path) -> None:
    p = copy_dir / "users.json"
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(TauRetailDataError, match="users.json"):
        load_data(copy_dir)


def test_missing_file(copy_dir: Path) -> None:
    (copy_dir / "products.json").unlink()
    with pytest.raises(TauRetailDataError) as ei:
        load_data(copy_dir)
    msg = str(ei.value)
    assert "Missing" in msg and "products.json" in msg and FILE_SHA256["products.json"] in msg
    assert "sierra-research/tau-bench" in msg


def test_missing_folder_and_env_var(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TAU_RETAIL_DATA", raising=False)
    with pytest.raises(TauRetailDataError, match="TAU_RETAIL_DATA"):
        load_data()
    with pytest.raises(TauRetailDataError, match="does not exist"):
        load_data(tmp_path / "nope")
    with pytest.raises(TauRetailDataError, match="neither"):
        load_data(tmp_path)


def test_env_var_default(data_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TAU_RETAIL_DATA", str(data_dir))
    env = RetailEnv()
    assert len(env.tasks) == 115


def test_verify_false_accepts_modified_data(copy_dir: Path) -> None:
    p = copy_dir / "tasks_dev.json"
    tasks = json.loads(p.read_text())
    tasks[0]["instruction"] = "changed"
    p.write_text(json.dumps(tasks))
    env = RetailEnv(copy_dir, split="dev", verify=False)
    assert env.reset(0).instruction == "changed"


def _write_upstream_checkout(src: Path, root: Path) -> Path:
    """A synthetic tree with the upstream layout, generated from the bundle files."""
    retail = root / "tau_bench" / "envs" / "retail"
    (retail / "data").mkdir(parents=True)
    (retail / "tools").mkdir()
    for name in ("users.json", "orders.json", "products.json"):
        shutil.copyfile(src / name, retail / "data" / name)
    shutil.copyfile(src / "wiki.md", retail / "wiki.md")
    for split in ("test", "dev", "train"):
        tasks = json.loads((src / f"tasks_{split}.json").read_text())
        lines = ["from tau_bench.types import Action, Task", "", "TASKS = ["]
        for t in tasks:
            acts = ", ".join(f"Action(name={a['name']!r}, kwargs={a['kwargs']!r})" for a in t["actions"])
            lines.append(
                f"    Task(annotator={t['annotator']!r}, user_id={t['user_id']!r}, "
                f"instruction={t['instruction']!r}, actions=[{acts}], outputs={t['outputs']!r}),"
            )
        lines.append("]")
        (retail / f"tasks_{split}.py").write_text("\n".join(lines) + "\n")
    schemas = json.loads((src / "tools.json").read_text())
    init = []
    names = []
    for i, s in enumerate(schemas):
        mod = s["function"]["name"]
        cls = f"Tool{i}"
        names.append(cls)
        init.append(f"from .{mod} import {cls}")
        (retail / "tools" / f"{mod}.py").write_text(
            f"class {cls}:\n    @staticmethod\n    def get_info():\n        return {s!r}\n"
        )
    init.append("ALL_TOOLS = [" + ", ".join(names) + "]")
    (retail / "tools" / "__init__.py").write_text("\n".join(init) + "\n")
    return retail


@pytest.mark.parametrize("which", ["retail", "data", "root"])
def test_upstream_layout(data_dir: Path, tmp_path: Path, which: str) -> None:
    clear_data_cache()
    retail = _write_upstream_checkout(data_dir, tmp_path / "tau-bench")
    target = {"retail": retail, "data": retail / "data", "root": tmp_path / "tau-bench"}[which]
    env = RetailEnv(target)
    assert env.data.layout == "upstream"
    assert env.tools_schema == json.loads((data_dir / "tools.json").read_text())
    assert env.policy == (data_dir / "wiki.md").read_text()
    gt = json.loads((data_dir / "gt_db_hashes.json").read_text())
    for i in (0, 5, 10, 50):
        task = env.reset(i)
        for a in task.actions:
            env.step_tool(a.name, a.kwargs)
        assert env.db_hash() == gt["test"][i]
        assert env.reward([" ".join(task.outputs)]).reward == 1.0
    # upstream ships no simulator-template file: a clear error when it is needed
    with pytest.raises(TauRetailDataError, match="user_sim_prompt.json"):
        env.user_sim_system_prompt()
    clear_data_cache()


def test_upstream_tasks_content_check(data_dir: Path, tmp_path: Path) -> None:
    clear_data_cache()
    retail = _write_upstream_checkout(data_dir, tmp_path / "tb")
    p = retail / "tasks_dev.py"
    p.write_text(p.read_text().replace("ordered by mistake", "no longer needed", 1))
    env = RetailEnv(retail, split="dev")
    with pytest.raises(TauRetailDataError, match="content hash"):
        env.reset(0)
    clear_data_cache()


def _write_user_py(retail: Path, template: str) -> Path:
    """tau_bench/envs/user.py as upstream has it: the template is the f-string build_system_prompt returns."""
    path = retail.parent / "user.py"
    path.write_text(
        "class LLMUserSimulationEnv:\n"
        "    def build_system_prompt(self, instruction):\n"
        "        instruction_display = ('\\n\\nInstruction: ' + instruction + '\\n') if instruction is not None else ''\n"
        f'        return f"""{template}"""\n')
    return path


def test_upstream_checkout_reads_the_simulator_template_from_user_py(data_dir: Path, tmp_path: Path) -> None:
    clear_data_cache()
    retail = _write_upstream_checkout(data_dir, tmp_path / "tau-bench")
    template = json.loads((data_dir / "user_sim_prompt.json").read_text())["system_prompt_template"]
    _write_user_py(retail, template)
    upstream = RetailEnv(retail)
    bundle = RetailEnv(data_dir)
    for env in (upstream, bundle):
        env.reset(3)
    # byte-identical to what the bundle file renders: the simulator sees the same prompt either way
    assert upstream.user_sim_messages() == bundle.user_sim_messages()
    assert TauRetailTask(data_dir=str(retail)).load()[3].id == "test-3"
    clear_data_cache()


def test_a_changed_upstream_template_is_refused(data_dir: Path, tmp_path: Path) -> None:
    clear_data_cache()
    retail = _write_upstream_checkout(data_dir, tmp_path / "tau-bench")
    template = json.loads((data_dir / "user_sim_prompt.json").read_text())["system_prompt_template"]
    _write_user_py(retail, template + "\n- Do not output <think> tags.")
    with pytest.raises(DataUnavailable) as ei:
        TauRetailTask(data_dir=str(retail)).load()
    msg = str(ei.value)
    assert "user_sim_prompt.json" in msg and "is not v1's" in msg and USER_SIM_TEMPLATE_SHA256 in msg
    clear_data_cache()


def test_missing_simulator_template_fails_at_load_in_one_line(data_dir: Path, tmp_path: Path) -> None:
    """Upstream ships no user_sim_prompt.json: the run must stop before any request, saying what to do."""
    clear_data_cache()
    retail = _write_upstream_checkout(data_dir, tmp_path / "tau-bench")
    with pytest.raises(DataUnavailable) as ei:
        TauRetailTask(data_dir=str(retail)).load()
    msg = str(ei.value)
    assert len(msg.splitlines()) == 1 and str(retail / "user_sim_prompt.json") in msg
    assert "gptoss-eval-data fetch tau_retail" in msg and "user.py" in msg
    clear_data_cache()


def test_cli_stops_before_any_request_when_the_template_is_missing(data_dir: Path, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    retail = _write_upstream_checkout(data_dir, tmp_path / "tau-bench")
    proc = run_cli("server=attach", "server.base_url=http://127.0.0.1:9/v1", "suite=tau_retail",
                   f"suite.data_dir={retail}", f"paths.root={tmp_path / 'out'}", "progress=false", timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "user_sim_prompt.json" in lines[0]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("attempts.jsonl"))
