#!/usr/bin/env bash
# Runs the bpf-lsm back-end's tests as root inside a stock Debian kernel under QEMU (TCG).
#
#   native/vm/run.sh <amd64> <bookworm|trixie> [--smoke]
#
# Assembles a share folder (Node >= 24 plus the glibc it needs, the built addon and the libraries it
# links, native/dist and its runtime imports, static busybox, bpftool) and hands it to the verified
# harness ../../../shared/tools/kernel-vm/ci-bpf-lsm.sh, which boots the kernel and runs guest.sh.
# Exits with the guest test's exit code (125: the guest gave none, e.g. timeout or kernel panic).
# --smoke checks the plumbing only (Node in the guest, cgroup2, moving a process into a cgroup,
# loopback TCP, bpffs, bpftool) and does not need the addon.
#
# Environment: KERNEL_VM (harness dir), VM_WORK (cache dir, default native/vm/.work), TMO (seconds
# for the whole guest run, default 300), npm_config_nodedir (a Node >= 24 install to use),
# KEEP_SHARE=1 (keep the assembled share after the run, for debugging; it is rebuilt every run).
set -euo pipefail

usage() { echo "usage: $0 <amd64> <bookworm|trixie> [--smoke]" >&2; exit 2; }
[[ $# -ge 2 && $# -le 3 ]] || usage
ARCH=$1 SUITE=$2 MODE=${3:-full}
case $ARCH in amd64) ;; *) echo "run.sh: only amd64 is wired (the share carries host x86-64 binaries)" >&2; exit 2 ;; esac
case $SUITE in bookworm | trixie) ;; *) usage ;; esac
case $MODE in full) ;; --smoke) MODE=smoke ;; *) usage ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
NATIVE=$(cd "$HERE/.." && pwd)
REPO=$(cd "$NATIVE/.." && pwd)
KERNEL_VM=${KERNEL_VM:-$(cd "$REPO/.." && pwd)/shared/tools/kernel-vm}
VM_WORK=${VM_WORK:-$HERE/.work}
export TMO=${TMO:-300}
die() { echo "run.sh: $*" >&2; exit 2; }
[[ -x $KERNEL_VM/ci-bpf-lsm.sh ]] || die "kernel-vm harness not found at $KERNEL_VM (set KERNEL_VM)"

# --- Node >= 24 on the host: the binary is carried into the guest ---------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
NODE=
if [[ -n ${npm_config_nodedir:-} && -x ${npm_config_nodedir}/bin/node ]]; then NODE=$npm_config_nodedir/bin/node; fi
if [[ -z $NODE ]] && command -v node >/dev/null; then NODE=$(readlink -f "$(command -v node)"); fi
[[ -n $NODE ]] || die "no node found (put Node >= 24 on PATH or set npm_config_nodedir)"
(($(node_major "$NODE") >= 24)) || die "$NODE is Node $("$NODE" --version); Node >= 24 is needed"

# --- the share --------------------------------------------------------------------------------------
SHARE=$VM_WORK/share-$ARCH-$SUITE
mkdir -p "$VM_WORK"
exec 9>"$VM_WORK/.lock-$ARCH-$SUITE"
flock 9 # one run per suite at a time: they share the share folder and the kernel cache
rm -rf "$SHARE"
[[ ${KEEP_SHARE:-} == 1 ]] || trap 'rm -rf "$SHARE"' EXIT
mkdir -p "$SHARE/bin" "$SHARE/lib" "$SHARE/lib64" "$VM_WORK"

# copy_with_libs <binary> <dest>: the binary plus every shared library it needs (ldd), dereferenced.
# The guest runs it through the copied dynamic loader with --library-path /host/lib.
copy_with_libs() {
  local bin=$1 dest=$2 lib
  cp -L "$bin" "$dest"
  while read -r lib; do
    case $lib in
      */ld-linux-*) [[ -e $SHARE/lib64/$(basename "$lib") ]] || cp -L "$lib" "$SHARE/lib64/" ;;
      *) [[ -e $SHARE/lib/$(basename "$lib") ]] || cp -L "$lib" "$SHARE/lib/" ;;
    esac
  done < <(ldd "$bin" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]*ld-linux/{print $1}')
}

