"""Run an untrusted program under bubblewrap with resource limits, measured from inside the sandbox.

One call, one throw-away sandbox (compiles, anything run once)::

    res = run_sandboxed(["./a.out"], workdir=None, stdin_path="in.txt", cpu_seconds=2, wall_seconds=6,
                        memory_bytes=256 << 20, max_processes=1, max_output_bytes=16 << 20,
                        ro_binds=[("/host/build/a.out", "/prog/a.out")])

Many runs, one sandbox (the judge's tests: bwrap's ~10 ms start-up is paid once per lane, not per run)::

    with SandboxLane(ro_binds=[("/host/build/a.out", "/prog/a.out")]) as lane:
        for test in tests:
            res = lane.run(["/prog/a.out"], stdin_path=test, cpu_seconds=2, wall_seconds=6, ...)

What the sandbox is made of:

- ``bwrap --unshare-all`` (no network, own pid/ipc/uts/user/cgroup namespaces), ``--die-with-parent``,
  ``--new-session``, read-only ``/usr`` (plus the ``/bin``, ``/lib*`` symlinks and the dynamic-linker files of
  ``/etc``), a fresh ``/proc`` and a minimal, read-only ``/dev``, size-capped tmpfs ``/tmp`` and ``/dev/shm``;
  the root is remounted read-only, so the only writable places are those two and the work dir ``/sandbox``;
- bwrap itself runs with the real uid ``uid`` (65534 by default) when the caller is root: RLIMIT_NPROC is not
  enforced for root, and a non-root real uid makes the fork-bomb limit hold;
- inside, a tiny C helper (compiled once into a cache dir) is PID 1 of the namespace: it sets the rlimits,
  forks and execs the program, enforces the wall clock with a timer (on expiry it SIGKILLs every process of the
  namespace; a SIGALRM sent by a process is ignored), reaps orphans, and writes ``getrusage(RUSAGE_CHILDREN)``
  (CPU time, peak RSS) to a pipe whose end the program never sees. When it exits, the kernel kills whatever is
  left in the pid namespace, so a daemonised grandchild cannot outlive the run. As PID 1 it receives no signal
  from the namespace it has no handler for (``kill(-1)`` and ``kill(1)`` from the program do nothing to it). In
  a :class:`SandboxLane` the same helper serves run after run and cleans up between them (see there);
- stdin is an open file (fast-input idioms read nothing from a pipe); stdout and stderr are read while the
  program runs and the run is killed as soon as either exceeds ``max_output_bytes``.

An infrastructure failure (bwrap missing, namespaces refused, the helper did not report) raises
:class:`SandboxError` (:class:`SandboxUnavailable` for "cannot sandbox here at all"); anything the program does
comes back as a :class:`SandboxResult`.

Known limits: memory is capped with RLIMIT_AS (address space, not RSS), so "out of memory" is inferred
(peak RSS near the limit, a failed-allocation message on stderr, or a crash near the limit) rather than
reported by a cgroup; there is no seccomp filter.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import selectors
import shutil
import signal as _signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SANDBOX_DIR = "/sandbox"  # where the work dir appears inside the sandbox
DEFAULT_UID = 65534  # nobody
_INSTALL_HINT = "bubblewrap (bwrap) not found; install it: apt-get install bubblewrap"
_OOM_MARKERS = (b"std::bad_alloc", b"MemoryError", b"Cannot allocate memory", b"out of memory",
                b"Out of memory", b"memory exhausted")

__all__ = [
    "INBOX_DIR",
    "LaneStats",
    "SANDBOX_DIR",
    "SandboxError",
    "SandboxResult",
    "SandboxLane",
    "SandboxUnavailable",
    "cache_dir",
    "check_available",
    "run_sandboxed",
    "sandbox_workdir",
]


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program inside it)."""


class SandboxUnavailable(SandboxError):
    """Sandboxing is impossible on this machine (bwrap missing, or it cannot create namespaces)."""


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int | None  # None when the program was killed by a signal (or by us)
    signal: int | None  # terminating signal number, if any
    stdout: bytes  # at most max_output_bytes
    stderr: bytes  # at most min(max_output_bytes, 64 KiB)
    stdout_truncated: bool
    stderr_truncated: bool
    cpu_seconds: float | None  # user+sys of the program and its reaped descendants; None if never reported
    peak_memory_bytes: int | None  # max RSS of the largest process, from inside the sandbox
    wall_seconds: float  # program wall time from inside the sandbox (host-side time if it never reported)
    timed_out: bool  # CPU limit exceeded (or SIGXCPU), or wall clock expired
    output_limited: bool  # stdout or stderr exceeded max_output_bytes; the run was killed
    oom: bool  # memory limit hit (inferred, see the module doc)

    @property
    def ok(self) -> bool:
        """Exited 0 with no limit hit."""
        return self.exit_code == 0 and not (self.timed_out or self.output_limited or self.oom)


# --------------------------------------------------------------------------------------------------------------
# The PID-1 helper
# --------------------------------------------------------------------------------------------------------------

