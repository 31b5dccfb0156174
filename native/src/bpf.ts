/**
 * The eBPF side of native enforcement: loads (or re-adopts) the pinned Palisade programs, applies
 * whole policy generations and streams kernel events to JS. The work is done by the palisade_bpf
 * addon; this module resolves defaults, fills each container's root dev and fans events out.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type {
  BackendStatus,
  ContainerPolicy,
  EnforcementEvent,
  Mechanism,
  PolicyGeneration,
  RuleKind,
} from '@palisade/policy';
import { decodeEvents, type EventLayout } from './bpf-events.js';

export const DEFAULT_PIN_DIR = '/sys/fs/bpf/palisade';

export type BpfBackendChoice = 'auto' | 'bpf-lsm' | 'fallback';

export interface BpfEnforcerOptions {
  /** bpffs directory holding our pins (default /sys/fs/bpf/palisade). */
  pinDir?: string;
  /** cgroup v2 mount the connect programs attach to (default: found in /proc/self/mountinfo). */
  cgroupRoot?: string;
  /** 'auto' tries bpf-lsm first and falls back when the kernel refuses it. */
  backend?: BpfBackendChoice;
  /** Ring buffer size for a fresh install (power of two ≥ page size; default 1 MiB, ~5,000 events: user space maps it twice and all of it is resident). */
  ringBufferBytes?: number;
  /** Event batches that may wait for the JS thread at once (default 16); later events accumulate. */
  queueSize?: number;
  /** Most events per batch (default 4096). */
  batchSize?: number;
  /** Events held in the addon while JS is behind; beyond this they are dropped and counted (default 32768). */
  maxPendingEvents?: number;
}

/**
 * A container policy as the BPF side takes it. `rootDev` (kernel encoding) overrides the dev the
 * wrapper reads from `rootPath`; execs of files on that filesystem are left to fanotify in the
 * fallback back-end.
 */
export type BpfContainerPolicy = ContainerPolicy & { rootDev?: bigint };
export type BpfPolicyGeneration = Omit<PolicyGeneration, 'containers'> & { containers: BpfContainerPolicy[] };

/** BackendStatus for the BPF side, with the two kinds of drops told apart. */
export interface BpfStatus extends BackendStatus {
  /** Ring-buffer reservations that failed in the kernel (event lost, enforcement unaffected). */
  kernelDrops: number;
  /** Batches the JS thread could not take in time. */
  userDrops: number;
  pinDir: string;
}

export interface BpfEnforcer {
  readonly backend: 'bpf-lsm' | 'fallback';
  readonly reason: string;
  /** Validates the whole generation, then swaps it in atomically; throws and keeps the old one on bad input. */
  applyGeneration(generation: BpfPolicyGeneration): void;
  /** Subscribes to event batches; returns the unsubscribe function. */
  onEvents(listener: (events: EnforcementEvent[]) => void): () => void;
  status(): BpfStatus;
  /** Stops event delivery; the pinned programs keep enforcing (an agent restart re-adopts them). */
  close(): void;
}

interface NativeStatus {
  backend: 'bpf-lsm' | 'fallback';
  reason: string;
  generation: number;
  events: number;
  kernelDrops: number;
  userDrops: number;
  pinDir: string;
}

interface NativeEnforcer {
  applyGeneration(generation: unknown): void;
  status(): NativeStatus;
  close(): void;
}

interface NativeBinding {
  BpfEnforcer: new (options: Record<string, unknown>, onBatch: (records: Buffer) => void) => NativeEnforcer;
  uninstall(pinDir: string): boolean;
  eventLayout: EventLayout;
}

let binding: NativeBinding | undefined;

function loadBinding(): NativeBinding {
  if (!binding) {
    // Resolved from this file (src/ or dist/), both one level below the package root.
    const require = createRequire(import.meta.url);
    binding = require('../addon/build/Release/palisade_bpf.node') as NativeBinding;
  }
  return binding;
}

const MECHANISMS: Record<'bpf-lsm' | 'fallback', Record<RuleKind, Mechanism[]>> = {
  'bpf-lsm': { process: ['bpf-lsm'], file: ['bpf-lsm'], network: ['bpf-lsm'] },
  // File rules of the fallback back-end are fanotify's, not ours.
  fallback: { process: ['tp_btf-kill'], file: [], network: ['cgroup-connect'] },
};

