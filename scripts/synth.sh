#!/usr/bin/env bash
# The main job: offline `cdk synth` of one environment (default: sandbox) into cdk.out/, then a summary.
# Usage: scripts/synth.sh [sandbox|dev|staging|prod] [-c preset=NAME ...]  (further arguments go to `cdk synth`)
set -euo pipefail
source "$(dirname "$0")/setup.sh" requirements.txt
npx cdk synth --quiet -c env="${1:-sandbox}" "${@:2}" >&2
python -m llm_async_tools.summary cdk.out LlmAsyncStack
