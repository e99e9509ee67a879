"""Loading and integrity checking of the tau-bench v1 retail data.

Two folder layouts are accepted (see :func:`resolve_data_dir`):

* the *bundle* layout (the data as JSON files in one folder)::

      users.json orders.json products.json            the database
      tasks_test.json tasks_dev.json tasks_train.json  tasks (JSON, ``kwargs`` actions)
      wiki.md tools.json user_sim_prompt.json          agent policy, tool schemas, user-sim template
      gt_db_hashes.json                                target hashes (only needed by the selfcheck)

* an *upstream checkout* of sierra-research/tau-bench: the folder
  ``tau_bench/envs/retail`` (or its ``data`` sub-folder, or the repository root).  Upstream ships the
  database as ``tau_bench/envs/retail/data/{users,orders,products}.json``, the tasks as Python modules
  ``tau_bench/envs/retail/tasks_{test,dev,train}.py``, the policy as ``tau_bench/envs/retail/wiki.md``
  and the tool schemas inside ``tau_bench/envs/retail/tools/*.py`` (``get_info()``).  Tasks and tool
  schemas are read from the Python sources with :mod:`ast` (nothing is executed).  Upstream has no
  ``user_sim_prompt.json``: the simulator template is then read the same way from the ``llm`` strategy's
  ``build_system_prompt`` in ``tau_bench/envs/user.py`` and must equal the v1 template (pinned sha256; later
  upstream commits added rules to it). Upstream has no ``gt_db_hashes.json`` either (only the selfcheck
  needs it). ``gptoss-eval-data fetch tau_retail`` puts the upstream files at commit 59a200c in its cache, which
  is the folder read when none is given.

Every file of the bundle layout is checked against a pinned sha256; a missing or modified file raises
:class:`TauRetailDataError` naming the file and the expected hash.  For the upstream layout the
database is checked by its canonical DB hash and the tasks by a canonical content hash.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

ENV_VAR = "TAU_RETAIL_DATA"
SPLITS: tuple[str, ...] = ("test", "dev", "train")
SPLIT_SIZES: dict[str, int] = {"test": 115, "dev": 20, "train": 500}
DB_SECTIONS: tuple[str, ...] = ("orders", "products", "users")

#: sha256 of each file of the bundle layout (tau-bench @ 59a200c).
FILE_SHA256: dict[str, str] = {
    "gt_db_hashes.json": "ba486d01c1fefef3aeb0efd2f41ab6b4823b105c84a195f0a4c32a8a93411943",
    "orders.json": "2598a12586d28f2d6bd16bc86f4c800029b6af18e0abb5c475ef5c869c11ced1",
    "products.json": "a9eabcc1a9742c5f5288c2779acce52b9308423383ed24706bbaf0889f762a0f",
    "rules.json": "1befa3a38c5ae15562307af78bdeb19f01663db80ea147038daa4bc0b005d9a6",
    "tasks_dev.json": "586523860d58aea22c51f9094d4b80ae80fbac186243a678c69fac3aa84974af",
    "tasks_test.json": "120112510864e5c7d5cf6563db2d33ddd6c0190eb18f70d264791298d886ee58",
    "tasks_train.json": "abdcac69b80a899468b5643cc07b3e649c67a01b3df0e1378d4aa290126bb516",
    "tools.json": "833272a8817f6fa3eb54fc3694e0ce16e9685c72bf4ecc2b35639bd564acd235",
    "user_sim_prompt.json": "145d725cdd6f8e3052d172da9268617c46cc1bae51204f54e626cac7b7df4ec9",
    "users.json": "6f4fd104cc5e80b92166c4035315c31532c6cea52a90dcdf18425ee7f87c2b82",
    "wiki.md": "d539fd2a46a8b8dd2e934ff9ed92f43e9f6b56bc7a718db8d2803ba8ad8f6bf7",
}

#: sha256 of the v1 ``llm`` user-simulator template (``system_prompt_template`` of user_sim_prompt.json).
USER_SIM_TEMPLATE_SHA256 = "86c3bd3439bedb76a5402c29851244780b54e1b41bb576bbf407ff94d65ebe6e"
USER_SIM_HOW_TO_GET = (
    "Put user_sim_prompt.json next to the data, or point at a whole tau-bench checkout at commit 59a200c "
    "(`gptoss-eval-data fetch tau_retail` makes one), whose tau_bench/envs/user.py holds the template."
)

#: Canonical hash (spec section 6) of the untouched database.
INITIAL_DB_HASH = "5a4b2cb59f4d12dea7e4adff24a7f8fada510ead49372ea4a729a82bbb5f49b5"

#: Content hash of each split's tasks (see :func:`tasks_content_hash`), format independent; used to
#: check tasks parsed from an upstream checkout's ``tasks_*.py``.
TASKS_CONTENT_SHA256: dict[str, str] = {
    "test": "0855a423e0d0d9b7e606c395590b4627309db908e6077c6105673866723b4284",
    "dev": "9bb4787db9c6b0a3b98383dcc2807eeac038700e65de7591fa6855cd561474ca",
    "train": "04f678443ca087ae17d88ea32eebd17ca553c192cceb2be02a53bc91b8912e0f",
}

HOW_TO_GET = (
    "Run `gptoss-eval-data fetch tau_retail` (the default folder is its cache), or point "
    "RetailEnv(data_dir=...) / --data-dir / the TAU_RETAIL_DATA environment variable at either "
    "(a) a folder in the bundle format (users.json, orders.json, products.json, tasks_{test,dev,train}.json, "
    "wiki.md, tools.json, user_sim_prompt.json, gt_db_hashes.json), "
    "or (b) an upstream checkout: `git clone https://github.com/sierra-research/tau-bench` and use "
    "tau-bench/tau_bench/envs/retail (database in data/{users,orders,products}.json, tasks in tasks_*.py, "
    "policy in wiki.md, tool schemas in tools/*.py; the user-simulator template and gt hashes are not "
    "shipped upstream as files)."
)


class TauRetailDataError(RuntimeError):
    """A data file is missing, unreadable or does not match its pinned hash."""


@dataclass(frozen=True)
class Action:
    """One ground-truth action of a task."""

    name: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class RetailTask:
    """A v1 retail task. ``index`` is the task id (position in its split)."""

    index: int
    split: str
    user_id: str
    instruction: str
    actions: tuple[Action, ...]
    outputs: tuple[str, ...]
    annotator: str = ""

    @property
    def task_id(self) -> str:
        return f"{self.split}/{self.index}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tasks_content_hash(tasks: Iterable[RetailTask]) -> str:
    """Canonical content hash of a task list (independent of the source file format)."""
    payload = [
        [t.user_id, t.instruction, [[a.name, a.kwargs] for a in t.actions], list(t.outputs)] for t in tasks
    ]
    return sha256_bytes(json.dumps(payload, sort_keys=True).encode("utf-8"))


# ----------------------------------------------------------------------------------------------
# canonical hashing helpers (spec section 6)


def to_canonical(value: Any) -> Any:
    """dict -> tuple of (key, value) pairs sorted by key; list -> tuple; scalars unchanged."""
    if isinstance(value, dict):
        return tuple((k, to_canonical(v)) for k, v in sorted(value.items()))
    if isinstance(value, list):
        return tuple(to_canonical(v) for v in value)
    if isinstance(value, set):  # not produced by JSON; kept for parity with the reference helper
        return tuple(sorted(to_canonical(v) for v in value))
    return value


def canonical_hash(db: dict[str, Any]) -> str:
    """Reference (slow, full) DB hash: sha256 of ``str`` of the canonical form."""
    return sha256_bytes(str(to_canonical(db)).encode("utf-8"))


def entry_fragment(key: str, value: Any) -> bytes:
    """``str`` of the canonical ``(key, value)`` pair of one DB entry, UTF-8 encoded."""
    return str((key, to_canonical(value))).encode("utf-8")


def copy_json(value: Any) -> Any:
    """Fast deep copy of a JSON-like value (dict/list/scalars)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


