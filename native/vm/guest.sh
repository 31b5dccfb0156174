#!/bin/sh
# Runs inside the QEMU guest (busybox only), as root, from /host (the share). The harness's init has
# mounted proc, sys, dev, tmp, securityfs and bpffs; cgroup2 and the loopback are ours to set up.
# Usage: guest.sh <full|smoke|bench>
set -u
mode=${1:-full}
mkdir -p /sys/fs/cgroup 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup || { echo "guest: mounting cgroup2 failed"; exit 2; }
ip link set lo up || { echo "guest: ip link set lo up failed"; exit 2; }
echo "GUEST: cgroup2 at /sys/fs/cgroup, lo up, bpf lsm: $(grep -c bpf /sys/kernel/security/lsm) mode=$mode"
# Node and bpftool are the host's dynamic binaries: run them through the copied loader and glibc.
export PALISADE_VM_LOADER=/host/lib64/ld-linux-x86-64.so.2 PALISADE_VM_LIBS=/host/lib
if [ "$mode" = bench ]; then
  exec "$PALISADE_VM_LOADER" --library-path "$PALISADE_VM_LIBS" /host/bin/node /host/guest-bench.mjs /host/bench.json
fi
exec "$PALISADE_VM_LOADER" --library-path "$PALISADE_VM_LIBS" /host/bin/node /host/guest-test.mjs "$mode"
