#!/usr/bin/env bash
# Builds .device-bundle-dsl/ in the current repo: nvidia-cutlass-dsl (CuTe DSL, needed by FlashInfer's GDN
# and KDA kernels) for the offline GPU machine (Python 3.12, x86-64, CUDA 13 driver). Only the cu13 flavour
# is kept (meta wheel + libs-base + libs-core + libs-cu13); the profiler `iket` and the aarch64/QNX stubs
# are dropped (FlashInfer does not need them; cutlass.cute.experimental stubs iket out when missing).
# The two big shared objects are compressed one by one with xz's x86 filter and a 256 MiB dictionary, the
# rest as one tar.xz: ~59 MiB in all, so this bundle must travel in a GPU call of its own (carry limit
# 64 MiB). xz -9e takes ~10 min on 2 cores. Run it from the project root. On the GPU machine, after
# `source .device-bundle/install.sh` (same machine, /tmp/site already there):
#   source .device-bundle-dsl/install.sh
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
# info/exclude lives in the common git dir (a worktree's .git is a file).
exclude=$(git rev-parse --git-common-dir)/info/exclude
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.device-bundle-dsl/' "$exclude" 2>/dev/null || echo '/.device-bundle-dsl/' >> "$exclude"
out=.device-bundle-dsl
dsl_version=${CUTLASS_DSL_VERSION:-4.8.1}
if [[ -f $out/install.sh && -f $out/VERSION && $(cat $out/VERSION) == "$dsl_version" ]]; then
  echo "bundle up to date: $out (nvidia-cutlass-dsl $dsl_version)"; du -sb "$out"; exit 0
fi
rm -rf "$out"; mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
plat=(--only-binary=:all: --python-version 3.12 --implementation cp
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
python3 -m pip download -q --no-deps "${plat[@]}" -d "$tmp/whl" \
  "nvidia-cutlass-dsl==$dsl_version" "nvidia-cutlass-dsl-libs-base==$dsl_version" \
  "nvidia-cutlass-dsl-libs-core==$dsl_version" "nvidia-cutlass-dsl-libs-cu13==$dsl_version"
mkdir "$tmp/x"
for w in "$tmp"/whl/*.whl; do (cd "$tmp/x" && python3 -m zipfile -e "$w" .); done
# Not needed on an x86-64 Linux GPU machine running FlashInfer's kernels (see the header).
rm -rf "$tmp/x/nvidia_cutlass_dsl/dsl_packages/iket" "$tmp/x/nvidia_cutlass_dsl"/cu*/lib/stubs/aarch64-*
find "$tmp/x" -type d -name __pycache__ -prune -exec rm -rf {} +
# zipfile -e drops the exec bits; shared objects load without them, but keep them tidy.
find "$tmp/x" -type f -name '*.so*' -exec chmod 755 {} +

# Every file over 8 MB is compressed on its own (x86 BCJ filter + a dictionary as big as the file helps
# the 193 MB compiler library most); the manifest maps each archive back to its path in the tree.
: > "$out/MANIFEST"
mkdir "$tmp/big"
i=0; pids=()
while IFS= read -r f; do
  rel=${f#"$tmp/x/"}; name=big$i.xz; i=$((i + 1))
  printf '%s\t%s\n' "$name" "$rel" >> "$out/MANIFEST"
  mv "$f" "$tmp/big/$name"  # out of the tree before the tar below
done < <(find "$tmp/x" -type f -size +8M | sort)
for big in "$tmp"/big/*; do
  xz -c --x86 --lzma2=preset=9e,dict=256MiB "$big" > "$out/$(basename "$big")" &
  pids+=($!)
done
tar -C "$tmp/x" -cf - . | xz -9e -c > "$out/rest.tar.xz"
for p in "${pids[@]}"; do wait "$p"; done

cat > "$out/install.sh" <<'INNER'
# Source this on the GPU machine from the project root, after .device-bundle/install.sh: unpacks
# nvidia-cutlass-dsl into /tmp/site once per machine. The wheel's .pth (which puts dsl_packages on sys.path)
# is not processed from a PYTHONPATH entry, so dsl_packages goes on PYTHONPATH explicitly.
# The big files unpack in parallel (a 193 MB xz stream takes ~3 s); a subshell keeps `exit` out of the
# caller's shell.
if [ ! -f /tmp/site/.dsl-bundle-ok ]; then
  ( set -e; mkdir -p /tmp/site; tar -xJf .device-bundle-dsl/rest.tar.xz -C /tmp/site
    while IFS=$'\t' read -r name rel; do
      mkdir -p "/tmp/site/$(dirname "$rel")"
      { xz -dc ".device-bundle-dsl/$name" > "/tmp/site/$rel" && chmod 755 "/tmp/site/$rel"; } &
    done < .device-bundle-dsl/MANIFEST
    for job in $(jobs -p); do wait "$job"; done ) \
  && touch /tmp/site/.dsl-bundle-ok || { echo "dsl bundle install failed" >&2; return 1 2>/dev/null || exit 1; }
fi
case ":${PYTHONPATH:-}:" in
  *:/tmp/site/nvidia_cutlass_dsl/dsl_packages:*) ;;
  *) export PYTHONPATH=/tmp/site/nvidia_cutlass_dsl/dsl_packages${PYTHONPATH:+:$PYTHONPATH} ;;
esac
INNER
echo "$dsl_version" > "$out/VERSION"
du -sb "$out"
