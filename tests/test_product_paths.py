"""No line of the product (evals/ tasks/ runners/ reports/ conf/, README) names this repository's test-data folder
or a machine path: a user has only the package, and data comes from `gptoss-eval-data`'s cache or their own
folders."""

from __future__ import annotations

import re

from tests.conftest import ROOT

PRODUCT = ("evals", "tasks", "runners", "reports", "conf")
# the test-data folder beside the repository, and absolute paths of this machine
FORBIDDEN = re.compile(r"shared/|/work/")


def product_files() -> list:
    files = [ROOT / "README.md"]
    for top in PRODUCT:
        files += [p for p in (ROOT / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".gguf", ".safetensors", ".bin")]
    return files


def test_no_product_line_names_the_test_data_folder_or_a_machine_path() -> None:
    hits = []
    for path in product_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        hits += [f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}"
                 for n, line in enumerate(text.splitlines(), 1) if FORBIDDEN.search(line)]
    assert not hits, "\n".join(hits)


def test_the_check_sees_a_planted_line(tmp_path) -> None:
    assert FORBIDDEN.search("see ../shared/data/x") and FORBIDDEN.search("/work/main/README.md")
    assert not FORBIDDEN.search("the pristine data is shared by every episode")
