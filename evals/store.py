"""The run store: append-only JSONL files in a run directory, readable after any crash.

``attempts.jsonl`` holds what the model produced (one line per sample x repeat), ``grades.jsonl`` what the
grader made of it, ``manifest.json`` the settings, versions and sessions. Generation and grading are separate
files so a regrade rewrites grades and never touches generations.

A process killed mid-write leaves at most one partial last line: readers skip it and the next writer
cuts it off before appending, so no attempt is lost or duplicated beyond the one being written.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evals.jsonlines import dumps_line, loads_line
from evals.types import Attempt, Grade

ATTEMPTS = "attempts.jsonl"
GRADES = "grades.jsonl"
MANIFEST = "manifest.json"


class StoreError(Exception):
    pass


def read_jsonl(path: Path, strict: bool = True) -> Iterator[dict[str, Any]]:
    """Complete JSON lines of a file; a torn last line (a crash mid-write) is skipped.

    A broken line anywhere else is not a crash artefact but damage: StoreError names the line, so a run
    does not silently regenerate or overwrite anything. Readers that write nothing (reports) pass
    ``strict=False`` to skip such lines instead.
    """
    for _, record in _numbered_jsonl(path, strict):
        yield record


def _numbered_jsonl(path: Path, strict: bool) -> Iterator[tuple[int, Any]]:
    if not path.exists():
        return
    with open(path, "rb") as fh:
        pending: tuple[int, bytes] | None = None
        for number, raw in enumerate(fh, 1):
            if pending is not None and strict:
                raise StoreError(f"{path}:{pending[0]} is not valid JSON ({pending[1][:80]!r}...); the store is "
                                 f"damaged: repair or delete that line, then rerun")
            if not raw.endswith(b"\n"):
                return  # torn by a crash mid-write
            if not raw.strip():
                continue
            try:
                record = loads_line(raw)
            except ValueError:  # JSONDecodeError, or UnicodeDecodeError for bytes such as NULs
                pending = (number, raw)  # fine only if it turns out to be the last line
                continue
            yield number, record


def _records(path: Path, strict: bool, build: Any, what: str) -> dict[str, Any]:
    """``build(line)`` of every line by key; a JSON line that is not a record is damage too (or skipped)."""
    out: dict[str, Any] = {}
    for number, d in _numbered_jsonl(path, strict):
        try:
            record = build(d)
        except (TypeError, KeyError, ValueError) as exc:
            if not strict:
                continue
            raise StoreError(f"{path}:{number} is not {what} ({type(exc).__name__}: {exc}); the store is damaged: "
                             f"repair or delete that line, then rerun") from exc
        out[record.key] = record
    return out


def _last_line_start(fh: Any, end: int) -> int:
    """Offset where the line ending at ``end`` begins (scanning back in blocks; lines can be megabytes)."""
    pos = end
    while pos > 0:
        start = max(0, pos - (1 << 20))
        fh.seek(start)
        idx = fh.read(pos - start).rfind(b"\n")
        if idx >= 0:
            return start + idx + 1
        pos = start
    return 0


def _drop_torn_tail(path: Path) -> int:
    """Cut a last line that a crash left unterminated or unparsable, so appends start clean; returns bytes cut."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(size - 1)
        terminated = fh.read(1) == b"\n"
        start = _last_line_start(fh, size - 1 if terminated else size)
        if terminated:
            fh.seek(start)
            try:
                json.loads(fh.read(size - start))
                return 0
            except ValueError:  # not JSON (NUL bytes included: a UnicodeDecodeError)
                pass
        fh.truncate(start)
        return size - start


