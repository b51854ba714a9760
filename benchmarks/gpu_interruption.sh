#!/usr/bin/env bash
# On the GPU machine: Ctrl-C stops `agent verify` in the middle of a FlashInfer comparison (issue 17).
#
# One device call, no dataset needed:
#   command: bash benchmarks/gpu_interruption.sh      carry: [".device-bundle"]      timeout_s: 600
#
# Runs the GPU test of tests/agent/test_interruption.py: a stored rmsnorm definition whose
# reference never returns is verified; once the worker reports it is building the FlashInfer
# binding, the agent gets SIGINT while that JIT build (compilers in the worker's process group)
# or the comparison runs. Look for "1 passed": exit 130 within 5 s, nothing of the worker's
# process group left, no status, solution or log written. The JUnit report goes to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
source .device-bundle/install.sh || exit 1
python3 -m pytest -m gpu -q -p no:cacheprovider tests/agent/test_interruption.py --junitxml "${OUT:-build}/pytest-interruption.xml"
