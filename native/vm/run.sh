#!/usr/bin/env bash
# Runs the bpf-lsm back-end's tests as root inside a stock Debian kernel under QEMU (TCG).
#
#   native/vm/run.sh <amd64> <bookworm|trixie> [--smoke|--bench]
#
# Assembles a share folder (Node >= 24 plus the glibc it needs, the built addon and the libraries it
# links, native/dist and its runtime imports, static busybox, bpftool) and hands it to the verified
# harness ../../../shared/tools/kernel-vm/ci-bpf-lsm.sh, which boots the kernel and runs guest.sh.
# Exits with the guest test's exit code (125: the guest gave none, e.g. timeout or kernel panic).
# --smoke checks the plumbing only (Node in the guest, cgroup2, moving a process into a cgroup,
# loopback TCP, bpffs, bpftool) and does not need the addon.
# --bench measures the bpf-lsm back-end's exec and connect overhead instead (guest-bench.mjs; palbench
# from agents/enforcer/bench compiled static here and carried in the share). It takes the benchmarks'
# lock /tmp/palisade-bench.lock for the boot and ends with the guest's JSON line. Knobs (env):
# VM_BENCH_ROUNDS (default 20), VM_BENCH_EXECS (per block, default 300), VM_BENCH_CONNECTS (per block,
# default 2000), VM_BENCH_PIN_CPU (the vCPU palbench and its children run on, default 1; "none": not
# pinned, noisier); the guest is emulated (TCG): only its ratios mean something.
#
# Environment: KERNEL_VM (harness dir), VM_WORK (cache dir, default native/vm/.work), TMO (seconds
# for the whole guest run, default 300; 900 with --bench), npm_config_nodedir (a Node >= 24 install to use;
# if it is older, the node on PATH),
# KEEP_SHARE=1 (keep the assembled share after the run, for debugging; it is rebuilt every run).
set -euo pipefail

usage() { echo "usage: $0 <amd64> <bookworm|trixie> [--smoke|--bench]" >&2; exit 2; }
[[ $# -ge 2 && $# -le 3 ]] || usage
ARCH=$1 SUITE=$2 MODE=${3:-full}
case $ARCH in amd64) ;; *) echo "run.sh: only amd64 is wired (the share carries host x86-64 binaries)" >&2; exit 2 ;; esac
case $SUITE in bookworm | trixie) ;; *) usage ;; esac
case $MODE in full) ;; --smoke) MODE=smoke ;; --bench) MODE=bench ;; *) usage ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
NATIVE=$(cd "$HERE/.." && pwd)
REPO=$(cd "$NATIVE/.." && pwd)
KERNEL_VM=${KERNEL_VM:-$(cd "$REPO/.." && pwd)/shared/tools/kernel-vm}
VM_WORK=${VM_WORK:-$HERE/.work}
if [[ $MODE == bench ]]; then export TMO=${TMO:-900}; else export TMO=${TMO:-300}; fi
die() { echo "run.sh: $*" >&2; exit 2; }
[[ -x $KERNEL_VM/ci-bpf-lsm.sh ]] || die "kernel-vm harness not found at $KERNEL_VM (set KERNEL_VM)"

# --- Node >= 24 on the host: the binary is carried into the guest ---------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
# npm_config_nodedir first, then PATH; the first that is Node >= 24 (npm passes a user-wide nodedir=/usr
# to scripts, which may be an older Node than the one on PATH).
NODE= SEEN=
for cand in "${npm_config_nodedir:+$npm_config_nodedir/bin/node}" "$(command -v node || true)"; do
  [[ -n $cand && -x $cand ]] || continue
  cand=$(readlink -f "$cand")
  if (($(node_major "$cand") >= 24)); then NODE=$cand; break; fi
  SEEN+=" $cand ($("$cand" --version))"
done
[[ -n $NODE ]] || die "no Node >= 24 found (put it on PATH or set npm_config_nodedir); found:${SEEN:- none}"

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
if [[ $MODE == full || $MODE == bench ]]; then
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

cp "$HERE/guest.sh" "$HERE/guest-test.mjs" "$HERE/guest-facts.mjs" "$SHARE/"
if [[ $MODE == bench ]]; then
  # The enforcer bench's load generator, static (the guest has no C library of its own).
  "${CC:-cc}" -O2 -static -o "$SHARE/palbench" "$REPO/agents/enforcer/bench/palbench.c" || die "compiling palbench failed"
  cp "$HERE/guest-bench.mjs" "$REPO/agents/enforcer/bench/common.mjs" "$SHARE/"
  # Knobs and the policy's default protected paths (from @palisade/policy: its build, else its source).
  DEFAULTS=$REPO/packages/policy/dist/defaults.js
  [[ -f $DEFAULTS ]] || DEFAULTS=$REPO/packages/policy/src/defaults.ts
  "$NODE" --no-warnings --input-type=module -e '
    const { DEFAULT_PROTECTED_PATHS } = await import(process.argv[1]);
    const n = (name, d) => Number(process.env[name] ?? d);
    console.log(JSON.stringify({
      rounds: n("VM_BENCH_ROUNDS", 20), execs: n("VM_BENCH_EXECS", 300), connects: n("VM_BENCH_CONNECTS", 2000),
      pinCpu: (process.env.VM_BENCH_PIN_CPU ?? "1") === "none" ? null : n("VM_BENCH_PIN_CPU", 1),
      defaultProtectedPaths: DEFAULT_PROTECTED_PATHS,
    }));' "$DEFAULTS" >"$SHARE/bench.json" || die "reading the default protected paths from $DEFAULTS failed"
fi
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
if [[ $MODE == bench ]]; then
  # Benchmarks on 2 cores disturb each other: one at a time (the host's benches take the same lock).
  exec 8>/tmp/palisade-bench.lock
  flock -n 8 || { echo "run.sh: waiting for /tmp/palisade-bench.lock (another benchmark is running)"; flock 8; }
  echo "run.sh: bench $(cat "$SHARE/bench.json" | cut -c1-200); host load average $(cut -d' ' -f1-3 /proc/loadavg)"
fi
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
if [[ $MODE == bench ]]; then
  # The guest's figures as the last line, with the wall time of the whole run added.
  json=$(sed -n 's/^BENCH-JSON //p' "$LOG" | tail -1)
  if [[ -n $json ]]; then
    "$NODE" -e 'const f = JSON.parse(process.argv[1]); f.suite = process.argv[2]; f.wallSeconds = Math.round((process.argv[4] - process.argv[3]) * 10) / 10; console.log(JSON.stringify(f))' \
      "$json" "$SUITE" "$start" "$end"
  else
    echo "run.sh: the guest printed no figures (see $LOG)" >&2
    [[ $rc -ne 0 ]] || rc=1
  fi
fi
exit "$rc"
