"""Optional ``repo_browser.*`` tools: read, search and list the repository without a shell.

gpt-oss reaches for a ``repo_browser`` namespace on its own (``repo_browser.open_file``, ``.search``,
``.print_tree`` calls show up in agent logs of harnesses that never offered them), so offering it keeps the
agent in distribution. Off by default (``suite.repo_browser=true`` turns it on): the default prompt stays
the one the published-style scaffold uses. Every tool runs inside the instance's environment (the same
``exec`` the model gets), so Docker and bubblewrap runs see exactly what the model sees.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from tasks.swebench.apply_patch import PatchError, normalize_path
from tasks.swebench.environments import Environment

NAMESPACE = "repo_browser"
OPEN_FILE, SEARCH, PRINT_TREE = "open_file", "search", "print_tree"
# names the model uses for the same things (seen in the wild); accepted, never advertised
ALIASES = {"find": SEARCH, "read_file": OPEN_FILE, "grep": SEARCH, "tree": PRINT_TREE, "list_dir": PRINT_TREE}
DEFAULT_WINDOW = 400  # lines open_file shows without a range
MAX_LINE_CHARS = 2000  # a minified file's one line must not fill the whole output
MAX_SEARCH_RESULTS = 200
MAX_TREE_ENTRIES = 500

PROMPT_HINT = ("- The `repo_browser` tools read files with line numbers (`repo_browser.open_file`), search the code "
               "(`repo_browser.search`) and list directories (`repo_browser.print_tree`) without a shell.")


def _fn(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": f"{NAMESPACE}.{name}", "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required}}}


def tool_schemas() -> list[dict[str, Any]]:
    """The three tools as function schemas (every transport carries tools as functions)."""
    return [
        _fn(OPEN_FILE, "Shows a file of the repository with line numbers (the first "
            f"{DEFAULT_WINDOW} lines unless a range is given).",
            {"path": {"type": "string", "description": "File path, relative to the repository root."},
             "line_start": {"type": "integer", "description": "First line to show (1-based)."},
             "line_end": {"type": "integer", "description": "Last line to show (inclusive)."}}, ["path"]),
        _fn(SEARCH, "Searches the repository's text files for a string (or a regular expression with "
            "regex=true) and lists the matches as path:line:text.",
            {"query": {"type": "string", "description": "The text to look for."},
             "path": {"type": "string", "description": "Directory or file to search (default: the whole "
                                                       "repository)."},
             "regex": {"type": "boolean", "description": "Treat query as an extended regular expression."},
             "max_results": {"type": "integer", "description": f"At most this many matches (default 50, at "
                                                               f"most {MAX_SEARCH_RESULTS})."}}, ["query"]),
        _fn(PRINT_TREE, "Lists the files and directories under a path, to a depth.",
            {"path": {"type": "string", "description": "Directory to list (default: the repository root)."},
             "depth": {"type": "integer", "description": "How many levels deep (default 2, at most 6)."}}, []),
    ]


def tool_names() -> list[str]:
    return [t["function"]["name"] for t in tool_schemas()]


def resolve(name: str) -> str | None:
    """``repo_browser.X`` (or an alias of X) -> the tool's short name; None if it is not one of ours."""
    if not name.startswith(NAMESPACE + "."):
        return None
    short = name[len(NAMESPACE) + 1:]
    short = ALIASES.get(short, short)
    return short if short in (OPEN_FILE, SEARCH, PRINT_TREE) else None


def _int(args: dict[str, Any], *keys: str, default: int | None = None) -> int | None:
    for key in keys:
        value = args.get(key)
        if value is None or isinstance(value, bool):
            continue
        try:
            return int(value)
        except (TypeError, ValueError):
            continue
    return default


def _dir_arg(env: Environment, raw: Any) -> str:
    """A repository-relative directory for search/print_tree ('.' for the root)."""
    path = str(raw or "").strip()
    if path in ("", ".", "/", "./") or path.rstrip("/") == env.repo_path.rstrip("/"):
        return "."
    return normalize_path(path, env.repo_path)


def open_file(env: Environment, args: dict[str, Any]) -> tuple[str, bool]:
    raw = args.get("path") or args.get("file") or args.get("file_path") or args.get("filename")
    if not isinstance(raw, str) or not raw.strip():
        return "error: repo_browser.open_file needs a \"path\"", True
    rel = normalize_path(raw, env.repo_path)
    text = env.read_text(rel)
    if text is None:
        return f"error: {rel} does not exist or is not a file", True
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return f"[{rel} is empty]", False
    start = max(1, _int(args, "line_start", "start_line", "start", "offset", default=1) or 1)
    asked_end = _int(args, "line_end", "end_line", "end")
    end = start + DEFAULT_WINDOW - 1 if asked_end is None else asked_end
    end = min(max(end, start), len(lines))
    if start > len(lines):
        return f"{rel} has {len(lines)} lines; line_start={start} is past the end", True
    # keep whole lines under the output budget and say where to go on, rather than cutting in the middle
    budget = max(1000, env.max_output_chars - 200)
    rows: list[str] = []
    used = 0
    for n in range(start, end + 1):
        line = lines[n - 1]
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + f" [... {len(line) - MAX_LINE_CHARS} characters of this line cut]"
        row = f"{n:>6}\t{line}"
        if rows and used + len(row) + 1 > budget:
            break
        rows.append(row)
        used += len(row) + 1
    shown_end = start + len(rows) - 1
    out = [f"[{rel}, lines {start}-{shown_end} of {len(lines)}]", *rows]
    if shown_end < (len(lines) if asked_end is None else end):  # cut by the window or the output budget
        out.append(f"[... {len(lines) - shown_end} more lines; call again with line_start={shown_end + 1}]")
    return "\n".join(out), False


