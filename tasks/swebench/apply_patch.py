"""The "*** Begin Patch" file-edit format that gpt-oss was trained on, parsed and applied.

Grammar (one patch, any number of file operations)::

    *** Begin Patch
    *** Add File: path/new.py
    +every line of the new file, each prefixed with "+"
    *** Delete File: path/old.py
    *** Update File: path/mod.py
    *** Move to: path/renamed.py          (optional, right after "Update File")
    @@ def some_function():               (optional anchor: a line to find first; a bare "@@" starts a hunk)
     a context line (leading space)
    -a removed line
    +an added line
    *** End of File                       (optional: the hunk must match at the end of the file)
    *** End Patch

Applying is all or nothing: every operation is checked against the current files first and nothing is
written if any of them fails. Errors are :class:`PatchError` with a message meant for the model: which line
of the patch is malformed, or which file's context was not found (and the closest lines that were).
"""

from __future__ import annotations

import difflib
import posixpath
from dataclasses import dataclass, field
from typing import Literal, Protocol

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
DELETE = "*** Delete File: "
UPDATE = "*** Update File: "
MOVE = "*** Move to: "
EOF_MARK = "*** End of File"


class PatchError(ValueError):
    """The patch is malformed or does not fit the files; the message is shown to the model as is."""


@dataclass
class Hunk:
    anchor: str | None  # the text after "@@", searched before the hunk's lines
    old: list[str]  # context + removed lines, in file order
    new: list[str]  # context + added lines, in file order
    at_eof: bool = False
    kinds: list[str] = field(default_factory=list)  # " ", "-", "+" per patch line, in patch order
    texts: list[str] = field(default_factory=list)

    def add(self, kind: str, text: str) -> None:
        self.kinds.append(kind)
        self.texts.append(text)
        if kind != "+":
            self.old.append(text)
        if kind != "-":
            self.new.append(text)

    def replacement(self, matched: list[str]) -> list[str]:
        """The new lines, with context lines kept as they are in the file (they may differ in whitespace)."""
        out, j = [], 0
        for kind, text in zip(self.kinds, self.texts, strict=True):
            if kind == " ":
                out.append(matched[j])
                j += 1
            elif kind == "-":
                j += 1
            else:
                out.append(text)
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
                if not body[i].startswith("+"):
                    raise PatchError(f"{where(i)}: every line of an added file must start with '+', got "
                                     f"{body[i][:80]!r}")
                content.append(body[i][1:])
                i += 1
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


def _parse_hunks(body: list[str], i: int, op: FileOp, where) -> int:
    hunk: Hunk | None = None

    def flush() -> None:
        nonlocal hunk
        if hunk is not None:
            if not hunk.old and not hunk.new:
                if hunk.anchor is None:
                    raise PatchError(f"{where(i)}: empty hunk in 'Update File: {op.path}'")
            elif hunk.old == hunk.new:
                pass  # context only: harmless, still has to match
            op.hunks.append(hunk)
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
            if hunk is not None and (hunk.old or hunk.new):
                flush()
            anchor = line[2:].strip()
            if hunk is not None and not (hunk.old or hunk.new) and anchor:
                # "@@ class A" then "@@ def f": keep the more specific (last) anchor
                hunk.anchor = anchor
            else:
                hunk = Hunk(anchor=anchor or None, old=[], new=[])
            i += 1
            continue
        if hunk is None:
            hunk = Hunk(anchor=None, old=[], new=[])
        if line == "":
            hunk.add(" ", "")  # an empty context line whose leading space was stripped
        elif line[0] in " -+":
            hunk.add(line[0], line[1:])
        else:
            raise PatchError(f"{where(i)}: in 'Update File: {op.path}' every hunk line must start with ' ' "
                             f"(context), '-' (remove) or '+' (add), got {line[:80]!r}")
        if hunk.at_eof:
            raise PatchError(f"{where(i)}: lines after '{EOF_MARK}' in 'Update File: {op.path}'")
        i += 1
    flush()
    if any(h.anchor is not None and not h.old and not h.new for h in op.hunks):
        raise PatchError(f"a '@@' anchor in 'Update File: {op.path}' has no lines under it")
    return i


