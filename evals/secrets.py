"""API keys by reference only, and a redaction pass over everything written from the config.

A key reaches the harness as the name of an environment variable (``api_key_env``); its value goes into the
``Authorization`` header of the requests and nowhere else. Whatever the harness writes from its config (the
manifest, Hydra's saved config and overrides) first goes through :class:`Redactor`, which replaces anything that
looks like a secret by ``***``:

- a value under a key whose name says it is a secret (``api_key``, ``token``, ``password``, ...; a name ending
  in ``_env`` is a reference, not a secret);
- a value shaped like a known key (``sk-...``, ``hf_...``, ``ghp_...``, a ``Bearer`` credential, the password in
  ``https://user:password@host``);
- the value of any environment variable that holds a secret: the ones named by an ``api_key_env``, ``HF_TOKEN``
  and every variable whose name looks secret (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "***"
# Values shorter than this are not treated as secrets when matched by value (too likely to collide).
MIN_SECRET_LEN = 8
# Placeholders that are not keys: what OpenAI-compatible servers without auth accept.
NOT_A_KEY = ("", "EMPTY", "none", "null", REDACTED)

# Config keys: a plain "token" is a secret, a "stop_token" is not.
_SECRET_NAME = re.compile(
    r"(?:^|[_\-])(?:api_?key|apikey|secret|password|passwd|authorization|credentials?|bearer)$"
    r"|^(?:(?:hf|hub|access|auth|api|bearer|github|gh|openai|hugging_?face_?hub)[_\-]?)?token$", re.IGNORECASE)
# Environment variables: any *_TOKEN, *_API_KEY, *_SECRET, *_PASSWORD is taken for a secret.
_SECRET_ENV_NAME = re.compile(r"(?:^|_)(?:API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
_SECRET_VALUE = re.compile(
    r"\bsk-[A-Za-z0-9_\-]{16,}|\bhf_[A-Za-z0-9]{20,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bxox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|(?<=Bearer )[A-Za-z0-9._~+/\-]{8,}=*")
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]+):([^@/\s]+)@")


class MissingKey(ValueError):
    """An ``api_key_env`` names an environment variable that is not set."""


def is_secret_name(name: str) -> bool:
    """True for a config key or variable name that holds a secret (``api_key``, ``HF_TOKEN``), false for a
    reference to one (``api_key_env``) or a count (``max_tokens``)."""
    last = str(name).rsplit(".", 1)[-1].lstrip("+~")
    if last.lower().endswith("_env"):
        return False
    return bool(_SECRET_NAME.search(last))


def key_from_env(var: str | None, setting: str, endpoint: str | None = None) -> str:
    """The API key held by the environment variable ``var`` (``"EMPTY"`` when ``var`` is empty: no key).

    ``setting`` names the option that named the variable, for the error (:class:`MissingKey`) when it is unset.
    """
    if not var:
        return "EMPTY"
    value = os.environ.get(str(var))
    if not value:
        raise MissingKey(f"{setting} names the environment variable {var}, which is not set: export {var}=<the API "
                         f"key of {endpoint or 'the endpoint'}>")
    return value


def literal_keys(tree: Any, path: str = "") -> list[str]:
    """Paths of ``api_key`` entries holding a literal key (the config must name a variable instead)."""
    found: list[str] = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            here = f"{path}.{key}" if path else str(key)
            if str(key).lower() in ("api_key", "apikey") and isinstance(value, str) and value not in NOT_A_KEY:
                found.append(here)
            else:
                found.extend(literal_keys(value, here))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            found.extend(literal_keys(value, f"{path}[{i}]"))
    return found


def literal_key_message(path: str) -> str:
    parent = path.rsplit(".", 1)[0] + "." if "." in path else ""
    return (f"{path} holds an API key in the config, which would be stored with the run; put the key in an "
            f"environment variable and set {parent}api_key_env=<its name> instead")


def env_names_in(tree: Any) -> list[str]:
    """Every environment variable an ``api_key_env`` of the config names."""
    names: list[str] = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            if str(key) == "api_key_env" and isinstance(value, str) and value:
                names.append(value)
            else:
                names.extend(env_names_in(value))
    elif isinstance(tree, list):
        for value in tree:
            names.extend(env_names_in(value))
    return names


def secret_env_values(extra_names: Iterable[str] = ()) -> list[str]:
    """Values of the environment variables that hold secrets, longest first (so no part of one is left)."""
    names = {n for n in os.environ if _SECRET_ENV_NAME.search(n)} | {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} | set(extra_names)
    values = {os.environ.get(n) or "" for n in names}
    return sorted((v for v in values if len(v) >= MIN_SECRET_LEN), key=len, reverse=True)


class Redactor:
    """Replaces secrets in strings and config trees by ``***``; ``found`` lists where (for one warning)."""

    def __init__(self, extra_env_names: Iterable[str] = ()) -> None:
        self.values = secret_env_values(extra_env_names)
        self.found: list[str] = []

    def text(self, text: str, where: str = "") -> str:
        out = text
        for value in self.values:
            if value in out:
                out = out.replace(value, REDACTED)
        out = _SECRET_VALUE.sub(REDACTED, out)
        out = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{REDACTED}@", out)
        if out != text:
            self.found.append(where or "a value")
        return out

    def value(self, name: str, value: Any, where: str = "") -> Any:
        """A config value under the key ``name``: all of it when the name says secret, else its secret parts."""
        if not isinstance(value, str):
            return value
        if is_secret_name(name) and value not in NOT_A_KEY and not value.startswith("${"):
            self.found.append(where or name)
            return REDACTED
        return self.text(value, where or name)

    def override(self, item: str, where: str = "an override") -> str:
        """A Hydra override ``key=value`` (``+key=value``, ``~key``): the value, by the key's name and its shape."""
        key, sep, value = item.partition("=")
        if not sep:
            return self.text(item, where)
        return key + sep + self.value(key, value, f"{where} {key}")

    def tree(self, obj: Any, path: str = "") -> Any:
        """A copy of a JSON-like tree with every secret replaced."""
        if isinstance(obj, dict):
            return {k: self.value(str(k), v, f"{path}.{k}" if path else str(k)) if isinstance(v, str)
                    else self.tree(v, f"{path}.{k}" if path else str(k)) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.text(v, f"{path}[{i}]") if isinstance(v, str) else self.tree(v, f"{path}[{i}]")
                    for i, v in enumerate(obj)]
        if isinstance(obj, str):
            return self.text(obj, path)
        return obj


class RedactingFilter(logging.Filter):
    """A log filter that replaces the values of secret environment variables in every record it passes."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor.values:
            return True
        message = record.getMessage()
        clean = message
        for value in self.redactor.values:
            clean = clean.replace(value, REDACTED)
        if clean != message:
            record.msg, record.args = clean, None
        return True
