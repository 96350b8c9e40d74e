#!/usr/bin/env bash
# The scale model (local/voiceprint_local/scale_model.py): a million uploads on a virtual clock, as built and with
# the shared rate budget, retention and sweeps; writes its section of docs/RELIABILITY.md (about 3 minutes).
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
cd "$ROOT"
make_venv .venv-local requirements-local.txt
export PYTHONPATH="$ROOT/layers/common:$ROOT/local"
exec .venv-local/bin/python -m voiceprint_local.scale_model "$@"
