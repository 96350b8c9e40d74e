#!/usr/bin/env bash
# The README's run command: makes its own venv, then runs the whole pipeline on this machine
# (moto + the pyannoteAI emulator; no AWS account, no internet).
#   scripts/run-local.sh            demo: upload samples, print the records, stop
#   scripts/run-local.sh serve      keep running for your own uploads (Ctrl-C stops)
#   add --embeddings to either for real speaker embeddings (installs the optional extra)
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
cd "$ROOT"
make_venv .venv-local requirements-local.txt
make_venv .venv-tools requirements-tools.txt  # AWS SAM's translator: the stack is created from template.yaml
case " $* " in *" --embeddings "*) install_resemblyzer_weights .venv-local ;; esac
export PYTHONPATH="$ROOT/layers/common:$ROOT/local:$ROOT/cli:$ROOT"
# No command, or options only (e.g. --embeddings): the demo.
case "${1:-}" in demo|serve|-h|--help) ;; *) set -- demo "$@" ;; esac
exec .venv-local/bin/python -m voiceprint_local "$@"
