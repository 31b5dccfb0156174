/* Shared layouts of the Palisade eBPF maps and events. Included by every *.bpf.c file and by the
 * addon (with PAL_USERSPACE defined), so kernel and user space agree byte for byte. */
#ifndef PALISADE_H
#define PALISADE_H

#ifdef PAL_USERSPACE
#include <stdint.h>
typedef uint8_t pal_u8;
typedef uint16_t pal_u16;
typedef uint32_t pal_u32;
typedef uint64_t pal_u64;
#else
typedef __u8 pal_u8;
typedef __u16 pal_u16;
typedef __u32 pal_u32;
typedef __u64 pal_u64;
#endif

#define PAL_MAX_CONTAINERS 4096
#define PAL_MAX_EXEC_ALLOW 65536
#define PAL_MAX_FILE_PROTECT 16384
#define PAL_MAX_NET_ALLOW 65536
/* Cgroup nesting levels examined when looking for the nearest container ancestor. */
#define PAL_MAX_CGROUP_DEPTH 16
#define PAL_DEFAULT_RINGBUF_BYTES (1u << 20)
#define PAL_PATH_LEN 128
#define PAL_NAME_PREFIX_LEN 32

/* Modes as stored in maps. OFF means "not enforced" (kind without rules of this container). */
enum pal_mode { PAL_MODE_OFF = 0, PAL_MODE_DISCOVER = 1, PAL_MODE_MONITOR = 2, PAL_MODE_PROTECT = 3 };
enum pal_kind { PAL_KIND_PROCESS = 0, PAL_KIND_FILE = 1, PAL_KIND_NETWORK = 2 };
enum pal_action { PAL_ACTION_ALLOW = 0, PAL_ACTION_ALERT = 1, PAL_ACTION_DENY = 2 };
enum pal_mechanism { PAL_MECH_BPF_LSM = 0, PAL_MECH_TP_BTF_KILL = 1, PAL_MECH_CGROUP_CONNECT = 2 };
enum pal_proto { PAL_PROTO_ANY = 0, PAL_PROTO_TCP = 6, PAL_PROTO_UDP = 17 };

/* Which generation slot (0 or 1) the kernel reads. Every policy key carries its slot, so a whole
 * generation is written into the inactive slot and becomes visible with one 4-byte array update. */
struct pal_config {
  pal_u32 active_slot;
  pal_u32 backend; /* 0 = fallback, 1 = bpf-lsm: what the pinned programs are */
  pal_u64 generation;
};

struct pal_container_key {
  pal_u64 cgroup_id;
  pal_u32 slot;
  pal_u32 pad;
};

struct pal_container {
  pal_u8 mode[3]; /* indexed by enum pal_kind */
  pal_u8 pad;
  /* Kernel dev (major<<20|minor) of the container's root filesystem: fanotify answers execs there
   * in the fallback back-end, so the tp_btf backstop skips them. 0 = skip nothing. */
  pal_u32 root_dev;
};

struct pal_file_key {
  pal_u64 cgroup_id;
  pal_u64 ino;
  pal_u32 dev;
  pal_u32 slot;
};

/* Value of the exec allow set: presence is what matters. */
struct pal_file_protect {
  pal_u8 dir;
  pal_u8 prefix_len;
  pal_u8 pad[6];
  char prefix[PAL_NAME_PREFIX_LEN];
};

/* LPM trie key: the fixed part (cgroup, slot, family, proto, port) is always matched in full, the
 * address by prefix. A lookup is made for each of (proto|any) x (port|any). */
struct pal_net_key {
  pal_u32 prefixlen; /* PAL_NET_FIXED_BITS + address prefix */
  pal_u64 cgroup_id;
  pal_u32 slot;
  pal_u8 family; /* 4 or 6 */
  pal_u8 proto;  /* enum pal_proto */
  pal_u16 port;  /* host byte order, 0 = any */
  pal_u8 addr[16];
} __attribute__((packed));
#define PAL_NET_FIXED_BITS ((8 + 4 + 1 + 1 + 2) * 8)

struct pal_event {
  pal_u64 time_ns;
  pal_u64 cgroup_id;
  pal_u64 ino;
  pal_u32 dev;
  pal_u32 pid;
  pal_u32 flags;
  pal_u8 kind;
  pal_u8 action;
  pal_u8 mechanism;
  pal_u8 family;
  pal_u8 proto;
  pal_u8 pad;
  pal_u16 dport;
  pal_u8 daddr[16];
  char comm[16];
  char path[PAL_PATH_LEN];
};

/* Index into the per-CPU counter map. */
enum pal_counter { PAL_CNT_RINGBUF_DROPS = 0, PAL_CNT_MAX = 1 };

#endif
