import {
  type BpfEnforcer,
  type BpfPolicyGeneration,
  type FanotifyEnforcer,
  openBpfEnforcer,
  openFanotifyEnforcer,
} from '@palisade/native';
import {
  type ContainerPolicy,
  compileNode,
  type EnforcementEvent,
  type NodeContainer,
  summarizeEvents,
} from '@palisade/policy';
import {
  type ClusterPolicy,
  type EnforcementStatus,
  initialPolicy,
  type LearnedBehaviour,
  type SecurityEvent,
  type Workload,
} from '@palisade/protocol';
import type { Log } from '../agent.js';
import { cgroupIdOfPid, containerResolver, rootDevOf } from './resolve.js';

export interface Backends {
  bpf: BpfEnforcer | undefined;
  fanotify: FanotifyEnforcer | undefined;
  backend: EnforcementStatus['backend'];
  reason: string;
}

/**
 * Opens the enforcement back-ends by trying them: BPF (bpf-lsm, else the fallback programs) and, when
 * the kernel refused bpf-lsm, the fanotify permission handler for exec and file rules.
 */
export function openBackends(opts: { pinDir?: string; cgroupRoot?: string; log: Log }): Backends {
  let bpf: BpfEnforcer | undefined;
  let fanotify: FanotifyEnforcer | undefined;
  const reasons: string[] = [];
  try {
    bpf = openBpfEnforcer({
      ...(opts.pinDir ? { pinDir: opts.pinDir } : {}),
      ...(opts.cgroupRoot ? { cgroupRoot: opts.cgroupRoot } : {}),
    });
    reasons.push(bpf.reason);
  } catch (err) {
    reasons.push(`eBPF unavailable: ${(err as Error).message}`);
  }
  if (bpf?.backend !== 'bpf-lsm') {
    try {
      fanotify = openFanotifyEnforcer();
      reasons.push('fanotify permission events for exec and file rules');
    } catch (err) {
      reasons.push(`fanotify unavailable: ${(err as Error).message}`);
    }
  }
  const backend = bpf?.backend ?? (fanotify ? 'fallback' : 'none');
  const reason = reasons.join('; ');
  opts.log(backend === 'none' ? 'error' : 'info', 'enforcement back-end', { backend, reason });
  return { bpf, fanotify, backend, reason };
}

interface Known {
  containerId: string;
  name: string;
  group: string;
}

/** Most distinct events per report; the rest are counted as dropped (never silently lost). */
const MAX_EVENTS_PER_REPORT = 1000;
const MAX_BEHAVIOURS_PER_REPORT = 2000;

/**
 * Keeps the kernel's enforcement in step with the policy and the running containers: every change of
 * either compiles a whole new generation and swaps it in; a generation a back-end refuses leaves the
 * previous one enforced and is reported. Events are folded, mapped to containers and reported.
 */