_INIT_C = r"""
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* usage: init RESULT_FD CPU_S WALL_S AS STACK NPROC FSIZE NOFILE -- PROGRAM ARGS...   (0 = no limit)
 *    or: init --drop UID COMMAND ARGS...   (outside the sandbox: become UID:UID, no groups, exec COMMAND)
 *    or: init --serve RESULT_FD DIR...     (PID 1 of a long-lived sandbox: run programs one at a time; after
 *        each, kill what is left, empty the writable DIRs, SysV IPC and keyrings, and report on RESULT_FD).
 * Serve commands on fd 0: 'R' + 8 hex digits N + N bytes of NUL-separated fields
 *   CPU_S WALL_S AS STACK NPROC FSIZE NOFILE STDIN CWD PROGRAM ARGS...;   'K': kill the current run.
 * Serve report per run: "sbx2 STAGE ERRNO STATUS CPU_US MAXRSS_KB WALL_US EXPIRED KILLED DIRTY\n"
 *   (STAGE 0 = ran; 1 exec, 2 setrlimit, 3 stdin, 4 cwd, 5 fork failed). */

#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif
#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif
#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif

struct lims { double cpu, wall; unsigned long long as, stack, nproc, fsize, nofile; };

static volatile sig_atomic_t expired = 0;

static void on_alarm(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    if (si && si->si_code <= 0) return; /* sent by a process (kill, sigqueue, tgkill), not by our timer */
    expired = 1;
    kill(-1, SIGKILL); /* as PID 1: every other process of the namespace */
}

static int lim(int res, unsigned long long soft, unsigned long long hard) {
    struct rlimit r;
    r.rlim_cur = soft;
    r.rlim_max = hard;
    return setrlimit(res, &r) == 0 ? 0 : errno;
}

/* In the forked child: limits, stdin, exec. On failure write {stage, errno} to ep and exit 127. */
static void child_exec(const struct lims *L, int ep, int in_fd, char **cmd) {
    int e = 0, stage = 2;
    if (L->cpu > 0) {
        unsigned long long c = (unsigned long long)L->cpu + 1;
        e = lim(RLIMIT_CPU, c, c + 1);
    }
    if (!e && L->as) e = lim(RLIMIT_AS, L->as, L->as);
    if (!e && L->stack) e = lim(RLIMIT_STACK, L->stack, L->stack);
    if (!e && L->nproc) e = lim(RLIMIT_NPROC, L->nproc, L->nproc);
    if (!e && L->fsize) e = lim(RLIMIT_FSIZE, L->fsize, L->fsize);
    if (!e && L->nofile) e = lim(RLIMIT_NOFILE, L->nofile, L->nofile);
    if (!e) e = lim(RLIMIT_CORE, 0, 0);
    if (!e) e = lim(RLIMIT_MSGQUEUE, 0, 0); /* no POSIX message queues: they would outlive the run */
    if (!e && in_fd >= 0) {
        stage = 3;
        if (dup2(in_fd, 0) < 0) e = errno;
        else if (in_fd != 0) close(in_fd);
    }
    if (!e) {
        stage = 1;
        execvp(cmd[0], cmd);
        e = errno;
    }
    int msg[2] = {stage, e};
    if (write(ep, msg, sizeof msg) < 0) _exit(126);
    _exit(127);
}

static int one_shot(int argc, char **argv) {
    if (argc < 11 || strcmp(argv[9], "--") != 0) {
        fprintf(stderr, "sandbox-init: bad usage\n");
        return 120;
    }
    int rfd = atoi(argv[1]);
    struct lims L = {atof(argv[2]), atof(argv[3]), strtoull(argv[4], 0, 10), strtoull(argv[5], 0, 10),
                     strtoull(argv[6], 0, 10), strtoull(argv[7], 0, 10), strtoull(argv[8], 0, 10)};
    char **cmd = argv + 10;
    if (fcntl(rfd, F_SETFD, FD_CLOEXEC) != 0) return 122;
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) != 0) return 123;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) return 124;
    if (pid == 0) {
        close(ep[0]);
        child_exec(&L, ep[1], -1, cmd);
    }
    close(ep[1]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_alarm;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGALRM, &sa, 0);
    if (L.wall > 0) {
        struct itimerval it;
        memset(&it, 0, sizeof it);
        it.it_value.tv_sec = (long)L.wall;
        it.it_value.tv_usec = (long)((L.wall - (double)(long)L.wall) * 1e6);
        if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
        setitimer(ITIMER_REAL, &it, 0);
    }
    int msg[2] = {0, 0};
    for (;;) {
        ssize_t n = read(ep[0], msg, sizeof msg);
        if (n >= 0 || errno != EINTR) break;
    }
    int status = 0;
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w == pid) { status = st; break; }
        if (w < 0 && errno != EINTR) break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    long long cpu_us = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL
                       + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    long long wall_us = (long long)(t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
    dprintf(rfd, "sbx1 %d %d %lld %ld %lld %d\n", msg[1], status, cpu_us, ru.ru_maxrss, wall_us, (int)expired);
    return 0; /* leaving PID 1 kills the rest of the namespace */
}

/* ---- serve mode ------------------------------------------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r == 0) return -1;
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/* Remove everything inside the directory open at dfd; 0 when it is empty afterwards. */
static int empty_dir(int dfd, int depth) {
    if (depth > 64) return -1;
    int again = 1, bad = 0;
    for (int pass = 0; again && pass < 4; pass++) {
        again = 0;
        bad = 0;
        int dup_fd = dup(dfd);
        if (dup_fd < 0) return -1;
        DIR *d = fdopendir(dup_fd);
        if (!d) { close(dup_fd); return -1; }
        rewinddir(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            again = 1;
            if (unlinkat(dfd, e->d_name, 0) == 0) continue;
            fchmodat(dfd, e->d_name, 0700, 0);
            int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) { bad = 1; continue; }
            if (empty_dir(sub, depth + 1) != 0) bad = 1;
            close(sub);
            if (unlinkat(dfd, e->d_name, AT_REMOVEDIR) != 0) bad = 1;
        }
        closedir(d);
        if (bad) return -1;
    }
    return again ? -1 : 0;
}

/* Remove every SysV IPC object of the namespace; 0 when none is left. */
static int clear_ipc(void) {
    struct shm_info si;
    struct shmid_ds sd;
    int max = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&si);
    for (int i = 0; i <= max; i++) {
        int id = shmctl(i, SHM_STAT_ANY, &sd);
        if (id < 0) id = shmctl(i, SHM_STAT, &sd);
        if (id >= 0) shmctl(id, IPC_RMID, 0);
    }
    struct seminfo sinf;
    struct semid_ds semd;
    max = semctl(0, 0, SEM_INFO, &sinf);
    for (int i = 0; i <= max; i++) {
        int id = semctl(i, 0, SEM_STAT_ANY, &semd);
        if (id < 0) id = semctl(i, 0, SEM_STAT, &semd);
        if (id >= 0) semctl(id, 0, IPC_RMID);
    }
    struct msginfo mi;
    struct msqid_ds md;
    max = msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi);
    for (int i = 0; i <= max; i++) {
        int id = msgctl(i, MSG_STAT_ANY, &md);
        if (id < 0) id = msgctl(i, MSG_STAT, &md);
        if (id >= 0) msgctl(id, IPC_RMID, 0);
    }
    int left = 0;
    if (shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&si) >= 0 && si.used_ids > 0) left = 1;
    if (semctl(0, 0, SEM_INFO, &sinf) >= 0 && sinf.semusz > 0) left = 1;
    if (msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi) >= 0 && mi.msgpool > 0) left = 1;
    return left ? -1 : 0;
}

struct state { struct rlimit rl[RLIM_NLIMITS]; int nice; cpu_set_t cpus; };

/* The runner's own settings that a same-uid program could change (prlimit, setpriority, sched_setaffinity) and
 * that later children would inherit: any change makes the sandbox dirty (the host starts a fresh one). */
static void get_state(struct state *s) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < RLIM_NLIMITS; i++) getrlimit(i, &s->rl[i]);
    errno = 0;
    s->nice = getpriority(PRIO_PROCESS, 0);
    sched_getaffinity(0, sizeof s->cpus, &s->cpus);
}

static int kill_all_and_reap(void) {
    kill(-1, SIGKILL);
    for (;;) {
        pid_t w = waitpid(-1, 0, 0);
        if (w > 0) continue;
        if (errno == EINTR) continue;
        break; /* ECHILD: as PID 1 every process of the namespace is our descendant, so none is left */
    }
    return 0;
}

static long long us_between(const struct timespec *a, const struct timespec *b) {
    return (long long)(b->tv_sec - a->tv_sec) * 1000000LL + (b->tv_nsec - a->tv_nsec) / 1000;
}

static int serve(int ctl, char **dirs, int ndirs) {
    prctl(PR_SET_DUMPABLE, 0); /* no ptrace, no /proc/1/mem or fd access for same-uid programs */
    signal(SIGPIPE, SIG_IGN);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, 0); /* read through a signalfd: a forged SIGCHLD only wakes us up */
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || fcntl(ctl, F_SETFD, FD_CLOEXEC) != 0 || fcntl(0, F_SETFD, FD_CLOEXEC) != 0) return 122;
    int dfds[16];
    mode_t modes[16];
    if (ndirs > 16) ndirs = 16;
    for (int i = 0; i < ndirs; i++) {
        struct stat st;
        dfds[i] = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        modes[i] = (dfds[i] >= 0 && fstat(dfds[i], &st) == 0) ? (st.st_mode & 07777) : 0;
    }
    struct state base, now;
    get_state(&base);
    dprintf(ctl, "sbx2 ready\n");
    char *buf = 0;
    for (;;) {
        char op;
        if (read_full(0, &op, 1) != 0) return 0; /* the host went away */
        if (op == 'K') continue;                  /* a kill that arrived after its run ended */
        char hex[9] = {0};
        if (op != 'R' || read_full(0, hex, 8) != 0) return 3;
        unsigned long n = strtoul(hex, 0, 16);
        if (n == 0 || n > (1UL << 20)) return 3;
        free(buf);
        buf = malloc(n + 1);
        if (!buf || read_full(0, buf, n) != 0) return 3;
        buf[n] = 0;
        char *fields[4096];
        int nf = 0;
        for (char *p = buf; p < buf + n && nf < 4095; p += strlen(p) + 1) fields[nf++] = p;
        fields[nf] = 0;
        if (nf < 10) return 3;
        struct lims L = {atof(fields[0]), atof(fields[1]), strtoull(fields[2], 0, 10), strtoull(fields[3], 0, 10),
                         strtoull(fields[4], 0, 10), strtoull(fields[5], 0, 10), strtoull(fields[6], 0, 10)};
        const char *in_path = fields[7][0] ? fields[7] : "/dev/null";
        const char *cwd = fields[8];
        char **cmd = fields + 9;

        int stage = 0, err = 0, status = 0, killed = 0, host_gone = 0, main_done = 0, dirty = 0;
        long long cpu_us = 0, wall_us = 0;
        long maxrss = 0;
        expired = 0;
        struct timespec t0, t1, now_ts;
        int in_fd = open(in_path, O_RDONLY | O_CLOEXEC);
        int ep[2] = {-1, -1};
        pid_t pid = -1;
        if (in_fd < 0) {
            stage = 3;
            err = errno;
        } else if (pipe2(ep, O_CLOEXEC) != 0) {
            stage = 5;
            err = errno;
        } else {
            clock_gettime(CLOCK_MONOTONIC, &t0);
            pid = fork();
            if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, 0);
                signal(SIGPIPE, SIG_DFL);
                close(ep[0]);
                if (chdir(cwd) != 0) {
                    int msg[2] = {4, errno};
                    if (write(ep[1], msg, sizeof msg) < 0) _exit(126);
                    _exit(127);
                }
                child_exec(&L, ep[1], in_fd, cmd);
            }
            close(ep[1]);
            close(in_fd);
            if (pid < 0) {
                stage = 5;
                err = errno;
            } else {
                int msg[2] = {0, 0};
                for (;;) {
                    ssize_t r = read(ep[0], msg, sizeof msg);
                    if (r >= 0 || errno != EINTR) {
                        if (r == (ssize_t)sizeof msg) { stage = msg[0]; err = msg[1]; }
                        break;
                    }
                }
            }
            close(ep[0]);
        }
        while (pid > 0 && !main_done) {
            int st;
            struct rusage ru;
            pid_t w;
            while ((w = wait4(-1, &st, WNOHANG, &ru)) > 0) {
                cpu_us += (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL
                          + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
                if (ru.ru_maxrss > maxrss) maxrss = ru.ru_maxrss;
                if (w == pid) { status = st; main_done = 1; }
            }
            if (main_done || (w < 0 && errno == ECHILD)) break;
            struct pollfd pf[2] = {{sfd, POLLIN, 0}, {host_gone ? -1 : 0, POLLIN, 0}};
            struct timespec ts, *tsp = 0;
            if (L.wall > 0 && !expired) {
                clock_gettime(CLOCK_MONOTONIC, &now_ts);
                long long left = (long long)(L.wall * 1e6) - us_between(&t0, &now_ts);
                if (left <= 0) {
                    expired = 1;
                    kill(-1, SIGKILL);
                    continue;
                }
                ts.tv_sec = left / 1000000LL;
                ts.tv_nsec = (left % 1000000LL) * 1000;
                tsp = &ts;
            }
            if (ppoll(pf, 2, tsp, 0) < 0 && errno != EINTR) break;
            if (pf[0].revents) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) > 0) {}
            }
            if (pf[1].revents) {
                char c[64];
                ssize_t r = read(0, c, sizeof c);
                if (r <= 0) {
                    host_gone = 1;
                    kill(-1, SIGKILL);
                } else if (memchr(c, 'K', (size_t)r)) {
                    killed = 1;
                    kill(-1, SIGKILL);
                }
            }
        }
        if (pid > 0) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            wall_us = us_between(&t0, &t1);
        }
        kill_all_and_reap();
        { struct signalfd_siginfo si; while (read(sfd, &si, sizeof si) > 0) {} }
        for (int i = 0; i < ndirs; i++) {
            if (dfds[i] < 0) continue;
            struct stat st;
            if (fstat(dfds[i], &st) == 0 && (st.st_mode & 07777) != modes[i]) fchmod(dfds[i], modes[i]);
            if (empty_dir(dfds[i], 0) != 0) dirty |= 1;
        }
        if (clear_ipc() != 0) dirty |= 2;
        for (int k = -5; k <= -3; k++) syscall(SYS_keyctl, 7 /* KEYCTL_CLEAR */, k); /* session/user keyrings */
        get_state(&now);
        if (memcmp(&base, &now, sizeof base) != 0) dirty |= 4;
        dprintf(ctl, "sbx2 %d %d %d %lld %ld %lld %d %d %d\n", stage, err, status, cpu_us, maxrss, wall_us,
                (int)expired, killed, dirty);
        if (host_gone) return 0;
    }
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "--drop") == 0) {
        unsigned id = (unsigned)strtoul(argv[2], 0, 10);
        if (setgroups(0, 0) != 0 || setgid(id) != 0 || setuid(id) != 0) {
            perror("sandbox-init: cannot drop privileges");
            return 125;
        }
        execvp(argv[3], argv + 3);
        perror("sandbox-init: exec");
        return 126;
    }
    if (argc >= 3 && strcmp(argv[1], "--serve") == 0) return serve(atoi(argv[2]), argv + 3, argc - 3);
    return one_shot(argc, argv);
}
"""

