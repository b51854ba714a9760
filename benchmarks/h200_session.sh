#!/usr/bin/env bash
# The H200 verification session of issues 12 and 15: two device calls back to back on one warm machine.
#
# On the CPU machine first, from the repo root:
#   bash /work/shared/device/make-bundle.sh      # .device-bundle/ (FlashInfer), ~37 MB
#   benchmarks/make_dsl_bundle.sh                # .device-bundle-dsl/ (nvidia-cutlass-dsl), ~59 MiB
#   benchmarks/make_h200_dataset.sh              # build/gpu-dataset/: the official files + 5 models extracted into them
# Then, within 30 s of each other (the machine stays warm 30 s; /tmp/site, the JIT cache and
# build/gpu-dataset persist between the calls):
#   call A  command: bash benchmarks/h200_session.sh main   carry: [".device-bundle", "build/gpu-dataset"]   timeout_s: 600
#   call B  command: bash benchmarks/h200_session.sh dsl    carry: [".device-bundle-dsl"]                    timeout_s: 600
# Keep what comes back in benchmarks/results/h200-2026-11-29/ (call A's files as they are, call B's with a -dsl suffix).
#
# Call A (~8.5 min): install (5 s); prebuild every FlashInfer JIT module in parallel, in the
# background (benchmarks/prebuild_jit.py: the top-k module alone took over 200 s); meanwhile
# `agent verify --all` over the dataset with 6 sandbox workers, which wait on the modules still
# building (FlashInfer's file lock) and compare as soon as theirs are built (~7 min, the top-k
# build the long pole); then the GPU tests of the SM90 bindings, a planted mistake per family
# (~1.5 min). GDN and KDA are unverifiable in call A (no CuTe DSL yet): call B verifies them.
# Call B (~5 min): the CuTe DSL (6 s); `agent verify` of the GDN and KDA definitions (~1 min,
# DSL compiles included); their GPU tests, a flipped gate caught (~1 min); the earlier families'
# GPU tests (~2.5 min); the summary over both calls.
#
# Writes under $OUT (8 files at most come back): session.log, environment.txt, prebuild.jsonl
# (A), verify-report.json, summary.md, pytest.xml, gpu-dataset.tgz (statuses, baseline
# solutions, verification logs).
#
# If time is short, cut in this order: the earlier families' GPU tests (SKIP_OLD_TESTS=1 in call B,
# ~2.5 min, verified on the H100 already); the sampling definitions (SKIP_OP_TYPES=sampling in call A:
# 21 official at ~7 s each, spread over the workers, ~1 min); the DSA top-k indexer (the top-k module's
# build, over 200 s, is call A's long pole: it is cut by --build-timeout, the definition then
# unverifiable with that reason).
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-main}
out=${OUT:-build/h200-session}
mkdir -p "$out"
exec > >(tee -a "$out/session.log") 2>&1
dataset=build/gpu-dataset
models=kimi-k2,deepseek-v3,qwen3-next-80b-a3b,kimi-linear-48b-a3b,deepseek-v3.2
status=0
step() { echo; echo "=== $(date +%T) +${SECONDS}s $*"; }
record() { local rc=$1; echo "--- exit $rc"; [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || { [ "$status" -eq 0 ] && status=$rc; }; }

step "h200_session $mode"
if [ -f .device-bundle/install.sh ]; then
  # shellcheck disable=SC1091
  source .device-bundle/install.sh || exit 1
elif [ -f /tmp/site/.bundle-ok ]; then  # call B: FlashInfer installed by call A on this machine
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MAX_JOBS=${MAX_JOBS:-16}
else
  echo "FlashInfer is not installed on this machine: run call A (carry .device-bundle) first"; exit 2
fi
if [ "$mode" = dsl ]; then
  [ -f .device-bundle-dsl/install.sh ] || { echo "carry .device-bundle-dsl in call B"; exit 2; }
  # shellcheck disable=SC1091
  source .device-bundle-dsl/install.sh || exit 1
fi
export FLASHINFER_WORKSPACE_BASE=${FLASHINFER_WORKSPACE_BASE:-/tmp/fi-workspace} PYTHONUNBUFFERED=1
[ -d "$dataset/definitions" ] || { echo "no $dataset: run benchmarks/make_h200_dataset.sh on the CPU machine and carry it in call A"; exit 2; }

step environment
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import sys, torch, flashinfer; print('python', sys.version.split()[0]); print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0)); print('flashinfer', flashinfer.__version__)"
  python3 -c "import cutlass, importlib.metadata as m; print('nvidia-cutlass-dsl', m.version('nvidia-cutlass-dsl'))" 2>/dev/null || echo "nvidia-cutlass-dsl: not installed"
  echo "cpus $(nproc); dataset $(find "$dataset/definitions" -name '*.json' | wc -l) definitions"
} | tee "$out/environment.txt"

