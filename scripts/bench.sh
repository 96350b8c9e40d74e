#!/usr/bin/env bash
# The README's benchmark command: cold start, warm CPU, memory, calls per job, local throughput, deployment
# sizes and a cost estimate, each against its floor or budget; writes docs/BENCHMARKS.md (20-30 minutes on
# 2 cores). Exits non-zero if a budget is missed. Options pass through, e.g. --processes 5 --throughput-uploads 300.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
cd "$ROOT"
make_venv .venv-local requirements-local.txt
make_venv .venv-tools requirements-tools.txt  # sam build, for the deployment sizes
export PYTHONPATH="$ROOT/layers/common:$ROOT/local:$ROOT/cli:$ROOT"
exec .venv-local/bin/python -m bench "$@"