_init_lock = threading.Lock()
_init_path: Path | None = None
_checked: dict[int, str | None] = {}  # uid -> None (works) or the error text


def cache_dir() -> Path:
    """A cache directory readable by the sandbox uid (``$GPTOSS_SANDBOX_CACHE`` or /var/tmp/gptoss-eval-<uid>)."""
    d = Path(os.environ.get("GPTOSS_SANDBOX_CACHE") or f"/var/tmp/gptoss-eval-{os.getuid()}")
    d.mkdir(parents=True, exist_ok=True)
    st = d.stat()
    if st.st_uid != os.getuid():
        raise SandboxError(f"cache dir {d} must be owned by uid {os.getuid()} (it holds binaries run as root)")
    if st.st_mode & 0o777 != 0o755:
        d.chmod(0o755)  # readable by the sandbox uid, writable only by us
    return d


def _init_binary() -> Path:
    global _init_path
    with _init_lock:
        if _init_path is not None and _init_path.exists():
            return _init_path
        digest = hashlib.sha256(_INIT_C.encode()).hexdigest()[:16]
        out = cache_dir() / f"sandbox-init-{digest}"
        if not out.exists():
            cc = shutil.which("gcc") or shutil.which("cc")
            if cc is None:
                raise SandboxUnavailable("a C compiler (gcc) is needed once to build the sandbox helper")
            with tempfile.TemporaryDirectory() as td:
                src = Path(td) / "init.c"
                src.write_text(_INIT_C)
                tmp_out = out.with_name(out.name + f".tmp{os.getpid()}")
                last = None
                for extra in (["-static"], []):  # static starts faster; fall back if libc.a is missing
                    p = subprocess.run([cc, "-O2", *extra, "-o", str(tmp_out), str(src)],
                                       capture_output=True, text=True)
                    if p.returncode == 0:
                        break
                    last = p.stderr
                else:
                    raise SandboxError(f"cannot build the sandbox helper: {last}")
                tmp_out.chmod(0o755)
                os.replace(tmp_out, out)
        _init_path = out
        return out


