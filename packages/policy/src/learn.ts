import {
  ExecutablePath,
  type FileRule,
  type Group,
  type LearnedBehaviour,
  MAX_FILE_RULES,
  MAX_NETWORK_RULES,
  MAX_PROCESS_RULES,
  type NetworkRule,
  type ProcessRule,
  ProtectedPath,
} from '@palisade/protocol';
import type { EnforcementEvent } from './enforcement.js';
import { cidrContains, formatIp, parseCidr, parseIp, unmapV4 } from './ip.js';

/** Allow rules proposed from what a group did in Discover mode. */
export interface CandidateRules {
  process: ProcessRule[];
  file: FileRule[];
  network: NetworkRule[];
}

export interface Candidates extends CandidateRules {
  /** Observations that cannot become a valid rule (no path, relative or odd path, no address ...). */
  skipped: string[];
}

type Observed =
  | { kind: 'process'; path: string }
  | { kind: 'file'; path: string }
  | { kind: 'network'; network: { to: string; port: number; protocol: 'tcp' | 'udp' } };

const observedKey = (o: Observed) =>
  o.kind === 'network'
    ? `network|${o.network.to}|${o.network.port}|${o.network.protocol}`
    : `${o.kind}|${o.path}`;

/** One learning event as a behaviour, or why it cannot be one. */
function observe(e: EnforcementEvent): Observed | string {
  if (e.kind === 'network') {
    const ip = e.daddr === undefined ? undefined : parseIp(e.daddr);
    if (!ip || !e.dport || !e.protocol) return `network event without address, port or protocol (${e.comm})`;
    return { kind: 'network', network: { to: formatIp(unmapV4(ip)), port: e.dport, protocol: e.protocol } };
  }
  const schema = e.kind === 'process' ? ExecutablePath : ProtectedPath;
  if (e.path === undefined) return `${e.kind} event without a path (${e.comm})`;
  if (!schema.safeParse(e.path).success) return `${e.kind} path ${JSON.stringify(e.path)} cannot be a rule`;
  return { kind: e.kind, path: e.path };
}

function toCandidates(observed: Iterable<Observed>, skipped: string[]): Candidates {
  const seen = new Set<string>();
  const out: Candidates = { process: [], file: [], network: [], skipped };
  for (const o of observed) {
    const key = observedKey(o);
    if (seen.has(key)) continue;
    seen.add(key);
    if (o.kind === 'process') out.process.push({ path: o.path, action: 'allow' });
    else if (o.kind === 'file') out.file.push({ path: o.path, access: 'write', action: 'allow' });
    else {
      const to = o.network.to.includes(':') ? `${o.network.to}/128` : `${o.network.to}/32`;
      out.network.push({ to, ports: [o.network.port], protocol: o.network.protocol, action: 'allow' });
    }
  }
  return out;
}

/** Candidate rules from a group's Discover events (action "allow"); alerts and denials are ignored. */
export function candidatesFromEvents(events: Iterable<EnforcementEvent>): Candidates {
  const observed: Observed[] = [];
  const skipped = new Set<string>();
  for (const e of events) {
    if (e.action !== 'allow') continue;
    const o = observe(e);
    if (typeof o === 'string') skipped.add(o);
    else observed.push(o);
  }
  return toCandidates(observed, [...skipped]);
}

export function candidatesFromBehaviours(behaviours: Iterable<LearnedBehaviour>): Candidates {
  return toCandidates(behaviours, []);
}

/**
 * Folds a batch of Discover events into per-behaviour counts (what an agent reports). Events carry
 * only monotonic time, so the batch is stamped with `seenAt` (ISO time of the batch).
 */
export function summarizeEvents(
  group: string,
  events: Iterable<EnforcementEvent>,
  seenAt: string,
  previous: readonly LearnedBehaviour[] = [],
): LearnedBehaviour[] {
  const byKey = new Map<string, LearnedBehaviour>();
  for (const b of previous) byKey.set(observedKey(b), { ...b });
  for (const e of events) {
    if (e.action !== 'allow') continue;
    const o = observe(e);
    if (typeof o === 'string') continue;
    const key = observedKey(o);
    const known = byKey.get(key);
    if (known) {
      known.count++;
      if (Date.parse(seenAt) > Date.parse(known.lastSeen)) known.lastSeen = seenAt;
      if (Date.parse(seenAt) < Date.parse(known.firstSeen)) known.firstSeen = seenAt;
    } else {
      byKey.set(key, { ...o, group, count: 1, firstSeen: seenAt, lastSeen: seenAt });
    }
  }
  return [...byKey.values()];
}

function portsCover(ports: NetworkRule['ports'], port: number): boolean {
  if (ports === 'any') return true;
  return ports.some((p) => (typeof p === 'number' ? p === port : p.from <= port && port <= p.to));
}

/** Whether an existing rule already allows everything a learned single-port rule would. */
function networkCovered(existing: NetworkRule, learned: NetworkRule): boolean {
  if (existing.protocol !== 'any' && existing.protocol !== learned.protocol) return false;
  const learnedPorts = learned.ports === 'any' ? undefined : learned.ports;
  if (existing.ports !== 'any') {
    if (!learnedPorts) return false;
    if (!learnedPorts.every((p) => typeof p === 'number' && portsCover(existing.ports, p))) return false;
  }
  if (existing.to === 'any') return true;
  const outer = parseCidr(existing.to);
  const inner = learned.to === 'any' ? undefined : parseCidr(learned.to);
  if (!outer || !inner) return false;
  return (
    inner.prefixLen >= outer.prefixLen && cidrContains(outer, { family: inner.family, value: inner.network })
  );
}

const networkKey = (r: NetworkRule) => `${r.to}|${JSON.stringify(r.ports)}|${r.protocol}`;

export interface MergeResult {
  group: Group;
  /** Rules actually added (not already present or covered). */
  added: number;
  /** Rules left out because the group reached its rule limit. */
  overLimit: number;
}

/**
 * Adds learned rules to a group. Existing rules keep their order and win (a learned allow never
 * overrides an operator's deny); new rules are appended sorted, so the result does not depend on the
 * order events arrived in, and merging the same candidates again changes nothing.
 */
export function mergeLearned(group: Group, candidates: CandidateRules): MergeResult {
  let added = 0;
  let overLimit = 0;
  const append = <T>(existing: T[], fresh: T[], key: (r: T) => string, max: number): T[] => {
    const sorted = [...fresh].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const out = [...existing];
    for (const r of sorted) {
      if (out.length >= max) {
        overLimit++;
        continue;
      }
      out.push(r);
      added++;
    }
    return out;
  };

  const processPaths = new Set(group.process.map((r) => r.path));
  const newProcess = uniqueBy(candidates.process, (r) => r.path).filter((r) => !processPaths.has(r.path));
  const filePaths = new Set(group.file.map((r) => r.path));
  const newFile = uniqueBy(candidates.file, (r) => r.path).filter((r) => !filePaths.has(r.path));
  const newNetwork = uniqueBy(candidates.network, networkKey).filter(
    (r) => !group.network.some((existing) => networkCovered(existing, r)),
  );

  return {
    group: {
      ...group,
      process: append(group.process, newProcess, (r) => r.path, MAX_PROCESS_RULES),
      file: append(group.file, newFile, (r) => r.path, MAX_FILE_RULES),
      network: append(group.network, newNetwork, networkKey, MAX_NETWORK_RULES),
    },
    added,
    overLimit,
  };
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
