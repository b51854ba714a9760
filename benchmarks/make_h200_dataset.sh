#!/usr/bin/env bash
# On the CPU machine: the dataset the H200 session verifies (benchmarks/h200_session.sh), in
# build/gpu-dataset (ignored by git; carried to the GPU machine). A copy of the official
# definitions (flashinfer-bench@e489a246, unpacked read-only at /work/ref/flashinfer_trace),
# with the models whose kernels issue 15 adds bindings for extracted into it: what the
# dataset holds already is only tagged for them, what it lacks is written new (FP8 GEMMs
# too: --include-quantized, for the FP8 checkpoints of DeepSeek and Kimi). Then one
# `agent verify --all` covers the official files and the models' new definitions at once.
#
#   benchmarks/make_h200_dataset.sh [DIR]                          # default build/gpu-dataset
#   OFFICIAL=/path/to/flashinfer_trace/definitions MODELS="kimi-k2" benchmarks/make_h200_dataset.sh
#
# Writes DIR/official-names.txt (the official names, for benchmarks/summarize_verification.py)
# and checks the result with a dry run (bindings, cases, inputs on the CPU): a dataset whose
# inputs cannot be generated is fixed here, not on the GPU.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
out=${1:-build/gpu-dataset}
official=${OFFICIAL:-/work/ref/flashinfer_trace/definitions}
python=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
[ -d "$official" ] || { echo "no official definitions at $official (set OFFICIAL)"; exit 2; }
rm -rf "$out"
mkdir -p "$out/definitions"
cp -r "$official"/. "$out/definitions/"
chmod -R u+w "$out"
find "$out/definitions" -name '*.json' -exec basename {} .json \; | sort > "$out/official-names.txt"
for model in ${MODELS:-kimi-k2 deepseek-v3 qwen3-next-80b-a3b kimi-linear-48b-a3b deepseek-v3.2}; do
  # Exit 3: some kernels pending (no template, no LLM here); 4: conflicts kept aside. The rest is written.
  rc=0
  PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m agent.cli extract --model-name "$model" --output "$out" --verify none --include-quantized --quiet || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || [ "$rc" -eq 4 ] || exit "$rc"
done
echo "dataset: $out ($(find "$out/definitions" -name '*.json' | wc -l) definitions, $(wc -l < "$out/official-names.txt") official)"
du -sh "$out"
[ "${DRY_RUN:-1}" = 1 ] || exit 0
# Exit 5 (some definitions unverifiable: the FP4 and FP8 per-tensor MoE files) is expected;
# takes ~10 min on 2 cores (DRY_RUN=0 skips it). Kept beside the dataset, not in it.
PYTHONPATH="$root" "$python" -m agent.cli verify --all --dry-run --output "$out" --quiet > "$out.dry-run.txt" || true
tail -n 1 "$out.dry-run.txt"
