"""Our apply_patch side by side with OpenAI's reference applier (gpt_oss/tools/apply_patch.py, gpt-oss==0.0.9).

Seeded generators build small Python file trees and one patch per case, in the shapes gpt-oss writes: valid
diffs, whitespace drift, anchors that are partial / slightly wrong / unified-diff headers / repeated, added
lines right under an anchor, ``*** End of File`` hints, trailing blank lines, duplicated context, and the
shapes where we differ on purpose. Each case also carries the intended result, computed from the edit itself
(not by either applier). The reference runs through its own file functions on a temporary tree, with any
path that leaves the tree recorded instead of touched.

``python -m tests.tasks.swebench.test_swe_apply_patch_reference [--ours FILE] [--per-kind N]`` prints the
per-kind table (how many each applier applies, how many results are equal, how many of ours are as intended);
``--ours`` measures another version of our module, e.g. an older one from git.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from tasks.swebench import apply_patch as ours_module

REFERENCE_VERSION = "0.0.9"  # the expectations below pin this release's applier (later ones re-indent lines)
try:
    from gpt_oss.tools import apply_patch as reference
except ImportError:  # the package is optional outside the test set-up
    reference = None
INSTALL = (f"`pip install --no-deps --ignore-requires-python gpt-oss=={REFERENCE_VERSION}` (runners/setup.sh test "
           "does)")

pytestmark = [
    pytest.mark.skipif(reference is None, reason=f"gpt_oss.tools.apply_patch is not importable: install {INSTALL}"),
    pytest.mark.skipif(reference is not None and importlib.metadata.version("gpt-oss") != REFERENCE_VERSION,
                       reason=f"another gpt-oss than {REFERENCE_VERSION} is installed: install {INSTALL}"),
]

PER_KIND = 20
SEED = 22


@dataclass
class Case:
    kind: str
    files: dict[str, str]
    patch: str
    expected: dict[str, str] | None  # the intended tree; None where the patch should be refused
    note: dict = field(default_factory=dict)  # per-kind facts the checks need (e.g. duplicate line numbers)


@dataclass
class Outcome:
    status: str  # "applied" or "refused"
    files: dict[str, str]
    message: str = ""
    outside: list[str] = field(default_factory=list)  # paths outside the tree the applier tried to write


# --------------------------------------------------------------------------------------------------------
# Generated trees and edits
# --------------------------------------------------------------------------------------------------------

def module_lines(rng: random.Random, tag: str, with_reset: bool = False) -> list[str]:
    """A module of classes with small methods; every non-blank line is unique unless ``with_reset`` adds the
    same ``reset`` method to every class (duplicated context)."""
    out = [f'"""Module {tag}."""', "", "import os", ""]
    for c in range(rng.randint(2, 3)):
        out += ["", f"class Widget{tag}{c}(Base{c}):", f'    """Widget {tag}{c}."""', ""]
        if with_reset:
            out += ["    def reset(self):", "        self.count = 0", "        self.items = []",
                    "        return self", ""]
        for m in range(rng.randint(2, 4)):
            v = f"{tag}{c}{m}"
            out += [f"    def run_{v}(self, arg_{v}):", f"        first_{v} = arg_{v} + {rng.randint(1, 99)}",
                    f"        second_{v} = first_{v} * {rng.randint(2, 9)}", f"        return second_{v}", ""]
    while out[-1] == "":
        out.pop()
    return out


def text_of(lines: list[str], eol: str = "\n") -> str:
    return eol.join(lines) + eol


@dataclass
class Method:
    class_at: int  # index of the class line
    def_at: int  # index of the def line; its body is the next three lines
    name: str


def methods(lines: list[str], name: str | None = None) -> list[Method]:
    found, class_at = [], -1
    for i, line in enumerate(lines):
        if line.startswith("class "):
            class_at = i
        elif line.startswith("    def ") and (name is None or line.startswith(f"    def {name}(")):
            found.append(Method(class_at, i, line.split("(")[0].split()[-1]))
    return found


@dataclass
class Edit:
    start: int  # first line index the edit replaces (or inserts before)
    old: list[str]  # removed lines
    new: list[str]  # added lines
    before: int  # context lines before ``start``
    after: int  # context lines after the removed lines

    def hunk(self, lines: list[str]) -> list[str]:
        end = self.start + len(self.old)
        return ([" " + ln for ln in lines[self.start - self.before:self.start]] + ["-" + ln for ln in self.old]
                + ["+" + ln for ln in self.new] + [" " + ln for ln in lines[end:end + self.after]])

    def first_line(self) -> int:
        return self.start - self.before


def apply_edits(lines: list[str], edits: list[Edit]) -> list[str]:
    out = list(lines)
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        out[e.start:e.start + len(e.old)] = e.new
    return out


def method_edit(rng: random.Random, lines: list[str], m: Method, min_before: int = 1,
                after_limit: int | None = None) -> Edit:
    """A replace / insert / delete inside method ``m`` with 1-3 context lines before and 0-3 after, all within
    the method (its def line, body and the blank line after it)."""
    d = m.def_at
    block_end = min(d + 5, len(lines))
    shape = rng.choice(["replace", "replace2", "insert", "delete"])
    j = rng.randint(d + 1, d + 3)
    note = f"        note_{rng.randrange(10**6)} = {j}"
    if shape == "replace":
        old, new = [lines[j]], [lines[j] + " + 1"]
    elif shape == "replace2":
        old, new = [lines[j]], [lines[j] + " - 1", note]
    elif shape == "insert":
        old, new = [], [note]
    else:
        j = rng.randint(d + 1, d + 2)
        old, new = [lines[j]], []
    before = max(min_before, min(rng.randint(1, 3), j - d))
    before = min(before, j - d)
    after = min(rng.randint(0, 3), block_end - (j + len(old)))
    if after_limit is not None:
        after = min(after, after_limit)
    if before == 0 and not old and after == 0:
        after = 1
    return Edit(j, old, new, before, after)


def envelope(ops: list[str]) -> str:
    return "\n".join(["*** Begin Patch", *ops, "*** End Patch"]) + "\n"


def two_modules(rng: random.Random, with_reset: bool = False) -> dict[str, list[str]]:
    return {"pkg/mod_a.py": module_lines(rng, "a", with_reset), "pkg/mod_b.py": module_lines(rng, "b", with_reset)}


def tree(mods: dict[str, list[str]], eol: str = "\n") -> dict[str, str]:
    files = {path: text_of(lines, eol) for path, lines in mods.items()}
    files["README.md"] = "# a package\n"
    return files


def update_ops(rng: random.Random, path: str, lines: list[str], count: int,
               anchor: Callable[[random.Random, list[str], Method, Edit, Method | None], list[str]],
               edit: Callable[[random.Random, list[str], Method], Edit] = method_edit,
               ) -> tuple[list[str], list[Edit]]:
    """An 'Update File' with hunks in ``count`` distinct methods, in file order; ``anchor`` gives each hunk's
    '@@' lines (and may adjust the edit)."""
    chosen = sorted(rng.sample(methods(lines), min(count, len(methods(lines)))), key=lambda m: m.def_at)
    ops, edits, previous = [f"*** Update File: {path}"], [], None
    for m in chosen:
        e = edit(rng, lines, m)
        ops += anchor(rng, lines, m, e, previous)
        ops += e.hunk(lines)
        edits.append(e)
        previous = m
    return ops, edits


def plain_anchor(rng: random.Random, lines: list[str], m: Method, e: Edit, previous: Method | None) -> list[str]:
    """No anchor, a bare '@@', the class line (when no earlier hunk used it) or the def line (context after
    it): anchors both appliers must find."""
    options = ["bare", "def"] + (["class"] if previous is None or previous.class_at != m.class_at else [])
    if previous is None:
        options.append("none")
    choice = rng.choice(options)
    if choice == "none":
        return []
    if choice == "bare":
        return ["@@"]
    if choice == "class":
        return ["@@ " + lines[m.class_at]]
    e.before = min(e.before, e.start - m.def_at - 1)  # the context starts below the anchor line
    if e.before == 0 and not e.old and e.after == 0:
        e.after = 1
    return ["@@ " + rng.choice([lines[m.def_at], lines[m.def_at].strip()])]


def updates(rng: random.Random, mods: dict[str, list[str]], anchor=plain_anchor, edit=method_edit,
            files_max: int = 2, hunks_max: int = 3) -> tuple[list[str], dict[str, list[str]]]:
    ops, expected = [], {}
    for path in sorted(rng.sample(sorted(mods), rng.randint(1, files_max))):
        op, edits = update_ops(rng, path, mods[path], rng.randint(1, hunks_max), anchor, edit)
        ops += op
        expected[path] = apply_edits(mods[path], edits)
    return ops, expected


def result(mods: dict[str, list[str]], changed: dict[str, list[str]], eol: str = "\n") -> dict[str, str]:
    return tree({**mods, **changed}, eol)


# --- kinds both appliers must apply with the intended result ---------------------------------------------

def gen_valid(rng: random.Random) -> Case:
    mods = two_modules(rng)
    ops, changed = updates(rng, mods)
    return Case("valid", tree(mods), envelope(ops), result(mods, changed))


def gen_whitespace(rng: random.Random) -> Case:
    mods = two_modules(rng)
    drift = rng.choice(["trailing in patch", "trailing in file", "indentation"])
    if drift == "trailing in file":
        for lines in mods.values():
            for i in rng.sample(range(len(lines)), len(lines) // 3):
                if lines[i].strip():
                    lines[i] += " " * rng.randint(1, 3)
    ops, changed = updates(rng, mods)
    shift = rng.choice(["  ", " ", "\t"])
    for i, line in enumerate(ops):
        if line[:1] in " -" and line[1:].strip():
            if drift == "trailing in patch":
                ops[i] = line + "   "
            elif drift == "indentation":
                ops[i] = line[0] + shift + line[1:]
    return Case("whitespace", tree(mods), envelope(ops), result(mods, changed), {"drift": drift})


def gen_anchor_add(rng: random.Random) -> Case:
    """The placement bug's shape: added lines directly under an '@@' anchor, no context lines."""
    mods = two_modules(rng)
    path = rng.choice(sorted(mods))
    lines = mods[path]
    chosen = sorted(rng.sample(methods(lines), rng.randint(1, 2)), key=lambda m: m.def_at)
    ops, edits = [f"*** Update File: {path}"], []
    for m in chosen:
        if rng.random() < 0.75:
            at, new = m.def_at, [f'        """Run {m.name} ({rng.randrange(1000)})."""']
        else:  # a class attribute under the class line
            if edits and edits[-1].start > m.class_at:
                continue
            at, new = m.class_at, [f"    kind = {rng.randrange(1000)}"]
        ops += ["@@ " + rng.choice([lines[at], lines[at].strip()])] + ["+" + ln for ln in new]
        edits.append(Edit(at + 1, [], new, 0, 0))
    return Case("anchor_add", tree(mods), envelope(ops), result(mods, {path: apply_edits(lines, edits)}))