selection=(--all)
if [ "$mode" = dsl ]; then
  mapfile -t names < <(python3 -c "
import json, pathlib, sys
for p in sorted(pathlib.Path(sys.argv[1], 'definitions').glob('*/*.json')):
    d = json.loads(p.read_text())
    if d['op_type'] in ('gdn', 'kda'): print(d['name'])" "$dataset")
  selection=("${names[@]}")
elif [ -n "${SKIP_OP_TYPES:-}" ]; then
  mapfile -t names < <(python3 -c "
import json, pathlib, sys
skip = set(sys.argv[2].split(','))
for p in sorted(pathlib.Path(sys.argv[1], 'definitions').glob('*/*.json')):
    d = json.loads(p.read_text())
    if d['op_type'] not in skip: print(d['name'])" "$dataset" "$SKIP_OP_TYPES")
  selection=("${names[@]}")
fi

prebuild=
if [ "$mode" = main ]; then
  step "prebuild: every FlashInfer JIT module, in parallel, in the background (limit 420 s each)"
  python3 benchmarks/prebuild_jit.py --dataset "$dataset" --limit 420 --parallel 8 --jobs 4 --out "$out" > "$out/prebuild.log" 2>&1 &
  prebuild=$!
fi

step "agent verify ${#selection[@]} selected ($mode): 6 workers, kernels built as they come"
python3 -m agent.cli verify "${selection[@]}" --output "$dataset" --workers 6 --build-timeout 480 --timeout 300
record $?
report=$(ls -t "$dataset"/verification/*.json 2>/dev/null | head -n 1)
[ -n "$report" ] && cp "$report" "$out/verify-report.json"
tar czf "$out/gpu-dataset.tgz" "$dataset"  # now as well as at the end: a call cut short still returns it

if [ -n "$prebuild" ]; then
  step "waiting for the prebuild"
  wait "$prebuild"
  cat "$out/prebuild.jsonl" 2>/dev/null
fi

step "summary over the session so far"
python3 benchmarks/summarize_verification.py --dataset "$dataset" --models "$models" --out "$out/summary.md"
head -n 4 "$out/summary.md"

# Call A has the longer verification; call B takes the earlier families' GPU tests (their kernels are built by then).
tests=(tests/tools/verification/test_flashinfer_sm90.py)
# Call B also runs the generated reference tests of `agent batch` bundles (one small definition
# per family) and the interruption test's GPU case (Ctrl-C during a GPU comparison).
[ "$mode" = dsl ] && tests=(tests/tools/verification/test_flashinfer_dsl.py tests/tools/publish/test_reference_test.py tests/agent/test_interruption.py)
[ "$mode" = dsl ] && [ "${SKIP_OLD_TESTS:-0}" != 1 ] && tests+=(tests/tools/verification/test_flashinfer_bindings.py tests/tools/verification/test_flashinfer_mla.py)
step "pytest -m gpu ${tests[*]}"
python3 -m pytest -m gpu -q -p no:cacheprovider --durations=15 "${tests[@]}" --junitxml "$out/pytest.xml"
record $?

step "done (exit $status)"
tar czf "$out/gpu-dataset.tgz" "$dataset"
exit $status
