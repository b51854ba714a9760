#!/usr/bin/env bash
# On the CPU machine: `agent batch` over a copy of a dataset, and the new definitions of its
# bundles gathered into one dataset-shaped folder for the GPU machine (which has no
# LangGraph, so it cannot extract): build/batch-bundles/{definitions,tests/references}/.
#
#   benchmarks/make_batch_bundles.sh DATASET [MODELS]   # default MODELS: llama-3.2-3b,qwen3-8b
#
# Nothing is verified here (no GPU): the bundles are 🟡 drafts (--allow-unverified) on local
# branches of the copy; benchmarks/gpu_batch_check.sh verifies them on the GPU and runs their
# generated reference tests.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
source_dataset=${1:?usage: make_batch_bundles.sh DATASET [MODELS]}
models=${2:-llama-3.2-3b,qwen3-8b}
python=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
work=build/batch-dataset
out=build/batch-bundles
rm -rf "$work" "$out"
mkdir -p build
cp -r "$source_dataset" "$work"
rm -rf "$work/.git" "$work/.agent"
git -C "$work" init -q && git -C "$work" add -A && git -C "$work" -c user.name=bench -c user.email=bench@localhost commit -qm base
rc=0
"$python" -m agent.cli batch --models "$models" --dataset "$work" --publish local --allow-unverified --verify cpu --json > build/batch-summary.json || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || [ "$rc" -eq 4 ] || exit "$rc"
mkdir -p "$out"
base=$(git -C "$work" rev-parse HEAD)
for branch in $(git -C "$work" for-each-ref --format='%(refname:short)' 'refs/heads/agent/def-*' 'refs/heads/agent/model-*'); do
  # The bundle's own files only (the dataset's older tests/references stay behind).
  files=$(git -C "$work" diff --name-only "$base" "$branch" -- definitions tests/references)
  [ -n "$files" ] && git -C "$work" archive "$branch" $files | tar -x -C "$out"
done
echo "bundles: $out ($(find "$out/definitions" -name '*.json' | wc -l) new definitions, $(find "$out/tests/references" -name 'test_*.py' | wc -l) reference tests)"
