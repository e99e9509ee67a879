"""Check (and measure) the GPU server venv that `bash runners/setup.sh gpu` builds, on any machine.

Default (no GPU, no big download): runs `runners/setup_vllm_gpu.sh --dry-run` in a scratch cache, which resolves
the venv's requirements against the registry (pip --dry-run --report), and checks the resolved set: vllm at the
pinned version, torch at vLLM's pin and not a CPU-only build, oss-harmony as the only package that installs
`openai_harmony` (openai-harmony absent), nothing of the harness. It takes over a minute (pip resolves ~200
packages), which is why this is a script and not part of the test run.

  python tests/bench/check_gpu_setup.py             # resolve + check; prints the time it took
  python tests/bench/check_gpu_setup.py --sizes     # + download size (HTTP HEAD) and installed size (each wheel's
                                                    #   zip directory, read with HTTP range requests)
  python tests/bench/check_gpu_setup.py --full      # the real thing in a scratch clone: `bash runners/setup.sh
                                                    #   gpu` (~4 GB download, ~9 GB disk), then both venvs checked

Exit codes: 0 all checks passed, 1 a check failed, 2 the registry could not be reached.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SETUP_GPU = ROOT / "runners" / "setup_vllm_gpu.sh"
HARMONY_PROVIDERS = ("oss-harmony", "openai-harmony")  # both install the module `openai_harmony`


def pinned(name: str) -> str:
    return re.search(rf'^{name}="([^"]+)"', SETUP_GPU.read_text(), re.M)[1]


def resolve(cache: Path) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    proc = subprocess.run(["bash", str(SETUP_GPU), "--dry-run"], capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "GPTOSS_EVAL_CACHE": str(cache)})
    took = time.monotonic() - started
    if proc.returncode != 0:
        tail = "\n".join(line for line in proc.stderr.splitlines() if "WARNING: Location" not in line)[-2000:]
        if re.search(r"(?i)connection|resolve host|network is unreachable|temporary failure", tail):
            print(f"registry unreachable, nothing checked:\n{tail}", file=sys.stderr)
            sys.exit(2)
        print(f"setup_vllm_gpu.sh --dry-run failed:\n{tail}", file=sys.stderr)
        sys.exit(1)
    return json.loads(Path(proc.stdout.strip().splitlines()[-1]).read_text()), took


def check_resolved(report: dict[str, Any]) -> list[str]:
    """What is wrong with the resolved install set (empty: nothing)."""
    versions = {re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(): i["metadata"]["version"]
                for i in report["install"]}
    problems = []
    if versions.get("vllm") != pinned("VLLM_VERSION"):
        problems.append(f"vllm resolves to {versions.get('vllm')}, not {pinned('VLLM_VERSION')}")
    torch = versions.get("torch", "")
    if torch.split("+")[0] != pinned("TORCH_VERSION") or "+cpu" in torch:
        problems.append(f"torch resolves to {torch or 'nothing'}, not the CUDA build of {pinned('TORCH_VERSION')}")
    providers = [p for p in HARMONY_PROVIDERS if p in versions]
    if providers != ["oss-harmony"]:
        problems.append(f"openai_harmony would come from {providers or 'nothing'}, not oss-harmony alone")
    if "gptoss-eval" in versions:
        problems.append("the harness would be installed into the server venv")
    return problems


class _HttpRange(io.RawIOBase):
    """A remote file read with HTTP range requests: zipfile reads only its central directory."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size, self.pos = url, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else self.pos + offset if whence == 1 else self.size + offset
        return self.pos

    def readinto(self, buffer: Any) -> int:
        if self.pos >= self.size or not len(buffer):
            return 0
        end = min(self.size, self.pos + len(buffer)) - 1
        request = urllib.request.Request(self.url, headers={"Range": f"bytes={self.pos}-{end}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            data = response.read()
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


def _sizes(item: dict[str, Any]) -> tuple[int, int]:
    """(download bytes, unpacked bytes) of one resolved package."""
    url = item["download_info"]["url"]
    if url.startswith("file://"):
        path = urllib.request.url2pathname(url[len("file://"):])
        size, source = os.path.getsize(path), open(path, "rb")  # noqa: SIM115 (closed by ZipFile below)
    else:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=60) as response:
            size = int(response.headers["Content-Length"])
        source = io.BufferedReader(_HttpRange(url, size), buffer_size=256 * 1024)
    if not url.endswith(".whl"):
        source.close()
        return size, 3 * size  # an sdist: a rough guess (none of the GPU set is one today)
    with zipfile.ZipFile(source) as wheel:
        return size, sum(info.file_size for info in wheel.infolist())


def sizes(report: dict[str, Any]) -> tuple[int, int]:
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        pairs = list(pool.map(_sizes, report["install"]))
    return sum(d for d, _ in pairs), sum(u for _, u in pairs)


def full(scratch: Path) -> list[str]:
    """`bash runners/setup.sh gpu` in a scratch clone with a scratch cache; then check both venvs."""
    clone, cache = scratch / "clone", scratch / "cache"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=600)
    started = time.monotonic()
    proc = subprocess.run(["bash", "runners/setup.sh", "gpu"], cwd=clone, capture_output=True, text=True,
                          timeout=7200, env={**os.environ, "GPTOSS_EVAL_CACHE": str(cache)})
    print(f"setup.sh gpu: exit {proc.returncode} after {time.monotonic() - started:.0f} s")
    print("\n".join(line for line in proc.stderr.splitlines() if line.startswith("[setup")))
    if proc.returncode != 0:
        return [f"setup.sh gpu failed: {proc.stderr[-2000:]}"]
    probe = ("import importlib.metadata as md, json; d = md.packages_distributions(); "
             "print(json.dumps({'harmony': sorted(set(d.get('openai_harmony', []))), "
             "'torch': next((x.version for x in md.distributions() if x.metadata['Name'] == 'torch'), None)}))")
    problems = []
    for name, python, want in (("harness", clone / ".venv" / "bin" / "python", ["openai-harmony"]),
                               ("server", cache / f"vllm-{pinned('VLLM_VERSION')}" / "bin" / "python",
                                ["oss-harmony"])):
        found = json.loads(subprocess.run([str(python), "-c", probe], capture_output=True, text=True,
                                          check=True, timeout=120).stdout)
        print(f"{name} venv: openai_harmony from {found['harmony']}, torch {found['torch']}")
        if found["harmony"] != want:
            problems.append(f"{name} venv: openai_harmony from {found['harmony']}, expected {want}")
        if name == "harness" and found["torch"]:
            problems.append(f"harness venv has torch {found['torch']}")
    has_gpu = subprocess.run("nvidia-smi -L 2>/dev/null | grep -q '^GPU '", shell=True).returncode == 0
    if not has_gpu and "no NVIDIA GPU found" not in proc.stderr:
        problems.append("no GPU here, and setup.sh gpu did not say so")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", action="store_true", help="also measure download and installed size")
    parser.add_argument("--full", action="store_true", help="run the real setup.sh gpu in a scratch clone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gptoss-gpu-setup-") as tmp:
        if args.full:
            problems = full(Path(tmp))
        else:
            report, took = resolve(Path(tmp) / "cache")
            print(f"resolved {len(report['install'])} packages in {took:.0f} s (venv creation and pip upgrade "
                  f"included)")
            problems = check_resolved(report)
            if args.sizes:
                download, unpacked = sizes(report)
                print(f"download {download / 1e9:.2f} GB, installed {unpacked / 1e9:.2f} GB (before .pyc files)")
    for problem in problems:
        print(f"FAIL: {problem}")
    print("PASS" if not problems else f"{len(problems)} check(s) failed")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
