#!/usr/bin/env bash
# The python tool's environment: a small venv of the system interpreter with pinned numpy, scipy, sympy, mpmath
# and networkx, which the sandboxed kernel of the with-tools suites runs in (evals/tool_env.py says where it
# lives and why). Idempotent: a finished environment is kept; rerun it any time. Needs the harness venv (.venv).
#
#   bash runners/setup_tool_env.sh            # build if missing, then print what it holds
#   GPTOSS_TOOL_PYTHON=/usr/bin/python3.12 bash runners/setup_tool_env.sh   # another base interpreter under /usr
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "[setup] the harness venv is missing: run bash runners/setup.sh gpu|test first" >&2
  exit 1
fi
# pip warns about unreachable extra index folders on some machines: noise, filtered; a failed build still fails
.venv/bin/python -m evals.tool_env build 2>&1 | { grep -v "^WARNING: Location" >&2 || true; }
