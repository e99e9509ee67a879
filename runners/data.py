"""``gptoss-eval-data``: fetch each suite's data from its public home at a pinned revision, into a local cache.

    gptoss-eval-data list                      suites, their sources and what is in the cache
    gptoss-eval-data fetch SUITE... | all      download, check every file's sha256, unpack atomically
    gptoss-eval-data verify [SUITE...]         re-check the cached files against their pinned sha256
    gptoss-eval-data path SUITE                print the cached folder (what the suite reads by default)

The cache is ``$GPTOSS_EVAL_DATA`` or ``~/.cache/gptoss-eval/data``; a suite's files live in
``<cache>/<suite>/<revision>/``. A fetch downloads and unpacks into a temporary folder beside that one, checks
every file, writes ``.complete.json`` (sources, sha256s, whether they were verified) and only then renames the
folder into place, so a killed fetch leaves nothing that passes for whole (its leftovers are removed by the next
fetch). Hub datasets (AIME, SWE-bench Verified, GPQA) are not copied here: ``fetch`` loads them once through
``datasets`` so that later runs work with ``HF_HUB_OFFLINE=1``.

Offline: ``--from DIR`` imports the same files from an existing checkout or folder (each file is looked up at its
path in the upstream repository, then by its name), checked against the same sha256s. ``$GPTOSS_EVAL_DATA_MIRROR``
(or ``--mirror URL``) fetches ``https://host/path`` from ``URL/host/path`` instead.

Hydra-free: also ``python -m runners.data``.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CACHE_ENV = "GPTOSS_EVAL_DATA"
MIRROR_ENV = "GPTOSS_EVAL_DATA_MIRROR"
COMPLETE = ".complete.json"
TMP_PREFIX = ".partial-"
TIMEOUT_S = 60.0


class DataFetchError(RuntimeError):
    """A fetch, import or check failed; the message is one line for the user."""


@dataclass(frozen=True)
class PinnedFile:
    """One file of a suite: where it lands in the cache, its sha256, and its path inside the download."""

    dest: str
    sha256: str
    member: str = ""  # path inside the archive (without its top folder); "" for a single-file source


@dataclass(frozen=True)
class Source:
    """A download: a GitHub tar.gz archive (``files`` are members of it) or one file (``files`` has one entry).
    ``url`` may hold ``{revision}``; a source with ``fixed=True`` keeps its own revision whatever is asked."""

    url: str
    files: tuple[PinnedFile, ...]
    archive: bool = True
    fixed: bool = False
    convert: Callable[[bytes], bytes] | None = None  # turns the verified download into the cached file

    def host(self) -> str:
        return urllib.parse.urlsplit(self.url).hostname or self.url


@dataclass(frozen=True)
class HubDataset:
    hf_id: str
    config: str | None
    split: str
    gated: bool = False


@dataclass(frozen=True)
class SuiteData:
    name: str
    about: str
    revision: str = ""
    sources: tuple[Source, ...] = ()
    hub: tuple[HubDataset, ...] = ()
    suites: tuple[str, ...] = ()  # the conf/suite names that read this data
    pinned_revisions: tuple[str, ...] = field(default=())

    @property
    def is_hub(self) -> bool:
        return not self.sources


# --------------------------------------------------------------------------------------------------------------
# pinned sources

TAU_BENCH_COMMIT = "59a200c6d575d595120f1cb70fea53cef0632f6b"
TAU2_BENCH_COMMIT = "a2c024725189473d2d7cea3a5cfdbcc67478e41f"
TAU2_FIRST_RELEASE_COMMIT = "37199f36924c8896f5e048360691f8476cd89ba1"  # tasks as first released (2025-06)
TESTLIB_COMMIT = "1e4e8a24c79c6bad3becbdb5a332ffc352b7d5dd"
CODEELO_COMMIT = "0bffc84f0477abe5fd641d4cb4c859318a572c70"
CODEFORCES_REVISION = f"testlib-{TESTLIB_COMMIT[:7]}-codeelo-{CODEELO_COMMIT[:7]}"

_TAU_RETAIL = "tau_bench/envs/retail/"
_TAU_V1_FILES = {
    "data/orders.json": "2598a12586d28f2d6bd16bc86f4c800029b6af18e0abb5c475ef5c869c11ced1",
    "data/products.json": "a9eabcc1a9742c5f5288c2779acce52b9308423383ed24706bbaf0889f762a0f",
    "data/users.json": "6f4fd104cc5e80b92166c4035315c31532c6cea52a90dcdf18425ee7f87c2b82",
    "tasks_dev.py": "87dfe578d0271e7b0b5dfb40621a5c0dcc0e8452a75b8f3f8d1dcf0abac4ff14",
    "tasks_test.py": "6f09468923c6cfb6162e94fe659264d6aee70816c18d51278fb4a581db7765a4",
    "tasks_train.py": "30880ce4e8d524dd0fdd18c1d3a5713551fc8638e82673de3e0fd1ab70046c6f",
    "wiki.md": "d539fd2a46a8b8dd2e934ff9ed92f43e9f6b56bc7a718db8d2803ba8ad8f6bf7",
    "tools/__init__.py": "db8f1252a01eaa333ee409d78858d5dcf5cdc2f27c24bc6d941615ccd2ac54df",
    "tools/calculate.py": "2c3380802673493843ef6d7f3e569e2aed52265ca0b9f7ac248346828d0c75f7",
    "tools/cancel_pending_order.py": "c33151a896b62ac87ed1bcbcbd62dabcd47c8c1eaf47bbb5e2f15f8b6283b19d",
    "tools/exchange_delivered_order_items.py": "d547d44b28e97513d4a15714d4bd2bbca13f76827bfe06b71e1b51a742f44489",
    "tools/find_user_id_by_email.py": "a289f00eb689146f102d97951d6e7b29c9c639314c203efbfcd888f893d91560",
    "tools/find_user_id_by_name_zip.py": "22c176ffc285b25db573e0e38d82d678e2641298c6d1318f69d2582d52eb7433",
    "tools/get_order_details.py": "ca6c23cc89c1e981251b9adb1e6d705e364ff942aee986b12335b36e94281056",
    "tools/get_product_details.py": "9578fb31b5e092361a5d0e5d4a8e2afe4b8fb4a96d279d031b01266d9b5c768d",
    "tools/get_user_details.py": "f22b59126c2a2aaa102f39dea778653a9298d1902477dd5246509d019318e8d3",
    "tools/list_all_product_types.py": "63b9f562f893bab36fc6fb91da92978ba9c106f2d6fad88aee3ca20801e4a2e3",
    "tools/modify_pending_order_address.py": "8f23d24511078ca10818fac8501db358ad699584952233d696a695e78993d001",
    "tools/modify_pending_order_items.py": "f1a39d42e42c162dc961afa7f1b4d29c73c5a3710a3b9dff318a076213b6c858",
    "tools/modify_pending_order_payment.py": "6c2d4c329fae0d66d50bd48cb6ae9520167137f8b20d3385fa407aa5b03d2fe5",
    "tools/modify_user_address.py": "b1f8ac2141056ccee668824d6ab124ce659ea3574e7b186b39af3f558c07ac61",
    "tools/return_delivered_order_items.py": "7d92e8962c17e5fa9c8e3240d21e31fc1adf5e68100c92bb0f67e0a67ea5b7bf",
    "tools/think.py": "9d9423922fcdc98578c1d6544f35d28ff155e9a5a172355b662db326ef7eb1fc",
    "tools/transfer_to_human_agents.py": "2b6d4685da53f72709b28b60e14e1897947ac366bc7ecee6d2b7c7169a3d95a6",
}
_TAU_V1_USER_PY = ("tau_bench/envs/user.py", "ab24eeed85e6261eb2f45420432d84a390cc39b82fc5910b8a4ccd3cee36f07e")

_TAU2_FILES = {
    "data/tau2/domains/retail/db.json": "413a65160adbdb5fde0ffc0015c49b6d70250b10c18128de169b597af7766765",
    "data/tau2/domains/retail/policy.md": "2c9652afbce57d6e087768d37cda64d31c53d50b3e3225cfdb791bac66466467",
    "data/tau2/domains/retail/tasks.json": "8e03ebce7901bd6218e7a7dc3105faa9324091a68058f7fe61c65262868812e8",
    "data/tau2/domains/retail/split_tasks.json": "ed0580ec52575b63fbf76568af42490da6ee7783ecb4aa81af46961291358f20",
    "data/tau2/user_simulator/simulation_guidelines.md":
        "740a29dfa64d7bc08eea3bf7493575b914a63f744acbaf7f199ee07eddaf72d3",
    # tau2 keeps the agent instruction, the prompt templates, the greeting and the stop tokens in code
    # (read with ast by tasks.tau2_retail.data.read_source_prompts).
    "src/tau2/agent/llm_agent.py": "d13412ff502859f0ef0492af0128f1b2666be32640057ba8e076d2602af084d8",
    "src/tau2/user/user_simulator.py": "bfe1defe73bce25450b2be697c249d6cec2f3ba25a70e32e2452ba75a53a630c",
    "src/tau2/user/user_simulator_base.py": "e6c4bae08fb7ae6fa6ee5ee29624bc35e0dd6c6fe8ffeab065592c7b51fa32f2",
    "src/tau2/orchestrator/orchestrator.py": "ff6c2631a02b68a3341b1ca3d9a6122bb43ab872ee6acc960379c78015eca420",
}
_TAU2_FIRST_RELEASE = PinnedFile("data/tau2/domains/retail/tasks_2025-06-release.json",
                                 "76e1fa649a359bef2d2fd30eae834b99d261d84e2e5d364856f6632fdf778dfd",
                                 "data/tau2/domains/retail/tasks.json")

TESTLIB_SHA256 = "bb323e3c89285214966076e0d23d5a295c5f6126da7ff198c1276ddb95ecb1a0"
CODEELO_RATINGS_SHA256 = "a28d8130f43c3a229c47b1c01433a85b6fff12615ba4a10ce48b50a8d6caecf5"
HUMAN_HISTOGRAM_FILE = "human_ratings_codeelo.json"
TESTLIB_FILE = "testlib.h"


def codeelo_histogram(raw: bytes) -> bytes:
    """CodeElo's ``sorted_ratings.json`` (one rating per user) as the histogram file the report reads."""
    ratings = json.loads(raw)
    counts = collections.Counter(int(r) for r in ratings)
    doc = {"source": f"github QwenLM/CodeElo sorted_ratings.json (commit {CODEELO_COMMIT[:7]}), "
                     "counted into rating -> number of users",
           "format": "rating -> number of users", "n_users": len(ratings),
           "histogram": {str(k): counts[k] for k in sorted(counts)}}
    return json.dumps(doc).encode("utf-8")


