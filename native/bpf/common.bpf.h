/* Maps and helpers shared by the Palisade BPF programs (kernel side only). The maps are __weak so
 * each *.bpf.c compiles on its own and `bpftool gen object` merges them into one set. */
#ifndef PALISADE_COMMON_BPF_H
#define PALISADE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "palisade.h"

#define PAL_EPERM 1
#define PAL_SIGKILL 9

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pal_config);
} pal_config SEC(".maps") __weak;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 2 * PAL_MAX_CONTAINERS);
  __type(key, struct pal_container_key);
  __type(value, struct pal_container);
} pal_containers SEC(".maps") __weak;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 2 * PAL_MAX_EXEC_ALLOW);
  __type(key, struct pal_file_key);
  __type(value, __u8);
} pal_exec_allow SEC(".maps") __weak;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 2 * PAL_MAX_FILE_PROTECT);
  __type(key, struct pal_file_key);
  __type(value, struct pal_file_protect);
} pal_file_prot SEC(".maps") __weak;

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 2 * PAL_MAX_NET_ALLOW);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct pal_net_key);
  __type(value, __u8);
} pal_net_allow SEC(".maps") __weak;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, PAL_DEFAULT_RINGBUF_BYTES);
} pal_events SEC(".maps") __weak;

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PAL_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} pal_counters SEC(".maps") __weak;

/* The active slot, read once per invocation so one hook never mixes two generations. */
static __always_inline int pal_active_slot(__u32 *slot) {
  __u32 zero = 0;
  struct pal_config *cfg = bpf_map_lookup_elem(&pal_config, &zero);
  if (!cfg) return -1;
  *slot = cfg->active_slot;
  return 0;
}

/* The container the current task belongs to: the deepest cgroup ancestor (or itself) that has an
 * entry, so cgroups nested inside a container are covered too. */
static __always_inline struct pal_container *pal_current_container(__u32 slot, __u64 *cgroup_id) {
  struct pal_container *found = 0;
  struct pal_container_key key = {.slot = slot};
#pragma unroll
  for (int level = 1; level < PAL_MAX_CGROUP_DEPTH; level++) {
    __u64 id = bpf_get_current_ancestor_cgroup_id(level);
    if (!id) break;
    key.cgroup_id = id;
    struct pal_container *c = bpf_map_lookup_elem(&pal_containers, &key);
    if (c) {
      found = c;
      *cgroup_id = id;
    }
  }
  return found;
}

static __always_inline __u8 pal_action_for(__u8 mode) {
  if (mode == PAL_MODE_PROTECT) return PAL_ACTION_DENY;
  if (mode == PAL_MODE_MONITOR) return PAL_ACTION_ALERT;
  return PAL_ACTION_ALLOW;
}

/* Reserve an event with its common fields filled; a full ring buffer is counted, never waited for. */
static __always_inline struct pal_event *pal_event_reserve(__u8 kind, __u8 action, __u8 mechanism,
                                                           __u64 cgroup_id) {
  struct pal_event *e = bpf_ringbuf_reserve(&pal_events, sizeof(*e), 0);
  if (!e) {
    __u32 idx = PAL_CNT_RINGBUF_DROPS;
    __u64 *n = bpf_map_lookup_elem(&pal_counters, &idx);
    if (n) *n += 1;
    return 0;
  }
  __builtin_memset(e, 0, sizeof(*e));
  e->kind = kind;
  e->action = action;
  e->mechanism = mechanism;
  e->cgroup_id = cgroup_id;
  e->time_ns = bpf_ktime_get_ns();
  e->pid = bpf_get_current_pid_tgid() >> 32;
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  return e;
}

#endif
