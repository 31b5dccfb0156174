import { invariant } from './errors.js';
import { type Config, type ProposeResult, Raft, type RaftStats } from './raft.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ReadState,
  Snapshot,
  SoftState,
  StateType,
} from './types.js';
import { type DropReason, validateMessage } from './validate.js';

/**
 * Ready is one batch of work the caller must perform, in this order (the Ready/Advance contract):
 *
 *  1. Persist, then fsync if `mustSync`: `snapshot` (if any), then `entries` (appending; an entry at
 *     an index already stored replaces it and everything after it), then `hardState` (if any). Entries
 *     must be written before the hard state that may commit them, so a torn write never leaves a
 *     commit index pointing past the log.
 *  2. Send `messages`. Only now: a vote, or an acknowledgement of entries, promises that they are
 *     durable. (A leader may send its appends before its own fsync completes only if it does not
 *     count its own log toward commitment until then; this implementation does count it, so the
 *     caller must fsync first.)
 *  3. Apply `snapshot` (if any) to the state machine, then `committedEntries` in order. For each
 *     `confChange` entry, the caller may update its transport and its record of the ConfState (see
 *     confchange.applyConfChange) — the core already switched configuration when the entry was
 *     appended. Serve `readStates` once the applied index reaches each one's index.
 *  4. Call advance().
 *
 * `softState`/`hardState` are present only when changed since the previous Ready.
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly readStates: readonly ReadState[];
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  /** Whether step 1 must fsync: false when only the commit index changed (it can be recovered). */
  readonly mustSync: boolean;
}

/** Status is a snapshot of a node's state for observers and tests. */
export interface Status {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lead: NodeId;
  readonly state: StateType;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly leadTransferee: NodeId;
  readonly config: ConfState;
  readonly progress: ReadonlyMap<NodeId, { match: number; next: number; state: string }>;
}

export type StepResult = 'ok' | DropReason;

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * RawNode is a thread-unsafe Raft node: the synchronous core the caller drives with tick(), step()
 * and the propose/read APIs, draining output with ready()/advance(). It does no I/O and keeps no
 * clock; see Ready for the order in which output must be handled.
 */
export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private inFlight: Ready | undefined = undefined;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  get stats(): RaftStats {
    return this.raft.stats;
  }

  /** tick advances the logical clock by one tick (election and heartbeat timeouts count ticks). */
  tick(): void {
    this.raft.tick();
  }

  /** campaign makes this node start an election now. */
  campaign(): void {
    this.raft.hup(false);
  }

  /** propose appends one normal entry per element of `data` (one batch) if this node is leader. */
  propose(...data: Uint8Array[]): ProposeResult {
    return this.raft.propose(data.map((d) => ({ type: 'normal' as const, data: d })));
  }

  /** proposeConfChange proposes a single-server membership change (leader only). */
  proposeConfChange(cc: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(cc);
  }

  /**
   * readIndex requests a linearizable read; the answer is a ReadState with the same context in a
   * later Ready. Returns false if dropped at once (no known leader); it may also be dropped later
   * (leader change), so callers need a timeout.
   */
  readIndex(context: Uint8Array): boolean {
    return this.raft.readIndex(context);
  }

  /** transferLeader asks the current leader to hand over to `target`. */
  transferLeader(target: NodeId): void {
    this.raft.transferLeader(target);
  }

  /**
   * step feeds a message received from the network. It is first validated: malformed messages, and
   * messages from unknown nodes or from members of older configurations, are dropped and counted in
   * `stats.dropped` (the reason is returned).
   */
  step(m: unknown): StepResult {
    const why = validateMessage(m, this.raft);
    if (why) {
      this.raft.stats.dropped[why]++;
      this.raft.logger.debug(`dropped ${why} message ${describe(m)}`);
      return why;
    }
    this.raft.step(m as Message);
    return 'ok';
  }

  /** reportUnreachable tells the core that the last message to `id` was probably lost. */
  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  /** hasReady reports whether ready() would return any work. */
  hasReady(): boolean {
    const r = this.raft;
    // Batched appends are generated lazily; flushing here only queues messages for the next Ready.
    r.flushAppends();
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.raftLog.unstable.entries.length > 0 || r.raftLog.unstable.snapshot) return true;
    if (r.raftLog.hasNextCommittedEnts()) return true;
    if (!hardStateEqual(r.hardState(), this.prevHard)) return true;
    const ss = r.softState();
    return ss.lead !== this.prevSoft.lead || ss.state !== this.prevSoft.state;
  }

  /**
   * ready returns the next batch of work. Call advance() after handling it before calling ready()
   * again. tick()/step() may be called in between; their output goes into the next Ready.
   */
  ready(): Ready {
    invariant(this.inFlight === undefined, 'ready() called again before advance()');
    const r = this.raft;
    r.flushAppends();
    const ss = r.softState();
    const hs = r.hardState();
    const entries = r.raftLog.unstableEntries();
    const snapshot = r.raftLog.unstable.snapshot;
    const hardChanged = !hardStateEqual(hs, this.prevHard);
    const rd: Ready = {
      softState: ss.lead !== this.prevSoft.lead || ss.state !== this.prevSoft.state ? ss : undefined,
      hardState: hardChanged ? hs : undefined,
      readStates: r.readStates,
      entries,
      snapshot,
      committedEntries: r.raftLog.nextCommittedEnts(),
      messages: r.msgs,
      mustSync:
        entries.length > 0 ||
        snapshot !== undefined ||
        hs.term !== this.prevHard.term ||
        hs.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    this.prevSoft = ss;
    if (hardChanged) this.prevHard = hs;
    this.inFlight = rd;
    return rd;
  }

  /** advance acknowledges that the last Ready was handled in full (persisted, sent, applied). */
  advance(): void {
    const rd = this.inFlight;
    invariant(rd !== undefined, 'advance() without ready()');
    this.inFlight = undefined;
    const log = this.raft.raftLog;
    if (rd.snapshot) {
      log.stableSnapTo(rd.snapshot.metadata.index);
      if (rd.snapshot.metadata.index > log.applied) log.appliedTo(rd.snapshot.metadata.index);
    }
    const lastEnt = rd.entries[rd.entries.length - 1];
    if (lastEnt) log.stableTo(lastEnt.index, lastEnt.term);
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied) log.appliedTo(lastApplied.index);
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<NodeId, { match: number; next: number; state: string }>();
    if (r.state === 'leader') {
      for (const [id, pr] of r.tracker.progress)
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state });
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lead: r.lead,
      state: r.state,
      firstIndex: r.raftLog.firstIndex(),
      lastIndex: r.raftLog.lastIndex(),
      leadTransferee: r.leadTransferee,
      config: r.confState(),
      progress,
    };
  }
}

function describe(m: unknown): string {
  if (typeof m !== 'object' || m === null) return String(m);
  const x = m as Partial<Message>;
  return `${String(x.type)} ${String(x.from)}->${String(x.to)} term=${String(x.term)}`;
}