# --------------------------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------------------------

def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), f"/{name}"]
        elif p.is_dir():
            args += ["--ro-bind", str(p), f"/{name}"]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    return args


def _bwrap() -> str:
    b = shutil.which("bwrap")
    if b is None:
        raise SandboxUnavailable(_INSTALL_HINT)
    return b


def _drop_kwargs(uid: int) -> dict:
    # As root, run bwrap itself with the real uid `uid`: RLIMIT_NPROC is never enforced for root.
    if os.geteuid() == 0 and uid != 0:
        return {"user": uid, "group": uid, "extra_groups": []}
    return {}


def _drop_prefix(uid: int, init: Path) -> list[str]:
    # Same as _drop_kwargs, done by the helper: Popen(user=...) must fork() the whole Python process (slow for a
    # big one), while a plain Popen can vfork(); the helper drops to `uid` and execs bwrap.
    if os.geteuid() == 0 and uid != 0:
        return [str(init), "--drop", str(uid)]
    return []


def check_available(uid: int = DEFAULT_UID) -> None:
    """Raise :class:`SandboxUnavailable` unless bwrap can create the namespaces we need (cached per uid)."""
    if uid not in _checked:
        bwrap = _bwrap()
        args = [bwrap, "--unshare-all", "--die-with-parent", "--as-pid-1", *_system_binds(), "--uid", str(uid),
                "--gid", str(uid), "/bin/true"]
        try:
            p = subprocess.run(args, capture_output=True, text=True, timeout=30, **_drop_kwargs(uid))
            _checked[uid] = None if p.returncode == 0 else (p.stderr.strip() or f"exit {p.returncode}")
        except (OSError, subprocess.SubprocessError) as e:
            _checked[uid] = str(e)
    err = _checked[uid]
    if err is not None:
        raise SandboxUnavailable(f"bubblewrap cannot create namespaces here ({err}); unprivileged user "
                                 "namespaces must be enabled (sysctl kernel.unprivileged_userns_clone=1)")


