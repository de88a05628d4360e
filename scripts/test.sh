#!/usr/bin/env bash
# The tests: installs what they need, then runs pytest (extra arguments go to pytest).
set -euo pipefail
source "$(dirname "$0")/setup.sh" requirements-dev.txt
python -m pytest "$@"
