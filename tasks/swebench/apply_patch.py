"""The "*** Begin Patch" file-edit format that gpt-oss was trained on, parsed and applied.

Grammar (one patch, any number of file operations)::

    *** Begin Patch
    *** Add File: path/new.py
    +every line of the new file, each prefixed with "+"
    *** Delete File: path/old.py
    *** Update File: path/mod.py
    *** Move to: path/renamed.py          (optional, right after "Update File")
    @@ def some_function():               (optional anchor: a line near the change; a bare "@@" starts a hunk)
     a context line (leading space)
    -a removed line
    +an added line
    *** End of File                       (optional: look for the hunk at the end of the file first)
    *** End Patch

gpt-oss learned this format against OpenAI's reference applier (``gpt_oss/tools/apply_patch.py``), so this
module accepts what that applier accepts and places hunks the same way, except where noted below.

Placing a hunk: its context and removed lines must be found in the file, after the previous hunk, exactly or
with different whitespace (trailing, then all leading and trailing). The ``@@`` anchors only guide the search:

- an anchor is looked for after the previous hunk, as the whole line, then ignoring surrounding whitespace,
  then as the start of a line (``@@ class A`` finds ``class A(Base):``); stacked anchors (``@@ class A`` then
  ``@@ def f``) are looked for one after the other;
- an anchor that is not found (slightly different from the file, or a unified-diff header such as
  ``@@ -12,7 +12,8 @@``) is ignored and the context alone places the hunk;
- the context is taken at the first place after the anchor (the anchor line itself may repeat as the first
  context line); if it is not there, anywhere after the previous hunk. An anchor already passed by an
  earlier hunk (two edits in one class, both under ``@@ class A``) takes the first place after that hunk.
  Otherwise the context must occur only once after the previous hunk: several matches are refused with
  their line numbers, never guessed;
- added lines with no context go right after the anchor line (refused if it is not found); with no anchor,
  or with ``*** End of File``, at the end of the file;
- ``*** End of File`` is a hint: the end of the file is tried first, then the usual search;
- blank lines at the end of a hunk (often left before ``*** End Patch``) may be missing from the file.

In a file with CRLF line endings added lines get CRLF too; a final newline is kept or left absent as it was.

Where this applier deliberately differs from the reference: it refuses paths outside the repository, Add File
over an existing file, Move onto an existing file and a patch with no operations; it tolerates text around the
``*** Begin Patch`` / ``*** End Patch`` envelope, blank lines between operations, ``@@def`` without a space,
the anchor repeated as the first context line, stacked anchors, and ``Move to`` the same path (the reference
deletes the file); it ends added files with a newline; it refuses ambiguous context instead of editing the
first match; it keeps CRLF files CRLF (the reference reads and writes text mode); added lines with no
context and no anchor go at the end of the file (the reference puts them at the start, or right after the
previous hunk).

Applying is all or nothing: every operation is checked against the current files first and nothing is
written if any of them fails; if a write fails midway, the files already written are restored. Errors are
:class:`PatchError` with a message meant for the model: which line of the patch is malformed, or which
file's context was not found (and the closest lines that were).
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
DELETE = "*** Delete File: "
UPDATE = "*** Update File: "
MOVE = "*** Move to: "
EOF_MARK = "*** End of File"

# "-12,7 +12,8 @@" (after the leading "@@"), optionally followed by git's function-context text
_UNIFIED_HEADER = re.compile(r"-\d+(?:,\d+)?\s+\+\d+(?:,\d+)?\s*@@(.*)")


class PatchError(ValueError):
    """The patch is malformed or does not fit the files; the message is shown to the model as is."""


@dataclass
class Hunk:
    anchors: list[str]  # the texts after "@@" (stacked anchors outermost first), searched before the lines
    old: list[str]  # context + removed lines, in file order
    new: list[str]  # context + added lines, in file order
    at_eof: bool = False
    kinds: list[str] = field(default_factory=list)  # " ", "-", "+" per patch line, in patch order
    texts: list[str] = field(default_factory=list)
    optional_tail: int = 0  # trailing blank context lines the file may lack

    def add(self, kind: str, text: str) -> None:
        self.kinds.append(kind)
        self.texts.append(text)
        if kind != "+":
            self.old.append(text)
        if kind != "-":
            self.new.append(text)

    def replacement(self, matched: list[str], drop_tail: int = 0) -> list[tuple[str, int | None]]:
        """The new lines: context lines as the file's line numbers (they keep the file's text and line ending,
        which may differ in whitespace), added lines as (text, None). ``drop_tail`` trailing context lines are
        left out (they were not in the file)."""
        out: list[tuple[str, int | None]] = []
        j = 0
        for kind, text in list(zip(self.kinds, self.texts, strict=True))[: len(self.kinds) - drop_tail]:
            if kind == " ":
                out.append((matched[j], j))
                j += 1
            elif kind == "-":
                j += 1
            else:
                out.append((text, None))
        return out


@dataclass
class FileOp:
    kind: Literal["add", "delete", "update"]
    path: str
    move_to: str | None = None
    content: str = ""  # the whole new file, for "add"
    hunks: list[Hunk] = field(default_factory=list)


class FileSystem(Protocol):
    """Where a patch is applied; paths are relative to the repository root."""

    def read_text(self, path: str) -> str | None:
        """The file's text, or None when it does not exist."""

    def write_text(self, path: str, text: str) -> None: ...

    def delete(self, path: str) -> None: ...