def prefix_anchor(rng: random.Random, lines: list[str], m: Method, e: Edit, previous: Method | None) -> list[str]:
    if rng.random() < 0.5:
        return ["@@ " + lines[m.class_at].split("(")[0]]  # "class WidgetA0" for "class WidgetA0(Base0):"
    return ["@@ " + lines[m.def_at].strip().split("(")[0]]  # "def run_a01" for "    def run_a01(self, arg_a01):"


def gen_anchor_prefix(rng: random.Random) -> Case:
    mods = two_modules(rng)
    ops, changed = updates(rng, mods, anchor=prefix_anchor, hunks_max=2)
    return Case("anchor_prefix", tree(mods), envelope(ops), result(mods, changed))


def fuzzy_anchor(rng: random.Random, lines: list[str], m: Method, e: Edit, previous: Method | None) -> list[str]:
    choice = rng.choice(["param", "base", "spacing"])
    if choice == "param":
        return [f"@@ def {m.name}(self, value):"]
    if choice == "base":
        return ["@@ " + lines[m.class_at].replace("(Base", "(Mixin, Base")]
    return [f"@@ def {m.name} (self):"]


def gen_anchor_fuzzy(rng: random.Random) -> Case:
    mods = two_modules(rng)
    ops, changed = updates(rng, mods, anchor=fuzzy_anchor, hunks_max=2)
    return Case("anchor_fuzzy", tree(mods), envelope(ops), result(mods, changed))


