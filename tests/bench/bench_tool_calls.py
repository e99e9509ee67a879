"""How many python calls fit in a context window (a script, not a pytest test): the measurement behind the
default tool-call limit (evals.tool_loop.DEFAULT_MAX_TOOL_CALLS).

    python tests/bench/bench_tool_calls.py [--max-model-len 131072] [--rounds realistic,minimal]

Runs the scripted long session of tests/support/long_tool_session.py (real prompts, the real tool loop and the
real sandboxed kernel) once per round size until the context is full, and prints the calls made, the tokens one
round costs and the seconds it took (every request renders the whole conversation, so a full context of
realistic rounds takes many minutes; the minimal round's count at 131,072 tokens follows from its tokens per
round at a smaller --max-model-len). The default limit must be above both counts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from evals.tool_loop import DEFAULT_MAX_TOOL_CALLS  # noqa: E402
from tests.support.long_tool_session import MINIMAL, REALISTIC, long_session  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-model-len", type=int, default=131_072)
    ap.add_argument("--rounds", default="realistic,minimal", help="which round sizes, comma-separated")
    args = ap.parse_args()
    print(f"context {args.max_model_len:,} tokens; default call limit {DEFAULT_MAX_TOOL_CALLS:,}")
    for round_ in (r for r in (REALISTIC, MINIMAL) if r.name in args.rounds.split(",")):
        started = time.perf_counter()
        # no limit here: the session runs until the context is full
        episode, model = asyncio.run(long_session(round_, args.max_model_len, max_tool_calls=10**9))
        took = time.perf_counter() - started
        calls = episode.info["tool_calls"]
        per_round = (model.prompt_tokens[-1] - model.prompt_tokens[0]) / max(1, calls)
        at_card = (131_072 - model.prompt_tokens[0]) / per_round
        print(f"{round_.name:>9}: {calls:,} calls until the context was full ({episode.info['stop_reason']}), "
              f"{per_round:.0f} tokens per round (131,072 tokens hold {at_card:,.0f}), {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
