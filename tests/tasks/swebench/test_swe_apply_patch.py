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
    # an anchor that is not in the file only fails a hunk that has no context lines to place it by
    with pytest.raises(PatchError, match="after '@@' .'def nowhere\\(\\):'. was not found, and the hunk has no "
                                         "context lines"):
        apply_patch("*** Begin Patch\n*** Update File: m.py\n@@ def nowhere():\n+b\n*** End Patch", fs)
    assert fs.files == {"m.py": "a\n"}


def test_normalize_path():
    assert normalize_path("/testbed/a/b.py") == "a/b.py"
    assert normalize_path("./a//b.py") == "a/b.py"
    with pytest.raises(PatchError):
        normalize_path("a/../../x")


# --- placement: anchors guide, the context decides -----------------------------------------------------

CLS = ("class A(Base):\n    def f(self):\n        return 1\n\n    def g(self):\n        return 2\n\n\n"
       "class B(Base):\n    def f(self):\n        return 1\n\n    def g(self):\n        return 2\n")


def patched(files: dict[str, str], patch: str) -> dict[str, str]:
    fs = MemFS(files)
    apply_patch(patch, fs)
    return fs.files


def test_added_lines_directly_under_an_anchor_go_after_the_anchor_line():
    out = patched({"m.py": SRC}, '*** Begin Patch\n*** Update File: m.py\n@@ def g(x):\n+    """Doc."""\n'
                                 "*** End Patch")
    assert out["m.py"] == SRC.replace("def g(x):\n", 'def g(x):\n    """Doc."""\n')
    # a stray blank line after the added lines changes nothing
    out = patched({"m.py": SRC}, '*** Begin Patch\n*** Update File: m.py\n@@ def g(x):\n+    """Doc."""\n\n'
                                 "*** End Patch")
    assert out["m.py"] == SRC.replace("def g(x):\n", 'def g(x):\n    """Doc."""\n')


def test_stacked_anchors_are_looked_for_in_turn():
    out = patched({"m.py": CLS}, '*** Begin Patch\n*** Update File: m.py\n@@ class B(Base):\n@@     def g(self):\n'
                                 '+        """Doc."""\n*** End Patch')
    assert out["m.py"] == CLS[:CLS.rindex("def g(self):\n") + 13] + '        """Doc."""\n' + "        return 2\n"
    out = patched({"m.py": CLS}, "*** Begin Patch\n*** Update File: m.py\n@@ class B(Base):\n@@ def f(self):\n"
                                 "-        return 1\n+        return 10\n*** End Patch")
    assert out["m.py"] == CLS[::-1].replace("        return 1\n"[::-1], "        return 10\n"[::-1], 1)[::-1]


@pytest.mark.parametrize("anchor", ["@@ class B", "@@ class B(Base, Mixin):", "@@ -9,3 +9,3 @@",
                                    "@@ -9,3 +9,3 @@ class B(Base):", "@@ class B(Base): @@"])
def test_partial_wrong_or_unified_header_anchors_guide_without_failing(anchor):
    patch = (f"*** Begin Patch\n*** Update File: m.py\n{anchor}\n     def g(self):\n-        return 2\n"
             "+        return 20\n*** End Patch")
    src = CLS.replace("class B(Base):\n    def f(self):\n        return 1\n", "class B(Base):\n    def h(self):\n"
                      "        return 1\n").replace("    def g(self):\n        return 2\n\n\n", "")
    # the context is unique: any anchor, found or not, ends up at B.g
    assert patched({"m.py": src}, patch)["m.py"] == src.replace("return 2\n", "return 20\n")


def test_an_anchor_that_is_only_the_start_of_a_line_picks_between_duplicates():
    patch = ("*** Begin Patch\n*** Update File: m.py\n@@ class B\n     def f(self):\n-        return 1\n"
             "+        return 10\n*** End Patch")
    assert patched({"m.py": CLS}, patch)["m.py"] == CLS[::-1].replace("return 1\n"[::-1], "return 10\n"[::-1],
                                                                      1)[::-1]
    # "class A" must not find "class AB(...)"
    with pytest.raises(PatchError, match="was not found"):
        apply_patch("*** Begin Patch\n*** Update File: m.py\n@@ class A\n+x = 1\n*** End Patch",
                    MemFS({"m.py": "class AB:\n    pass\n"}))


