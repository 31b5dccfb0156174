import type { Raft } from '../raft.js';
import { bytesEqual, type Entry, type NodeId } from '../types.js';

/** SafetyViolation is thrown by SafetyChecker; the simulation turns it into a replayable failure. */
export class SafetyViolation extends Error {
  constructor(
    readonly property: string,
    readonly detail: string,
  ) {
    super(`${property}: ${detail}`);
    this.name = 'SafetyViolation';
  }
}

interface EntryRecord {
  readonly type: Entry['type'];
  readonly data: Uint8Array;
  /** Term of the entry before it in the log that first reported it (-1: unknown). */
  prevTerm: number;
}

interface CommitRecord {
  readonly term: number;
  readonly data: Uint8Array;
  readonly type: Entry['type'];
  /** Smallest term at which some node observed this entry committed. */
  observedTerm: number;
  /** State machine hash after applying this entry (first node to apply it). */
  hash: string | undefined;
}

/**
 * SafetyChecker checks Raft's safety properties (paper Figure 3) across all nodes, incrementally,
 * after every simulation step:
 *
 * - Election Safety: at most one leader per term.
 * - Leader Append-Only: a leader never overwrites or deletes entries in its log.
 * - Log Matching: two entries with the same index and term hold the same command and are preceded
 *   by the same entry (checked per (index, term) as entries are persisted, and by a full pairwise
 *   comparison from time to time).
 * - Leader Completeness: a leader of term T holds every entry observed committed at a term < T.
 * - State Machine Safety: every node applies the same entry at each index, reaching the same state.
 */
export class SafetyChecker {
  private readonly leaders = new Map<number, NodeId>();
  /** Per leader (id:term): its last index, to check append-only. */
  private readonly leaderLast = new Map<string, number>();
  private readonly entries = new Map<string, EntryRecord>();
  private readonly committed = new Map<number, CommitRecord>();
  private readonly leaderChecked = new Set<string>();
  checks = 0;

  private fail(property: string, msg: string): never {
    throw new SafetyViolation(property, msg);
  }

  /** observeRole runs after every step for every live node. */
  observeRole(r: Raft): void {
    this.checks++;
    if (r.state !== 'leader') return;
    const prev = this.leaders.get(r.term);
    if (prev === undefined) this.leaders.set(r.term, r.id);
    else if (prev !== r.id)
      this.fail('election safety', `two leaders in term ${r.term}: ${prev} and ${r.id}`);
    const key = `${r.id}:${r.term}`;
    const last = r.raftLog.lastIndex();
    const pl = this.leaderLast.get(key);
    if (pl !== undefined && last < pl)
      this.fail(
        'leader append-only',
        `leader ${r.id} of term ${r.term} shrank its log from ${pl} to ${last}`,
      );
    this.leaderLast.set(key, last);
    if (!this.leaderChecked.has(key)) {
      this.leaderChecked.add(key);
      this.checkLeaderCompleteness(r);
    }
  }

  private checkLeaderCompleteness(r: Raft): void {
    const first = r.raftLog.firstIndex();
    for (const [index, c] of this.committed) {
      if (c.observedTerm >= r.term || index < first) continue;
      const t = r.raftLog.termOr(index, -1);
      if (t !== c.term) {
        this.fail(
          'leader completeness',
          `leader ${r.id} of term ${r.term} lacks entry ${index} (term ${c.term}) committed by term ${c.observedTerm}; it has term ${t}`,
        );
      }
    }
  }

  /** observeAppended runs for the entries of each Ready (about to be persisted) of node `r`. */
  observeAppended(r: Raft, ents: readonly Entry[]): void {
    let prevTerm = ents.length > 0 ? r.raftLog.termOr((ents[0] as Entry).index - 1, -1) : -1;
    for (const e of ents) {
      const key = `${e.index}:${e.term}`;
      const rec = this.entries.get(key);
      if (!rec) {
        this.entries.set(key, { type: e.type, data: e.data, prevTerm });
      } else {
        if (rec.type !== e.type || !bytesEqual(rec.data, e.data))
          this.fail('log matching', `node ${r.id}: entry ${key} differs from the one seen before`);
        if (rec.prevTerm === -1) rec.prevTerm = prevTerm;
        else if (prevTerm !== -1 && prevTerm !== rec.prevTerm)
          this.fail(
            'log matching',
            `node ${r.id}: entry ${key} preceded by term ${prevTerm}, elsewhere by term ${rec.prevTerm}`,
          );
      }
      prevTerm = e.term;
    }
  }

