/**
 * The contract between the agent (which resolves policy against its containers) and the native
 * enforcement back-ends. Everything here is plain data: the agent builds a whole generation and hands
 * it over in one call; a back-end either enforces all of it or keeps the previous generation.
 */

export type Mode = 'discover' | 'monitor' | 'protect';
export type RuleKind = 'process' | 'file' | 'network';

/** A file as the kernel sees it. `dev` is the KERNEL encoding (major << 20 | minor), not stat's. */
export interface FileId {
  dev: bigint;
  ino: bigint;
}

export interface NetAllow {
  family: 4 | 6;
  /** Address in text form; with prefixLen it is a CIDR (0.0.0.0/0 = any). */
  addr: string;
  prefixLen: number;
  /** 0 = any port. */
  port: number;
  protocol: 'tcp' | 'udp' | 'any';
}

export interface ProtectedFile {
  id: FileId;
  /** True for a directory: writes to its direct children are covered. */
  dir: boolean;
  /** For a directory: only children whose name starts with this (e.g. "sudoers" in /etc). */
  namePrefix?: string;
  /**
   * The path inside the container of the file or directory itself (for a directory entry with a
   * namePrefix: the directory). Back-ends resolve it in the container's root and check it is `id`.
   */
  path: string;
}

/** Enforcement for one container, keyed by the inode of its cgroup v2 directory. */
export interface ContainerPolicy {
  cgroupId: bigint;
  /** Host path to the container's root filesystem (e.g. /proc/<pid>/root), for fanotify marks. */
  rootPath: string;
  modes: Record<RuleKind, Mode>;
  /** Binaries the container may execute (process rules), resolved to inodes by the agent. */
  execAllow: Array<FileId & { path: string }>;
  /** Files and directories nobody in the container may open for writing (file rules). */
  fileProtect: ProtectedFile[];
  /** Outbound connections allowed (network rules). */
  netAllow: NetAllow[];
}

export interface PolicyGeneration {
  /** Strictly increasing; a back-end refuses a generation not greater than the current one. */
  generation: number;
  containers: ContainerPolicy[];
}

export type Mechanism = 'bpf-lsm' | 'tp_btf-kill' | 'fanotify' | 'cgroup-connect';

export interface EnforcementEvent {
  kind: RuleKind;
  /** allow: Discover (learned behaviour); alert: Monitor; deny: Protect blocked it. */
  action: 'allow' | 'alert' | 'deny';
  mechanism: Mechanism;
  cgroupId: bigint;
  pid: number;
  comm: string;
  /** process/file: the path (best effort) and inode. */
  path?: string;
  file?: FileId;
  /** file: the open flags (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC ...). */
  flags?: number;
  /** network */
  family?: 4 | 6;
  daddr?: string;
  dport?: number;
  protocol?: 'tcp' | 'udp';
  /** Kernel monotonic time in ns (bpf_ktime_get_ns) or Date.now()*1e6 for fanotify. */
  timeNs: bigint;
}

export interface BackendStatus {
  backend: 'bpf-lsm' | 'fallback';
  /** Why this back-end: e.g. "bpf-lsm: program load refused (EPERM); using fallback". */
  reason: string;
  mechanisms: Record<RuleKind, Mechanism[]>;
  generation: number;
  /** Events delivered to JS, and dropped because a buffer was full (never silent). */
  events: number;
  drops: number;
}
