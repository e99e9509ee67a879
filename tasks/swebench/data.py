"""SWE-Bench Verified instances: from the hub or a local parquet/JSONL file (swebench 5.x schema), subset by ids."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evals.task import DataUnavailable

HF_ID = "SWE-bench/SWE-bench_Verified"
# What make_test_spec needs from a row (swebench 5.x), plus what the agent needs.
REQUIRED = ("instance_id", "repo", "base_commit", "problem_statement", "version", "FAIL_TO_PASS", "PASS_TO_PASS",
            "eval_script", "log_parser", "eval_type", "image")


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a local ``.jsonl``, ``.json`` or ``.parquet`` file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataUnavailable(f"SWE-bench data file {p} (suite.path) does not exist")
    try:
        if p.suffix == ".parquet":
            import pandas as pd

            return [{k: _plain(v) for k, v in r.items()} for r in pd.read_parquet(p).to_dict(orient="records")]
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".json":
            data = json.loads(text)
            return list(data if isinstance(data, list) else data.get("data") or data.get("rows") or [])
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (ValueError, OSError, ImportError) as exc:
        raise DataUnavailable(f"cannot read SWE-bench data file {p} (suite.path): {type(exc).__name__}: "
                              f"{exc}") from exc


def _plain(v: Any) -> Any:
    if hasattr(v, "tolist"):  # numpy arrays / scalars from parquet
        return v.tolist()
    return v


def read_hub(hf_id: str = HF_ID, split: str = "test") -> list[dict[str, Any]]:
    try:
        import datasets

        ds = datasets.load_dataset(hf_id, split=split)
    except Exception as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise DataUnavailable(
            f"could not load {hf_id} (split {split}) from the Hugging Face hub ({type(exc).__name__}: {first}); "
            f"run `gptoss-eval-data fetch swebench_verified` where the hub is reachable (later runs work with "
            f"HF_HUB_OFFLINE=1), or set suite.path to a local copy (.parquet or .jsonl in the swebench 5.x schema), e.g. "
            f"suite.path=SWE-bench_Verified.test.jsonl") from exc
    return [dict(r) for r in ds]


def read_ids(ids: Iterable[str] | None = None, ids_file: str | Path | None = None) -> list[str] | None:
    """The instance ids to keep: a list, and/or a file with one id a line (``#`` comments, blank lines ok)
    or a JSON list. None: keep every instance. A file that names no id is an error, not an empty run."""
    out: list[str] = [str(i).strip() for i in ids or [] if str(i).strip()]
    if ids_file:
        p = Path(ids_file).expanduser()
        if not p.is_file():
            raise DataUnavailable(f"instance-id file {p} (suite.instance_ids_file) does not exist")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataUnavailable(f"cannot read instance-id file {p} (suite.instance_ids_file): {exc}") from None
        if text.lstrip().startswith("["):
            try:
                listed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataUnavailable(f"instance-id file {p} starts like a JSON list but is not valid JSON "
                                      f"({exc.msg}, line {exc.lineno})") from None
            if not isinstance(listed, list) or not all(isinstance(i, str) for i in listed):
                raise DataUnavailable(f"instance-id file {p} must be a JSON list of strings or one id a line")
            from_file = [i.strip() for i in listed if i.strip()]
        else:
            from_file = [ln.split("#", 1)[0].strip() for ln in text.splitlines() if ln.split("#", 1)[0].strip()]
        if not from_file:
            raise DataUnavailable(f"instance-id file {p} (suite.instance_ids_file) names no instance id")
        out += from_file
    if not out:
        return None
    return list(dict.fromkeys(out))


def select(rows: list[dict[str, Any]], ids: list[str] | None, limit: int | None = None,
           source: str = "the dataset") -> list[dict[str, Any]]:
    """Rows whose instance_id is in ``ids`` (order of the dataset); unknown ids are an error, not a shrug."""
    if ids is not None:
        have = {r["instance_id"] for r in rows}
        missing = [i for i in ids if i not in have]
        if missing:
            raise DataUnavailable(f"{len(missing)} requested instance ids are not in {source} "
                                  f"(e.g. {missing[:3]}); check suite.ids / suite.instance_ids_file")
        wanted = set(ids)
        rows = [r for r in rows if r["instance_id"] in wanted]
    if limit:
        rows = rows[:limit]
    return rows


def check_schema(rows: list[dict[str, Any]], source: str) -> None:
    for r in rows[:1]:
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            raise DataUnavailable(
                f"{source} is not in the swebench 5.x schema: missing columns {missing} (swebench 5 needs "
                f"eval_script, log_parser, eval_type and image on every row)")


def load_instances(path: str | None = None, hf_id: str = HF_ID, split: str = "test",
                   ids: Iterable[str] | None = None, ids_file: str | None = None,
                   limit: int | None = None) -> list[dict[str, Any]]:
    """Instance rows from ``path`` (if set) or the hub, filtered to ``ids``/``ids_file`` and ``limit``."""
    rows = read_rows(path) if path else read_hub(hf_id, split)
    source = str(path) if path else f"{hf_id}:{split}"
    check_schema(rows, source)
    return select(rows, read_ids(ids, ids_file), limit, source)


def decode_tests(value: Any) -> list[str]:
    """FAIL_TO_PASS / PASS_TO_PASS as a list (they are JSON-encoded strings in the dataset)."""
    if isinstance(value, str):
        return list(json.loads(value)) if value.strip() else []
    return list(value or [])
