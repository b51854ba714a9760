#!/usr/bin/env bash
# One call on the GPU machine: verify the new definitions `agent batch` bundled, then run
# their generated reference tests (tests/references/test_{name}.py) with pytest.
#
# First, on the CPU machine, from the repo root:
#   bash /work/shared/device/make-bundle.sh                     # .device-bundle/
#   benchmarks/make_batch_bundles.sh /work/ref/flashinfer_trace  # build/batch-bundles/
# Then one device call:
#   command: bash benchmarks/gpu_batch_check.sh    carry: [".device-bundle", "build/batch-bundles"]    timeout_s: 600
#
# What to look for in session.log: `agent verify` "total: N verified, 0 failed" for the
# definitions with a binding, pytest "N passed" for tests/references with no failure and no
# skip (a skip there means the GPU or FlashInfer was not found), and "1 passed" for the
# generated tests of tests/tools/publish/test_reference_test.py.
# Writes under $OUT: session.log, verify-report.json, pytest-references.xml.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build/gpu-batch}
mkdir -p "$out"
exec > >(tee "$out/session.log") 2>&1
# shellcheck disable=SC1091
source .device-bundle/install.sh || exit 1
export FLASHINFER_WORKSPACE_BASE=${FLASHINFER_WORKSPACE_BASE:-/tmp/fi-workspace}
export PYTHONUNBUFFERED=1
[ -d build/batch-bundles/definitions ] || { echo "no build/batch-bundles: run benchmarks/make_batch_bundles.sh on the CPU machine and carry it"; exit 2; }
# A copy outside the repository, as in a dataset checkout: the tests must stand alone there.
bundles=/tmp/batch-bundles
rm -rf "$bundles" && cp -r build/batch-bundles "$bundles"
repo=$(pwd)
status=0

echo "=== $(date +%T) agent verify --all over the bundled definitions"
PYTHONPATH="$repo" python3 -m agent.cli verify --all --output "$bundles" || status=$?
report=$(ls -t "$bundles"/verification/*.json 2>/dev/null | head -n 1)
[ -n "$report" ] && cp "$report" "$out/verify-report.json"

echo "=== $(date +%T) pytest tests/references (the generated tests, standalone: run from the dataset root)"
(cd "$bundles" && python3 -m pytest -q -p no:cacheprovider -rs tests/references --junitxml "$(cd "$repo" && realpath "$out")/pytest-references.xml") || status=$?
echo "=== $(date +%T) pytest -m gpu tests/tools/publish/test_reference_test.py (generated tests for small definitions of each family)"
python3 -m pytest -m gpu -q -p no:cacheprovider tests/tools/publish/test_reference_test.py || status=$?
echo "=== exit $status"
exit $status