# ----------------------------------------------------------------------------------------------
# file access and caching, shared with tau2 (tasks.tau2_retail.data)


def read_data_file(path: Path, expected: str | None, error: type[Exception], what: str, how_to_get: str,
                   hint: str = "") -> bytes:
    """The bytes of a data file; a missing or unreadable one raises ``error`` naming it and its pinned sha256."""
    exp_txt = f" (expected sha256 {expected})" if expected else ""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise error(f"Missing {what} {str(path)!r}{exp_txt}.{hint} {how_to_get}") from None
    except OSError as e:
        raise error(f"Cannot read {what} {str(path)!r}{exp_txt}: {e}") from e


def parse_data_json(raw: bytes, path: Path, expected: str | None, error: type[Exception], what: str) -> Any:
    """A data file's JSON; text that is not JSON raises ``error`` naming the file and its pinned sha256."""
    try:
        return json.loads(raw)
    except ValueError as e:
        raise error(f"{what} {str(path)!r} is not valid JSON ({e}); expected sha256 {expected or '?'}") from e


class DataSet:
    """A loaded data folder: values derived from its files are built once (thread-safe) by :meth:`cached`.
    Subclasses are dataclasses with the fields ``_cache`` and ``_lock`` and a ``_load_db`` method."""

    _cache: dict[str, Any]
    _lock: threading.RLock

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def _load_db(self) -> None:
        raise NotImplementedError


