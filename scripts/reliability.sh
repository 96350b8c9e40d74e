#!/usr/bin/env bash
# The README's reliability command: pacing runs (300 uploads drained by 1, 2 and 4 submit containers
# through the shared rate budget), a 10,000-upload burst against the API's rate limit and a seeded
# chaos run of 1,000 uploads over the local stack; writes docs/RELIABILITY.md and docs/pacing.png (about
# an hour and a half on 2 cores: see the README). Options pass through, e.g. --burst-uploads 2000 --chaos-uploads 300 --seed 11 (smaller
# runs write local-data/RELIABILITY-small.md unless --out says otherwise).
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
cd "$ROOT"
make_venv .venv-local requirements-local.txt
make_venv .venv-tools requirements-tools.txt  # AWS SAM's translator: the stack is created from template.yaml
make_venv .venv-plot requirements-plot.txt  # matplotlib, for the pacing picture only
export PYTHONPATH="$ROOT/layers/common:$ROOT/local:$ROOT/cli:$ROOT"
exec .venv-local/bin/python -m voiceprint_local.reliability "$@"
