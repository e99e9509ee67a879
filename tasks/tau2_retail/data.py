"""Loading and integrity checking of the tau2-bench retail data (spec section 10).

Two folder layouts are accepted (see :func:`resolve_data_dir`):

* the *bundle* layout (the data files in one folder)::

      db.json policy.md split_tasks.json            the database, the agent policy, the splits
      tasks.json tasks_2025-06-release.json         the two task releases (either one is enough)
      user_simulation_guidelines.md                 the simulator guidelines
      prompts.json                                  agent instruction, prompt templates, greeting, stop tokens
      tools.json (optional)                         the agent's tool schemas, dumped from tau2's own code

* a *tau2-bench checkout* (``git clone https://github.com/sierra-research/tau2-bench``, or what
  ``gptoss-eval-data fetch tau2_retail`` puts in its cache, the default when no folder is given): its root, where
  ``data/tau2/domains/retail/`` holds db/policy/tasks/splits and ``data/tau2/user_simulator/
  simulation_guidelines.md`` the guidelines. tau2 keeps the rest in code; without a ``prompts.json`` it is read
  from the checkout's sources with :mod:`ast` (nothing executed, see :func:`read_source_prompts`): the agent
  instruction and system-prompt template from ``src/tau2/agent/llm_agent.py``, the user system-prompt template
  from ``src/tau2/user/user_simulator.py``, the stop tokens from ``src/tau2/user/user_simulator_base.py`` and the
  greeting from ``src/tau2/orchestrator/orchestrator.py``.

The database is normalised once, at load, to what tau2's pydantic models dump: every record's keys in
model field order, the optional order fields present as ``null``, prices and balances as floats. Tool
outputs (``json.dumps`` of a record) and the DB hash (``sha256(json.dumps(db, sort_keys=True))``) are
then exactly tau2's.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.tau_retail.data import (
    DataCache,
    DataSet,
    TauRetailDataError,
    copy_json,
    parse_data_json,
    read_data_file,
    sha256_bytes,
)

ENV_VAR = "TAU2_RETAIL_DATA"
RELEASES: dict[str, str] = {"current": "tasks.json", "2025-06": "tasks_2025-06-release.json"}
#: reward_basis of a task that does not name one (every task of the 2025-06 release): tau2's default.
DEFAULT_REWARD_BASIS: tuple[str, ...] = ("DB", "COMMUNICATE")
REWARD_TYPES = frozenset({"DB", "COMMUNICATE", "NL_ASSERTION", "ENV_ASSERTION", "ACTION"})
SUPPORTED_REWARDS = frozenset({"DB", "COMMUNICATE", "NL_ASSERTION"})

#: sha256 of each bundle file (tau2-bench @ a2c0247; the 2025-06 tasks
#: from 37199f3). Another tau2 commit ships other bytes: ``verify=False`` (``suite.verify_data=false``) takes it.
FILE_SHA256: dict[str, str] = {
    "db.json": "413a65160adbdb5fde0ffc0015c49b6d70250b10c18128de169b597af7766765",
    "policy.md": "2c9652afbce57d6e087768d37cda64d31c53d50b3e3225cfdb791bac66466467",
    "prompts.json": "da9848b447a65179acb7b02da3a4f56e8f85266f6ae8a8eabe77e52e8c7bd660",
    "split_tasks.json": "ed0580ec52575b63fbf76568af42490da6ee7783ecb4aa81af46961291358f20",
    "tasks.json": "8e03ebce7901bd6218e7a7dc3105faa9324091a68058f7fe61c65262868812e8",
    "tasks_2025-06-release.json": "76e1fa649a359bef2d2fd30eae834b99d261d84e2e5d364856f6632fdf778dfd",
    "user_simulation_guidelines.md": "740a29dfa64d7bc08eea3bf7493575b914a63f744acbaf7f199ee07eddaf72d3",
}

#: sha256 of the prompts (see :func:`prompts_sha256`) read from tau2-bench @ a2c0247's sources or prompts.json.
PROMPTS_SHA256 = "05fd823080207b024cf67b641bc0fa10fa8d3a9e8e47b017c1f3777412abf1ad"
PROMPT_KEYS = ("agent_instruction", "agent_system_prompt_template", "user_system_prompt_template",
               "first_agent_message", "user_stop_tokens")
#: The tau2 sources the prompts are read from, relative to the checkout root.
PROMPT_SOURCES = {"agent": "src/tau2/agent/llm_agent.py", "user": "src/tau2/user/user_simulator.py",
                  "stop": "src/tau2/user/user_simulator_base.py", "greeting": "src/tau2/orchestrator/orchestrator.py"}

#: tau2 hash (see :func:`db_hash`) of the untouched, normalised database of the pinned db.json.
INITIAL_DB_HASH = "b25c9cb211f5efcaee5dd646054a73c4a9f43f4f5acc32c10713cd9f9ac20e9c"

FETCH = "gptoss-eval-data fetch tau2_retail"
HOW_TO_GET = (
    f"Run `{FETCH}` (the default folder is its cache), or point suite.data_dir / --data-dir / $TAU2_RETAIL_DATA "
    "at a tau2-bench checkout (`git clone https://github.com/sierra-research/tau2-bench`; its data/ and src/tau2/ "
    "are read) or at a folder with db.json, policy.md, split_tasks.json, tasks.json and/or "
    "tasks_2025-06-release.json, user_simulation_guidelines.md and prompts.json."
)

# Field order of tau2's pydantic models (model_dump order), for the normalisation.
_ADDRESS = ("address1", "address2", "city", "country", "state", "zip")
_PAYMENT_FIELDS = {"credit_card": ("source", "id", "brand", "last_four"), "gift_card": ("source", "id", "balance"),
                   "paypal": ("source", "id")}
_ORDER_OPTIONAL = ("cancel_reason", "exchange_items", "exchange_new_items", "exchange_payment_method_id",
                   "exchange_price_difference", "return_items", "return_payment_method_id")


class Tau2RetailDataError(TauRetailDataError):
    """A tau2 data file is missing, unreadable or does not match its pinned hash."""


def prompts_sha256(prompts: dict[str, Any]) -> str:
    """sha256 of the prompt fields the harness uses, as canonical JSON (independent of where they were read)."""
    return sha256_bytes(json.dumps({k: prompts[k] for k in PROMPT_KEYS}, sort_keys=True).encode("utf-8"))


def _strip_string(node: ast.AST | None) -> str | None:
    """The value of a string literal, or of a string literal's ``.strip()`` (how tau2 writes its templates)."""
    strip = False
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "strip" \
            and not node.args:
        node, strip = node.func.value, True
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.strip() if strip else node.value
    return None


