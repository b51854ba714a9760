source .device-bundle/install.sh || exit 1
# On the GPU machine: verify float16 definitions against FlashInfer (norms, GQA paged/ragged
# attention, RoPE at float16; GEMMs and sampling too). First, on the CPU machine: Llama 2 7B
# (torch_dtype float16) and OLMo 2 7B (a float32 checkpoint SGLang serves in float16), from
# the holdout's public configs:
#   MODELS="llama-2-7b=evals/holdout/configs/llama-2-7b.json olmo-2-1124-7b=evals/holdout/configs/olmo-2-1124-7b.json" \
#     benchmarks/make_gpu_dataset.sh build/fp16-dataset
# The attention references come from FlashInfer's templates with the bfloat16 output they
# hard-code written in float16.
#
#   command: bash benchmarks/verify_fp16.sh      carry: [".device-bundle", "build/fp16-dataset"]      timeout_s: 600
#
# Look for: "verified" for every rmsnorm_h4096, gqa_*_h32_kv32_d128_* and
# rope_with_cos_sin_cache_neox_style_d128_rd128 definition in the printed table (exit 0);
# $OUT/fp16-verify.json is the verification report.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export FLASHINFER_WORKSPACE_BASE=${FLASHINFER_WORKSPACE_BASE:-/tmp/fi-workspace}
dataset=build/fp16-dataset
[ -d "$dataset/definitions" ] || { echo "no $dataset: build it on the CPU machine (see above) and carry it"; exit 2; }
python3 -m agent.cli verify --all --output "$dataset"
status=$?
report=$(ls -t "$dataset"/verification/*.json 2>/dev/null | head -n 1)
[ -n "$report" ] && mkdir -p "${OUT:-build}" && cp "$report" "${OUT:-build}/fp16-verify.json"
exit $status