copy_with_libs "$NODE" "$SHARE/bin/node"
# Static busybox: the guest test copies it onto its tmpfs to get binaries with distinct inodes.
BUSYBOX=$(command -v busybox || true)
[[ -n $BUSYBOX ]] && ! ldd "$BUSYBOX" >/dev/null 2>&1 || die "a static busybox is needed (apt-get install busybox-static)"
cp -L "$BUSYBOX" "$SHARE/bin/busybox"
# bpftool lets the guest list programs/links to prove uninstall left nothing; optional.
BPFTOOL=$(command -v bpftool || true)
[[ -n $BPFTOOL ]] && copy_with_libs "$(readlink -f "$BPFTOOL")" "$SHARE/bin/bpftool"

ADDON=$NATIVE/addon/build/Release/palisade_bpf.node
if [[ $MODE == full ]]; then
  [[ -f $ADDON ]] || die "addon not built: $ADDON is missing (build native first)"
  [[ -f $NATIVE/dist/index.js ]] || die "native/dist/index.js is missing (run the native package's build)"
fi
if [[ -f $ADDON && -f $NATIVE/dist/index.js ]]; then
  # Same relative layout as the repository, so dist finds the add-ons (and any BPF objects, should
  # they not be embedded in a skeleton) as it does on the host.
  mkdir -p "$SHARE/native/addon/build/Release"
  cp "$NATIVE/package.json" "$SHARE/native/"
  cp -r "$NATIVE/dist" "$SHARE/native/dist"
  for addon in "$NATIVE"/addon/build/Release/*.node; do
    copy_with_libs "$addon" "$SHARE/native/addon/build/Release/$(basename "$addon")"
  done
  (cd "$NATIVE" && find . -path ./vm -prune -o -path ./node_modules -prune -o -name '*.bpf.o' -print) |
    while read -r obj; do mkdir -p "$SHARE/native/$(dirname "$obj")" && cp "$NATIVE/$obj" "$SHARE/native/$obj"; done
  # Runtime (non-type) imports of dist that are not Node built-ins, copied with their own dependencies.
  "$NODE" "$HERE/runtime-deps.mjs" "$NATIVE" "$SHARE/native/node_modules"
fi

cp "$HERE/guest.sh" "$HERE/guest-test.mjs" "$SHARE/"
# The harness runs /host/run.sh with no arguments: it carries the mode.
printf '#!/bin/sh\nexec sh /host/guest.sh %s\n' "$MODE" >"$SHARE/run.sh"
echo "run.sh: share $SHARE ($(du -sh "$SHARE" | cut -f1)), node $("$NODE" --version), mode $MODE"

# --- boot ---------------------------------------------------------------------------------------------
LOG=$VM_WORK/last-$ARCH-$SUITE.log
KCACHE=$VM_WORK/kernel-$ARCH-$SUITE
boot() {
  set +e
  WORK=$KCACHE "$KERNEL_VM/ci-bpf-lsm.sh" "$ARCH" "$SUITE" "$SHARE" run.sh 2>&1 | tr -d '\r' | tee "$LOG"
  rc=${PIPESTATUS[0]}
  set -e
}
start=$(date +%s.%N)
boot
# The harness keeps the first kernel it unpacked; once Debian publishes a newer one it boots a file
# that is not there. Drop the stale cache and try once more.
pkg=$(sed -n 's/^ci-bpf-lsm: booting \(linux-image-[^ ]*\).*/\1/p' "$LOG")
if [[ $rc -ne 0 && -n $pkg && ! -e $KCACHE/kroot/boot/vmlinuz-${pkg#linux-image-} ]]; then
  echo "run.sh: cached kernel in $KCACHE is not $pkg; refreshing the cache"
  rm -rf "$KCACHE"
  boot
fi
end=$(date +%s.%N)
awk -v a="$ARCH $SUITE $MODE" -v rc="$rc" -v s="$start" -v e="$end" -v lf="$LOG" \
  'BEGIN { printf "run.sh: %s: exit %s in %.1f s (log %s)\n", a, rc, e - s, lf }'
exit "$rc"
