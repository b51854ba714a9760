#!/usr/bin/env bash
# One call on the GPU machine: verify a dataset against FlashInfer, time it, run the GPU tests.
#
# First, on the CPU machine, from the repo root:
#   bash /work/shared/device/make-bundle.sh   # .device-bundle/: flashinfer, flashinfer-bench, pydantic, libcst wheels
#   benchmarks/make_gpu_dataset.sh            # build/gpu-dataset/: llama-3.1-8b and qwen3-8b, extracted here
# Then one device call:
#   command: bash benchmarks/gpu_session.sh      carry: [".device-bundle", "build/gpu-dataset"]      timeout_s: 600
#
# Order matters for time. `agent verify` runs first, on the fresh machine: FlashInfer JIT-builds
# each kernel family then (norm, GEMM, decode, prefill, sampling), and the run's report keeps
# those cold timings, which the benchmark reads instead of building everything twice. The
# benchmark then times a warm pass; the GPU tests reuse the built kernels; MLA tests come
# last because MLA is a JIT build of its own.
#
# Writes under $OUT (8 files at most come back): session.log (everything), environment.txt,
# verify-report.json (the verification log of the dataset run), bench.json, pytest-gpu.xml,
# pytest-mla.xml, gpu-dataset.tgz (the dataset with its statuses, baseline solutions and logs).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build/gpu-session}
mkdir -p "$out"
exec > >(tee "$out/session.log") 2>&1
# shellcheck disable=SC1091
source .device-bundle/install.sh || exit 1
export FLASHINFER_WORKSPACE_BASE=${FLASHINFER_WORKSPACE_BASE:-/tmp/fi-workspace}
export PYTHONUNBUFFERED=1
dataset=build/gpu-dataset
status=0
step() { echo; echo "=== $(date +%T) $*"; }
record() { local rc=$1; [ "$rc" -ne 0 ] && [ "$status" -eq 0 ] && status=$rc; echo "--- exit $rc"; }

step environment
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import sys, torch, flashinfer, flashinfer_bench, pydantic, libcst; print('python', sys.version.split()[0]); print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0)); print('flashinfer', flashinfer.__version__); print('pydantic', pydantic.VERSION)"
  echo "cpus $(nproc), jit workspace $FLASHINFER_WORKSPACE_BASE ($(du -sh "$FLASHINFER_WORKSPACE_BASE" 2>/dev/null | cut -f1 || echo empty))"
} | tee "$out/environment.txt"

[ -d "$dataset/definitions" ] || { echo "no $dataset: run benchmarks/make_gpu_dataset.sh on the CPU machine and carry it"; exit 2; }

step "agent verify --all (cold: FlashInfer builds each kernel family on first use)"
python3 -m agent.cli verify --all --output "$dataset"
record $?
report=$(ls -t "$dataset"/verification/*.json 2>/dev/null | head -n 1)
[ -n "$report" ] && cp "$report" "$out/verify-report.json"
# Saved now as well as at the end: a session cut off by the call's time limit still returns it.
tar czf "$out/gpu-dataset.tgz" "$dataset"

step "benchmark: warm pass, cold timings from the verify report"
if [ -n "$report" ]; then
  python3 benchmarks/bench_verify.py --dataset "$dataset" --cold-from "$report" --json "$out/bench.json"
else
  python3 benchmarks/bench_verify.py --dataset "$dataset" --json "$out/bench.json"
fi
record $?

step "pytest -m gpu (families other than MLA)"
python3 -m pytest -m gpu -q -p no:cacheprovider tests/tools/verification --ignore tests/tools/verification/test_flashinfer_mla.py --junitxml "$out/pytest-gpu.xml"
record $?

step "pytest -m gpu (MLA: a JIT build of its own)"
python3 -m pytest -m gpu -q -p no:cacheprovider tests/tools/verification/test_flashinfer_mla.py --junitxml "$out/pytest-mla.xml"
record $?

step "done (exit $status)"
tar czf "$out/gpu-dataset.tgz" "$dataset"
exit $status