def test_an_anchor_never_overrules_the_context():
    # the anchor names g, but the context is only in f: the context wins
    out = patched({"m.py": SRC}, "*** Begin Patch\n*** Update File: m.py\n@@ def g(x):\n def f(x):\n"
                                 "-    y = x + 1\n+    y = x + 5\n*** End Patch")
    assert out["m.py"] == SRC.replace("    y = x + 1\n", "    y = x + 5\n", 1)


def test_a_second_hunk_may_repeat_an_anchor_already_passed():
    patch = ("*** Begin Patch\n*** Update File: m.py\n@@ class A(Base):\n     def f(self):\n-        return 1\n"
             "+        return 11\n@@ class A(Base):\n     def g(self):\n-        return 2\n+        return 22\n"
             "*** End Patch")
    out = patched({"m.py": CLS}, patch)["m.py"]
    assert out == CLS.replace("return 1\n", "return 11\n", 1).replace("return 2\n", "return 22\n", 1)


def test_end_of_file_is_a_hint():
    patch = "*** Begin Patch\n*** Update File: m.py\n a\n-b\n+B\n*** End of File\n*** End Patch"
    assert patched({"m.py": "a\nb\nc\n"}, patch)["m.py"] == "a\nB\nc\n"  # not at the end: found by search
    # where the context also occurs earlier, the end of the file is preferred
    assert patched({"m.py": "a\nb\nc\na\nb\n"}, patch)["m.py"] == "a\nb\nc\na\nB\n"
    # a hunk may follow one marked with it
    assert patched({"m.py": "a\nb\nc\nd\n"}, "*** Begin Patch\n*** Update File: m.py\n-a\n+A\n*** End of File\n"
                   "@@\n-d\n+D\n*** End of File\n\n*** End Patch")["m.py"] == "A\nb\nc\nD\n"


@pytest.mark.parametrize("blank", ["", " ", "\n"])
def test_blank_lines_left_at_the_end_of_the_last_hunk(blank):
    patch = f"*** Begin Patch\n*** Update File: m.py\n@@ def g(x):\n     y = x + 1\n-    return y\n+    return -y\n{blank}\n*** End Patch"
    assert patched({"m.py": SRC}, patch)["m.py"] == SRC[::-1].replace("return y"[::-1], "return -y"[::-1], 1)[::-1]


def test_duplicate_context_uses_the_anchor_or_is_refused_with_the_candidates():
    patch = "*** Begin Patch\n*** Update File: m.py\n{}     def f(self):\n-        return 1\n+        return 9\n*** End Patch"
    out = patched({"m.py": CLS}, patch.format("@@ class B(Base):\n"))["m.py"]
    assert out == CLS[::-1].replace("return 1\n"[::-1], "return 9\n"[::-1], 1)[::-1]
    fs = MemFS({"m.py": CLS})
    with pytest.raises(PatchError) as err:
        apply_patch(patch.format(""), fs)
    assert "occur 2 times (starting at lines 2, 10)" in str(err.value) and "Add an '@@' line" in str(err.value)
    assert fs.files == {"m.py": CLS}
    # after a previous hunk, only the places after it count
    out = patched({"m.py": CLS}, "*** Begin Patch\n*** Update File: m.py\n@@\n-class B(Base):\n+class B(Other):\n"
                                 "@@\n     def f(self):\n-        return 1\n+        return 9\n*** End Patch")["m.py"]
    assert out == CLS.replace("class B(Base)", "class B(Other)")[::-1].replace(
        "return 1\n"[::-1], "return 9\n"[::-1], 1)[::-1]


def test_added_lines_without_anchor_or_context_go_at_the_end():
    assert patched({"m.py": "a\nb\n"}, "*** Begin Patch\n*** Update File: m.py\n@@\n+c\n*** End Patch") == \
        {"m.py": "a\nb\nc\n"}


