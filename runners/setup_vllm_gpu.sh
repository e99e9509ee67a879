#!/usr/bin/env bash
# Create or repair the GPU vLLM server venv that `server=spawn` starts gpt-oss from.
#
#   runners/setup_vllm_gpu.sh            # build or check it; prints the venv python on its last line
#   runners/setup_vllm_gpu.sh --where    # only print that python's path (nothing is built)
#   runners/setup_vllm_gpu.sh --dry-run  # resolve the requirements (pip --dry-run) and print the report's path
#
# Venv: ${GPTOSS_EVAL_CACHE:-$HOME/.cache/gptoss-eval}/vllm-0.32.0 (conf/server/spawn.yaml points server.python
# here). It holds vllm==0.32.0 and exactly what vLLM pins (CUDA torch 2.13.0 from PyPI, oss-harmony) and
# nothing of the harness: vLLM depends on oss-harmony, a fork that installs the same `openai_harmony` module
# as the openai-harmony the harness pins, so the two never share a venv.
# Works on a machine without a GPU (to prepare an image); only serving needs the GPU.
# Idempotent: a complete venv is detected by a stamp file and only re-checked.
set -euo pipefail

VLLM_VERSION="0.32.0"
TORCH_VERSION="2.13.0"   # what vllm 0.32.0 pins
CACHE_ROOT="${GPTOSS_EVAL_CACHE:-$HOME/.cache/gptoss-eval}"
VENV="${CACHE_ROOT}/vllm-${VLLM_VERSION}"
PY="${VENV}/bin/python"
STAMP="${VENV}/.gptoss-eval-setup-ok"
BASE_PYTHON="${PYTHON:-}"
# A CPU-only torch offered by a local wheel folder or mirror sorts above PyPI's CUDA build
# (2.13.0+cpu > 2.13.0) and would satisfy vLLM's torch==2.13.0: rule it out by name.
REQUIREMENTS=("vllm==${VLLM_VERSION}" "torch!=${TORCH_VERSION}+cpu")

log() { echo "[setup_vllm_gpu] $*" >&2; }

timed() {  # timed "what" command...: run it and say how long it took
  local what="$1" start=$SECONDS
  shift
  "$@"
  log "${what}: $((SECONDS - start)) s"
}

case "${1:-}" in
  --where) echo "${PY}"; exit 0 ;;
  --dry-run|"") ;;
  *) echo "usage: runners/setup_vllm_gpu.sh [--where|--dry-run]" >&2; exit 2 ;;
esac

pick_python() {  # vllm 0.32.0 needs Python >= 3.11, < 3.15
  local cand
  for cand in ${BASE_PYTHON} python3.12 python3.11 python3.13 python3.14 python3; do
    command -v "${cand}" >/dev/null 2>&1 || continue
    if "${cand}" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 15))' 2>/dev/null; then
      command -v "${cand}"; return
    fi
  done
  log "no Python 3.11-3.14 found (vLLM ${VLLM_VERSION} needs one); set PYTHON=/path/to/python3.11"
  exit 1
}

check_venv() {
  # Prints what is wrong and fails; silent when the venv is complete. Reads metadata only (no import of
  # torch or vLLM, which would need a GPU driver to be meaningful).
  [[ -x "${PY}" ]] || { echo "no venv at ${VENV}"; return 1; }
  # From /: the current folder is on a stdin script's sys.path, and a checkout's gptoss_eval.egg-info would count.
  ( cd / && "${PY}" - "$VLLM_VERSION" "$TORCH_VERSION" ) <<'EOF'
import importlib.metadata as md, importlib.util, sys
want_vllm, want_torch = sys.argv[1], sys.argv[2]
def version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None
problems = []
if version("vllm") != want_vllm:
    problems.append(f"vllm is {version('vllm')}, not {want_vllm}")
torch = version("torch")
if torch is None or torch.split("+")[0] != want_torch:
    problems.append(f"torch is {torch}, not {want_torch}")
elif "+cpu" in torch:
    problems.append(f"torch {torch} is a CPU-only build")
harmony = sorted(set(md.packages_distributions().get("openai_harmony", [])))
if harmony != ["oss-harmony"]:
    problems.append(f"openai_harmony comes from {harmony or 'nothing'}, expected oss-harmony alone")
if version("gptoss-eval") is not None:
    problems.append("the harness (gptoss-eval) is installed here; it belongs in its own venv")
if importlib.util.find_spec("vllm") is None:
    problems.append("the vllm package is not importable")
if problems:
    print("; ".join(problems))
    sys.exit(1)
EOF
}

has_nvidia_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '
}

if [[ -z "${1:-}" && -f "${STAMP}" ]] && check_venv >/dev/null; then
  log "venv ok: ${VENV}"
  echo "${PY}"
  exit 0
fi

mkdir -p "${CACHE_ROOT}"
if [[ ! -x "${PY}" ]]; then
  BASE="$(pick_python)"
  timed "created ${VENV} with ${BASE}" "${BASE}" -m venv "${VENV}"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# An old pip (as Debian's venv ships) reads whole wheels for their metadata: several GB here.
timed "pip upgraded" "${PY}" -m pip install -q --upgrade pip

if [[ "${1:-}" == "--dry-run" ]]; then
  REPORT="${VENV}.resolve.json"
  timed "resolved ${REQUIREMENTS[*]} (dry run, nothing installed)" \
    "${PY}" -m pip install -q --dry-run --ignore-installed --report "${REPORT}" "${REQUIREMENTS[@]}"
  echo "${REPORT}"
  exit 0
fi

rm -f "${STAMP}"
if ( cd / && "${PY}" -c "import importlib.metadata as md, sys; sys.exit(md.version('vllm') != sys.argv[1])" \
    "${VLLM_VERSION}" ) 2>/dev/null; then
  log "vllm==${VLLM_VERSION} already installed"
else
  log "installing ${REQUIREMENTS[*]} (~4 GB download, ~8.5 GB on disk)"
  timed "installed vllm==${VLLM_VERSION}" "${PY}" -m pip install "${REQUIREMENTS[@]}" >&2
fi

# Only oss-harmony may provide openai_harmony here (vLLM's pick); a second provider overwrites its files.
if "${PY}" -m pip show openai-harmony >/dev/null 2>&1; then
  log "removing openai-harmony (clashes with oss-harmony)"
  "${PY}" -m pip uninstall -y openai-harmony >&2
  "${PY}" -m pip install --force-reinstall --no-deps oss-harmony >&2
fi

if ! problems="$(check_venv)"; then
  log "venv check failed after install (${VENV}): ${problems}"
  exit 1
fi

# Import the server module once (catches broken native dependencies early). Without a GPU driver vLLM may
# refuse to import its CUDA parts: say so, but keep the venv (an image can be prepared on a CPU host).
start=$SECONDS
if ( cd /tmp && "${PY}" -c "import vllm.entrypoints.openai.api_server" ) >/dev/null 2>"${VENV}/import-check.log"; then
  log "vllm.entrypoints.openai.api_server imports: $((SECONDS - start)) s"
elif has_nvidia_gpu; then
  log "importing vllm.entrypoints.openai.api_server failed (see ${VENV}/import-check.log):"
  tail -n 5 "${VENV}/import-check.log" >&2
  exit 1
else
  log "no NVIDIA GPU here: skipped the import check of the server module (${VENV}/import-check.log)"
fi
touch "${STAMP}"
log "venv ready: ${VENV}"
echo "${PY}"
