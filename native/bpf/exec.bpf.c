/* Process rules: which binaries a container may execute.
 * bpf-lsm back-end: lsm/bprm_check_security denies with EPERM before the new image runs.
 * fallback back-end: tp_btf/sched_process_exec SIGKILLs after the fact; it only covers files that
 * are NOT on the container's root filesystem (fanotify answers those with a true EPERM). */
#include "common.bpf.h"

/* Returns the action taken, or -1 when the exec is not ours to judge. */
static __always_inline int pal_judge_exec(struct linux_binprm *bprm, bool skip_root_dev,
                                          __u8 mechanism) {
  __u32 slot;
  __u64 cgroup_id = 0;
  if (pal_active_slot(&slot)) return -1;
  struct pal_container *c = pal_current_container(slot, &cgroup_id);
  if (!c) return -1;
  __u8 mode = c->mode[PAL_KIND_PROCESS];
  if (mode == PAL_MODE_OFF) return -1;

  struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
  __u32 dev = BPF_CORE_READ(inode, i_sb, s_dev);
  __u64 ino = BPF_CORE_READ(inode, i_ino);
  if (skip_root_dev && c->root_dev && dev == c->root_dev) return -1;

  struct pal_file_key key = {.cgroup_id = cgroup_id, .ino = ino, .dev = dev, .slot = slot};
  if (bpf_map_lookup_elem(&pal_exec_allow, &key)) return -1;

  __u8 action = pal_action_for(mode);
  struct pal_event *e = pal_event_reserve(PAL_KIND_PROCESS, action, mechanism, cgroup_id);
  if (e) {
    e->dev = dev;
    e->ino = ino;
    const char *filename = BPF_CORE_READ(bprm, filename);
    bpf_probe_read_kernel_str(e->path, sizeof(e->path), filename);
    bpf_ringbuf_submit(e, 0);
  }
  return action;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pal_exec_tp, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
  if (pal_judge_exec(bprm, true, PAL_MECH_TP_BTF_KILL) == PAL_ACTION_DENY)
    bpf_send_signal(PAL_SIGKILL);
  return 0;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(pal_exec_lsm, struct linux_binprm *bprm, int ret) {
  if (ret) return ret;
  if (pal_judge_exec(bprm, false, PAL_MECH_BPF_LSM) == PAL_ACTION_DENY) return -PAL_EPERM;
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