def header_anchor(rng: random.Random, lines: list[str], m: Method, e: Edit, previous: Method | None) -> list[str]:
    first = e.first_line() + 1 + rng.randint(-3, 3)
    old_len = e.before + len(e.old) + e.after
    header = f"@@ -{max(first, 1)},{old_len} +{max(first, 1)},{old_len - len(e.old) + len(e.new)} @@"
    if rng.random() < 0.4:
        header += " " + lines[m.class_at]  # git's function-context text
    return [header]


def gen_unified_header(rng: random.Random) -> Case:
    mods = two_modules(rng)
    ops, changed = updates(rng, mods, anchor=header_anchor, hunks_max=2)
    return Case("unified_header", tree(mods), envelope(ops), result(mods, changed))


def gen_repeat_anchor(rng: random.Random) -> Case:
    """Two or three edits in one class, each hunk headed by the same class line."""
    mods = two_modules(rng)
    path = rng.choice(sorted(mods))
    lines = mods[path]
    by_class: dict[int, list[Method]] = {}
    for m in methods(lines):
        by_class.setdefault(m.class_at, []).append(m)
    class_at = rng.choice(sorted(by_class))
    chosen = sorted(rng.sample(by_class[class_at], min(len(by_class[class_at]), rng.randint(2, 3))),
                    key=lambda m: m.def_at)
    ops, edits = [f"*** Update File: {path}"], []
    for m in chosen:
        e = method_edit(rng, lines, m)
        ops += ["@@ " + lines[class_at]] + e.hunk(lines)
        edits.append(e)
    return Case("repeat_anchor", tree(mods), envelope(ops), result(mods, {path: apply_edits(lines, edits)}))


