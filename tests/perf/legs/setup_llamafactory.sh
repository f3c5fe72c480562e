#!/usr/bin/env bash
# Build the separate venv that the LLaMA-Factory benchmark leg (llamafactory.py) runs in.
# Why: LLaMA-Factory pins its own transformers/peft/datasets ranges, so it cannot share the
# project venv. torch is installed first with an exact pin (pip then takes the local CPU wheel;
# anything unpinned would pull a multi-GB CUDA build) and held there by a constraints file.
# torchvision/torchaudio are removed afterwards (their PyPI wheels break on this CPU torch) and
# an empty `torchaudio` stand-in is left because LLaMA-Factory imports it at module level.
# Idempotent: exits early once the venv is complete.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
VENV="$ROOT/.perf-venvs/llamafactory"
PY="$VENV/bin/python"
TORCH=2.13.0
LF=0.9.5

if [ -x "$VENV/bin/llamafactory-cli" ] && [ -f "$VENV/.setup-done" ]; then
  echo "llamafactory venv already set up: $VENV"; exit 0
fi

python3.11 -m venv "$VENV"
CONSTRAINTS="$VENV/constraints.txt"
echo "torch==$TORCH" > "$CONSTRAINTS"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q "torch==$TORCH"
"$PY" -m pip install -q -c "$CONSTRAINTS" "llamafactory==$LF" bitsandbytes
"$PY" -m pip uninstall -y -q torchvision torchaudio || true

# Empty stand-in: LLaMA-Factory's mm_plugin does `import torchaudio` (only used for audio data).
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$SITE/torchaudio"
echo '"""Empty stand-in for torchaudio (benchmark venv; audio features unused)."""' > "$SITE/torchaudio/__init__.py"

"$PY" -c "import torch, llamafactory, bitsandbytes; assert torch.__version__.startswith('$TORCH'), torch.__version__; print('torch', torch.__version__, 'llamafactory', llamafactory.__version__)"
touch "$VENV/.setup-done"
