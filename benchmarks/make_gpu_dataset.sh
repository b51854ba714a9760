#!/usr/bin/env bash
# On the CPU machine: extract the dataset that benchmarks/gpu_session.sh verifies on the GPU
# machine (which has no LangGraph, so it cannot extract): Llama 3.1 8B and Qwen3 8B (GQA,
# norms, GEMMs, sampling) and DeepSeek V2 Lite (MLA paged and ragged), written to
# build/gpu-dataset (ignored by git; carry it to the GPU machine).
#
#   benchmarks/make_gpu_dataset.sh [DIR]        # default build/gpu-dataset
#   MODELS="llama-3.1-8b" benchmarks/make_gpu_dataset.sh
#   MODELS="llama-2-7b=evals/holdout/configs/llama-2-7b.json" benchmarks/make_gpu_dataset.sh build/fp16-dataset
#                                               # NAME=CONFIG: a model outside the catalog, from its config.json
#
# The CPU reference checks are skipped (--verify none): the GPU run does the real verification.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
out=${1:-build/gpu-dataset}
python=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
rm -rf "$out"
for entry in ${MODELS:-llama-3.1-8b qwen3-8b deepseek-v2-lite}; do
  model=${entry%%=*}
  config=()
  [ "$entry" = "$model" ] || config=(--config "${entry#*=}")
  # Exit 3 means some kernels are pending (no template, no LLM here): the rest is written.
  rc=0
  PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m agent.cli extract --model-name "$model" "${config[@]}" --output "$out" --verify none --quiet || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || exit "$rc"
done
echo "dataset: $out ($(find "$out/definitions" -name '*.json' | wc -l) definitions)"