_Set = TypeVar("_Set", bound=DataSet)


class DataCache(Generic[_Set]):
    """The data sets loaded in this process, one per (folder, verify): each folder is read once."""

    def __init__(self) -> None:
        self._sets: dict[tuple[str, bool], _Set] = {}
        self._lock = threading.Lock()

    def get(self, root: Path, verify: bool, make: Callable[[], _Set]) -> _Set:
        """The set of ``root``; the first time, ``make()`` with its database loaded."""
        key = (str(root.resolve()), verify)
        with self._lock:
            data = self._sets.get(key)
            if data is None:
                data = make()
                data._load_db()
                self._sets[key] = data
            return data

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()


# ----------------------------------------------------------------------------------------------
# folder resolution


def _cached_checkout() -> Path:
    """The ``gptoss-eval-data`` cache folder of v1 retail (pinned revision); missing: one line saying how to get it."""
    from runners.data import DataFetchError, cached_dir

    try:
        return cached_dir("tau_retail", f"no data folder given and ${ENV_VAR} is not set")
    except DataFetchError as e:
        raise TauRetailDataError(str(e)) from None


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Return ``(folder, layout)`` with layout ``"bundle"`` or ``"upstream"``.

    ``folder`` is the bundle folder, or for the upstream layout the ``tau_bench/envs/retail`` folder.
    """
    if data_dir is None:
        data_dir = os.environ.get(ENV_VAR) or _cached_checkout()
    p = Path(data_dir).expanduser()
    if not p.is_dir():
        raise TauRetailDataError(f"Tau-bench retail data folder {str(p)!r} does not exist. {HOW_TO_GET}")
    if (p / "tasks_test.json").exists() or (p / "tools.json").exists():
        return p, "bundle"
    for cand in (p, p.parent, p / "tau_bench" / "envs" / "retail"):
        if (cand / "data" / "orders.json").exists() and (cand / "tasks_test.py").exists():
            return cand, "upstream"
    if (p / "users.json").exists() or (p / "orders.json").exists():
        return p, "bundle"  # partial bundle: the per-file checks will name what is missing
    raise TauRetailDataError(
        f"{str(p)!r} is neither a bundle folder (tasks_test.json, tools.json, ...) nor an upstream "
        f"tau-bench checkout (tau_bench/envs/retail/data/orders.json). {HOW_TO_GET}"
    )


# ----------------------------------------------------------------------------------------------
# upstream (Python source) readers, via ast only


def _literal(node: ast.AST) -> Any:
    return ast.literal_eval(node)


def _call_kwargs(call: ast.Call) -> dict[str, ast.AST]:
    return {kw.arg: kw.value for kw in call.keywords if kw.arg is not None}


def parse_upstream_tasks(source: str, split: str) -> list[RetailTask]:
    """Read ``TASKS = [Task(...), ...]`` from an upstream ``tasks_*.py`` without executing it."""
    tree = ast.parse(source)
    tasks_node: ast.AST | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id.upper().startswith("TASKS") for t in targets):
                tasks_node = node.value
    if not isinstance(tasks_node, ast.List):
        raise ValueError("no TASKS list found")
    out: list[RetailTask] = []
    for i, el in enumerate(tasks_node.elts):
        if not isinstance(el, ast.Call):
            raise ValueError(f"task {i} is not a Task(...) call")
        kw = _call_kwargs(el)
        actions: list[Action] = []
        acts = kw.get("actions")
        if isinstance(acts, ast.List):
            for a in acts.elts:
                if not isinstance(a, ast.Call):
                    raise ValueError(f"task {i}: action is not an Action(...) call")
                akw = _call_kwargs(a)
                args = akw.get("kwargs", akw.get("arguments"))
                actions.append(Action(name=_literal(akw["name"]), kwargs=_literal(args) if args else {}))
        out.append(
            RetailTask(
                index=i,
                split=split,
                user_id=_literal(kw["user_id"]) if "user_id" in kw else "",
                instruction=_literal(kw["instruction"]) if "instruction" in kw else "",
                actions=tuple(actions),
                outputs=tuple(_literal(kw["outputs"])) if "outputs" in kw else (),
                annotator=str(_literal(kw["annotator"])) if "annotator" in kw else "",
            )
        )
    return out


def parse_upstream_tool_schemas(tools_dir: Path) -> list[dict[str, Any]]:
    """Read the 16 ``get_info()`` dict literals from upstream ``tools/*.py`` in ``ALL_TOOLS`` order."""
    init = ast.parse((tools_dir / "__init__.py").read_text(encoding="utf-8"))
    module_of: dict[str, str] = {}
    order: list[str] = []
    for node in init.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                module_of[alias.asname or alias.name] = node.module.lstrip(".")
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            order = [e.id for e in node.value.elts if isinstance(e, ast.Name)]
    schemas: list[dict[str, Any]] = []
    for cls_name in order:
        tree = ast.parse((tools_dir / f"{module_of[cls_name]}.py").read_text(encoding="utf-8"))
        found = None
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "get_info":
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Return) and sub.value is not None:
                        found = _literal(sub.value)
        if found is None:
            raise ValueError(f"no get_info() literal in tools/{module_of[cls_name]}.py")
        schemas.append(found)
    return schemas


def parse_upstream_user_sim(source: str) -> str:
    """The ``llm`` simulator's system-prompt template from upstream ``user.py`` (ast only): the f-string that
    ``LLMUserSimulationEnv.build_system_prompt`` returns, with ``{instruction_display}`` left as a placeholder."""
    tree = ast.parse(source)
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and cls.name == "LLMUserSimulationEnv":
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == "build_system_prompt":
                    ret = next((n.value for n in ast.walk(fn) if isinstance(n, ast.Return)), None)
                    if not isinstance(ret, ast.JoinedStr):
                        break
                    parts = []
                    for v in ret.values:
                        if isinstance(v, ast.Constant) and isinstance(v.value, str):
                            parts.append(v.value)
                        elif isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name):
                            parts.append("{" + v.value.id + "}")
                        else:
                            raise ValueError("unexpected expression in the template f-string")
                    return "".join(parts)
    raise ValueError("no LLMUserSimulationEnv.build_system_prompt returning an f-string")


# ----------------------------------------------------------------------------------------------
# the loaded data set


@dataclass
class RetailData(DataSet):
    """Pristine, read-only data of one folder. Shared by all environments (see :func:`load_data`)."""

    root: Path
    layout: str
    verify: bool = True
    orders: dict[str, Any] = field(default_factory=dict)
    products: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # canonical-hash scaffolding: chunks whose concatenation is str(canonical(db)); entry -> chunk index
    chunks: list[bytes] = field(default_factory=list, repr=False)
    chunk_index: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    initial_hash: str = ""

    # -- file access -------------------------------------------------------------------------
    def _path(self, name: str) -> Path:
        if self.layout == "bundle":
            return self.root / name
        if name in ("users.json", "orders.json", "products.json"):
            return self.root / "data" / name
        return self.root / name

    def read_bytes(self, name: str, *, check: bool = True) -> bytes:
        """Read a bundle file, checking its pinned sha256 (bundle layout, ``verify=True``)."""
        path = self._path(name)
        expected = FILE_SHA256.get(name)
        raw = read_data_file(path, expected, TauRetailDataError, "tau-bench retail data file", HOW_TO_GET)
        if check and self.verify and self.layout == "bundle" and expected is not None:
            got = sha256_bytes(raw)
            if got != expected:
                raise TauRetailDataError(
                    f"Corrupted tau-bench retail data file {str(path)!r}: sha256 {got}, expected {expected} "
                    f"(tau-bench v1 retail @ 59a200c). Re-copy the file. {HOW_TO_GET}"
                )
        return raw

    def read_json(self, name: str) -> Any:
        return parse_data_json(self.read_bytes(name), self._path(name), FILE_SHA256.get(name), TauRetailDataError,
                               "Tau-bench retail data file")

    # -- database ----------------------------------------------------------------------------
    def _load_db(self) -> None:
        for section in DB_SECTIONS:
            obj = self.read_json(f"{section}.json")
            if not isinstance(obj, dict):
                raise TauRetailDataError(f"{str(self._path(section + '.json'))!r}: expected a JSON object")
            setattr(self, section, obj)
        self._build_chunks()
        if self.verify and self.initial_hash != INITIAL_DB_HASH:
            raise TauRetailDataError(
                f"Tau-bench retail database in {str(self.root)!r} has canonical hash {self.initial_hash}, "
                f"expected {INITIAL_DB_HASH} (users.json / orders.json / products.json differ from v1). {HOW_TO_GET}"
            )

    def _build_chunks(self) -> None:
        """Split ``str(canonical(db))`` into chunks, one per DB entry, so single entries can be swapped."""
        chunks: list[bytes] = [b"("]
        index: dict[tuple[str, str], int] = {}
        for si, section in enumerate(sorted(DB_SECTIONS)):  # 3 sections: outer tuple is "(a, b, c)"
            if si:
                chunks.append(b", ")
            chunks.append(b"(" + repr(section).encode("utf-8") + b", ")
            d: dict[str, Any] = getattr(self, section)
            keys = sorted(d)
            chunks.append(b"(")
            for i, k in enumerate(keys):
                if i:
                    chunks.append(b", ")
                index[(section, k)] = len(chunks)
                chunks.append(entry_fragment(k, d[k]))
            chunks.append(b",))" if len(keys) == 1 else b"))")
        chunks.append(b")")
        self.chunks = chunks
        self.chunk_index = index
        self.initial_hash = sha256_bytes(b"".join(chunks))

    # -- other files -------------------------------------------------------------------------
    def tasks(self, split: str) -> list[RetailTask]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return self.cached(f"tasks:{split}", lambda: self._load_tasks(split))

    def _load_tasks(self, split: str) -> list[RetailTask]:
        if self.layout == "upstream":
            name = f"tasks_{split}.py"
            path = self._path(name)
            try:
                tasks = parse_upstream_tasks(path.read_text(encoding="utf-8"), split)
            except FileNotFoundError:
                raise TauRetailDataError(f"Missing upstream task file {str(path)!r}. {HOW_TO_GET}") from None
            except (SyntaxError, ValueError, KeyError) as e:
                raise TauRetailDataError(f"Cannot parse upstream task file {str(path)!r}: {e}") from e
        else:
            name = f"tasks_{split}.json"
            raw = self.read_json(name)
            try:
                tasks = [
                    RetailTask(
                        index=i,
                        split=split,
                        user_id=t["user_id"],
                        instruction=t["instruction"],
                        actions=tuple(
                            Action(a["name"], dict(a.get("kwargs", a.get("arguments", {}))))
                            for a in t["actions"]
                        ),
                        outputs=tuple(t.get("outputs", [])),
                        annotator=str(t.get("annotator", "")),
                    )
                    for i, t in enumerate(raw)
                ]
            except (KeyError, TypeError) as e:
                raise TauRetailDataError(f"Malformed task record in {str(self._path(name))!r}: {e!r}") from e
        if self.verify and len(tasks) != SPLIT_SIZES[split]:
            raise TauRetailDataError(
                f"{str(self._path(name))!r} has {len(tasks)} tasks, expected {SPLIT_SIZES[split]} for split {split!r}"
            )
        if self.verify and self.layout == "upstream":
            expected = TASKS_CONTENT_SHA256.get(split)
            got = tasks_content_hash(tasks)
            if expected and got != expected:
                raise TauRetailDataError(
                    f"Tasks parsed from {str(self._path(name))!r} have content hash {got}, expected {expected}"
                )
        return tasks

    @property
    def wiki(self) -> str:
        """The agent policy (``wiki.md``), verbatim."""
        return self.cached("wiki", lambda: self.read_bytes("wiki.md").decode("utf-8"))

    @property
    def tools_schema(self) -> list[dict[str, Any]]:
        """The 16 tool schemas (OpenAI function format) in upstream order."""

        def build() -> list[dict[str, Any]]:
            if self.layout == "upstream" and not (self.root / "tools.json").exists():
                try:
                    return parse_upstream_tool_schemas(self.root / "tools")
                except (OSError, SyntaxError, ValueError, KeyError) as e:
                    raise TauRetailDataError(
                        f"Cannot read tool schemas from {str(self.root / 'tools')!r}: {e}"
                    ) from e
            return self.read_json("tools.json")

        return self.cached("tools", build)

    @property
    def user_sim(self) -> dict[str, Any]:
        """Contents of ``user_sim_prompt.json`` (template, opening turn, stop token); for an upstream checkout
        without that file, the template read from ``tau_bench/envs/user.py`` (see the module docstring)."""
        return self.cached("user_sim", self._load_user_sim)

    def _load_user_sim(self) -> dict[str, Any]:
        path = self._path("user_sim_prompt.json")
        if self.layout == "bundle" or path.exists():
            try:
                return self.read_json("user_sim_prompt.json")
            except TauRetailDataError as exc:
                if self.layout == "bundle":
                    raise TauRetailDataError(f"{exc} {USER_SIM_HOW_TO_GET}") from exc
                raise
        user_py = self.root.parent / "user.py"  # tau_bench/envs/user.py beside tau_bench/envs/retail
        missing = (f"Missing tau-bench retail user-simulator template {str(path)!r} (expected sha256 "
                   f"{FILE_SHA256['user_sim_prompt.json']}); upstream ships it as code only")
        try:
            template = parse_upstream_user_sim(user_py.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TauRetailDataError(f"{missing}, and {str(user_py)!r} is not there. {USER_SIM_HOW_TO_GET}") from None
        except (OSError, SyntaxError, ValueError) as e:
            raise TauRetailDataError(f"{missing}, and {str(user_py)!r} cannot be read: {e}. {USER_SIM_HOW_TO_GET}") from e
        got = sha256_bytes(template.encode("utf-8"))
        if self.verify and got != USER_SIM_TEMPLATE_SHA256:
            raise TauRetailDataError(f"{missing}, and the template in {str(user_py)!r} is not v1's (sha256 {got}, "
                                     f"expected {USER_SIM_TEMPLATE_SHA256}). {USER_SIM_HOW_TO_GET}")
        return {"system_prompt_template": template, "source": str(user_py)}

    @property
    def gt_db_hashes(self) -> dict[str, Any]:
        """Contents of ``gt_db_hashes.json`` (target hash per task per split)."""
        return self.cached("gt", lambda: self.read_json("gt_db_hashes.json"))


_DATA_CACHE: DataCache[RetailData] = DataCache()


def load_data(data_dir: str | os.PathLike[str] | None = None, *, verify: bool = True) -> RetailData:
    """Load (once per folder, then cached) the pristine data of a folder; see module docstring."""
    root, layout = resolve_data_dir(data_dir)
    return _DATA_CACHE.get(root, verify, lambda: RetailData(root=root, layout=layout, verify=verify))


def clear_data_cache() -> None:
    """Forget loaded folders (used by tests that corrupt files)."""
    _DATA_CACHE.clear()