def gen_eof_hint(rng: random.Random) -> Case:
    """'*** End of File' after a hunk that is not at the end of the file."""
    mods = two_modules(rng)
    path = rng.choice(sorted(mods))
    lines = mods[path]
    candidates = methods(lines)[:-1]
    chosen = sorted(rng.sample(candidates, rng.randint(1, min(2, len(candidates)))), key=lambda m: m.def_at)
    ops, edits = [f"*** Update File: {path}"], []
    marked = rng.randrange(len(chosen))
    for k, m in enumerate(chosen):
        e = method_edit(rng, lines, m)
        ops += (["@@"] if k else rng.choice([[], ["@@"]])) + e.hunk(lines)
        if k == marked:
            ops.append("*** End of File")
        edits.append(e)
    return Case("eof_hint", tree(mods), envelope(ops), result(mods, {path: apply_edits(lines, edits)}))


def gen_trailing_blank(rng: random.Random) -> Case:
    """A blank line left before '*** End Patch' at the end of the last hunk (its context ends at the end of
    a method: the file goes on with a blank line, or ends there)."""
    mods = two_modules(rng)
    path = rng.choice(sorted(mods))
    lines = mods[path]
    every = methods(lines)
    m = every[-1] if rng.random() < 0.5 else rng.choice(every[:-1])
    e = method_edit(rng, lines, m)
    e.after = m.def_at + 4 - (e.start + len(e.old))  # the context runs to the method's return line
    ops = [f"*** Update File: {path}"] + rng.choice([[], ["@@"]]) + e.hunk(lines) + [""]
    return Case("trailing_blank", tree(mods), envelope(ops), result(mods, {path: apply_edits(lines, [e])}),
                {"at_end": m is every[-1]})


def reset_edit(rng: random.Random, lines: list[str], m: Method) -> Edit:
    """An edit inside a duplicated 'reset' method whose context stays inside it."""
    d = m.def_at
    j = rng.randint(d + 1, d + 2)
    old, new = [lines[j]], [lines[j].replace("0", "1").replace("[]", "[None]")]
    before = rng.randint(1, j - d)
    after = rng.randint(0, d + 3 - (j + 1))
    return Edit(j, old, new, before, after)


def duplicate_case(rng: random.Random, anchored: bool) -> tuple[dict[str, list[str]], str, list[str], Edit,
                                                                list[Method]]:
    mods = {"pkg/mod_a.py": module_lines(rng, "a", with_reset=True)}
    path = "pkg/mod_a.py"
    lines = mods[path]
    resets = methods(lines, "reset")
    target = rng.choice(resets[1:]) if anchored else rng.choice(resets)
    e = reset_edit(rng, lines, target)
    ops = [f"*** Update File: {path}"] + (["@@ " + lines[target.class_at]] if anchored else []) + e.hunk(lines)
    return mods, path, ops, e, resets


