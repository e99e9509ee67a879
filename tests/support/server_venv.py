"""A real, empty Python venv whose package metadata claims vLLM (and more): what a server venv looks like to the
harness's checks, which read metadata only. Nothing in it runs vLLM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def server_venv(folder: Path, vllm: str | None = "0.32.0", *, dists: dict[str, str] | None = None,
                harmony_providers: tuple[str, ...] = ("oss-harmony",)) -> Path:
    """Create ``folder`` as a venv (no pip) with dist-info records; return its ``bin/python``.

    ``vllm``: the version of a ``vllm`` distribution (None: none); ``dists``: more name -> version records;
    ``harmony_providers``: distributions recorded as installing the ``openai_harmony`` module.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    records = dict(dists or {})
    if vllm:
        records["vllm"] = vllm
    for name in harmony_providers:
        records.setdefault(name, "0.0.11" if name == "oss-harmony" else "0.0.8")
    for name, version in records.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        top = ["openai_harmony"] if name in harmony_providers else [name.replace("-", "_")]
        (info / "top_level.txt").write_text("\n".join(top) + "\n")
        (info / "RECORD").write_text(f"{top[0]}/__init__.py,,\n")
    return python


def store_files(root: Path) -> list[str]:
    """Files of a run store or a server under ``root`` (Hydra's own .hydra/ and job log do not count)."""
    names = ("attempts.jsonl", "grades.jsonl", "manifest.json", "report.md", "summary.csv")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and (p.name in names or p.name.startswith("server")))
