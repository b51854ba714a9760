#!/usr/bin/env bash
# Issue 15, phase 1: probe FlashInfer's SM90 routes on the H200 (benchmarks/h200_probe.py says what each
# probe checks). Two device calls back to back on one warm machine, /tmp/site persisting between them:
#   call A  command: bash benchmarks/h200_probe.sh nodsl   carry: [".device-bundle"]       timeout_s: 600
#   call B  command: bash benchmarks/h200_probe.sh dsl     carry: [".device-bundle-dsl"]   timeout_s: 600
# (B within 30 s of A's end.) Build the bundles first, on the CPU machine, from the repo root:
#   bash /work/shared/device/make-bundle.sh; benchmarks/make_dsl_bundle.sh
# Writes $OUT/session.log, $OUT/probe.jsonl, $OUT/probe-children.log and (call A) $OUT/moe_build.log.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-nodsl}
out=${OUT:-build/h200-probe}
mkdir -p "$out"
exec > >(tee -a "$out/session.log") 2>&1
echo "=== $(date +%T) h200_probe $mode"
if [ -f .device-bundle/install.sh ]; then
  # shellcheck disable=SC1091
  source .device-bundle/install.sh || exit 1
elif [ -f /tmp/site/.bundle-ok ]; then  # call B: FlashInfer already installed on this machine by call A
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MAX_JOBS=${MAX_JOBS:-16}
else
  echo "FlashInfer is not installed on this machine: run call A (carry .device-bundle) first"; exit 2
fi
if [ -f .device-bundle-dsl/install.sh ]; then
  # shellcheck disable=SC1091
  source .device-bundle-dsl/install.sh || exit 1
fi
echo "=== $(date +%T) installed after ${SECONDS}s"
export FLASHINFER_WORKSPACE_BASE=${FLASHINFER_WORKSPACE_BASE:-/tmp/fi-workspace} PYTHONUNBUFFERED=1
export PROBE_DEADLINE_S=${PROBE_DEADLINE_S:-$((570 - SECONDS))}
case $mode in
  nodsl) only=nodsl,moe_build ;;
  dsl) only=dsl; export PROBE_TIMEOUT_S=${PROBE_TIMEOUT_S:-300} ;;
  *) only=$mode ;;
esac
python3 benchmarks/h200_probe.py --only "$only" --out "$out"
rc=$?
echo "=== $(date +%T) done (exit $rc) after ${SECONDS}s"
exit $rc