def gen_dup_anchor(rng: random.Random) -> Case:
    """Context that occurs in every class; the anchor names the class (not the first one)."""
    mods, path, ops, e, _ = duplicate_case(rng, anchored=True)
    return Case("dup_anchor", tree(mods), envelope(ops), result(mods, {path: apply_edits(mods[path], [e])}))


# --- kinds where we differ on purpose ------------------------------------------------------------------

def gen_dup_no_anchor(rng: random.Random) -> Case:
    """The same duplicated context with nothing to tell the places apart: we refuse and list them."""
    mods, path, ops, e, resets = duplicate_case(rng, anchored=False)
    target = next(r for r in resets if r.def_at < e.start <= r.def_at + 3)
    starts = [r.def_at + (e.first_line() - target.def_at) + 1 for r in resets]  # 1-based, every match
    first = Edit(resets[0].def_at + (e.start - target.def_at), e.old, e.new, e.before, e.after)
    return Case("dup_no_anchor", tree(mods), envelope(ops), None,
                {"starts": starts, "first": result(mods, {path: apply_edits(mods[path], [first])})})


def gen_outside_path(rng: random.Random) -> Case:
    mods = two_modules(rng)
    n = rng.randrange(10**6)
    outside = rng.choice([f"../outside_{n}.py", f"pkg/../../outside_{n}.py", f"/tmp/gptoss_outside_{n}.py"])
    if rng.random() < 0.6:
        ops = [f"*** Add File: {outside}", "+print('hi')"]
    else:
        lines = mods["pkg/mod_a.py"]
        e = method_edit(rng, lines, rng.choice(methods(lines)))
        ops = ["*** Update File: pkg/mod_a.py", f"*** Move to: {outside}", "@@"] + e.hunk(lines)
    return Case("outside_path", tree(mods), envelope(ops), None, {"path": outside})


def gen_add_existing(rng: random.Random) -> Case:
    mods = two_modules(rng)
    path = rng.choice(sorted(mods) + ["README.md"])
    return Case("add_existing", tree(mods), envelope([f"*** Add File: {path}", "+x = 1", "+y = 2"]), None,
                {"path": path})


def gen_move_existing(rng: random.Random) -> Case:
    mods = two_modules(rng)
    lines = mods["pkg/mod_a.py"]
    e = method_edit(rng, lines, rng.choice(methods(lines)))
    ops = ["*** Update File: pkg/mod_a.py", "*** Move to: pkg/mod_b.py", "@@"] + e.hunk(lines)
    moved = text_of(apply_edits(lines, [e]))
    return Case("move_existing", tree(mods), envelope(ops), None, {"moved": moved})


def gen_empty_patch(rng: random.Random) -> Case:
    mods = two_modules(rng)
    return Case("empty_patch", tree(mods), envelope([]), None)


def gen_envelope(rng: random.Random) -> Case:
    """A valid patch with text around it: a heredoc, a sentence, or a code fence."""
    mods = two_modules(rng)
    ops, changed = updates(rng, mods)
    body = envelope(ops)
    wrapped = rng.choice([f"apply_patch <<'EOF'\n{body}EOF\n", f"Here is the patch:\n{body}",
                          f"```\n{body}```\n", f"\n\n{body}\n\n"])
    return Case("envelope", tree(mods), wrapped, result(mods, changed))


def gen_blank_between_ops(rng: random.Random) -> Case:
    mods = two_modules(rng)
    ops, changed = updates(rng, mods, files_max=1)
    ops = ["*** Delete File: README.md", ""] + ops + ["", "", "*** Add File: pkg/new.py", "+x = 1", ""]
    expected = result(mods, changed)
    del expected["README.md"]
    expected["pkg/new.py"] = "x = 1\n"
    return Case("blank_between_ops", tree(mods), envelope(ops), expected)


def gen_at_no_space(rng: random.Random) -> Case:
    mods = two_modules(rng)
    path = rng.choice(sorted(mods))
    lines = mods[path]
    m = rng.choice(methods(lines))
    if rng.random() < 0.5:
        e = Edit(m.def_at + 1, [], [f'        """Run {m.name}."""'], 0, 0)
    else:
        e = method_edit(rng, lines, m)
    ops = [f"*** Update File: {path}", "@@" + lines[m.def_at].strip()] + e.hunk(lines)
    return Case("at_no_space", tree(mods), envelope(ops), result(mods, {path: apply_edits(lines, [e])}))