def normalize_path(path: str, root: str = "/testbed") -> str:
    """A repository-relative path; absolute paths under ``root`` are accepted, escapes are refused."""
    p = path.strip()
    if not p:
        raise PatchError("empty file path in patch")
    root = root.rstrip("/")
    if p == root:
        raise PatchError(f"{path!r} is the repository root, not a file")
    if p.startswith(root + "/"):
        p = p[len(root) + 1:]
    elif p.startswith("/"):
        raise PatchError(f"absolute path {path!r} is outside the repository {root}; use a path relative to it")
    norm = posixpath.normpath(p)
    if norm == ".." or norm.startswith("../") or norm == ".":
        raise PatchError(f"path {path!r} points outside the repository")
    return norm


def parse_patch(text: str, root: str = "/testbed") -> list[FileOp]:
    """Parse patch text into file operations; raises :class:`PatchError` naming the offending line."""
    lines = text.replace("\r\n", "\n").strip().split("\n")
    # Tolerate a heredoc wrapper such as ``apply_patch <<'EOF' ... EOF`` around the patch.
    starts = [i for i, ln in enumerate(lines) if ln.strip() == BEGIN]
    if not starts:
        raise PatchError(f"the patch must start with '{BEGIN}' (and end with '{END}')")
    ends = [i for i, ln in enumerate(lines) if ln.strip() == END and i > starts[0]]
    if not ends:
        raise PatchError(f"the patch has no '{END}' line after '{BEGIN}'")
    body = lines[starts[0] + 1: ends[-1]]
    ops: list[FileOp] = []
    seen: set[str] = set()
    i = 0

    def where(j: int) -> str:
        return f"patch line {starts[0] + 2 + j}"

    while i < len(body):
        line = body[i]
        if line.startswith(ADD):
            op = FileOp("add", normalize_path(line[len(ADD):], root))
            i += 1
            content: list[str] = []
            while i < len(body) and not body[i].startswith("*** "):
                if body[i].strip() == "":
                    content.append("")  # a blank line inside the file, or trailing ones dropped below
                elif not body[i].startswith("+"):
                    raise PatchError(f"{where(i)}: every line of an added file must start with '+', got "
                                     f"{body[i][:80]!r}")
                else:
                    content.append(body[i][1:])
                i += 1
            j = i
            while content and body[j - 1].strip() == "":  # blank lines between operations, not file lines
                content.pop()
                j -= 1
            op.content = "\n".join(content) + ("\n" if content else "")
        elif line.startswith(DELETE):
            op = FileOp("delete", normalize_path(line[len(DELETE):], root))
            i += 1
        elif line.startswith(UPDATE):
            op = FileOp("update", normalize_path(line[len(UPDATE):], root))
            i += 1
            if i < len(body) and body[i].startswith(MOVE):
                op.move_to = normalize_path(body[i][len(MOVE):], root)
                i += 1
            i = _parse_hunks(body, i, op, where)
            if not op.hunks and not op.move_to:
                raise PatchError(f"{where(i - 1)}: 'Update File: {op.path}' has no changes")
        elif not line.strip():
            i += 1
            continue
        else:
            raise PatchError(f"{where(i)}: expected '{ADD}', '{DELETE}' or '{UPDATE}' followed by a path, got "
                             f"{line[:80]!r}")
        if op.path in seen:
            raise PatchError(f"{op.path} appears twice in one patch; put all its changes in one 'Update File'")
        seen.add(op.path)
        ops.append(op)
    if not ops:
        raise PatchError("the patch contains no file operations")
    return ops