export function openBpfEnforcer(options: BpfEnforcerOptions = {}): BpfEnforcer {
  const native = loadBinding();
  const listeners = new Set<(events: EnforcementEvent[]) => void>();
  const enforcer = new native.BpfEnforcer(
    {
      pinDir: options.pinDir ?? DEFAULT_PIN_DIR,
      cgroupRoot: options.cgroupRoot ?? cgroupV2Root(),
      backend: options.backend ?? 'auto',
      ringBufferBytes: options.ringBufferBytes,
      queueSize: options.queueSize,
      batchSize: options.batchSize,
      maxPendingEvents: options.maxPendingEvents,
    },
    (records) => {
      if (listeners.size === 0) return;
      const events = decodeEvents(records, native.eventLayout);
      for (const listener of listeners) listener(events);
    },
  );
  const first = enforcer.status();
  return {
    backend: first.backend,
    reason: first.reason,
    applyGeneration(generation) {
      enforcer.applyGeneration(withRootDevs(generation));
    },
    onEvents(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    status() {
      const s = enforcer.status();
      return {
        backend: s.backend,
        reason: s.reason,
        mechanisms: MECHANISMS[s.backend],
        generation: s.generation,
        events: s.events,
        drops: s.kernelDrops + s.userDrops,
        kernelDrops: s.kernelDrops,
        userDrops: s.userDrops,
        pinDir: s.pinDir,
      };
    },
    close() {
      listeners.clear();
      enforcer.close();
    },
  };
}

/** Detaches and removes every program, link and map pin of ours under pinDir. True if anything was there. */
export function uninstallBpf(pinDir: string = DEFAULT_PIN_DIR): boolean {
  return loadBinding().uninstall(pinDir);
}

function withRootDevs(generation: BpfPolicyGeneration): BpfPolicyGeneration {
  if (typeof generation !== 'object' || generation === null || !Array.isArray(generation.containers)) {
    return generation; // the addon reports the precise problem
  }
  return {
    ...generation,
    containers: generation.containers.map((c) =>
      typeof c === 'object' && c !== null && c.rootDev === undefined
        ? { ...c, rootDev: rootDevOf(c.rootPath) }
        : c,
    ),
  };
}

/** Kernel dev of the filesystem at path, or 0 (skip nothing) when it is gone. */
function rootDevOf(rootPath: unknown): bigint {
  if (typeof rootPath !== 'string' || rootPath === '') return 0n;
  try {
    return kernelDev(statSync(rootPath, { bigint: true }).dev);
  } catch {
    return 0n;
  }
}

/**
 * stat's st_dev (glibc dev_t: major in bits 8-19 and 32-43, minor in bits 0-7 and 12-31) to the
 * kernel's internal encoding major << 20 | minor, which BPF programs see in s_dev.
 */
export function kernelDev(statDev: bigint): bigint {
  const major = ((statDev >> 8n) & 0xfffn) | ((statDev >> 32n) & ~0xfffn);
  const minor = (statDev & 0xffn) | ((statDev >> 12n) & ~0xffn);
  return ((major & 0xfffn) << 20n) | (minor & 0xfffffn);
}

/** A cgroup's id: the inode number of its directory in the cgroup v2 hierarchy. */
export function cgroupIdOf(path: string): bigint {
  const st = statSync(path, { bigint: true });
  if (!st.isDirectory()) throw new Error(`${path} is not a cgroup directory`);
  return st.ino;
}

/** Mount point of the cgroup v2 hierarchy, from /proc/self/mountinfo. */
export function cgroupV2Root(mountinfo: string = readFileSync('/proc/self/mountinfo', 'utf8')): string {
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    if (post.split(' ')[0] !== 'cgroup2') continue;
    const mountPoint = pre.split(' ')[4];
    if (mountPoint)
      return mountPoint.replace(/\\([0-7]{3})/g, (_, o: string) =>
        String.fromCharCode(Number.parseInt(o, 8)),
      );
  }
  throw new Error('no cgroup2 mount in /proc/self/mountinfo');
}
