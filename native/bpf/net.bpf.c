/* Network rules: outbound connect() to addresses/ports not allowed for the container.
 * fallback back-end: cgroup/connect4|6 attached at the cgroup v2 root (return 0 = EPERM).
 * bpf-lsm back-end: lsm/socket_connect returns -EPERM. */
#include "common.bpf.h"

#define PAL_AF_INET 2
#define PAL_AF_INET6 10

static __always_inline bool pal_net_lookup(struct pal_net_key *k, __u8 proto, __u16 port) {
  k->proto = proto;
  k->port = port;
  return bpf_map_lookup_elem(&pal_net_allow, k) != 0;
}

/* Returns true when the connection may proceed. `addr` holds 4 (v4) or 16 (v6) bytes. */
static __always_inline bool pal_connect_check(__u8 family, const __u8 *addr, __u16 port, __u8 proto,
                                              __u8 mechanism) {
  __u32 slot;
  __u64 cgroup_id = 0;
  if (pal_active_slot(&slot)) return true;
  struct pal_container *c = pal_current_container(slot, &cgroup_id);
  if (!c) return true;
  __u8 mode = c->mode[PAL_KIND_NETWORK];
  if (mode == PAL_MODE_OFF) return true;
  if (proto != PAL_PROTO_TCP && proto != PAL_PROTO_UDP) return true;

  struct pal_net_key k = {};
  k.prefixlen = PAL_NET_FIXED_BITS + (family == 4 ? 32 : 128);
  k.cgroup_id = cgroup_id;
  k.slot = slot;
  k.family = family;
  __builtin_memcpy(k.addr, addr, 16);
  if (pal_net_lookup(&k, proto, port) || pal_net_lookup(&k, proto, 0) ||
      pal_net_lookup(&k, PAL_PROTO_ANY, port) || pal_net_lookup(&k, PAL_PROTO_ANY, 0))
    return true;

  __u8 action = pal_action_for(mode);
  struct pal_event *e = pal_event_reserve(PAL_KIND_NETWORK, action, mechanism, cgroup_id);
  if (e) {
    e->family = family;
    e->proto = proto;
    e->dport = port;
    __builtin_memcpy(e->daddr, addr, 16);
    bpf_ringbuf_submit(e, 0);
  }
  return action != PAL_ACTION_DENY;
}

static __always_inline bool pal_is_v4_mapped(const __u32 *w) {
  return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

SEC("cgroup/connect4")
int pal_conn4(struct bpf_sock_addr *ctx) {
  __u8 addr[16] = {};
  __u32 ip = ctx->user_ip4;
  __builtin_memcpy(addr, &ip, 4);
  __u16 port = bpf_ntohs((__u16)ctx->user_port);
  return pal_connect_check(4, addr, port, (__u8)ctx->protocol, PAL_MECH_CGROUP_CONNECT) ? 1 : 0;
}

SEC("cgroup/connect6")
int pal_conn6(struct bpf_sock_addr *ctx) {
  __u32 w[4];
  w[0] = ctx->user_ip6[0];
  w[1] = ctx->user_ip6[1];
  w[2] = ctx->user_ip6[2];
  w[3] = ctx->user_ip6[3];
  __u8 addr[16] = {};
  __u8 family = 6;
  if (pal_is_v4_mapped(w)) {
    family = 4;
    __builtin_memcpy(addr, &w[3], 4);
  } else {
    __builtin_memcpy(addr, w, 16);
  }
  __u16 port = bpf_ntohs((__u16)ctx->user_port);
  return pal_connect_check(family, addr, port, (__u8)ctx->protocol, PAL_MECH_CGROUP_CONNECT) ? 1 : 0;
}

SEC("lsm/socket_connect")
int BPF_PROG(pal_conn_lsm, struct socket *sock, struct sockaddr *address, int addrlen, int ret) {
  if (ret) return ret;
  __u16 sa_family = BPF_CORE_READ(address, sa_family);
  __u8 proto = BPF_CORE_READ(sock, sk, sk_protocol);
  __u8 addr[16] = {};
  __u8 family;
  __u16 port;
  if (sa_family == PAL_AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)address;
    __u32 ip = BPF_CORE_READ(sin, sin_addr.s_addr);
    __builtin_memcpy(addr, &ip, 4);
    port = bpf_ntohs(BPF_CORE_READ(sin, sin_port));
    family = 4;
  } else if (sa_family == PAL_AF_INET6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)address;
    __u32 w[4];
    bpf_probe_read_kernel(w, sizeof(w), &sin6->sin6_addr);
    port = bpf_ntohs(BPF_CORE_READ(sin6, sin6_port));
    if (pal_is_v4_mapped(w)) {
      family = 4;
      __builtin_memcpy(addr, &w[3], 4);
    } else {
      family = 6;
      __builtin_memcpy(addr, w, 16);
    }
  } else {
    return 0;
  }
  return pal_connect_check(family, addr, port, proto, PAL_MECH_BPF_LSM) ? 0 : -PAL_EPERM;
}

char LICENSE[] SEC("license") = "GPL";