  /** observeApplied runs for each entry node `id` (at `term`) applies, with the resulting state hash. */
  observeApplied(id: NodeId, term: number, e: Entry, hash: string): void {
    const c = this.committed.get(e.index);
    if (!c) {
      this.committed.set(e.index, { term: e.term, data: e.data, type: e.type, observedTerm: term, hash });
      return;
    }
    if (c.term !== e.term || c.type !== e.type || !bytesEqual(c.data, e.data)) {
      this.fail(
        'state machine safety',
        `node ${id} applied entry ${e.index} (term ${e.term}); another node applied term ${c.term} there`,
      );
    }
    if (c.hash !== undefined && c.hash !== hash) {
      this.fail(
        'state machine safety',
        `node ${id} reached state ${hash} after ${e.index}; another node reached ${c.hash}`,
      );
    }
    if (c.hash === undefined) c.hash = hash;
    if (term < c.observedTerm) c.observedTerm = term;
  }

  /** observeCommitted records entries a node knows are committed (before it applies them). */
  observeCommitted(id: NodeId, term: number, ents: readonly Entry[]): void {
    for (const e of ents) {
      const c = this.committed.get(e.index);
      if (!c) {
        this.committed.set(e.index, {
          term: e.term,
          data: e.data,
          type: e.type,
          observedTerm: term,
          hash: undefined,
        });
      } else {
        if (c.term !== e.term || !bytesEqual(c.data, e.data))
          this.fail(
            'state machine safety',
            `node ${id} committed entry ${e.index} (term ${e.term}); elsewhere term ${c.term}`,
          );
        if (term < c.observedTerm) c.observedTerm = term;
      }
    }
  }

  /** observeSnapshotRestored: a node installed a snapshot at `index`; its state must match. */
  observeSnapshotRestored(id: NodeId, index: number, term: number, hash: string): void {
    const c = this.committed.get(index);
    if (!c) return;
    if (c.term !== term)
      this.fail(
        'state machine safety',
        `node ${id} restored snapshot at ${index} with term ${term}; committed term is ${c.term}`,
      );
    if (c.hash !== undefined && c.hash !== hash) {
      this.fail(
        'state machine safety',
        `node ${id} restored snapshot at ${index} with state ${hash}; expected ${c.hash}`,
      );
    }
  }

  /** checkLogsPairwise compares the overlapping parts of two logs in full. */
  checkLogsPairwise(a: Raft, b: Raft): void {
    const lo = Math.max(a.raftLog.firstIndex(), b.raftLog.firstIndex());
    const hi = Math.min(a.raftLog.lastIndex(), b.raftLog.lastIndex());
    if (lo > hi) return;
    const ea = a.raftLog.slice(lo, hi + 1, Number.MAX_SAFE_INTEGER);
    const eb = b.raftLog.slice(lo, hi + 1, Number.MAX_SAFE_INTEGER);
    let top = -1;
    for (let i = ea.length - 1; i >= 0; i--) {
      if ((ea[i] as Entry).term === (eb[i] as Entry).term) {
        top = i;
        break;
      }
    }
    for (let i = 0; i <= top; i++) {
      const x = ea[i] as Entry;
      const y = eb[i] as Entry;
      if (x.term !== y.term || x.type !== y.type || !bytesEqual(x.data, y.data)) {
        this.fail(
          'log matching',
          `nodes ${a.id} and ${b.id} agree on entry ${lo + top} (term ${(ea[top] as Entry).term}) but differ at ${x.index}`,
        );
      }
    }
  }

  /** commitRecord exposes what is known committed at `index` (for the liveness phase). */
  committedCount(): number {
    return this.committed.size;
  }

  maxCommitted(): number {
    let m = 0;
    for (const k of this.committed.keys()) if (k > m) m = k;
    return m;
  }
}