def _module_assignments(source: str) -> dict[str, ast.AST]:
    out: dict[str, ast.AST] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out[node.target.id] = node.value
    return out


def read_source_prompts(checkout: str | os.PathLike[str]) -> dict[str, Any]:
    """The prompts tau2 keeps in code, read from a tau2-bench checkout's sources with :mod:`ast` (nothing is
    executed). The user template's guidelines placeholder is renamed to ours (``{global_user_sim_guidelines}``):
    tau2 fills it with the guidelines after putting a persona's text at ``<PERSONA_GUIDELINES>``, and retail
    runs have no persona. Raises :class:`Tau2RetailDataError` naming the file that lacks a value."""
    root = Path(checkout)
    trees: dict[str, dict[str, ast.AST]] = {}
    for key, rel in PROMPT_SOURCES.items():
        path = root / rel
        try:
            trees[key] = _module_assignments(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise Tau2RetailDataError(f"Missing tau2 source {str(path)!r} (the prompts are read from it). "
                                      f"{HOW_TO_GET}") from None
        except (OSError, SyntaxError, UnicodeDecodeError) as e:
            raise Tau2RetailDataError(f"Cannot read tau2 source {str(path)!r}: {e}") from e

    def need(key: str, name: str) -> str:
        value = _strip_string(trees[key].get(name))
        if value is None:
            raise Tau2RetailDataError(f"tau2 source {str(root / PROMPT_SOURCES[key])!r} has no string {name}")
        return value

    greeting = None
    call = trees["greeting"].get("DEFAULT_FIRST_AGENT_MESSAGE")
    if isinstance(call, ast.Call):
        greeting = next((_strip_string(k.value) for k in call.keywords if k.arg == "content"), None)
    if greeting is None:
        raise Tau2RetailDataError(f"tau2 source {str(root / PROMPT_SOURCES['greeting'])!r} has no "
                                  "DEFAULT_FIRST_AGENT_MESSAGE with a string content")
    user_template = need("user", "SYSTEM_PROMPT").replace("{global_user_sim_guidelines_with_persona}",
                                                          "{global_user_sim_guidelines}")
    return {"agent_instruction": need("agent", "AGENT_INSTRUCTION"),
            "agent_system_prompt_template": need("agent", "SYSTEM_PROMPT"),
            "user_system_prompt_template": user_template,
            "first_agent_message": greeting,
            "user_stop_tokens": [need("stop", "STOP"), need("stop", "TRANSFER"), need("stop", "OUT_OF_SCOPE")],
            "source": str(root / "src" / "tau2")}


def db_hash(db: dict[str, Any]) -> str:
    """tau2's DB hash: ``sha256(json.dumps(model_dump(), sort_keys=True))`` (the slow, whole-DB reference)."""
    return hashlib.sha256(json.dumps(db, sort_keys=True).encode("utf-8")).hexdigest()


def entry_fragment(key: str, value: Any) -> bytes:
    """One entry's piece of ``json.dumps(db, sort_keys=True)``: joined in key order they give the whole text,
    so a write re-renders only the entries it touched (see v1 ``RetailDB.hash``)."""
    return (json.dumps(key) + ": " + json.dumps(value, sort_keys=True)).encode("utf-8")


# ----------------------------------------------------------------------------------------------
# normalisation to pydantic-dump form


def address(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in _ADDRESS}


def payment_method(pm: dict[str, Any]) -> dict[str, Any]:
    out = {k: pm[k] for k in _PAYMENT_FIELDS[pm["source"]]}
    if "balance" in out:
        out["balance"] = float(out["balance"])
    return out


def normalise_user(user_id: str, u: dict[str, Any]) -> dict[str, Any]:
    return {"user_id": u.get("user_id", user_id),
            "name": {"first_name": u["name"]["first_name"], "last_name": u["name"]["last_name"]},
            "address": address(u["address"]), "email": u["email"],
            "payment_methods": {k: payment_method(v) for k, v in u["payment_methods"].items()},
            "orders": list(u["orders"])}


def normalise_order(o: dict[str, Any]) -> dict[str, Any]:
    out = {"order_id": o["order_id"], "user_id": o["user_id"], "address": address(o["address"]),
           "items": [{"name": it["name"], "product_id": it["product_id"], "item_id": it["item_id"],
                      "price": float(it["price"]), "options": dict(it["options"])} for it in o["items"]],
           "status": o["status"],
           "fulfillments": [{"tracking_id": list(f["tracking_id"]), "item_ids": list(f["item_ids"])}
                            for f in o["fulfillments"]],
           "payment_history": [{"transaction_type": p["transaction_type"], "amount": float(p["amount"]),
                                "payment_method_id": p["payment_method_id"]} for p in o["payment_history"]]}
    for k in _ORDER_OPTIONAL:
        out[k] = o.get(k)
    if out["exchange_price_difference"] is not None:
        out["exchange_price_difference"] = float(out["exchange_price_difference"])
    return out


def normalise_product(p: dict[str, Any]) -> dict[str, Any]:
    return {"name": p["name"], "product_id": p["product_id"],
            "variants": {k: {"item_id": v["item_id"], "options": dict(v["options"]), "available": bool(v["available"]),
                             "price": float(v["price"])} for k, v in p["variants"].items()}}


# ----------------------------------------------------------------------------------------------
# tasks


@dataclass(frozen=True)
class Tau2Action:
    action_id: str
    name: str
    arguments: dict[str, Any]
    requestor: str = "assistant"


@dataclass(frozen=True)
class Tau2Task:
    """One tau2 retail task (the fields the harness uses; ``raw`` keeps the record)."""

    id: str
    release: str
    instructions: dict[str, Any]
    persona: str | None
    actions: tuple[Tau2Action, ...]
    communicate_info: tuple[str, ...]
    nl_assertions: tuple[str, ...]
    reward_basis: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def task_id(self) -> str:
        return self.id


def parse_task(record: dict[str, Any], release: str) -> Tau2Task:
    crit = record.get("evaluation_criteria") or {}
    scenario = record["user_scenario"]
    basis = tuple(crit.get("reward_basis") or DEFAULT_REWARD_BASIS)
    return Tau2Task(
        id=str(record["id"]), release=release, instructions=scenario["instructions"],
        persona=scenario.get("persona"),
        actions=tuple(Tau2Action(str(a.get("action_id", "")), a["name"], dict(a.get("arguments") or {}),
                                 a.get("requestor") or "assistant") for a in crit.get("actions") or []),
        communicate_info=tuple(crit.get("communicate_info") or ()), nl_assertions=tuple(crit.get("nl_assertions") or ()),
        reward_basis=basis, raw=record)


# ----------------------------------------------------------------------------------------------
# folder resolution and the loaded data set


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, Path | None]:
    """``(retail folder, tau2-bench checkout root or None)``."""
    if data_dir is None:
        data_dir = os.environ.get(ENV_VAR) or _cached_checkout()
    p = Path(data_dir).expanduser()
    if not p.is_dir():
        raise Tau2RetailDataError(f"tau2 retail data folder {str(p)!r} does not exist. {HOW_TO_GET}")
    for root in (p, *p.parents[:4]):
        if (root / "data" / "tau2" / "domains" / "retail" / "db.json").exists() and (
                p == root or p.is_relative_to(root / "data")):
            return root / "data" / "tau2" / "domains" / "retail", root
    if (p / "db.json").exists() or (p / "tasks.json").exists() or (p / "split_tasks.json").exists():
        return p, None
    raise Tau2RetailDataError(f"{str(p)!r} is neither a tau2 retail data folder (db.json, tasks.json, ...) nor a "
                              f"tau2-bench checkout (data/tau2/domains/retail/db.json). {HOW_TO_GET}")


