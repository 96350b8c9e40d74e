#!/usr/bin/env bash
# The README's test command: makes its own venvs, then runs linters, type checks, template checks and every test.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
cd "$ROOT"

echo "== venvs"
make_venv .venv requirements-dev.txt
install_resemblyzer_weights .venv
make_venv .venv-tools requirements-tools.txt
make_venv .venv-scan requirements-scan.txt
make_venv .venv-awscli requirements-awscli.txt  # the README's `aws --endpoint-url ...` examples, run as written
make_venv .venv-plot requirements-plot.txt  # matplotlib: `voiceprint calibrate --png`, drawn in the tests

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== template: cfn-lint, sam validate --lint"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0
.venv-tools/bin/cfn-lint template.yaml
.venv-tools/bin/sam validate --lint --template template.yaml
echo "== security: bandit (Lambda code; local/ and tests/ get ruff's S rules), checkov (template; skips justified inline)"
.venv-scan/bin/bandit -q -r layers functions
.venv-scan/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