def _split(text: str) -> tuple[list[str], bool]:
    if text == "":
        return [], True
    ends_nl = text.endswith("\n")
    lines = text.split("\n")
    if ends_nl:
        lines.pop()
    return lines, ends_nl


_NORMALIZERS = (lambda s: s, str.rstrip, str.strip)


def _find(lines: list[str], target: list[str], start: int, at_eof: bool) -> int:
    """Index where ``target`` occurs in ``lines`` at or after ``start`` (exact, then whitespace-lenient)."""
    n = len(target)
    for norm in _NORMALIZERS:
        want = [norm(t) for t in target]
        if at_eof:
            pos = len(lines) - n
            if pos >= start and [norm(x) for x in lines[pos:pos + n]] == want:
                return pos
            continue
        for pos in range(start, len(lines) - n + 1):
            if [norm(x) for x in lines[pos:pos + n]] == want:
                return pos
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


def apply_hunks(text: str, hunks: list[Hunk], path: str) -> str:
    """The new text of ``path`` after its hunks; raises :class:`PatchError` when a hunk's context is not found."""
    lines, ends_nl = _split(text)
    out: list[str] = []
    cursor = 0
    for k, hunk in enumerate(hunks, 1):
        start = cursor
        if hunk.anchor is not None:
            a = _find(lines, [hunk.anchor], cursor, False)
            if a < 0:
                raise PatchError(f"in {path}, hunk {k}: the line after '@@' ({hunk.anchor!r}) was not found"
                                 + (" after the previous hunk" if cursor else ""))
            start = a + 1 if hunk.old else a
        if not hunk.old:  # pure addition: after the anchor, or at the end of the file
            pos = start if hunk.anchor is not None else len(lines)
        else:
            pos = _find(lines, hunk.old, start, hunk.at_eof)
            if pos < 0 and hunk.anchor is not None:
                pos = _find(lines, hunk.old, cursor, hunk.at_eof)
            if pos < 0:
                shown = "\n".join(hunk.old)
                raise PatchError(
                    f"in {path}, hunk {k}: these lines (context and '-' lines) were not found"
                    f"{' after the previous hunk' if cursor else ''}{' at the end of the file' if hunk.at_eof else ''}"
                    f":\n{shown}{_closest(lines, hunk.old)}\nRead the file again and resend the patch with "
                    f"exact context lines.")
        out.extend(lines[cursor:pos])
        out.extend(hunk.replacement(lines[pos:pos + len(hunk.old)]))
        cursor = pos + len(hunk.old)
    out.extend(lines[cursor:])
    if not out:
        return ""
    return "\n".join(out) + ("\n" if ends_nl or not lines else "")


def apply_patch(text: str, fs: FileSystem, root: str = "/testbed") -> str:
    """Apply a whole patch to ``fs``; returns a summary for the model. Nothing is written if any part fails."""
    ops = parse_patch(text, root)
    writes: dict[str, str | None] = {}  # path -> new text, None = delete
    summary: list[str] = []
    for op in ops:
        current = fs.read_text(op.path)
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
                if fs.read_text(op.move_to) is not None and op.move_to not in writes:
                    raise PatchError(f"cannot move {op.path} to {op.move_to}: the destination exists")
                writes[op.move_to] = new
                writes[op.path] = None
                summary.append(f"R {op.path} -> {op.move_to}")
            else:
                writes[op.path] = new
                summary.append(f"M {op.path}")
    for path, content in writes.items():
        if content is None:
            if path not in {p for p, c in writes.items() if c is not None}:
                fs.delete(path)
    for path, content in writes.items():
        if content is not None:
            fs.write_text(path, content)
    return "Done! Applied the patch:\n" + "\n".join(summary)