def _anchor_text(line: str) -> str | None:
    """The anchor of an ``@@`` line; None for a bare ``@@`` or a unified-diff header without function text."""
    text = line[2:].strip()
    header = _UNIFIED_HEADER.fullmatch(text)
    if header:
        text = header.group(1).strip()
    if text.endswith("@@"):  # "@@ def f(): @@"
        text = text[:-2].strip()
    return text or None


def _parse_hunks(body: list[str], i: int, op: FileOp, where: Callable[[int], str]) -> int:
    hunk: Hunk | None = None
    blank_run = 0  # blank context lines at the end of the current hunk

    def flush() -> None:
        nonlocal hunk
        if hunk is not None:
            tail = blank_run
            if tail and len(hunk.old) == tail:  # nothing but added lines above the blank ones: formatting
                for lst in (hunk.kinds, hunk.texts, hunk.old, hunk.new):
                    del lst[-tail:]
                tail = 0
            hunk.optional_tail = tail
            if hunk.old or hunk.new:
                op.hunks.append(hunk)
            elif hunk.anchors:
                raise PatchError(f"a '@@' anchor in 'Update File: {op.path}' has no lines under it")
        hunk = None

    while i < len(body):
        line = body[i]
        if line.startswith("*** ") and line.strip() != EOF_MARK:
            break
        if line.strip() == EOF_MARK:
            if hunk is None:
                raise PatchError(f"{where(i)}: '{EOF_MARK}' must follow a hunk")
            hunk.at_eof = True
            i += 1
            continue
        if line.startswith("@@"):
            if hunk is not None and hunk.kinds:
                flush()
            if hunk is None:
                hunk = Hunk(anchors=[], old=[], new=[])
                blank_run = 0
            anchor = _anchor_text(line)
            if anchor:
                hunk.anchors.append(anchor)  # "@@ class A" then "@@ def f": stacked, searched in turn
            i += 1
            continue
        if hunk is None:
            hunk = Hunk(anchors=[], old=[], new=[])
            blank_run = 0
        if hunk.at_eof:
            if not line.strip():  # formatting before the next operation
                i += 1
                continue
            raise PatchError(f"{where(i)}: lines after '{EOF_MARK}' in 'Update File: {op.path}'")
        if line.strip() == "":
            hunk.add(" ", "")  # an empty context line whose leading space was stripped, or a stray blank
            blank_run += 1
        elif line[0] in " -+":
            hunk.add(line[0], line[1:])
            blank_run = blank_run + 1 if line[0] == " " and not line[1:].strip() else 0
        else:
            raise PatchError(f"{where(i)}: in 'Update File: {op.path}' every hunk line must start with ' ' "
                             f"(context), '-' (remove) or '+' (add), got {line[:80]!r}")
        i += 1
    flush()
    return i


def _split(text: str) -> tuple[list[str], list[str], bool, str]:
    """The lines without their endings, each line's ending ("" for a last line without one), whether the text
    ends with a newline, and the ending most lines use (given to added lines)."""
    if text == "":
        return [], [], True, "\n"
    parts = text.split("\n")
    ends_nl = parts[-1] == ""
    if ends_nl:
        parts.pop()
    lines, endings = [], []
    for k, part in enumerate(parts):
        terminated = ends_nl or k < len(parts) - 1
        if terminated and part.endswith("\r"):
            lines.append(part[:-1])
            endings.append("\r\n")
        else:
            lines.append(part)
            endings.append("\n" if terminated else "")
    usual = "\r\n" if endings.count("\r\n") > endings.count("\n") else "\n"
    return lines, endings, ends_nl, usual


_NORMALIZERS: tuple[Callable[[str], str], ...] = (lambda s: s, str.rstrip, str.strip)


def _matches_at(lines: list[str], target: list[str], pos: int) -> bool:
    n = len(target)
    if pos < 0 or pos + n > len(lines):
        return False
    return any([norm(x) for x in lines[pos:pos + n]] == [norm(t) for t in target] for norm in _NORMALIZERS)