def _github_archive(repo: str) -> str:
    return f"https://codeload.github.com/{repo}/tar.gz/{{revision}}"


def _github_raw(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


SUITES: dict[str, SuiteData] = {
    "tau_retail": SuiteData(
        name="tau_retail", about="Tau-Bench v1 retail: sierra-research/tau-bench (GitHub archive)",
        revision=TAU_BENCH_COMMIT, suites=("tau_retail",), pinned_revisions=(TAU_BENCH_COMMIT,),
        sources=(Source(_github_archive("sierra-research/tau-bench"), tuple(
            [PinnedFile(_TAU_RETAIL + p, h, _TAU_RETAIL + p) for p, h in _TAU_V1_FILES.items()]
            + [PinnedFile(_TAU_V1_USER_PY[0], _TAU_V1_USER_PY[1], _TAU_V1_USER_PY[0])])),)),
    "tau2_retail": SuiteData(
        name="tau2_retail", about="tau2-bench retail: sierra-research/tau2-bench (GitHub archive; the 2025-06 "
                                  f"tasks from commit {TAU2_FIRST_RELEASE_COMMIT[:7]})",
        revision=TAU2_BENCH_COMMIT, suites=("tau2_retail",), pinned_revisions=(TAU2_BENCH_COMMIT,),
        sources=(Source(_github_archive("sierra-research/tau2-bench"),
                        tuple(PinnedFile(p, h, p) for p, h in _TAU2_FILES.items())),
                 Source(_github_raw("sierra-research/tau2-bench", TAU2_FIRST_RELEASE_COMMIT, _TAU2_FIRST_RELEASE.member),
                        (_TAU2_FIRST_RELEASE,), archive=False, fixed=True))),
    "codeforces": SuiteData(
        name="codeforces", about="testlib.h (MikeMirzayanov/testlib), the human rating histogram (QwenLM/CodeElo "
                                 "sorted_ratings.json), open-r1/codeforces problems (hub); its generated tests "
                                 "with --contests",
        revision=CODEFORCES_REVISION, suites=("codeforces", "codeforces_tools"), pinned_revisions=(CODEFORCES_REVISION,),
        sources=(Source(_github_raw("MikeMirzayanov/testlib", TESTLIB_COMMIT, "testlib.h"),
                        (PinnedFile(TESTLIB_FILE, TESTLIB_SHA256, "testlib.h"),), archive=False, fixed=True),
                 Source(_github_raw("QwenLM/CodeElo", CODEELO_COMMIT, "sorted_ratings.json"),
                        (PinnedFile(HUMAN_HISTOGRAM_FILE, CODEELO_RATINGS_SHA256, "sorted_ratings.json"),),
                        archive=False, fixed=True, convert=codeelo_histogram)),
        hub=(HubDataset("open-r1/codeforces", "default", "test"),)),
    "aime": SuiteData(name="aime", about="AIME 2024 / 2025 (Hugging Face hub datasets)",
                      suites=("aime2024", "aime2024_tools", "aime2025", "aime2025_tools"),
                      hub=(HubDataset("HuggingFaceH4/aime_2024", None, "train"),
                           HubDataset("MathArena/aime_2025", None, "train"))),
    "swebench_verified": SuiteData(name="swebench_verified", about="SWE-bench Verified (Hugging Face hub dataset)",
                                   suites=("swebench_verified",),
                                   hub=(HubDataset("SWE-bench/SWE-bench_Verified", None, "test"),)),
    "gpqa_diamond": SuiteData(name="gpqa_diamond", about="GPQA Diamond (gated Hugging Face hub dataset: accept its "
                                                         "terms and log in first)",
                              suites=("gpqa_diamond",),
                              hub=(HubDataset("Idavidrein/gpqa", "gpqa_diamond", "train", gated=True),)),
}

OPENR1_DATASET = "open-r1/codeforces"
OPENR1_TESTS = "generated_tests/test_cases_{contest:04d}.parquet"


# --------------------------------------------------------------------------------------------------------------
# cache locations


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gptoss-eval" / "data"


def suite_dir(name: str, revision: str | None = None) -> Path:
    """``<cache>/<suite>/<revision>``; the revision defaults to the pinned one."""
    spec = get_suite(name)
    return cache_root() / spec.name / (revision or spec.revision)


def fetch_command(name: str) -> str:
    return f"gptoss-eval-data fetch {name}"


def cached_dir(name: str, what: str = "") -> Path:
    """The complete cached folder of a suite's pinned revision; a missing one raises :class:`DataFetchError`
    naming what is missing and the command that fetches it."""
    d = suite_dir(name)
    if not (d / COMPLETE).is_file():
        needs = f" ({what})" if what else ""
        raise DataFetchError(f"{name} data{needs} is not in the cache {d}: run `{fetch_command(name)}` "
                             f"(offline: `{fetch_command(name)} --from DIR`), or point the suite at a folder")
    return d


def cached_dir_or_none(name: str) -> Path | None:
    d = suite_dir(name)
    return d if (d / COMPLETE).is_file() else None


def cached_file(name: str, rel: str) -> Path | None:
    """A file of a suite's complete cached folder (pinned revision), or None when it was not fetched."""
    d = cached_dir_or_none(name)
    return d / rel if d is not None and (d / rel).is_file() else None


def read_completion(folder: Path) -> dict[str, Any] | None:
    """The ``.complete.json`` record of a cached folder, or None (not a cache folder / not complete)."""
    try:
        return json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def provenance(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """For a folder inside a cached suite folder: ``{suite, revision, verified, folder}`` from its
    ``.complete.json`` (what a run's manifest records); None for a folder that is not from the cache."""
    p = Path(folder).resolve()
    for cand in (p, *list(p.parents)[:4]):
        done = read_completion(cand)
        if done is not None:
            return {"suite": done.get("suite"), "revision": done.get("revision"),
                    "verified": bool(done.get("verified")), "folder": str(cand)}
    return None


def get_suite(name: str) -> SuiteData:
    if name not in SUITES:
        raise DataFetchError(f"unknown suite {name!r}; known: {', '.join(SUITES)} (or all)")
    return SUITES[name]


# --------------------------------------------------------------------------------------------------------------
# download


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mirrored(url: str, mirror: str | None) -> str:
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}"


def download(url: str, dest: Path, *, mirror: str | None = None, host_hint: str = "") -> None:
    """Stream ``url`` into ``dest``; an unreachable host raises one line naming it and the offline way."""
    real = mirrored(url, mirror)
    host = urllib.parse.urlsplit(real).hostname or real
    try:
        with urllib.request.urlopen(real, timeout=TIMEOUT_S) as resp, dest.open("wb") as out:
            shutil.copyfileobj(resp, out, length=1 << 20)
    except urllib.error.HTTPError as e:
        raise DataFetchError(f"{real}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DataFetchError(f"cannot reach {host} ({reason}); offline, import an existing checkout or folder "
                             f"with `--from DIR`{host_hint}") from None


def _members(archive: Path) -> dict[str, tarfile.TarInfo]:
    """Regular files of a GitHub archive by their path below the archive's one top folder."""
    out: dict[str, tarfile.TarInfo] = {}
    with tarfile.open(archive, "r:*") as tar:
        for info in tar:
            if info.isfile() and "/" in info.name:
                out[info.name.split("/", 1)[1]] = info
    return out


def _write(folder: Path, rel: str, data: bytes) -> None:
    path = folder / rel
    if not path.resolve().is_relative_to(folder.resolve()):
        raise DataFetchError(f"refusing to write {rel!r} outside the data folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _check(data: bytes, f: PinnedFile, origin: str, verify: bool) -> None:
    if verify:
        got = sha256_bytes(data)
        if got != f.sha256:
            raise DataFetchError(f"{f.member or f.dest} from {origin} has sha256 {got}, expected {f.sha256}; "
                                 "nothing was kept")


@dataclass
class FetchOptions:
    revision: str | None = None
    allow_unverified: bool = False
    from_dir: Path | None = None
    mirror: str | None = None
    force: bool = False


def _source_url(src: Source, revision: str) -> str:
    return src.url.format(revision=revision)


def _fill_from_sources(spec: SuiteData, tmp: Path, revision: str, verify: bool, opts: FetchOptions) -> list[dict]:
    record: list[dict[str, Any]] = []
    for src in spec.sources:
        rev = revision if not src.fixed else ""
        url = _source_url(src, rev) if rev else src.url
        check = verify or src.fixed  # a fixed source keeps its pinned bytes whatever revision was asked
        if src.archive:
            archive = tmp / ".download.tar.gz"
            download(url, archive, mirror=opts.mirror, host_hint=f" (e.g. `{fetch_command(spec.name)} --from DIR`)")
            try:
                members = _members(archive)
                with tarfile.open(archive, "r:*") as tar:
                    for f in src.files:
                        info = members.get(f.member)
                        if info is None:
                            raise DataFetchError(f"{url}: the archive has no {f.member}")
                        handle = tar.extractfile(info)
                        data = handle.read() if handle else b""
                        _check(data, f, url, check)
                        _write(tmp, f.dest, data)
            except (tarfile.TarError, EOFError, OSError) as e:
                raise DataFetchError(f"{url}: not a readable tar.gz archive ({e}); nothing was kept") from None
            archive.unlink()
        else:
            f = src.files[0]
            part = tmp / ".download.part"
            download(url, part, mirror=opts.mirror, host_hint=f" (e.g. `{fetch_command(spec.name)} --from DIR`)")
            data = part.read_bytes()
            part.unlink()
            _check(data, f, url, check)
            _write(tmp, f.dest, src.convert(data) if src.convert else data)
        record.append({"url": url, "files": {f.dest: f.sha256 for f in src.files}, "verified": check})
    return record


def _fill_from_dir(spec: SuiteData, tmp: Path, from_dir: Path, verify: bool) -> list[dict]:
    """Copy each pinned file from a checkout (its upstream path) or a flat folder (its name)."""
    record: list[dict[str, Any]] = []
    missing: list[str] = []
    for src in spec.sources:
        for f in src.files:
            # a checkout has the file at its upstream path, a flat folder under its name; the first that matches
            # its pin is taken (a checkout at another commit may hold other bytes at the same path)
            cands = [from_dir / f.dest, from_dir / f.member, from_dir / Path(f.dest).name,
                     from_dir / Path(f.member).name]
            found = [c for c in dict.fromkeys(cands) if c.is_file()]
            if not found:
                missing.append(f.member or f.dest)
                continue
            check = verify or src.fixed
            data = next((b for b in (c.read_bytes() for c in found) if not check or sha256_bytes(b) == f.sha256), None)
            if data is None:
                _check(found[0].read_bytes(), f, str(found[0]), check)  # raises, naming the file
            assert data is not None
            if src.convert:
                data = src.convert(data)
            _write(tmp, f.dest, data)
        record.append({"from": str(from_dir), "files": {f.dest: f.sha256 for f in src.files},
                       "verified": verify or src.fixed})
    if missing:
        raise DataFetchError(f"{from_dir} lacks {len(missing)} file(s) of {spec.name}: {', '.join(missing[:5])}"
                             f"{' ...' if len(missing) > 5 else ''}")
    return record


def _clean_partials(parent: Path) -> None:
    """Remove the leftovers of fetches that died (their process is gone)."""
    if not parent.is_dir():
        return
    for p in parent.glob(TMP_PREFIX + "*"):
        try:
            pid = int(p.name.split("-")[-2])
            os.kill(pid, 0)
            if pid != os.getpid():
                continue  # a fetch still running elsewhere
        except (ValueError, IndexError, ProcessLookupError):
            pass
        except PermissionError:
            continue
        shutil.rmtree(p, ignore_errors=True)


def fetch_suite(name: str, opts: FetchOptions | None = None, *, out: Callable[[str], None] = print) -> Path | None:
    """Fetch one suite into the cache (a no-op when its folder is already complete); returns the folder
    (None for hub datasets)."""
    opts = opts or FetchOptions()
    spec = get_suite(name)
    if spec.is_hub:
        warm_hub(spec, out=out)
        return None
    revision = opts.revision or spec.revision
    verify = revision in spec.pinned_revisions
    if not verify and not opts.allow_unverified:
        raise DataFetchError(f"{name}: revision {revision} has no pinned sha256s (pinned: "
                             f"{', '.join(spec.pinned_revisions)}); pass --allow-unverified to take it unchecked")
    final = suite_dir(name, revision)
    _clean_partials(final.parent)
    if (final / COMPLETE).is_file() and not opts.force:
        out(f"{name}: already in {final}")
        _warm_companion_hub(spec, opts, out)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{revision}-{os.getpid()}-", dir=final.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would hide the cache from other users of a shared one
    try:
        if opts.from_dir is not None:
            if not opts.from_dir.is_dir():
                raise DataFetchError(f"--from {opts.from_dir}: not a folder")
            sources = _fill_from_dir(spec, tmp, opts.from_dir, verify)
        else:
            sources = _fill_from_sources(spec, tmp, revision, verify, opts)
        (tmp / COMPLETE).write_text(json.dumps(
            {"suite": name, "revision": revision, "verified": verify, "sources": sources,
             "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1), encoding="utf-8")
        if final.exists():  # --force, or an incomplete folder from an older layout
            old = final.with_name(f"{TMP_PREFIX}old-{os.getpid()}-{final.name}")
            final.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    out(f"{name}: {'verified and ' if verify else 'UNVERIFIED, '}unpacked into {final}")
    _warm_companion_hub(spec, opts, out)
    return final


def _warm_companion_hub(spec: SuiteData, opts: FetchOptions, out: Callable[[str], None]) -> None:
    """A suite with files and a hub dataset (codeforces' problems): load the dataset too, unless importing
    offline (``--from``)."""
    if spec.hub and opts.from_dir is None:
        warm_hub(spec, out=out)


def verify_suite(name: str, revision: str | None = None) -> list[str]:
    """Problems of a cached folder (empty: every file matches its pinned sha256)."""
    spec = get_suite(name)
    if spec.is_hub:
        return _verify_hub(spec)
    folder = suite_dir(name, revision)
    done = read_completion(folder)
    if done is None:
        return [f"{name}: not fetched ({folder}); run `{fetch_command(name)}`"]
    problems: list[str] = []
    if not done.get("verified", True):
        problems.append(f"{name}: revision {done.get('revision')} was fetched unverified (no pinned sha256s)")
        return problems
    for src in spec.sources:
        if src.convert:
            continue  # the cached file is derived from the verified download, checked at fetch
        for f in src.files:
            p = folder / f.dest
            if not p.is_file():
                problems.append(f"{name}: {f.dest} is missing from {folder}")
            elif sha256_bytes(p.read_bytes()) != f.sha256:
                problems.append(f"{name}: {f.dest} in {folder} does not match its pinned sha256 {f.sha256}")
    return problems


# --------------------------------------------------------------------------------------------------------------
# hub datasets


def warm_hub(spec: SuiteData, *, out: Callable[[str], None] = print) -> None:
    try:
        import datasets
    except ImportError as e:
        raise DataFetchError("the 'datasets' package is needed to fetch hub datasets") from e
    for ds in spec.hub:
        try:
            n = len(datasets.load_dataset(ds.hf_id, ds.config, split=ds.split))
        except Exception as e:  # noqa: BLE001 - any hub failure is one line for the user
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            gated = " (gated: accept its terms on the hub, then `hf auth login` or HF_TOKEN)" if ds.gated else ""
            raise DataFetchError(f"cannot load {ds.hf_id} from huggingface.co{gated}: {type(e).__name__}: {first}; "
                                 "offline there is no import: copy the datasets cache (HF_HOME) from a machine "
                                 "that fetched it, or set the suite's path to a local file") from None
        out(f"{spec.name}: {ds.hf_id} ({ds.split}, {n} rows) is in the datasets cache; later runs work with "
            "HF_HUB_OFFLINE=1")


def _verify_hub(spec: SuiteData) -> list[str]:
    problems = []
    try:
        import datasets
    except ImportError:
        return [f"{spec.name}: the 'datasets' package is not installed"]
    saved = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        for ds in spec.hub:
            try:
                datasets.load_dataset(ds.hf_id, ds.config, split=ds.split)
            except Exception:  # noqa: BLE001
                problems.append(f"{spec.name}: {ds.hf_id} is not in the datasets cache; run "
                                f"`{fetch_command(spec.name)}`")
    finally:
        if saved is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved
    return problems


def openr1_tests_dir() -> Path:
    """Where the open-r1 generated tests of the contests fetched so far are kept."""
    return cache_root() / "codeforces" / "openr1-generated-tests"


def fetch_openr1_tests(contests: Sequence[int], *, out: Callable[[str], None] = print) -> Path:
    """Download only the generated-test files of ``contests`` from the open-r1/codeforces dataset repository."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:
        raise DataFetchError("the 'huggingface_hub' package is needed for the open-r1 generated tests") from e
    dest = openr1_tests_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for c in contests:
        name = OPENR1_TESTS.format(contest=c)
        if (dest / name).is_file():
            continue
        try:
            hf_hub_download(OPENR1_DATASET, name, repo_type="dataset", local_dir=str(dest))
        except Exception as e:  # noqa: BLE001
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise DataFetchError(f"cannot download {name} of {OPENR1_DATASET} from huggingface.co: "
                                 f"{type(e).__name__}: {first}") from None
        out(f"codeforces: {name} -> {dest}")
    return dest


# --------------------------------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gptoss-eval-data", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="suites, their sources and their cache state")
    f = sub.add_parser("fetch", help="download and verify suites (or all)")
    f.add_argument("suites", nargs="+")
    f.add_argument("--revision", help="another upstream revision (refused without --allow-unverified)")
    f.add_argument("--allow-unverified", action="store_true",
                   help="take a revision without pinned sha256s; recorded as unverified")
    f.add_argument("--from", dest="from_dir", type=Path, help="import from an existing checkout or folder (offline)")
    f.add_argument("--mirror", default=os.environ.get(MIRROR_ENV), help=f"fetch via this URL prefix (${MIRROR_ENV})")
    f.add_argument("--force", action="store_true", help="fetch again even when the cache is complete")
    f.add_argument("--contests", help="codeforces: also the open-r1 generated tests of these contests (e.g. 2000,2001)")
    v = sub.add_parser("verify", help="re-check cached files against their pinned sha256")
    v.add_argument("suites", nargs="*")
    pa = sub.add_parser("path", help="print the cached folder of a suite")
    pa.add_argument("suite")
    pa.add_argument("--revision")
    return p


def _expand(names: Sequence[str]) -> list[str]:
    if "all" in names:
        return list(SUITES)
    for n in names:
        get_suite(n)
    return list(dict.fromkeys(names))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "list":
            for spec in SUITES.values():
                if spec.is_hub:
                    state = "hub: " + ", ".join(d.hf_id for d in spec.hub)
                else:
                    d = suite_dir(spec.name)
                    state = f"{'fetched' if (d / COMPLETE).is_file() else 'not fetched'}: {d}"
                print(f"{spec.name:18} {spec.about}\n{'':18} {state}")
            return 0
        if args.cmd == "fetch":
            names = _expand(args.suites)
            if args.from_dir is not None and any(get_suite(n).is_hub for n in names):
                raise DataFetchError("--from imports files of tau_retail, tau2_retail or codeforces; hub datasets "
                                     "have no import")
            opts = FetchOptions(revision=args.revision, allow_unverified=args.allow_unverified,
                                from_dir=args.from_dir, mirror=args.mirror, force=args.force)
            for n in names:
                fetch_suite(n, opts)
            if args.contests:
                contests = [int(c) for c in args.contests.replace(",", " ").split()]
                fetch_openr1_tests(contests)
            return 0
        if args.cmd == "verify":
            names = _expand(args.suites or [n for n in SUITES if not SUITES[n].is_hub])
            problems = [p for n in names for p in verify_suite(n)]
            for line in problems:
                print(line, file=sys.stderr)
            if not problems:
                print(f"verified: {', '.join(names)}")
            return 1 if problems else 0
        if args.cmd == "path":
            spec = get_suite(args.suite)
            if spec.is_hub:
                raise DataFetchError(f"{spec.name} is read from the Hugging Face datasets cache (HF_HOME), "
                                     "not from a folder of ours")
            d = suite_dir(spec.name, args.revision)
            if not (d / COMPLETE).is_file():
                raise DataFetchError(f"{spec.name} is not fetched ({d}); run `{fetch_command(spec.name)}`")
            print(d)
            return 0
    except DataFetchError as e:
        print(f"gptoss-eval-data: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gptoss-eval-data: interrupted; nothing partial was kept", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
