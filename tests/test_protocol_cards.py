"""The README's protocol cards stay true to the config: every option a card names exists for its suite.

A card is a `### ...` heading under `## Protocol cards` naming its suites as `suite=NAME`, then a table
| point | published | ours | to restore |. Options are the backticked `key=value` spans of the table. Each one
is checked twice: the key exists in the suite's composed config (a dotted path, or a config group for
`client=`, `suite/models=`...), and Hydra composes the suite with that override. A renamed or removed option
fails here, naming the card and the option. A value in the "ours" column must also be the suite's default, so a
changed default fails until the card says the new one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import OmegaConf

from runners.cli import register_resolvers

README = Path(__file__).resolve().parents[1] / "README.md"
OPTION = re.compile(r"`([A-Za-z_][\w/]*(?:\.[\w]+)*)=([^`\s]*)`")
_ABSENT = object()
GROUPS = {"client", "effort", "model", "server", "paths", "experiment"}

# the suites the issue asks a card for, and the points each card must cover (first column, lowercased)
EXPECTED = {
    "aime2024": {"prompt", "sampling", "budget", "repeats", "data", "grader", "tools"},
    "aime2024_tools": {"tools", "tool environment", "tool-call budget"},
    "codeforces": {"prompt", "sampling", "repeats", "data", "judge", "elo method", "tools"},
    "swebench_verified": {"data split", "scaffold and prompt", "sampling", "repeats", "budgets", "grader"},
    "tau_retail": {"data split", "simulator", "agent sampling", "repeats", "budget", "grader"},
    "tau2_retail": {"data split", "simulator", "agent sampling", "repeats", "budgets", "grader"},
    "gpqa_diamond": {"data", "prompt", "grader", "sampling", "repeats"},
}


def _cards() -> list[dict]:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Protocol cards\n")
    end = text.find("\n## ", start + 1)
    cards = []
    for chunk in text[start:end].split("\n### ")[1:]:
        heading, body = chunk.split("\n", 1)
        rows = []
        for line in body.splitlines():
            if not line.startswith("|") or set(line) <= set("|-: "):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows.append(cells)
        header, rows = rows[0], rows[1:]
        cards.append({"heading": heading, "suites": re.findall(r"`suite=(\w+)`", heading), "header": header,
                      "rows": rows, "options": OPTION.findall(body)})
    return cards


CARDS = _cards()


@pytest.fixture(scope="module")
def compose_suite():
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        yield lambda suite, extra=(), hydra=False: compose("config", overrides=[f"suite={suite}", *extra],
                                                          return_hydra_config=hydra)
    GlobalHydra.instance().clear()


def test_one_card_per_suite_with_its_points():
    by_suite = {card["suites"][0]: card for card in CARDS if card["suites"]}
    assert set(by_suite) == set(EXPECTED), [c["heading"] for c in CARDS]
    for suite, points in EXPECTED.items():
        card = by_suite[suite]
        assert card["header"] == ["point", "published", "ours", "to restore"], card["heading"]
        assert points <= {row[0].lower() for row in card["rows"]}, (card["heading"], points)


@pytest.mark.parametrize("card", CARDS, ids=[c["heading"] for c in CARDS])
def test_every_row_says_how_to_restore_or_why_not(card):
    for row in card["rows"]:
        assert len(row) == 4, (card["heading"], row)
        restore = row[3]
        assert restore.startswith(("same", "none")) or OPTION.search(restore), (card["heading"], row[0], restore)
        if restore.startswith("none") and not restore.startswith("none needed"):
            assert ":" in restore or OPTION.search(restore), f"{card['heading']} / {row[0]}: say why none can"


def _card_suites():
    for card in CARDS:
        for suite in card["suites"]:
            yield pytest.param(card, suite, id=f"{suite}")


@pytest.mark.parametrize("card,suite", list(_card_suites()))
def test_every_option_a_card_names_exists_for_its_suite(compose_suite, card, suite):
    cfg = compose_suite(suite)
    overrides: dict[str, set[str]] = {}
    other_suites = set()
    for key, value in card["options"]:
        if key == "suite":
            other_suites.add(value)
        elif "." in key:  # a config value: it must be there before we override it
            assert OmegaConf.select(cfg, key, default=_ABSENT) is not _ABSENT, f"{key} is not an option of suite={suite}"
        else:  # a config group (client=, effort=, suite/models=) or a top-level value (repeats=)
            assert key in cfg or key in GROUPS or "/" in key, f"{key} is neither a group nor an option"
        if key != "suite":
            overrides.setdefault(key, set()).add(value)
    for other in other_suites:
        compose_suite(other)
    first = {key: sorted(values)[0] for key, values in overrides.items()}
    try:  # one composition with one value of every key; the other values of a key one at a time
        compose_suite(suite, [f"{k}={v}" for k, v in first.items()])
        failing = []
    except HydraException:
        failing = list(first.items())
    failing += [(k, v) for k, values in overrides.items() for v in sorted(values)[1:]]
    for key, value in failing:
        try:
            compose_suite(suite, [f"{key}={value}"])
        except HydraException as exc:
            pytest.fail(f"{card['heading']}: suite={suite} {key}={value} does not compose: {exc}")


def _same(default: object, written: str) -> bool:
    if default is None or isinstance(default, bool):
        return written == {None: "null", True: "true", False: "false"}[default]
    if isinstance(default, (int, float)):
        try:
            return float(written) == default
        except ValueError:
            return False
    return str(default) == written


@pytest.mark.parametrize("card,suite", list(_card_suites()))
def test_what_the_ours_column_says_is_the_default(compose_suite, card, suite):
    """A value the "ours" column gives (`suite.max_steps=30`, `suite/models=self`) is what the suite runs with
    unless told otherwise; a changed default fails here until the card says the new one."""
    cfg = compose_suite(suite, (), True)
    for row in card["rows"]:
        for key, value in OPTION.findall(row[2]):
            if key in ("suite", "client", "effort"):  # run choices the row tells you to make, not defaults
                continue
            default = cfg.hydra.runtime.choices.get(key) if "/" in key else OmegaConf.select(cfg, key)
            assert _same(default, value), f"{card['heading']} / {row[0]}: the card says {key}={value}, " \
                                          f"suite={suite} runs with {default}"


def test_the_check_catches_a_renamed_option(compose_suite):
    """The check above is not vacuous: a key that is not there fails both ways."""
    cfg = compose_suite("aime2025")
    assert OmegaConf.select(cfg, "suite.max_tool_call", default=_ABSENT) is _ABSENT
    with pytest.raises(HydraException):
        compose_suite("aime2025", ["suite.max_tool_call=3"])
    with pytest.raises(HydraException):
        compose_suite("tau_retail", ["suite/models=gpt-5"])