# --- where we are stricter or more tolerant than the reference on purpose ------------------------------

def test_move_onto_an_existing_file_is_refused_and_move_to_the_same_path_keeps_it():
    fs = MemFS({"a.py": "x = 1\n", "b.py": "y = 2\n"})
    with pytest.raises(PatchError, match="cannot move a.py to b.py: the destination exists"):
        apply_patch("*** Begin Patch\n*** Update File: a.py\n*** Move to: b.py\n-x = 1\n+x = 2\n*** End Patch", fs)
    assert fs.files == {"a.py": "x = 1\n", "b.py": "y = 2\n"}
    apply_patch("*** Begin Patch\n*** Update File: a.py\n*** Move to: a.py\n-x = 1\n+x = 2\n*** End Patch", fs)
    assert fs.files == {"a.py": "x = 2\n", "b.py": "y = 2\n"}


def test_blank_lines_between_operations_and_at_def_without_space_and_anchor_as_first_context_line():
    fs = MemFS({"m.py": SRC, "old.py": "z\n"})
    apply_patch("*** Begin Patch\n\n*** Delete File: old.py\n\n*** Add File: n.py\n+a\n\n+b\n\n\n"
                "*** Update File: m.py\n@@def g(x):\n def g(x):\n-    y = x + 1\n+    y = x + 3\n\n*** End Patch", fs)
    assert fs.files == {"m.py": SRC[::-1].replace("y = x + 1"[::-1], "y = x + 3"[::-1], 1)[::-1], "n.py": "a\n\nb\n"}


# --- line endings and writes ---------------------------------------------------------------------------

def test_crlf_files_get_crlf_added_lines():
    crlf = SRC.replace("\n", "\r\n")
    out = patched({"m.py": crlf}, "*** Begin Patch\n*** Update File: m.py\n@@ def f(x):\n     y = x + 1\n"
                                  "-    return y\n+    z = y\n+    return z\n*** End Patch")["m.py"]
    assert out == crlf.replace("    return y\r\n", "    z = y\r\n    return z\r\n", 1)
    # a patch sent with CRLF itself, and a file without a final newline
    out = patched({"m.py": "a\r\nb"}, "*** Begin Patch\r\n*** Update File: m.py\r\n a\r\n+x\r\n*** End Patch\r\n")
    assert out["m.py"] == "a\r\nx\r\nb"
    # mixed files keep each line's ending; added lines get the most common one
    assert patched({"m.py": "a\nb\r\nc\r\n"}, "*** Begin Patch\n*** Update File: m.py\n a\n+x\n*** End Patch")[
        "m.py"] == "a\nx\r\nb\r\nc\r\n"


class FailingFS(MemFS):
    def __init__(self, files: dict[str, str], fail_on: str, restore_fails: bool = False) -> None:
        super().__init__(files)
        self.fail_on, self.restore_fails, self.failed = fail_on, restore_fails, False

    def write_text(self, path: str, text: str) -> None:
        if path == self.fail_on and not self.failed:
            self.failed = True
            self.files[path] = text[:3]  # a partial write
            raise OSError("No space left on device")
        if self.failed and self.restore_fails:
            raise OSError("read-only file system")
        super().write_text(path, text)


def test_a_failed_write_restores_the_files_already_written():
    files = {"a.py": "x = 1\n", "b.py": "y = 2\n", "gone.py": "z\n"}
    patch = ("*** Begin Patch\n*** Delete File: gone.py\n*** Update File: a.py\n-x = 1\n+x = 2\n"
             "*** Add File: new.py\n+n\n*** Update File: b.py\n-y = 2\n+y = 3\n*** End Patch")
    fs = FailingFS(files, "b.py")
    with pytest.raises(PatchError) as err:
        apply_patch(patch, fs)
    assert str(err.value) == ("cannot write b.py: No space left on device; the files already written were "
                              "restored")
    assert fs.files == files
    fs = FailingFS(files, "b.py", restore_fails=True)
    with pytest.raises(PatchError, match="could not be restored and may be changed: b.py, a.py, gone.py$"):
        apply_patch(patch, fs)