def gen_anchor_as_context(rng: random.Random) -> Case:
    """The '@@' line repeated as the hunk's first context line."""
    mods = two_modules(rng)
    path = rng.choice(sorted(mods))
    lines = mods[path]
    m = rng.choice(methods(lines))
    e = method_edit(rng, lines, m)
    e.before = e.start - m.def_at
    ops = [f"*** Update File: {path}", "@@ " + lines[m.def_at].strip()] + e.hunk(lines)
    return Case("anchor_as_context", tree(mods), envelope(ops), result(mods, {path: apply_edits(lines, [e])}))


def gen_stacked(rng: random.Random) -> Case:
    """'@@ class ...' then '@@ def ...', then added lines only or an edit below the def line."""
    mods = two_modules(rng)
    path = rng.choice(sorted(mods))
    lines = mods[path]
    m = rng.choice(methods(lines))
    if rng.random() < 0.5:
        e = Edit(m.def_at + 1, [], [f'        """Run {m.name}."""'], 0, 0)
    else:
        e = method_edit(rng, lines, m)
        e.before = min(e.before, e.start - m.def_at - 1)
        if e.before == 0 and not e.old and e.after == 0:
            e.after = 1
    ops = [f"*** Update File: {path}", "@@ " + lines[m.class_at], "@@ " + lines[m.def_at]] + e.hunk(lines)
    return Case("stacked", tree(mods), envelope(ops), result(mods, {path: apply_edits(lines, [e])}))


def gen_add_final_newline(rng: random.Random) -> Case:
    mods = two_modules(rng)
    body = [f"value_{k} = {rng.randrange(100)}" for k in range(rng.randint(1, 5))]
    expected = tree(mods)
    expected["pkg/added.py"] = text_of(body)
    return Case("add_final_newline", tree(mods), envelope(["*** Add File: pkg/added.py"] + ["+" + b for b in body]),
                expected)


def gen_move_same(rng: random.Random) -> Case:
    mods = two_modules(rng)
    lines = mods["pkg/mod_a.py"]
    e = method_edit(rng, lines, rng.choice(methods(lines)))
    ops = ["*** Update File: pkg/mod_a.py", "*** Move to: pkg/mod_a.py", "@@"] + e.hunk(lines)
    return Case("move_same", tree(mods), envelope(ops), result(mods, {"pkg/mod_a.py": apply_edits(lines, [e])}))


def gen_crlf(rng: random.Random) -> Case:
    mods = two_modules(rng)
    ops, changed = updates(rng, mods)
    return Case("crlf", tree(mods, "\r\n"), envelope(ops), result(mods, changed, "\r\n"))


def gen_bare_add(rng: random.Random) -> Case:
    """Added lines with no anchor and no context."""
    mods = two_modules(rng)
    path = rng.choice(sorted(mods))
    new = [f"EXTRA_{rng.randrange(1000)} = 1"]
    ops = [f"*** Update File: {path}"] + rng.choice([[], ["@@"]]) + ["+" + ln for ln in new]
    return Case("bare_add", tree(mods), envelope(ops), result(mods, {path: mods[path] + new}),
                {"at_start": result(mods, {path: new + mods[path]})})


EQUAL_KINDS: dict[str, Callable[[random.Random], Case]] = {
    "valid": gen_valid, "whitespace": gen_whitespace, "anchor_add": gen_anchor_add,
    "anchor_prefix": gen_anchor_prefix, "anchor_fuzzy": gen_anchor_fuzzy, "unified_header": gen_unified_header,
    "repeat_anchor": gen_repeat_anchor, "eof_hint": gen_eof_hint, "trailing_blank": gen_trailing_blank,
    "dup_anchor": gen_dup_anchor,
}
DIFFERENT_KINDS: dict[str, Callable[[random.Random], Case]] = {
    "outside_path": gen_outside_path, "add_existing": gen_add_existing, "move_existing": gen_move_existing,
    "empty_patch": gen_empty_patch, "dup_no_anchor": gen_dup_no_anchor, "envelope": gen_envelope,
    "blank_between_ops": gen_blank_between_ops, "at_no_space": gen_at_no_space,
    "anchor_as_context": gen_anchor_as_context, "stacked": gen_stacked, "add_final_newline": gen_add_final_newline,
    "move_same": gen_move_same, "crlf": gen_crlf, "bare_add": gen_bare_add,
}
KINDS = {**EQUAL_KINDS, **DIFFERENT_KINDS}