def _find_all(lines: list[str], target: list[str], start: int, first_only: bool) -> list[int]:
    """Where ``target`` occurs at or after ``start``: exact matches if any, else ignoring trailing whitespace,
    else ignoring leading and trailing whitespace."""
    n = len(target)
    for norm in _NORMALIZERS:
        want = [norm(t) for t in target]
        normed = [norm(x) for x in lines]
        found = []
        for pos in range(start, len(lines) - n + 1):
            if normed[pos] == want[0] and normed[pos:pos + n] == want:
                found.append(pos)
                if first_only:
                    return found
        if found:
            return found
    return []


def _find_anchor(lines: list[str], anchor: str, start: int) -> int:
    """The first line at or after ``start`` that is the anchor: whole, stripped, or the start of a line."""
    want = anchor.strip()
    for i in range(start, len(lines)):
        if lines[i] == anchor:
            return i
    for i in range(start, len(lines)):
        if lines[i].strip() == want:
            return i
    for i in range(start, len(lines)):
        s = lines[i].strip()
        # "class A" finds "class A(Base):", not "class AB:"
        if s.startswith(want) and not (s[len(want)].isalnum() or s[len(want)] == "_"):
            return i
    return -1


def _closest(lines: list[str], target: list[str]) -> str:
    if not lines or not target:
        return ""
    n = len(target)
    best, best_pos = 0.0, 0
    joined = "\n".join(target)
    for pos in range(0, max(1, len(lines) - n + 1)):
        r = difflib.SequenceMatcher(None, "\n".join(lines[pos:pos + n]), joined).quick_ratio()
        if r > best:
            best, best_pos = r, pos
    snippet = "\n".join(lines[best_pos:best_pos + n])
    return f"\nThe most similar lines in the file start at line {best_pos + 1}:\n{snippet}"


def _place(lines: list[str], hunk: Hunk, cursor: int, anchor_at: int | None, passed: bool, path: str,
           k: int) -> tuple[int, int]:
    """(line index where the hunk's old lines start, how many optional trailing blank lines were left out).
    ``passed``: the anchor is only before the previous hunk, so the first match after that hunk is the one."""
    after = " after the previous hunk" if cursor else ""
    # each trailing-blank-line variant is tried at one stage before the next stage: being near the anchor
    # matters more than a blank line the file may lack
    drops = [0, hunk.optional_tail] if hunk.optional_tail else [0]
    variants = [(hunk.old[: len(hunk.old) - drop], drop) for drop in drops]
    if hunk.at_eof:
        for old, drop in variants:
            if len(lines) - len(old) >= cursor and _matches_at(lines, old, len(lines) - len(old)):
                return len(lines) - len(old), drop
    if anchor_at is not None:
        for old, drop in variants:
            if _matches_at(lines, old, anchor_at):  # the anchor line repeated as the first context line
                return anchor_at, drop
        for old, drop in variants:
            found = _find_all(lines, old, anchor_at + 1, first_only=True)
            if found:
                return found[0], drop
    for old, drop in variants:
        found = _find_all(lines, old, cursor, first_only=passed)
        if len(found) == 1:
            return found[0], drop
        if found:
            shown = "\n".join(old)
            where = ", ".join(str(p + 1) for p in found[:10]) + (", ..." if len(found) > 10 else "")
            raise PatchError(
                f"in {path}, hunk {k}: these lines (context and '-' lines) occur {len(found)} times{after} "
                f"(starting at lines {where}), so the place to edit is ambiguous:\n{shown}\nAdd an '@@' line "
                f"naming the class or function just above the right place, or more context lines.")
    shown = "\n".join(hunk.old)
    raise PatchError(
        f"in {path}, hunk {k}: these lines (context and '-' lines) were not found"
        f"{after}{' at the end of the file' if hunk.at_eof else ''}"
        f":\n{shown}{_closest(lines, hunk.old)}\nRead the file again and resend the patch with "
        f"exact context lines.")