export class EnforcementManager {
  private policy: ClusterPolicy;
  private workloads: Workload[] = [];
  private generation = 0;
  private lastKey = '';
  private lastError: string | null = null;
  private byCgroup = new Map<bigint, Known>();
  private report: EnforcementStatus['workloads'] = [];
  private pending: EnforcementEvent[] = [];
  private droppedSinceReport = 0;
  private eventsSeen = 0;
  private readonly learnedSent = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    cluster: string,
    private readonly backends: Backends,
    private readonly opts: { cgroupRoot: string; procRoot: string; log: Log },
  ) {
    this.policy = initialPolicy(cluster);
    // Generations keep increasing across agent restarts (the pinned programs remember theirs).
    this.generation = Math.max(
      backends.bpf?.status().generation ?? 0,
      backends.fanotify?.status().generation ?? 0,
    );
    for (const b of [backends.bpf, backends.fanotify]) {
      if (b) this.unsubscribe.push(b.onEvents((events) => this.onEvents(events)));
    }
  }

  setPolicy(policy: ClusterPolicy): void {
    this.policy = policy;
    this.reconcile();
  }

  setWorkloads(workloads: Workload[]): void {
    this.workloads = workloads.filter((w) => w.state === 'running' && w.pid);
    this.reconcile();
  }

  /** A rejected input (e.g. a bad signed policy) is reported with the status; enforcement is unchanged. */
  noteRejected(reason: string): void {
    this.lastError = reason;
  }

  private reconcile(): void {
    if (this.backends.backend === 'none') return;
    const targets: NodeContainer[] = [];
    for (const w of this.workloads) {
      const cgroupId = cgroupIdOfPid(w.pid as number, this.opts.cgroupRoot, this.opts.procRoot);
      if (cgroupId === undefined) continue; // exited meanwhile; the next inventory round drops it
      const rootPath = `${this.opts.procRoot}/${w.pid}/root`;
      targets.push({
        id: w.id,
        name: w.kubernetes?.container ?? w.name,
        image: w.image,
        ...(w.kubernetes ? { namespace: w.kubernetes.namespace } : {}),
        labels: w.labels,
        cgroupId,
        rootPath,
        resolver: containerResolver(rootPath),
      });
    }
    // Nothing changed: do not churn generations every inventory round.
    const key = JSON.stringify([this.policy.revision, targets.map((t) => [t.id, String(t.cgroupId)])]);
    if (key === this.lastKey) return;
    const next = this.generation + 1;
    let compiled: ReturnType<typeof compileNode>;
    try {
      compiled = compileNode(this.policy, next, targets);
    } catch (err) {
      this.fail(`could not compile policy revision ${this.policy.revision}: ${(err as Error).message}`);
      return;
    }
    const bpfGeneration: BpfPolicyGeneration = {
      generation: next,
      containers: compiled.generation.containers.map((c: ContainerPolicy) => {
        const rootDev = rootDevOf(c.rootPath);
        return rootDev === undefined ? c : { ...c, rootDev };
      }),
    };
    // Each back-end swaps atomically on its own; a refusal keeps that back-end's previous generation.
    try {
      this.backends.bpf?.applyGeneration(bpfGeneration);
    } catch (err) {
      this.fail(`generation ${next} refused by the eBPF back-end: ${(err as Error).message}`);
      return;
    }
    this.generation = next; // the eBPF side now holds `next`: never offer it that number again
    try {
      this.backends.fanotify?.setGeneration(compiled.generation);
    } catch (err) {
      this.fail(`generation ${next} refused by the fanotify back-end: ${(err as Error).message}`);
      return;
    }
    this.lastKey = key;
    this.lastError = null;
    const modesOf = new Map(compiled.generation.containers.map((c) => [c.cgroupId, c.modes]));
    this.byCgroup = new Map();
    this.report = [];
    for (const t of targets) {
      const entry = compiled.containers[t.id];
      const group = entry?.group ?? 'default';
      this.byCgroup.set(t.cgroupId, { containerId: t.id, name: t.name, group });
      const modes = modesOf.get(t.cgroupId);
      if (modes)
        this.report.push({ containerId: t.id, group, modes, warnings: (entry?.warnings ?? []).slice(0, 50) });
      for (const w of entry?.warnings ?? [])
        this.opts.log('warn', 'policy compile warning', { containerId: t.id, warning: w });
    }
    this.opts.log('info', 'enforcing', {
      generation: next,
      policyRevision: this.policy.revision,
      containers: targets.length,
    });
  }

  private fail(message: string): void {
    this.lastError = message;
    this.opts.log('error', `${message}; the previous generation stays enforced`);
  }

  private onEvents(events: EnforcementEvent[]): void {
    this.eventsSeen += events.length;
    const room = MAX_EVENTS_PER_REPORT * 20 - this.pending.length;
    if (events.length > room) this.droppedSinceReport += events.length - Math.max(0, room);
    this.pending.push(...events.slice(0, Math.max(0, room)));
  }

  /** Folds the buffered events into report messages: security events and Discover behaviour. */
  drain(now = new Date()): {
    security: { events: SecurityEvent[]; dropped: number } | null;
    learned: LearnedBehaviour[];
  } {
    const events = this.pending;
    this.pending = [];
    const at = now.toISOString();
    const folded = new Map<string, SecurityEvent>();
    const discoverByGroup = new Map<string, EnforcementEvent[]>();
    let dropped = this.droppedSinceReport;
    this.droppedSinceReport = 0;
    for (const e of events) {
      const known = this.byCgroup.get(e.cgroupId);
      if (!known) continue; // a container that is gone, or not ours
      if (e.action === 'allow') {
        const list = discoverByGroup.get(known.group) ?? [];
        list.push(e);
        discoverByGroup.set(known.group, list);
      }
      const key = [known.containerId, e.kind, e.action, e.path, e.daddr, e.dport, e.protocol].join('|');
      const same = folded.get(key);
      if (same) {
        same.count++;
        continue;
      }
      if (folded.size >= MAX_EVENTS_PER_REPORT) {
        dropped++;
        continue;
      }
      folded.set(key, {
        at,
        kind: e.kind,
        action: e.action,
        mechanism: e.mechanism,
        containerId: known.containerId,
        containerName: known.name,
        group: known.group,
        pid: e.pid,
        comm: e.comm.slice(0, 64),
        ...(e.path ? { path: e.path.slice(0, 4096) } : {}),
        ...(e.flags !== undefined ? { flags: e.flags } : {}),
        ...(e.daddr ? { daddr: e.daddr } : {}),
        ...(e.dport !== undefined ? { dport: e.dport } : {}),
        ...(e.protocol ? { protocol: e.protocol } : {}),
        count: 1,
      });
    }
    // Learned behaviour goes to the hub once per distinct behaviour and policy revision.
    const learned: LearnedBehaviour[] = [];
    for (const [group, list] of discoverByGroup) {
      if (group === 'default') continue; // nothing to add rules to: the operator must create a group
      for (const b of summarizeEvents(group, list, at)) {
        const key = `${this.policy.revision}|${JSON.stringify({ ...b, count: 0, firstSeen: '', lastSeen: '' })}`;
        if (this.learnedSent.has(key) || learned.length >= MAX_BEHAVIOURS_PER_REPORT) continue;
        this.learnedSent.add(key);
        learned.push(b);
      }
    }
    if (this.learnedSent.size > 100_000) this.learnedSent.clear();
    const security = folded.size > 0 || dropped > 0 ? { events: [...folded.values()], dropped } : null;
    return { security, learned };
  }

  status(): EnforcementStatus {
    const bpf = this.backends.bpf?.status();
    const fan = this.backends.fanotify?.status();
    const mechanisms: EnforcementStatus['mechanisms'] = { process: [], file: [], network: [] };
    for (const kind of ['process', 'file', 'network'] as const) {
      mechanisms[kind] = [...(bpf?.mechanisms[kind] ?? [])];
      if (fan && kind !== 'network') mechanisms[kind].unshift('fanotify');
    }
    return {
      backend: this.backends.backend,
      reason: this.backends.reason.slice(0, 4096),
      mechanisms,
      policyRevision: this.policy.revision,
      generation: this.generation,
      lastError: this.lastError?.slice(0, 4096) ?? null,
      events: this.eventsSeen,
      drops: (bpf?.drops ?? 0) + (fan?.drops ?? 0),
      workloads: this.report,
    };
  }

  /** Stops event delivery. The pinned eBPF programs keep enforcing; fanotify marks go with the handler. */
  close(): void {
    for (const u of this.unsubscribe) u();
    this.backends.bpf?.close();
    this.backends.fanotify?.close();
  }
}
