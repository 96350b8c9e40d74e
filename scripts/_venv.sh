# Sourced by the scripts: finds Python 3.12 (the Lambda runtime we target) and makes a venv with
# the given requirements file. Nothing is assumed to be installed by hand beyond a Python 3.12.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

find_python312() {
  local c
  for c in "${PYTHON312:-}" python3.12 /root/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  echo "error: Python 3.12 not found (set PYTHON312=/path/to/python3.12)" >&2
  return 1
}

# make_venv DIR REQUIREMENTS: (re)installs only when the requirements changed. What is installed is the set's
# lock (requirements-X.lock, from scripts/lock.sh): the whole closure, each file checked against its sha256.
make_venv() {
  local dir="$1" req="$2" stamp py lock
  stamp="$dir/.requirements.sha256"
  lock="${req%.txt}.lock"
  py="$(find_python312)"
  [ -x "$dir/bin/python" ] || "$py" -m venv "$dir"
  local want
  want="$(cat "$ROOT"/requirements-*.txt "$ROOT"/requirements-*.lock | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want:$req" ]; then
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$ROOT/requirements-pip.lock"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$ROOT/$lock"
    echo "$want:$req" > "$stamp"
  fi
}

# The [embeddings] extra's weights: resemblyzer is only a carrier for pretrained.pt, so none of its
# dependencies (torch, librosa) are installed.
install_resemblyzer_weights() {
  local dir="$1"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r "$ROOT/requirements-embeddings.lock"
  "$dir/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("resemblyzer") is None)' \
    || "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
      -r "$ROOT/requirements-resemblyzer.lock"
}