@contextlib.contextmanager
def sandbox_workdir(uid: int = DEFAULT_UID, prefix: str = "sbx-") -> Iterator[Path]:
    """A temporary host directory writable by the sandbox uid; removed (with everything inside) on exit."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if os.geteuid() == 0:
            os.chown(d, uid, uid)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _norm_binds(ro_binds: Sequence[str | os.PathLike | tuple[str | os.PathLike, str]]) -> list[str]:
    out: list[str] = []
    for b in ro_binds:
        if isinstance(b, tuple):
            src, dst = str(b[0]), str(b[1])
        else:
            src = dst = str(b)
        if not os.path.exists(src):
            raise SandboxError(f"ro_bind source does not exist: {src}")
        out += ["--ro-bind", src, dst]
    return out


def _bwrap_command(init: Path, *, uid: int, tmpfs_bytes: int, mount_proc: bool,
                   work_path: str = SANDBOX_DIR, workdir: str | os.PathLike | None = None,
                   workdir_readonly: bool = False,
                   ro_binds: Sequence[str | os.PathLike | tuple[str | os.PathLike, str]] = (),
                   env: Mapping[str, str] | None = None) -> list[str]:
    """The bwrap command line up to (not including) the helper's own arguments.

    Writable places: ``/tmp``, ``/dev/shm`` and ``work_path`` (a tmpfs of ``tmpfs_bytes`` each, or ``workdir``
    bound there); ``/dev`` itself is read-only (bwrap's ``--dev`` is an uncapped tmpfs otherwise).
    """
    args = [*_drop_prefix(uid, init), _bwrap(), "--unshare-all", "--unshare-user", "--disable-userns",
            "--die-with-parent", "--new-session", "--as-pid-1",
            *_system_binds(), *(["--proc", "/proc"] if mount_proc else []), "--dev", "/dev",
            "--size", str(int(tmpfs_bytes)), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
            "--size", str(int(tmpfs_bytes)), "--tmpfs", "/tmp"]
    if workdir is None:
        args += ["--size", str(int(tmpfs_bytes)), "--perms", "0700", "--tmpfs", work_path]
    else:
        wd = Path(workdir)
        if not wd.is_dir():
            raise SandboxError(f"workdir is not a directory: {wd}")
        if os.geteuid() == 0 and wd.stat().st_uid != uid:
            os.chown(wd, uid, uid)
        args += ["--ro-bind" if workdir_readonly else "--bind", str(wd), work_path]
    args += _norm_binds(ro_binds)
    args += ["--ro-bind", str(init), "/.sandbox-init", "--remount-ro", "/",
             "--uid", str(uid), "--gid", str(uid), "--hostname", "sandbox", "--chdir", work_path, "--clearenv"]
    environment = dict(env) if env is not None else {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                                                     "HOME": work_path}
    for k, v in environment.items():
        args += ["--setenv", k, v]
    return args


def _limit_args(cpu_seconds: float, wall_seconds: float, memory_bytes: int, stack_bytes: int | None,
                max_processes: int, file_size_bytes: int, max_open_files: int) -> list[str]:
    stack = memory_bytes if stack_bytes is None else stack_bytes
    return [repr(float(cpu_seconds)), repr(float(wall_seconds)), str(int(memory_bytes)), str(int(stack)),
            str(int(max_processes)), str(int(file_size_bytes)), str(int(max_open_files))]


class _Output:
    """stdout/stderr of one run: what is kept (capped) and how much came."""

    def __init__(self, max_output_bytes: int) -> None:
        self.max = max_output_bytes
        self.err_keep = min(max_output_bytes, 64 << 10)
        self.out, self.err = bytearray(), bytearray()
        self.n_out = self.n_err = 0

    def add(self, which: str, chunk: bytes) -> None:
        if which == "out":
            self.n_out += len(chunk)
            if len(self.out) < self.max:
                self.out += chunk[: self.max - len(self.out)]
        else:
            self.n_err += len(chunk)
            if len(self.err) < self.err_keep:
                self.err += chunk[: self.err_keep - len(self.err)]

    @property
    def over(self) -> bool:
        return self.n_out > self.max or self.n_err > self.max


def _result(o: _Output, *, status: int, cpu_us: int, maxrss_kb: int, wall_us: int, expired: bool,
            killed_by_us: str, cpu_seconds: float, memory_bytes: int) -> SandboxResult:
    """A :class:`SandboxResult` from the helper's report (``killed_by_us``: "", "wall" or "output")."""
    out_b, err_b = bytes(o.out), bytes(o.err)
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    cpu = cpu_us / 1e6
    peak = maxrss_kb * 1024
    timed_out = expired or cpu > cpu_seconds or sig == _signal.SIGXCPU or killed_by_us == "wall"
    abnormal = exit_code != 0
    oom = peak >= memory_bytes or (abnormal and not timed_out and (
        peak >= 0.9 * memory_bytes or any(m in err_b for m in _OOM_MARKERS)))
    return SandboxResult(exit_code=exit_code if not killed_by_us else None,
                         signal=sig if not killed_by_us else int(_signal.SIGKILL),
                         stdout=out_b, stderr=err_b,
                         stdout_truncated=o.n_out > len(out_b), stderr_truncated=o.n_err > len(err_b),
                         cpu_seconds=cpu, peak_memory_bytes=peak, wall_seconds=wall_us / 1e6,
                         timed_out=timed_out, output_limited=killed_by_us == "output", oom=oom)


def run_sandboxed(
    argv: Sequence[str],
    *,
    workdir: str | os.PathLike | None,
    stdin_path: str | os.PathLike | None = None,
    cpu_seconds: float,
    wall_seconds: float,
    memory_bytes: int,
    max_processes: int,
    max_output_bytes: int,
    uid: int = DEFAULT_UID,
    ro_binds: Sequence[str | os.PathLike | tuple[str | os.PathLike, str]] = (),
    env: Mapping[str, str] | None = None,
    workdir_readonly: bool = False,
    tmpfs_bytes: int = 64 << 20,
    file_size_bytes: int = 64 << 20,
    max_open_files: int = 256,
    stack_bytes: int | None = None,
    mount_proc: bool = True,
) -> SandboxResult:
    """Run ``argv`` in a fresh bubblewrap sandbox and return what happened.

    ``workdir``: host directory bound at ``/sandbox`` (read-write unless ``workdir_readonly``; it is chowned to
    ``uid`` when we are root), or None for a private tmpfs of ``tmpfs_bytes``. The program starts in
    ``/sandbox``. ``ro_binds``: extra read-only paths, ``path`` or ``(host_path, sandbox_path)``.
    ``memory_bytes`` caps the address space (RLIMIT_AS) and, unless ``stack_bytes`` says otherwise, the stack.
    ``max_processes`` is RLIMIT_NPROC for the program (threads count). ``env`` replaces the environment
    (default: PATH, LANG, HOME only). ``cpu_seconds`` is enforced by RLIMIT_CPU (rounded up, +1 s) and checked
    exactly afterwards; ``wall_seconds`` by the in-sandbox timer, with a host-side kill 2 s later as a backstop.
    ``mount_proc=False`` leaves out ``/proc`` (a few ms faster, less to look at; most programs never need it).
    Each call starts its own sandbox (~10 ms of bwrap); :class:`SandboxLane` runs many programs in one.
    """
    if not argv:
        raise ValueError("argv is empty")
    _bwrap()
    check_available(uid)
    init = _init_binary()
    args = _bwrap_command(init, uid=uid, tmpfs_bytes=tmpfs_bytes, mount_proc=mount_proc, workdir=workdir,
                          workdir_readonly=workdir_readonly, ro_binds=ro_binds, env=env)
    r_read, r_write = os.pipe()
    args += ["/.sandbox-init", str(r_write),
             *_limit_args(cpu_seconds, wall_seconds, memory_bytes, stack_bytes, max_processes, file_size_bytes,
                          max_open_files), "--", *argv]

    stdin_f = open(stdin_path, "rb") if stdin_path is not None else open(os.devnull, "rb")  # noqa: SIM115
    t0 = time.monotonic()
    try:
        try:
            proc = subprocess.Popen(args, stdin=stdin_f, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    pass_fds=(r_write,), start_new_session=True)
        except OSError as e:
            raise SandboxError(f"cannot start bwrap: {e}") from e
        finally:
            os.close(r_write)
            stdin_f.close()
        killed_by_us = ""
        o = _Output(max_output_bytes)
        sel = selectors.DefaultSelector()
        try:
            assert proc.stdout is not None and proc.stderr is not None
            sel.register(proc.stdout, selectors.EVENT_READ, "out")
            sel.register(proc.stderr, selectors.EVENT_READ, "err")
            deadline = t0 + wall_seconds + 2.0
            open_streams = 2
            while open_streams:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    killed_by_us = "wall"
                    break
                for key, _ in sel.select(timeout=min(remaining, 1.0)):
                    chunk = os.read(key.fd, 1 << 16)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    o.add(key.data, chunk)
                if o.over:
                    killed_by_us = "output"
                    break
        finally:
            sel.close()
            if killed_by_us or proc.poll() is None:
                if killed_by_us:
                    _kill(proc)
                try:
                    proc.wait(timeout=wall_seconds + 5.0 if not killed_by_us else 10.0)
                except subprocess.TimeoutExpired:
                    killed_by_us = killed_by_us or "wall"
                    _kill(proc)
                    proc.wait()
            for f in (proc.stdout, proc.stderr):
                if f is not None:
                    f.close()
        host_wall = time.monotonic() - t0
        with os.fdopen(r_read, "rb") as rf:
            report = rf.read(4096).decode(errors="replace").split()
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(r_read)
        raise

    if len(report) != 7 or report[0] != "sbx1":
        if killed_by_us:
            out_b, err_b = bytes(o.out), bytes(o.err)
            return SandboxResult(exit_code=None, signal=int(_signal.SIGKILL), stdout=out_b, stderr=err_b,
                                 stdout_truncated=o.n_out > len(out_b), stderr_truncated=o.n_err > len(err_b),
                                 cpu_seconds=None, peak_memory_bytes=None, wall_seconds=host_wall,
                                 timed_out=killed_by_us == "wall", output_limited=killed_by_us == "output",
                                 oom=False)
        tail = bytes(o.err)[-2000:].decode(errors="replace").strip()
        raise SandboxError(f"sandbox did not start or did not report (bwrap exit {proc.returncode}): {tail}")
    exec_errno, status, cpu_us, maxrss_kb, wall_us, expired = (int(x) for x in report[1:])
    if exec_errno:
        raise SandboxError(f"cannot execute {argv[0]!r} in the sandbox: {os.strerror(exec_errno)}")
    return _result(o, status=status, cpu_us=cpu_us, maxrss_kb=maxrss_kb, wall_us=wall_us, expired=bool(expired),
                   killed_by_us=killed_by_us, cpu_seconds=cpu_seconds, memory_bytes=memory_bytes)


def _kill(proc: subprocess.Popen) -> None:
    # bwrap leads its own process group (start_new_session); killing it makes the kernel SIGKILL the sandbox's
    # PID 1 (--die-with-parent), which takes the whole pid namespace with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, _signal.SIGKILL)


def cpu_rlimit_seconds(cpu_seconds: float) -> int:
    """The RLIMIT_CPU soft limit the helper sets for a given ``cpu_seconds`` (documentation/tests)."""
    return int(math.floor(cpu_seconds)) + 1


# --------------------------------------------------------------------------------------------------------------
# A long-lived sandbox: many runs, one bwrap start-up
# --------------------------------------------------------------------------------------------------------------

INBOX_DIR = "/in"  # where SandboxLane.run's ``stdin_path`` and ``files`` appear inside the sandbox
_SERVE_STAGES = {1: "cannot execute", 2: "cannot set the limits for", 3: "cannot open stdin for",
                 4: "cannot enter the work dir for", 5: "cannot start"}


@dataclass
class LaneStats:
    starts: int = 0  # sandboxes started (the first one included)
    runs: int = 0
    lost: int = 0  # sandboxes whose runner died or went silent during a run (that run raised SandboxError)
    retired: int = 0  # sandboxes replaced because a run changed what later runs would inherit


class SandboxLane:
    """One long-lived bubblewrap sandbox that runs programs one at a time (bwrap starts once, not per run).

    Built like :func:`run_sandboxed`'s sandbox (same namespaces, mounts, uid; a tmpfs work dir ``/sandbox``;
    ``/proc`` left out unless ``mount_proc``); the helper is PID 1 in serve mode. For each :meth:`run` it forks
    the program with that run's rlimits (CPU, address space, stack, processes, file size, open files, no core
    files, no POSIX message queues), stdin from a file, the wall clock on its own timer, and measures that run's
    own CPU time and peak memory (``wait4`` of the processes reaped during the run). Afterwards it SIGKILLs
    every process left in the pid namespace (daemons included), empties ``/tmp``, ``/sandbox`` and ``/dev/shm``,
    removes SysV IPC objects, clears the keyrings, and only then reports. The runner cannot be signalled
    (PID 1 ignores signals it has no handler for), ptraced or read through ``/proc`` (it is not dumpable) by
    the programs. A run that changes what later runs would inherit (the runner's rlimits, nice value or CPU
    affinity, changeable by a same-uid program; or a work dir that cannot be emptied) retires the sandbox: the
    result stands, the next run gets a fresh one.

    If the runner dies or stays silent past ``wall_seconds + report_grace_s``, the sandbox is killed and the run
    raises :class:`SandboxError` (an infrastructure failure, never the program's verdict); the next run starts
    a fresh sandbox. Not thread-safe by design: one lane serves one worker; parallelism comes from lanes.
    """

    def __init__(self, *, uid: int = DEFAULT_UID,
                 ro_binds: Sequence[str | os.PathLike | tuple[str | os.PathLike, str]] = (),
                 env: Mapping[str, str] | None = None, tmpfs_bytes: int = 64 << 20, mount_proc: bool = False,
                 report_grace_s: float = 5.0, startup_timeout_s: float = 30.0) -> None:
        self.uid = uid
        self.ro_binds = list(ro_binds)
        self.env = env
        self.tmpfs_bytes = tmpfs_bytes
        self.mount_proc = mount_proc
        self.report_grace_s = report_grace_s
        self.startup_timeout_s = startup_timeout_s
        self.stats = LaneStats()
        self._proc: subprocess.Popen | None = None
        self._ctl = -1
        self._ctl_buf = b""
        self._inbox: Path | None = None
        self._last_rc: int | None = None  # bwrap's exit status of the last sandbox discarded (for messages)

    def __enter__(self) -> SandboxLane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def bwrap_pid(self) -> int | None:
        """Host pid of the current sandbox's bwrap (the runner is its child), or None."""
        return self._proc.pid if self._proc is not None else None

    # -- life cycle ---------------------------------------------------------------------------------------------
    def _start(self) -> None:
        _bwrap()
        check_available(self.uid)
        init = _init_binary()
        if self._inbox is None:
            self._inbox = Path(tempfile.mkdtemp(prefix=f"sbx-in-{os.getpid()}-"))
            os.chmod(self._inbox, 0o755)  # ours, read-only for the sandbox uid
        args = _bwrap_command(init, uid=self.uid, tmpfs_bytes=self.tmpfs_bytes, mount_proc=self.mount_proc,
                              ro_binds=[*self.ro_binds, (self._inbox, INBOX_DIR)], env=self.env)
        r_read, r_write = os.pipe()
        args += ["/.sandbox-init", "--serve", str(r_write), "/tmp", SANDBOX_DIR, "/dev/shm"]
        try:
            self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, pass_fds=(r_write,), start_new_session=True,
                                          bufsize=0)
        except OSError as e:
            os.close(r_read)
            raise SandboxError(f"cannot start bwrap: {e}") from e
        finally:
            os.close(r_write)
        self._ctl, self._ctl_buf = r_read, b""
        self.stats.starts += 1
        assert self._proc.stdout is not None and self._proc.stderr is not None
        for f in (self._proc.stdout, self._proc.stderr):
            os.set_blocking(f.fileno(), False)
        line = self._read_line(time.monotonic() + self.startup_timeout_s, None)
        if line != b"sbx2 ready":
            err = self._drain_stderr()
            self._discard()
            raise SandboxError(f"sandbox did not start (bwrap exit {self._last_rc}): {err[-2000:]}")

    def _drain_stderr(self) -> str:
        if self._proc is None or self._proc.stderr is None:
            return ""
        with contextlib.suppress(Exception):
            self._proc.wait(timeout=2)
        data = b""
        with contextlib.suppress(OSError, TypeError):
            while chunk := os.read(self._proc.stderr.fileno(), 1 << 16):
                data += chunk
        return data.decode(errors="replace").strip()

    def _discard(self, *, gracefully: bool = False) -> None:
        """Kill the current sandbox (runner, program, everything in its namespaces) and forget it.

        ``gracefully``: first close the runner's command pipe so it exits by itself (bwrap then reaps it; a
        killed one lingers as a zombie until the host's init reaps it)."""
        p, self._proc = self._proc, None
        if p is not None:
            if gracefully and p.stdin is not None:
                with contextlib.suppress(OSError):
                    p.stdin.close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=2)
            if p.poll() is None:
                _kill(p)
            with contextlib.suppress(Exception):
                p.wait(timeout=10)
            self._last_rc = p.returncode
            for f in (p.stdin, p.stdout, p.stderr):
                with contextlib.suppress(OSError):
                    if f is not None:
                        f.close()
        if self._ctl >= 0:
            with contextlib.suppress(OSError):
                os.close(self._ctl)
            self._ctl = -1

    def close(self) -> None:
        """Stop the sandbox and remove its host-side inbox. Safe to call twice; a later :meth:`run` restarts."""
        self._discard(gracefully=True)
        if self._inbox is not None:
            shutil.rmtree(self._inbox, ignore_errors=True)
            self._inbox = None

    # -- one run ------------------------------------------------------------------------------------------------
    def _read_line(self, deadline: float, o: _Output | None) -> bytes | None:
        """Next line from the runner's report pipe, reading the program's output meanwhile; None when the runner
        died or the deadline passed. ``o.over`` makes us ask the runner (once) to kill the run."""
        assert self._proc is not None and self._proc.stdout is not None and self._proc.stderr is not None
        sel = selectors.DefaultSelector()
        asked_kill = False
        try:
            sel.register(self._ctl, selectors.EVENT_READ, "ctl")
            if o is not None:
                sel.register(self._proc.stdout.fileno(), selectors.EVENT_READ, "out")
                sel.register(self._proc.stderr.fileno(), selectors.EVENT_READ, "err")
            while b"\n" not in self._ctl_buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                for key, _ in sel.select(timeout=min(remaining, 1.0)):
                    try:
                        chunk = os.read(key.fd, 1 << 16)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        if key.data == "ctl":
                            return None  # the runner is gone
                        sel.unregister(key.fd)
                        continue
                    if key.data == "ctl":
                        self._ctl_buf += chunk
                    elif o is not None:
                        o.add(key.data, chunk)
                if o is not None and o.over and not asked_kill:
                    asked_kill = self._send(b"K")
        finally:
            sel.close()
        line, _, self._ctl_buf = self._ctl_buf.partition(b"\n")
        return line

    def _send(self, data: bytes) -> bool:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            view = memoryview(data)
            while view:
                n = os.write(self._proc.stdin.fileno(), view)
                view = view[n:]
            return True
        except (BrokenPipeError, OSError):
            return False

    def _drain_output(self, o: _Output) -> None:
        # The runner reports only once every process of the run is dead, so all their output is in the pipes.
        assert self._proc is not None and self._proc.stdout is not None and self._proc.stderr is not None
        for which, f in (("out", self._proc.stdout), ("err", self._proc.stderr)):
            while True:
                try:
                    chunk = os.read(f.fileno(), 1 << 16)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                o.add(which, chunk)

    def _place(self, name: str, content: bytes | str | os.PathLike) -> None:
        assert self._inbox is not None
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"bad inbox file name {name!r}")
        dst = self._inbox / name
        with contextlib.suppress(FileNotFoundError):
            dst.unlink()
        if isinstance(content, (bytes, str)):
            dst.write_bytes(content.encode() if isinstance(content, str) else content)
            os.chmod(dst, 0o644)
            return
        src = Path(content)
        st = src.stat()
        try:
            if st.st_mode & 0o004 == 0:
                raise OSError("not world-readable")
            os.link(src, dst)  # free when on the same file system; the sandbox uid only needs to read it
        except OSError:
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)

    def run(self, argv: Sequence[str], *, stdin_path: str | os.PathLike | None = None,
            files: Mapping[str, bytes | str | os.PathLike] | None = None, cpu_seconds: float,
            wall_seconds: float, memory_bytes: int, max_processes: int, max_output_bytes: int,
            file_size_bytes: int = 64 << 20, max_open_files: int = 256,
            stack_bytes: int | None = None) -> SandboxResult:
        """Run ``argv`` in this lane's sandbox (started on first use) and return what happened.

        Limits mean what they mean for :func:`run_sandboxed`. ``stdin_path``: a host file given as stdin.
        ``files``: name -> bytes/str or a host path, readable at ``/in/<name>`` during this run only. The
        program starts in ``/sandbox`` (empty). Raises :class:`SandboxError` for infrastructure failures.
        """
        if not argv:
            raise ValueError("argv is empty")
        if not self.alive:
            if self._proc is not None:
                self._discard()
            self._start()
        assert self._inbox is not None
        placed = []
        try:
            if stdin_path is not None:
                self._place(".stdin", Path(stdin_path))
                placed.append(".stdin")
            for name, content in (files or {}).items():
                self._place(name, content)
                placed.append(name)
            fields = [*_limit_args(cpu_seconds, wall_seconds, memory_bytes, stack_bytes, max_processes,
                                   file_size_bytes, max_open_files),
                      f"{INBOX_DIR}/.stdin" if stdin_path is not None else "", SANDBOX_DIR, *argv]
            if any("\0" in f for f in fields):
                raise ValueError("argv must not contain NUL bytes")
            payload = b"\0".join(f.encode() for f in fields) + b"\0"
            o = _Output(max_output_bytes)
            self.stats.runs += 1
            if not self._send(b"R" + f"{len(payload):08x}".encode() + payload):
                return self._lost("the sandbox runner is gone (cannot send the run)")
            line = self._read_line(time.monotonic() + wall_seconds + self.report_grace_s, o)
            if line is None:
                return self._lost("the sandbox runner died or stopped answering during the run")
            report = line.decode(errors="replace").split()
            if len(report) != 10 or report[0] != "sbx2":
                return self._lost(f"the sandbox runner sent a bad report: {line[:200]!r}")
            self._drain_output(o)
        finally:
            for name in placed:
                with contextlib.suppress(OSError):
                    (self._inbox / name).unlink()
        stage, err, status, cpu_us, maxrss_kb, wall_us, expired, killed, dirty = (int(x) for x in report[1:])
        if dirty:
            self.stats.retired += 1
            self._discard(gracefully=True)
        if stage:
            raise SandboxError(f"{_SERVE_STAGES.get(stage, 'cannot run')} {argv[0]!r} in the sandbox: "
                               f"{os.strerror(err) if err else 'unknown error'}")
        return _result(o, status=status, cpu_us=cpu_us, maxrss_kb=maxrss_kb, wall_us=wall_us,
                       expired=bool(expired), killed_by_us="output" if killed else "", cpu_seconds=cpu_seconds,
                       memory_bytes=memory_bytes)

    def _lost(self, why: str) -> SandboxResult:
        self.stats.lost += 1
        err = ""
        if self._proc is not None and self._proc.poll() is not None:
            err = self._drain_stderr()[-500:]
        self._discard()
        raise SandboxError(why + (f" ({err})" if err else ""))