def search(env: Environment, args: dict[str, Any], timeout: float) -> tuple[str, bool]:
    query = args.get("query") or args.get("pattern") or args.get("search") or args.get("q")
    if not isinstance(query, str) or not query:
        return "error: repo_browser.search needs a \"query\"", True
    where = _dir_arg(env, args.get("path"))
    limit = min(max(1, _int(args, "max_results", "topn", "limit", default=50) or 50), MAX_SEARCH_RESULTS)
    mode = "-E" if args.get("regex") is True else "-F"
    # grep exits 0 (matches), 1 (none) or 2 (a bad regex, an unreadable path); head caps the total
    # without a path operand grep -r searches the working directory (the repository) and prints no ./ prefix
    operand = "" if where == "." else f" -- {shlex.quote(where)}"
    script = (f"grep -rIn --exclude-dir=.git {mode} -e {shlex.quote(query)}{operand} "
              f"| head -n {limit + 1}; rc=${{PIPESTATUS[0]}}; [ $rc -eq 141 ] && rc=0; exit $rc")  # 141: SIGPIPE from head
    res = env.exec(["bash", "-c", script], timeout=timeout)
    if res.timed_out:
        return res.output, True
    if res.exit_code == 1 and not res.output.strip():
        return f"no matches for {query!r} in {where}", False
    if res.exit_code not in (0, 1):
        return f"error: the search failed: {res.output.strip()[:500]}", True
    hits = res.output.rstrip("\n").split("\n")
    more = len(hits) > limit
    text = "\n".join(hits[:limit])
    if more:
        text += f"\n[more than {limit} matches; narrow the query or the path]"
    return text, False


def print_tree(env: Environment, args: dict[str, Any], timeout: float) -> tuple[str, bool]:
    where = _dir_arg(env, args.get("path"))
    depth = min(max(1, _int(args, "depth", "max_depth", default=2) or 2), 6)
    script = (f"test -d {shlex.quote(where)} || {{ echo 'not a directory'; exit 3; }}; "
              f"find {shlex.quote(where)} -mindepth 1 -maxdepth {depth} -name .git -prune -o "
              f"\\( -type d -printf '%P/\\n' \\) -o -printf '%P\\n' | LC_ALL=C sort | head -n {MAX_TREE_ENTRIES + 1}")
    res = env.exec(["bash", "-c", script], timeout=timeout)
    if res.exit_code == 3:
        return f"error: {where} is not a directory of the repository", True
    if res.exit_code != 0:
        return f"error: listing {where} failed: {res.output.strip()[:500]}", True
    entries = [e for e in res.output.rstrip("\n").split("\n") if e]
    more = len(entries) > MAX_TREE_ENTRIES
    body = "\n".join(entries[:MAX_TREE_ENTRIES])
    head = f"[{where}, depth {depth}]"
    if more:
        body += f"\n[more than {MAX_TREE_ENTRIES} entries; list a subdirectory or use a smaller depth]"
    return f"{head}\n{body}" if body else f"{head}\n(empty)", False


def object_arguments(arguments: str, tool: str, hint: str = "") -> tuple[dict[str, Any], str | None]:
    """A tool call's JSON object arguments (empty text is ``{}``), or the error line the model sees instead."""
    tail = f"; {hint}" if hint else ""
    try:
        args = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        return {}, f"error: {tool} arguments are not valid JSON ({exc.msg}){tail}"
    if not isinstance(args, dict):
        return {}, f"error: {tool} arguments must be a JSON object{tail}"
    return args, None


def run(env: Environment, short_name: str, arguments: str, timeout: float) -> tuple[str, bool]:
    """Run one repo_browser call; returns (text for the model, whether it was an error)."""
    args, error = object_arguments(arguments, f"repo_browser.{short_name}")
    if error:
        return error, True
    try:
        if short_name == OPEN_FILE:
            return open_file(env, args)
        if short_name == SEARCH:
            return search(env, args, timeout)
        return print_tree(env, args, timeout)
    except PatchError as exc:  # a path outside the repository, or a file that is not text
        return f"error: {exc}", True