def _cached_checkout() -> Path:
    """The ``gptoss-eval-data`` cache folder of tau2 retail (pinned revision); missing: one line saying how to
    fetch it."""
    from runners.data import DataFetchError, cached_dir

    try:
        return cached_dir("tau2_retail", f"no data folder given and ${ENV_VAR} is not set")
    except DataFetchError as e:
        raise Tau2RetailDataError(str(e)) from None


@dataclass
class Tau2Data(DataSet):
    """Pristine, read-only tau2 retail data of one folder, shared by every episode (see :func:`load_data`)."""

    root: Path
    checkout: Path | None
    verify: bool = True
    orders: dict[str, Any] = field(default_factory=dict)
    products: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    initial_hash: str = ""
    chunks: list[bytes] = field(default_factory=list, repr=False)
    chunk_index: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def path(self, name: str) -> Path:
        if name == "user_simulation_guidelines.md" and self.checkout is not None:
            upstream = self.checkout / "data" / "tau2" / "user_simulator" / "simulation_guidelines.md"
            if upstream.exists() or not (self.root / name).exists():
                return upstream
        return self.root / name

    def read_bytes(self, name: str) -> bytes:
        path = self.path(name)
        expected = FILE_SHA256.get(name)
        hint = (" A folder of data files needs prompts.json; a tau2-bench checkout has the prompts in its "
                "src/tau2/ sources instead." if name == "prompts.json" else "")
        raw = read_data_file(path, expected, Tau2RetailDataError, "tau2 retail data file", HOW_TO_GET, hint)
        if self.verify and expected is not None:
            got = sha256_bytes(raw)
            if got != expected:
                raise Tau2RetailDataError(
                    f"tau2 retail data file {str(path)!r} has sha256 {got}, expected {expected} (tau2-bench @ a2c0247). "
                    f"Re-copy it, or set suite.verify_data=false to run another tau2 version.")
        return raw

    def read_json(self, name: str) -> Any:
        return parse_data_json(self.read_bytes(name), self.path(name), FILE_SHA256.get(name), Tau2RetailDataError,
                               "tau2 retail data file")

    def _load_db(self) -> None:
        db = self.read_json("db.json")
        try:
            self.products = {k: normalise_product(v) for k, v in db["products"].items()}
            self.users = {k: normalise_user(k, v) for k, v in db["users"].items()}
            self.orders = {k: normalise_order(v) for k, v in db["orders"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise Tau2RetailDataError(f"tau2 retail database {str(self.path('db.json'))!r} has an unexpected record "
                                      f"shape ({type(e).__name__}: {e})") from e
        self._build_chunks()
        if self.verify and self.initial_hash != INITIAL_DB_HASH:
            raise Tau2RetailDataError(f"tau2 retail database {str(self.path('db.json'))!r} has hash {self.initial_hash}, "
                                      f"expected {INITIAL_DB_HASH}; set suite.verify_data=false for another version")

    def _build_chunks(self) -> None:
        """Split ``json.dumps(db, sort_keys=True)`` into one chunk per entry (plus the punctuation between)."""
        chunks: list[bytes] = [b"{"]
        index: dict[tuple[str, str], int] = {}
        for si, section in enumerate(("orders", "products", "users")):  # sorted, as sort_keys puts them
            chunks.append(((", " if si else "") + json.dumps(section) + ": {").encode())
            table: dict[str, Any] = getattr(self, section)
            for i, key in enumerate(sorted(table)):
                if i:
                    chunks.append(b", ")
                index[(section, key)] = len(chunks)
                chunks.append(entry_fragment(key, table[key]))
            chunks.append(b"}")
        chunks.append(b"}")
        self.chunks, self.chunk_index = chunks, index
        self.initial_hash = hashlib.sha256(b"".join(chunks)).hexdigest()

    def to_dict(self, copy: bool = True) -> dict[str, Any]:
        db = {"products": self.products, "users": self.users, "orders": self.orders}
        return copy_json(db) if copy else db

    # -- other files -------------------------------------------------------------------------
    def tasks(self, release: str = "current") -> list[Tau2Task]:
        if release not in RELEASES:
            raise ValueError(f"unknown tau2 task release {release!r}; expected one of {sorted(RELEASES)}")

        def build() -> list[Tau2Task]:
            name = RELEASES[release]
            raw = self.read_json(name)
            try:
                tasks = [parse_task(t, release) for t in raw]
            except (KeyError, TypeError, AttributeError) as e:
                raise Tau2RetailDataError(f"Malformed task record in {str(self.path(name))!r}: {e!r}") from e
            unknown = sorted({b for t in tasks for b in t.reward_basis} - REWARD_TYPES)
            if unknown:
                raise Tau2RetailDataError(f"{str(self.path(name))!r}: unknown reward_basis {unknown}")
            return tasks

        return self.cached(f"tasks:{release}", build)

    @property
    def splits(self) -> dict[str, list[str]]:
        def build() -> dict[str, list[str]]:
            raw = self.read_json("split_tasks.json")
            if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
                raise Tau2RetailDataError(f"{str(self.path('split_tasks.json'))!r}: expected {{split: [task ids]}}")
            return {k: [str(i) for i in v] for k, v in raw.items()}

        return self.cached("splits", build)

    @property
    def policy(self) -> str:
        return self.cached("policy", lambda: self.read_bytes("policy.md").decode("utf-8"))

    @property
    def prompts(self) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            if self.checkout is not None and not self.path("prompts.json").exists():
                p = read_source_prompts(self.checkout)
                where = str(self.checkout / "src" / "tau2")
            else:
                p = self.read_json("prompts.json")
                where = str(self.path("prompts.json"))
                missing = [k for k in PROMPT_KEYS if k not in p]
                if missing:
                    raise Tau2RetailDataError(f"{where!r} lacks {missing}")
            got = prompts_sha256(p)
            if self.verify and got != PROMPTS_SHA256:
                raise Tau2RetailDataError(f"tau2 prompts read from {where!r} have sha256 {got}, expected "
                                          f"{PROMPTS_SHA256} (tau2-bench @ a2c0247); set suite.verify_data=false "
                                          "to run another tau2 version")
            return p

        return self.cached("prompts", build)

    @property
    def user_guidelines(self) -> str:
        return self.cached("guidelines", lambda: self.read_bytes("user_simulation_guidelines.md").decode("utf-8"))

    @property
    def tools_json(self) -> list[dict[str, Any]] | None:
        """Tool schemas dumped from tau2's own code (optional ``tools.json``), else None."""
        def build() -> list[dict[str, Any]] | None:
            path = self.root / "tools.json"
            if not path.exists():
                return None
            try:
                return json.loads(path.read_bytes())
            except ValueError as e:
                raise Tau2RetailDataError(f"{str(path)!r} is not valid JSON ({e})") from e

        return self.cached("tools_json", build)


_DATA_CACHE: DataCache[Tau2Data] = DataCache()


def load_data(data_dir: str | os.PathLike[str] | None = None, *, verify: bool = True) -> Tau2Data:
    """Load (once per folder, then cached) the pristine tau2 retail data of a folder."""
    root, checkout = resolve_data_dir(data_dir)
    return _DATA_CACHE.get(root, verify, lambda: Tau2Data(root=root, checkout=checkout, verify=verify))


def clear_data_cache() -> None:
    """Forget loaded folders (used by tests that alter files)."""
    _DATA_CACHE.clear()
