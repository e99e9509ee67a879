"""The "*** Begin Patch" parser and applier: add, update with context, delete, move, bad hunks, mismatches."""

from __future__ import annotations

import pytest

from tasks.swebench.apply_patch import PatchError, apply_hunks, apply_patch, normalize_path, parse_patch


class MemFS:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = dict(files)

    def read_text(self, path: str) -> str | None:
        return self.files.get(path)

    def write_text(self, path: str, text: str) -> None:
        self.files[path] = text

    def delete(self, path: str) -> None:
        del self.files[path]


SRC = "import os\n\n\ndef f(x):\n    y = x + 1\n    return y\n\n\ndef g(x):\n    y = x + 1\n    return y\n"


def test_add_file():
    fs = MemFS({})
    msg = apply_patch("*** Begin Patch\n*** Add File: pkg/new.py\n+a = 1\n+\n+b = 2\n*** End Patch\n", fs)
    assert fs.files == {"pkg/new.py": "a = 1\n\nb = 2\n"}
    assert "A pkg/new.py" in msg


def test_update_with_context_and_anchor_picks_the_right_occurrence():
    fs = MemFS({"m.py": SRC})
    apply_patch("*** Begin Patch\n*** Update File: m.py\n@@ def g(x):\n     y = x + 1\n-    return y\n"
                "+    return y * 2\n*** End Patch", fs)
    assert fs.files["m.py"] == SRC.replace("    return y\n", "    return y * 2\n").replace(
        "    return y * 2\n", "    return y\n", 1)


def test_update_two_hunks_and_absolute_testbed_path():
    fs = MemFS({"m.py": SRC})
    apply_patch("*** Begin Patch\n*** Update File: /testbed/m.py\n@@\n-import os\n+import sys\n@@ def f(x):\n"
                "-    y = x + 1\n+    y = x + 2\n*** End Patch", fs)
    assert fs.files["m.py"].startswith("import sys\n")
    assert "y = x + 2" in fs.files["m.py"] and fs.files["m.py"].count("y = x + 1") == 1


def test_delete_and_move():
    fs = MemFS({"a.py": "x = 1\n", "old.py": "v = 1\nw = 2\n"})
    msg = apply_patch("*** Begin Patch\n*** Delete File: a.py\n*** Update File: old.py\n*** Move to: pkg/new.py\n"
                      "@@\n v = 1\n-w = 2\n+w = 3\n*** End Patch", fs)
    assert fs.files == {"pkg/new.py": "v = 1\nw = 3\n"}
    assert "D a.py" in msg and "R old.py -> pkg/new.py" in msg


def test_end_of_file_marker_and_whitespace_tolerant_context():
    fs = MemFS({"m.py": "a\nb\nc\nb\n"})
    apply_patch("*** Begin Patch\n*** Update File: m.py\n@@\n c\n-b\n+B\n*** End of File\n*** End Patch", fs)
    assert fs.files["m.py"] == "a\nb\nc\nB\n"
    assert apply_hunks("x = 1   \ny = 2\n", parse_patch(
        "*** Begin Patch\n*** Update File: m.py\n x = 1\n-y = 2\n+y = 3\n*** End Patch")[0].hunks, "m.py") == \
        "x = 1   \ny = 3\n"


def test_heredoc_wrapper_is_tolerated():
    fs = MemFS({})
    apply_patch("apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: x.txt\n+hi\n*** End Patch\nEOF\n", fs)
    assert fs.files == {"x.txt": "hi\n"}


@pytest.mark.parametrize("patch, words", [
    ("*** Update File: m.py\n-a\n+b\n", "must start with '*** Begin Patch'"),
    ("*** Begin Patch\n*** Update File: m.py\n-a\n+b\n", "no '*** End Patch'"),
    ("*** Begin Patch\n*** End Patch", "no file operations"),
    ("*** Begin Patch\n*** Frobnicate File: m.py\n*** End Patch", "patch line 2: expected"),
    ("*** Begin Patch\n*** Update File: m.py\n@@\n a\nb\n*** End Patch", "patch line 5: in 'Update File: m.py' "
                                                                       "every hunk line must start"),
    ("*** Begin Patch\n*** Add File: n.py\nno plus\n*** End Patch", "must start with '+'"),
    ("*** Begin Patch\n*** Update File: m.py\n*** End Patch", "has no changes"),
    ("*** Begin Patch\n*** Add File: ../etc/passwd\n+x\n*** End Patch", "outside the repository"),
    ("*** Begin Patch\n*** Add File: /etc/passwd\n+x\n*** End Patch", "outside the repository"),
])
def test_malformed_patches_say_what_is_wrong(patch, words):
    fs = MemFS({"m.py": "a\n"})
    with pytest.raises(PatchError, match=None) as err:
        apply_patch(patch, fs)
    assert words in str(err.value)
    assert fs.files == {"m.py": "a\n"}


def test_context_mismatch_names_file_hunk_and_closest_lines_and_changes_nothing():
    fs = MemFS({"m.py": SRC, "other.py": "keep\n"})
    patch = ("*** Begin Patch\n*** Update File: other.py\n-keep\n+changed\n*** Update File: m.py\n@@\n"
             " def f(x):\n-    y = x + 100\n+    y = x + 2\n*** End Patch")
    with pytest.raises(PatchError) as err:
        apply_patch(patch, fs)
    msg = str(err.value)
    assert "in m.py, hunk 1" in msg and "were not found" in msg and "y = x + 100" in msg
    assert "most similar lines in the file start at line 4" in msg
    assert fs.files["other.py"] == "keep\n"  # all or nothing


def test_missing_files_and_existing_targets():
    fs = MemFS({"m.py": "a\n"})
    with pytest.raises(PatchError, match="cannot update nope.py: no such file"):
        apply_patch("*** Begin Patch\n*** Update File: nope.py\n-a\n+b\n*** End Patch", fs)
    with pytest.raises(PatchError, match="cannot delete nope.py"):
        apply_patch("*** Begin Patch\n*** Delete File: nope.py\n*** End Patch", fs)
    with pytest.raises(PatchError, match="already exists"):
        apply_patch("*** Begin Patch\n*** Add File: m.py\n+x\n*** End Patch", fs)
    with pytest.raises(PatchError, match="after '@@'.*was not found"):
        apply_patch("*** Begin Patch\n*** Update File: m.py\n@@ def nowhere():\n-a\n+b\n*** End Patch", fs)


def test_normalize_path():
    assert normalize_path("/testbed/a/b.py") == "a/b.py"
    assert normalize_path("./a//b.py") == "a/b.py"
    with pytest.raises(PatchError):
        normalize_path("a/../../x")
