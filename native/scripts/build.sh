#!/usr/bin/env bash
# Build @palisade/native: BPF objects (CO-RE, vmlinux.h from this machine's BTF) → one linked object →
# libbpf skeleton → node-addon-api addon (node-gyp, local Node headers only) → TypeScript.
#   scripts/build.sh            everything
#   scripts/build.sh --no-ts    skip tsc (e.g. only the native parts changed)
set -euo pipefail

pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$pkg/build/bpf"
mkdir -p "$out"

case "$(uname -m)" in
  x86_64) bpf_arch=x86 ;;
  aarch64 | arm64) bpf_arch=arm64 ;;
  *) echo "build.sh: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac

btf=/sys/kernel/btf/vmlinux
[[ -r $btf ]] || { echo "build.sh: $btf missing: the kernel needs CONFIG_DEBUG_INFO_BTF" >&2; exit 1; }
# Generated per machine, never committed (CO-RE relocates the field offsets at load time).
bpftool btf dump file "$btf" format c > "$out/vmlinux.h.tmp"
mv "$out/vmlinux.h.tmp" "$out/vmlinux.h"

objs=()
for src in exec file net; do
  clang -O2 -g -Wall -target bpf "-D__TARGET_ARCH_${bpf_arch}" -I"$out" -I"$pkg/bpf" \
    -c "$pkg/bpf/$src.bpf.c" -o "$out/$src.bpf.o"
  objs+=("$out/$src.bpf.o")
done
bpftool gen object "$out/palisade.bpf.o" "${objs[@]}"
bpftool gen skeleton "$out/palisade.bpf.o" name palisade_bpf > "$out/palisade.skel.h"

# Node headers: the set-up's npm_config_nodedir, else the prefix of the running node (bin/..).
nodedir="${npm_config_nodedir:-}"
if [[ -z $nodedir ]]; then
  nodedir="$(node -p 'require("path").resolve(process.execPath, "../..")')"
fi
[[ -f $nodedir/include/node/node_api.h ]] || { echo "build.sh: no Node headers under $nodedir/include/node" >&2; exit 1; }

gyp="$(node -p 'require.resolve("node-gyp/bin/node-gyp.js")' 2>/dev/null || true)"
[[ -n $gyp ]] || gyp="$(cd "$pkg" && node -p 'require.resolve("node-gyp/bin/node-gyp.js")')"
(cd "$pkg/addon" && node "$gyp" rebuild --nodedir="$nodedir" --jobs=2 --loglevel=warn)

if [[ ${1:-} != --no-ts ]]; then
  (cd "$pkg" && node "$(node -p 'require.resolve("typescript/bin/tsc")')" -p tsconfig.build.json)
fi
