"""Live processes of the sandbox uid that came from THIS test process (other jobs on the machine may be running
sandboxes of their own at the same time; those are not ours to judge)."""

from __future__ import annotations

import os
import subprocess

from evals.sandbox import DEFAULT_UID


def sandbox_leftovers(uid: int = DEFAULT_UID) -> list[str]:
    """Non-zombie processes of ``uid`` that are ours: climbing past the ``uid`` processes, the first other process
    is this one or one of its ancestors (init or a subreaper: where an escaped orphan would end up). Zombies
    waiting for init to reap them are not alive."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,uid=,stat=,args="], capture_output=True, text=True).stdout
    procs: dict[int, tuple[int, int, str, str]] = {}
    for line in out.splitlines():
        parts = line.split(None, 4)
        if len(parts) >= 4:
            procs[int(parts[0])] = (int(parts[1]), int(parts[2]), parts[3], parts[4] if len(parts) > 4 else "")
    mine = {0, 1}
    p = os.getpid()
    while p > 1 and p not in mine:
        mine.add(p)
        p = procs[p][0] if p in procs else 1
    left = []
    for pid, (ppid, puid, stat, args) in procs.items():
        if puid != uid or stat.startswith("Z"):
            continue
        anc, seen = ppid, set()
        while anc in procs and procs[anc][1] == uid and anc not in seen:
            seen.add(anc)
            anc = procs[anc][0]
        if anc in mine:
            left.append(f"{pid} {stat} {args}")
    return left
