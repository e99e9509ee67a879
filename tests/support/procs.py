"""What a test sees of live processes through /proc: a process's descendants and its command line."""

from __future__ import annotations

from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, depth first (children of each of its threads)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:  # the thread or process ended while we looked
            continue
        for k in kids:
            out += [k, *descendants(k)]
    return out


def cmdline(pid: int) -> str:
    """The command line of ``pid``, arguments joined by spaces ("" once it has gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