@cache
def cases(kind: str, per_kind: int = PER_KIND, seed: int = SEED) -> tuple[Case, ...]:
    return tuple(KINDS[kind](random.Random(f"{seed}-{kind}-{i}")) for i in range(per_kind))


# --------------------------------------------------------------------------------------------------------
# Running both appliers on a temporary tree
# --------------------------------------------------------------------------------------------------------

def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text.encode("utf-8"))


def read_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_bytes().decode("utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()}


class DirFS:
    """Our FileSystem on a directory, byte for byte (the environments read and write files the same way)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _inside(self, path: str) -> Path:
        full = Path(os.path.normpath(self.root / path))
        assert full.is_relative_to(self.root), f"our applier reached outside the tree: {path}"
        return full

    def read_text(self, path: str) -> str | None:
        full = self._inside(path)
        return full.read_bytes().decode("utf-8") if full.is_file() else None

    def write_text(self, path: str, text: str) -> None:
        full = self._inside(path)
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(text.encode("utf-8"))

    def delete(self, path: str) -> None:
        self._inside(path).unlink(missing_ok=True)


def run_ours(case: Case, module: ModuleType = ours_module) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root, case.files)
        try:
            module.apply_patch(case.patch, DirFS(root))
        except module.PatchError as exc:
            return Outcome("refused", read_tree(root), str(exc))
        return Outcome("applied", read_tree(root))


def run_reference(case: Case) -> Outcome:
    """The reference's apply_patch with its own open / write / remove functions, paths taken inside a temporary
    tree; a path that leaves the tree is recorded and not touched."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root, case.files)
        outside: list[str] = []

        def inside(path: str) -> str | None:
            full = Path(os.path.normpath(root / path))
            if not full.is_relative_to(root):
                outside.append(path)
                return None
            return str(full)

        def open_fn(path: str) -> str:
            full = inside(path)
            if full is None:
                raise FileNotFoundError(path)
            return reference.open_file(full)

        def write_fn(path: str, text: str) -> None:
            full = inside(path)
            if full is not None:
                reference.write_file(full, text)

        def remove_fn(path: str) -> None:
            full = inside(path)
            if full is not None:
                reference.remove_file(full)

        try:
            reference.apply_patch(case.patch, open_fn, write_fn, remove_fn)
        except (reference.DiffError, OSError, KeyError, IndexError) as exc:
            return Outcome("refused", read_tree(root), f"{type(exc).__name__}: {exc}", outside)
        return Outcome("applied", read_tree(root), outside=outside)


@cache
def outcomes(kind: str) -> tuple[tuple[Case, Outcome, Outcome], ...]:
    return tuple((c, run_ours(c), run_reference(c)) for c in cases(kind))


# --------------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(EQUAL_KINDS))
def test_both_appliers_give_the_intended_result(kind):
    for case, ours, ref in outcomes(kind):
        assert ref.status == "applied" and ref.files == case.expected, (kind, case.patch, ref.message)
        assert ours.status == "applied", (kind, case.patch, ours.message)
        assert ours.files == case.expected, (kind, case.patch)


def test_trailing_blank_cases_cover_both_endings():
    ends = [case.note["at_end"] for case in cases("trailing_blank")]
    assert any(ends) and not all(ends)


def _unchanged(case: Case, outcome: Outcome) -> bool:
    return outcome.files == case.files


def test_paths_outside_the_repository():
    for case, ours, ref in outcomes("outside_path"):
        assert ours.status == "refused" and "outside the repository" in ours.message and _unchanged(case, ours)
        assert ref.outside == [case.note["path"]], case.patch  # the reference would have written there


def test_add_over_an_existing_file():
    for case, ours, ref in outcomes("add_existing"):
        assert ours.status == "refused" and "already exists" in ours.message and _unchanged(case, ours)
        assert ref.status == "applied" and ref.files[case.note["path"]] == "x = 1\ny = 2"  # overwritten


def test_move_onto_an_existing_file():
    for case, ours, ref in outcomes("move_existing"):
        assert ours.status == "refused" and "destination exists" in ours.message and _unchanged(case, ours)
        assert ref.status == "applied" and "pkg/mod_a.py" not in ref.files
        assert ref.files["pkg/mod_b.py"] == case.note["moved"]  # mod_b.py's own text is gone


def test_empty_patch():
    for case, ours, ref in outcomes("empty_patch"):
        assert ours.status == "refused" and "no file operations" in ours.message
        assert ref.status == "applied" and _unchanged(case, ref)


def test_duplicate_context_without_anchor_is_refused_with_the_candidates():
    for case, ours, ref in outcomes("dup_no_anchor"):
        assert ours.status == "refused" and _unchanged(case, ours)
        assert f"occur {len(case.note['starts'])} times" in ours.message
        assert "starting at lines " + ", ".join(map(str, case.note["starts"])) in ours.message
        assert ref.status == "applied" and ref.files == case.note["first"]  # the reference edits the first


@pytest.mark.parametrize("kind", ["envelope", "blank_between_ops", "at_no_space", "anchor_as_context", "stacked"])
def test_shapes_only_we_accept(kind):
    for case, ours, ref in outcomes(kind):
        assert ours.status == "applied" and ours.files == case.expected, (kind, case.patch, ours.message)
        assert ref.status == "refused", (kind, case.patch)


def test_added_files_end_with_a_newline():
    for case, ours, ref in outcomes("add_final_newline"):
        assert ours.files == case.expected
        assert ref.files["pkg/added.py"] == case.expected["pkg/added.py"][:-1]


def test_move_to_the_same_path_keeps_the_file():
    for case, ours, ref in outcomes("move_same"):
        assert ours.status == "applied" and ours.files == case.expected
        assert ref.status == "applied" and "pkg/mod_a.py" not in ref.files  # written, then removed


def test_crlf_files_stay_crlf():
    for case, ours, ref in outcomes("crlf"):
        assert ours.status == "applied" and ours.files == case.expected
        assert all("\n" not in ours.files[p].replace("\r\n", "") for p in case.files if p.endswith(".py"))
        # the reference reads and writes in text mode: same edit, every file it wrote turned to LF
        lf = {p: t.replace("\r\n", "\n") for p, t in case.expected.items()}
        assert ref.status == "applied"
        assert {p: t.replace("\r\n", "\n") for p, t in ref.files.items()} == lf
        assert any("\r\n" not in ref.files[p] for p in ref.files if ref.files[p] != case.files.get(p))


def test_added_lines_with_no_context_and_no_anchor_go_at_the_end():
    for case, ours, ref in outcomes("bare_add"):
        assert ours.status == "applied" and ours.files == case.expected
        assert ref.status == "applied" and ref.files == case.note["at_start"]


# --------------------------------------------------------------------------------------------------------
# The per-kind table for the README
# --------------------------------------------------------------------------------------------------------

def load_module(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("measured_apply_patch", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours", help="measure this apply_patch.py instead of the installed one")
    parser.add_argument("--per-kind", type=int, default=PER_KIND)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if reference is None:
        sys.exit("gpt_oss.tools.apply_patch is not importable; install gpt-oss==0.0.9 (see the README)")
    module = load_module(args.ours) if args.ours else ours_module
    print("| kind | cases | ours applies | reference applies | equal results | ours as intended |")
    print("|---|---|---|---|---|---|")
    totals = [0] * 5
    for kind in KINDS:
        row = [0] * 5
        for case in cases(kind, args.per_kind, args.seed):
            ours, ref = run_ours(case, module), run_reference(case)
            both = ours.status == ref.status == "applied"
            row = [a + b for a, b in zip(row, [1, ours.status == "applied", ref.status == "applied",
                                               both and ours.files == ref.files,
                                               ours.status == "applied" and ours.files == case.expected
                                               if case.expected is not None else ours.status == "refused"],
                                         strict=True)]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        print(f"| {kind} | " + " | ".join(map(str, row)) + " |")
    print("| all | " + " | ".join(map(str, totals)) + " |")


if __name__ == "__main__":
    main()