class RunStore:
    """One run directory (one suite x effort x model x settings)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.attempts_path = self.root / ATTEMPTS
        self.grades_path = self.root / GRADES
        self.manifest_path = self.root / MANIFEST
        self._attempts_fh: Any = None
        self._grades_fh: Any = None
        self.dropped_bytes = 0

    # -- manifest -------------------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any] | None:
        if not self.manifest_path.exists():
            return None
        try:
            return json.loads(self.manifest_path.read_bytes())
        except ValueError as exc:  # not JSON, or not text at all
            raise StoreError(f"{self.manifest_path} is not valid JSON ({exc}); move it aside to start over") from exc

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        tmp.replace(self.manifest_path)

    def refuse_other_settings(self, settings_hash: str) -> dict[str, Any] | None:
        """The stored manifest, unless the store holds a run with other settings (StoreError: never mixed)."""
        old = self.read_manifest()
        if old is not None and not isinstance(old, dict):
            raise StoreError(f"{self.manifest_path} is not a run manifest (a JSON object); move it aside to start over")
        if old and old.get("settings_hash") != settings_hash:
            raise StoreError(
                f"{self.root} holds a run with other settings (settings hash {old.get('settings_hash')} != "
                f"{settings_hash}); use another output directory (e.g. tag=...) or delete it")
        return old

    def begin(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Open the store for a (new or resumed) session; refuse to mix different settings in one store."""
        old = self.refuse_other_settings(manifest["settings_hash"])
        merged = dict(old or manifest)
        merged.update({k: v for k, v in manifest.items() if k != "sessions"})
        merged.setdefault("sessions", [])
        merged["sessions"].append({"started_at": time.time(), "ended_at": None, "status": "running"})
        self.write_manifest(merged)
        return merged

    def end(self, manifest: dict[str, Any], status: str, **extra: Any) -> None:
        manifest["sessions"][-1].update({"ended_at": time.time(), "status": status, **extra})
        self.write_manifest(manifest)

    # -- records ------------------------------------------------------------------------------
    def attempts(self, strict: bool = True) -> dict[str, Attempt]:
        """Stored attempts by key (a later line for the same key wins)."""
        return _records(self.attempts_path, strict, lambda d: Attempt.from_dict(d), "a stored attempt")

    def grades(self, strict: bool = True) -> dict[str, Grade]:
        return _records(self.grades_path, strict, lambda d: Grade(**d), "a stored grade")

    def open_for_append(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.dropped_bytes = _drop_torn_tail(self.attempts_path) + _drop_torn_tail(self.grades_path)
        self._attempts_fh = open(self.attempts_path, "a", encoding="utf-8")
        self._grades_fh = open(self.grades_path, "a", encoding="utf-8")

    def append(self, attempt: Attempt, grade: Grade | None) -> None:
        """Write one attempt (and its grade) as complete lines, flushed to the OS at once."""
        if self._attempts_fh is None:
            self.open_for_append()
        self._attempts_fh.write(dumps_line(attempt.to_dict()) + "\n")
        self._attempts_fh.flush()
        if grade is not None:
            self._grades_fh.write(dumps_line(grade.to_dict()) + "\n")
            self._grades_fh.flush()

    def append_grade(self, grade: Grade) -> None:
        """Write one grade alone (an attempt stored before whose grade was not), flushed at once."""
        if self._grades_fh is None:
            self.open_for_append()
        self._grades_fh.write(dumps_line(grade.to_dict()) + "\n")
        self._grades_fh.flush()

    def rewrite_grades(self, grades: list[Grade]) -> None:
        """Replace every grade at once (temp file + rename: a crash leaves the old grades whole)."""
        tmp = self.grades_path.with_suffix(".jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for grade in grades:
                fh.write(dumps_line(grade.to_dict()) + "\n")
        tmp.replace(self.grades_path)

    def close(self) -> None:
        for fh in (self._attempts_fh, self._grades_fh):
            if fh is not None:
                fh.close()
        self._attempts_fh = self._grades_fh = None


def find_runs(root: str | Path) -> list[Path]:
    """Every run directory (one holding a manifest) at or below ``root``."""
    root = Path(root)
    return sorted(p.parent for p in root.rglob(MANIFEST))
