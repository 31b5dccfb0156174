/* File rules (bpf-lsm back-end only; the fallback back-end protects files with fanotify):
 * opening a protected file for writing, or a child of a protected directory whose name starts with
 * the configured prefix, is denied with EPERM. */
#include "common.bpf.h"

#define PAL_FMODE_WRITE 0x2

static __always_inline bool pal_has_prefix(struct dentry *dentry, struct pal_file_protect *p) {
  char name[PAL_NAME_PREFIX_LEN] = {};
  const unsigned char *n = BPF_CORE_READ(dentry, d_name.name);
  if (bpf_probe_read_kernel_str(name, sizeof(name), n) < 0) return false;
  __u8 len = p->prefix_len;
  for (int i = 0; i < PAL_NAME_PREFIX_LEN; i++) {
    if (i >= len) break;
    if (name[i] != p->prefix[i]) return false;
  }
  return true;
}

SEC("lsm/file_open")
int BPF_PROG(pal_file_lsm, struct file *file, int ret) {
  if (ret) return ret;
  if (!(BPF_CORE_READ(file, f_mode) & PAL_FMODE_WRITE)) return 0;
  __u32 slot;
  __u64 cgroup_id = 0;
  if (pal_active_slot(&slot)) return 0;
  struct pal_container *c = pal_current_container(slot, &cgroup_id);
  if (!c) return 0;
  __u8 mode = c->mode[PAL_KIND_FILE];
  if (mode == PAL_MODE_OFF) return 0;

  struct inode *inode = BPF_CORE_READ(file, f_inode);
  struct pal_file_key key = {.cgroup_id = cgroup_id,
                             .ino = BPF_CORE_READ(inode, i_ino),
                             .dev = BPF_CORE_READ(inode, i_sb, s_dev),
                             .slot = slot};
  struct pal_file_protect *p = bpf_map_lookup_elem(&pal_file_prot, &key);
  bool hit = p && !p->dir;
  if (!hit) {
    struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
    struct inode *dir = BPF_CORE_READ(dentry, d_parent, d_inode);
    struct pal_file_key dkey = {.cgroup_id = cgroup_id,
                                .ino = BPF_CORE_READ(dir, i_ino),
                                .dev = BPF_CORE_READ(dir, i_sb, s_dev),
                                .slot = slot};
    struct pal_file_protect *d = bpf_map_lookup_elem(&pal_file_prot, &dkey);
    hit = d && d->dir && pal_has_prefix(dentry, d);
  }
  if (!hit) return 0;

  __u8 action = pal_action_for(mode);
  struct pal_event *e = pal_event_reserve(PAL_KIND_FILE, action, PAL_MECH_BPF_LSM, cgroup_id);
  if (e) {
    e->dev = key.dev;
    e->ino = key.ino;
    e->flags = BPF_CORE_READ(file, f_flags);
    const unsigned char *n = BPF_CORE_READ(file, f_path.dentry, d_name.name);
    bpf_probe_read_kernel_str(e->path, sizeof(e->path), n);
    bpf_ringbuf_submit(e, 0);
  }
  return action == PAL_ACTION_DENY ? -PAL_EPERM : 0;
}

char LICENSE[] SEC("license") = "GPL";