def apply_hunks(text: str, hunks: list[Hunk], path: str) -> str:
    """The new text of ``path`` after its hunks; raises :class:`PatchError` when a hunk cannot be placed."""
    lines, endings, ends_nl, usual = _split(text)
    out: list[tuple[str, str]] = []  # (text, line ending; "" = the file's usual one)
    cursor = 0
    for k, hunk in enumerate(hunks, 1):
        anchor_at, search = None, cursor
        for anchor in hunk.anchors:  # each guides the next; one that is not found is ignored
            a = _find_anchor(lines, anchor, search)
            if a >= 0:
                anchor_at, search = a, a + 1
        # "@@ class A" again for a second edit in class A: the anchor was passed, the edit is the next match
        passed = anchor_at is None and any(_find_anchor(lines[:cursor], a, 0) >= 0 for a in hunk.anchors)
        drop = 0
        if hunk.old:
            pos, drop = _place(lines, hunk, cursor, anchor_at, passed, path, k)
        elif hunk.at_eof:
            pos = len(lines)
        elif anchor_at is not None:  # added lines only: right under the anchor line
            pos = anchor_at + 1
        elif hunk.anchors:
            after = " after the previous hunk" if cursor else ""
            raise PatchError(
                f"in {path}, hunk {k}: the line after '@@' ({hunk.anchors[-1]!r}) was not found{after}, and "
                f"the hunk has no context lines to place it by{_closest(lines, hunk.anchors[-1:])}\n"
                f"Copy the '@@' line exactly from the file, or add context lines.")
        else:
            pos = len(lines)
        out.extend((lines[j], endings[j]) for j in range(cursor, pos))
        width = len(hunk.old) - drop
        for new_text, j in hunk.replacement(lines[pos:pos + width], drop):
            out.append((new_text, "") if j is None else (new_text, endings[pos + j]))
        cursor = pos + width
    out.extend((lines[j], endings[j]) for j in range(cursor, len(lines)))
    if not out:
        return ""
    pieces = [t + (e or usual) for t, e in out[:-1]]
    last_text, last_ending = out[-1]
    pieces.append(last_text + ((last_ending or usual) if ends_nl else ""))
    return "".join(pieces)


def apply_patch(text: str, fs: FileSystem, root: str = "/testbed") -> str:
    """Apply a whole patch to ``fs``; returns a summary for the model. Nothing is written if any part fails,
    and a write that fails midway restores the files already written before :class:`PatchError` is raised."""
    ops = parse_patch(text, root)
    writes: dict[str, str | None] = {}  # path -> new text, None = delete
    originals: dict[str, str | None] = {}  # path -> text before the patch, None = did not exist
    summary: list[str] = []
    for op in ops:
        current = fs.read_text(op.path)
        originals.setdefault(op.path, current)
        if op.kind == "add":
            if current is not None:
                raise PatchError(f"cannot add {op.path}: it already exists (use 'Update File')")
            writes[op.path] = op.content
            summary.append(f"A {op.path}")
        elif op.kind == "delete":
            if current is None:
                raise PatchError(f"cannot delete {op.path}: no such file")
            writes[op.path] = None
            summary.append(f"D {op.path}")
        else:
            if current is None:
                raise PatchError(f"cannot update {op.path}: no such file (use 'Add File' to create it)")
            new = apply_hunks(current, op.hunks, op.path)
            if op.move_to and op.move_to != op.path:
                destination = fs.read_text(op.move_to)
                originals.setdefault(op.move_to, destination)
                if destination is not None and op.move_to not in writes:
                    raise PatchError(f"cannot move {op.path} to {op.move_to}: the destination exists")
                writes[op.move_to] = new
                writes[op.path] = None
                summary.append(f"R {op.path} -> {op.move_to}")
            else:
                writes[op.path] = new
                summary.append(f"M {op.path}")
    written = {p for p, c in writes.items() if c is not None}
    steps = [(p, None) for p, c in writes.items() if c is None and p not in written]
    steps += [(p, c) for p, c in writes.items() if c is not None]
    _write_all(fs, steps, originals)
    return "Done! Applied the patch:\n" + "\n".join(summary)


def _write_all(fs: FileSystem, steps: list[tuple[str, str | None]], originals: dict[str, str | None]) -> None:
    done: list[str] = []
    for path, content in steps:
        try:
            if content is None:
                fs.delete(path)
            else:
                fs.write_text(path, content)
        except Exception as exc:
            # The failed write may have left a partial file: restore it with the ones already written.
            not_restored = []
            for p in reversed([*done, path]):
                try:
                    if originals.get(p) is None:
                        fs.delete(p)
                    else:
                        fs.write_text(p, originals[p])
                except Exception:
                    not_restored.append(p)
            verb = "delete" if content is None else "write"
            after = (f"; these files could not be restored and may be changed: {', '.join(not_restored)}"
                     if not_restored else "; the files already written were restored")
            raise PatchError(f"cannot {verb} {path}: {exc}{after}") from exc
        done.append(path)
