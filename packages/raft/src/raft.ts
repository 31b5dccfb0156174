import {
  applyConfChange,
  checkConfChange,
  confStateAfter,
  decodeConfChange,
  encodeConfChange,
} from './confchange/confchange.js';
import { invariant, isRaftError } from './errors.js';
import { RaftLog } from './log.js';
import { type Logger, silentLogger } from './logger.js';
import { hasQuorum } from './quorum/majority.js';
import { ReadOnly } from './readOnly.js';
import type { Storage } from './storage.js';
import type { Progress } from './tracker/progress.js';
import { ProgressTracker } from './tracker/tracker.js';
import {
  bytesEqual,
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type Message,
  type MessageType,
  message,
  NONE,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SoftState,
  type StateType,
  TRANSFER_CONTEXT,
} from './types.js';

/** Config configures one Raft node. Only `id`, `storage`, `electionTick`, `heartbeatTick` are required. */
export interface Config {
  /** This node's id (> 0). */
  id: NodeId;
  /** Stable storage (read side). See storage.ts for its contract. */
  storage: Storage;
  /**
   * Ticks without hearing from a leader before a follower campaigns. The actual timeout is drawn
   * uniformly from [electionTick, 2·electionTick) each time (paper §5.2). Must exceed heartbeatTick.
   */
  electionTick: number;
  /** Ticks between leader heartbeats. */
  heartbeatTick: number;
  /** The last index the caller's state machine has applied (on restart); entries ≤ it are not re-delivered. */
  applied?: number;
  /** Byte budget of one append message (batching); at least one entry is always sent. Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Append messages in flight per follower in replicate state (pipelining window). Default 256. */
  maxInflightMsgs?: number;
  /** Byte budget of committed entries handed out per Ready. Default unlimited. */
  maxCommittedSizePerReady?: number;
  /** Pre-vote (thesis §9.6): a node only starts a real election if it could win. Default true. */
  preVote?: boolean;
  /**
   * Check-quorum (thesis §6.2, §4.2.3): a leader steps down when it has not heard from a majority for
   * an election timeout, and a follower that heard from a leader within the election timeout ignores
   * vote requests (leader lease). Default true.
   */
  checkQuorum?: boolean;
  /** Snapshot chunk size in bytes for InstallSnapshot streaming. Default 64 KiB. */
  snapshotChunkSize?: number;
  /** Snapshot chunks in flight per follower. Default 4. */
  maxInflightSnapshotChunks?: number;
  /** Source of randomness in [0, 1) for election timeouts. Default: a PRNG seeded by `id`. */
  random?: () => number;
  logger?: Logger;
}

/** RaftStats counts dropped and ignored input, for metrics and tests. */
export interface RaftStats {
  dropped: { malformed: number; misrouted: number; unknownNode: number; staleConfig: number };
  /** Messages from an older term, ignored (or answered with our term). */
  staleTerm: number;
  /** Vote requests ignored because this node heard from a leader recently (leader lease). */
  voteIgnoredInLease: number;
  proposalsDropped: number;
  readIndexDropped: number;
  /** Heartbeats carrying a commit index beyond our log (should never happen). */
  commitBeyondLog: number;
}

export function newStats(): RaftStats {
  return {
    dropped: { malformed: 0, misrouted: 0, unknownNode: 0, staleConfig: 0 },
    staleTerm: 0,
    voteIgnoredInLease: 0,
    proposalsDropped: 0,
    readIndexDropped: 0,
    commitBeyondLog: 0,
  };
}

/** ProposeResult tells the caller where a proposal landed, or why it was dropped. */
export type ProposeResult =
  | { readonly accepted: true; readonly index: number; readonly term: number }
  | { readonly accepted: false; readonly reason: string };

/** mulberry32 is a tiny deterministic PRNG used when no randomness is injected. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ConfRecord {
  readonly index: number;
  readonly confState: ConfState;
}

interface SnapshotReceive {
  readonly index: number;
  readonly term: number;
  /** The whole snapshot, filled chunk by chunk (no reassembly copy at the end). */
  readonly data: Uint8Array;
  received: number;
}

const EMPTY = new Uint8Array(0);

/**
 * Raft is the per-role protocol logic: a deterministic state machine driven by tick() and step(m).
 * Its outputs accumulate in `msgs`, `readStates` and the RaftLog's unstable part; RawNode turns them
 * into Ready batches. It performs no I/O.
 */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  state: StateType = 'follower';
  readonly raftLog: RaftLog;
  readonly tracker: ProgressTracker;
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NONE;
  readonly stats: RaftStats = newStats();

  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  private readonly maxSizePerMsg: number;
  private readonly snapshotChunkSize: number;
  private readonly maxInflightSnapshotChunks: number;
  private readonly random: () => number;
  readonly logger: Logger;

  private readonly readOnly = new ReadOnly();
  /** ReadIndex requests received before this leader committed an entry of its term (§6.4 step 1). */
  private pendingReadIndex: Message[] = [];

  /** Configuration of the log's snapshot, and every confChange entry appended after it. */
  private confBase: ConfState;
  private confHistory: ConfRecord[] = [];
  private readonly everMember = new Set<NodeId>();

  private snapRx: SnapshotReceive | undefined = undefined;

  constructor(c: Config) {
    invariant(Number.isSafeInteger(c.id) && c.id > 0, 'cannot use 0 (NONE) as id');
    invariant(c.heartbeatTick > 0, 'heartbeat tick must be greater than 0');
    invariant(c.electionTick > c.heartbeatTick, 'election tick must be greater than heartbeat tick');
    this.id = c.id;
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.preVote = c.preVote ?? true;
    this.checkQuorum = c.checkQuorum ?? true;
    this.maxSizePerMsg = c.maxSizePerMsg ?? 1 << 20;
    this.snapshotChunkSize = c.snapshotChunkSize ?? 64 << 10;
    this.maxInflightSnapshotChunks = c.maxInflightSnapshotChunks ?? 4;
    this.random = c.random ?? mulberry32(c.id * 2654435761);
    const base = c.logger ?? silentLogger;
    const prefix = `[${c.id}] `;
    this.logger = {
      debug: (m) => base.debug(prefix + m),
      info: (m) => base.info(prefix + m),
      warn: (m) => base.warn(prefix + m),
      error: (m) => base.error(prefix + m),
    };
    this.raftLog = new RaftLog(c.storage, this.logger, c.maxCommittedSizePerReady ?? Number.MAX_SAFE_INTEGER);
    this.tracker = new ProgressTracker(c.maxInflightMsgs ?? 256);

    const { hardState, confState } = c.storage.initialState();
    this.confBase = confState;
    // Rebuild the configuration history from the confChange entries after the snapshot.
    const first = c.storage.firstIndex();
    const last = c.storage.lastIndex();
    if (last >= first) this.recordConfEntries(c.storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER));
    this.applyConfig();

    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
    this.logger.info(
      `newRaft [voters: ${[...this.tracker.voters]}, learners: ${[...this.tracker.learners]}] term: ${this.term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}`,
    );
  }

  private loadState(hs: HardState): void {
    invariant(
      hs.commit <= this.raftLog.lastIndex(),
      `${this.id} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    // NB: a commit index below the snapshot is harmless (a crash between persisting a snapshot and
    // the hard state that follows it): the snapshot's index is committed by definition.
    this.raftLog.committed = Math.max(hs.commit, this.raftLog.committed);
    this.term = hs.term;
    this.vote = hs.vote;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, state: this.state };
  }

  // ---------------------------------------------------------------- configuration

  /** confState is the configuration currently in effect (the latest one in the log). */
  confState(): ConfState {
    return this.confHistory[this.confHistory.length - 1]?.confState ?? this.confBase;
  }

  /** lastConfIndex is the index of the latest confChange entry in the log (0 if none after the snapshot). */
  lastConfIndex(): number {
    return this.confHistory[this.confHistory.length - 1]?.index ?? 0;
  }

  isVoter(id: NodeId): boolean {
    return this.tracker.voters.has(id);
  }

  isMember(id: NodeId): boolean {
    return this.tracker.isMember(id);
  }

  wasMember(id: NodeId): boolean {
    return this.everMember.has(id);
  }

  logAtLeastAsUpToDate(index: number, term: number): boolean {
    return this.raftLog.isUpToDate(index, term);
  }

  /**
   * promotable: may this node campaign? Voters may. So may a voter whose removal is the latest,
   * still uncommitted configuration entry: until that entry commits it may be needed to elect a
   * leader (thesis §4.1), e.g. a leader that removed itself and lost leadership before committing.
   * It then counts votes in the new configuration, without its own.
   */
  promotable(): boolean {
    if (this.tracker.voters.has(this.id)) return true;
    const n = this.confHistory.length;
    const latest = this.confHistory[n - 1];
    if (!latest || latest.index <= this.raftLog.committed) return false;
    const before = n >= 2 ? (this.confHistory[n - 2] as ConfRecord).confState : this.confBase;
    return before.voters.includes(this.id);
  }

  private recordConfEntries(ents: readonly Entry[]): boolean {
    let changed = false;
    let cs = this.confState();
    for (const e of ents) {
      if (e.type !== 'confChange') continue;
      cs = confStateAfter(cs, e);
      this.confHistory.push({ index: e.index, confState: cs });
      changed = true;
    }
    return changed;
  }

  /**
   * onAppended keeps the configuration in step with the log: a configuration takes effect when its
   * entry is appended, and is undone when that entry is truncated away (thesis §4.1).
   */
  private onAppended(ents: readonly Entry[]): void {
    const first = ents[0];
    if (!first) return;
    let changed = false;
    while (
      this.confHistory.length > 0 &&
      (this.confHistory[this.confHistory.length - 1] as ConfRecord).index >= first.index
    ) {
      this.confHistory.pop();
      changed = true;
    }
    if (this.recordConfEntries(ents)) changed = true;
    if (changed) this.applyConfig();
  }

  private applyConfig(): void {
    const cs = this.confState();
    for (const id of cs.voters) this.everMember.add(id);
    for (const id of cs.learners) this.everMember.add(id);
    this.tracker.setConfig(cs, this.raftLog.lastIndex() + 1);
    if (this.state !== 'leader') return;
    const self = this.tracker.progress.get(this.id);
    if (self) self.maybeUpdate(this.raftLog.lastIndex());
    if (this.leadTransferee !== NONE && !this.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    // The quorum changed: pending entries may now be committed (removal), or this leader may have
    // been removed and its removal already committed.
    this.maybeCommit();
    this.maybeStepDownRemoved();
  }

  // ---------------------------------------------------------------- role transitions

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.id, this.raftLog.lastIndex());
    this.readOnly.reset();
    this.pendingReadIndex = [];
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout);
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = 'follower';
    this.logger.info(`became follower at term ${this.term}${lead !== NONE ? ` (leader ${lead})` : ''}`);
  }

  becomePreCandidate(): void {
    invariant(this.state !== 'leader', 'invalid transition [leader -> pre-candidate]');
    // NB: pre-candidacy changes neither the term nor the vote.
    this.tracker.resetVotes();
    this.lead = NONE;
    this.state = 'preCandidate';
    this.logger.info(`became pre-candidate at term ${this.term}`);
  }

  becomeCandidate(): void {
    invariant(this.state !== 'leader', 'invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = 'candidate';
    this.logger.info(`became candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    invariant(this.state !== 'follower', 'invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = 'leader';
    // A new leader first appends an empty entry of its term: it can only commit through an entry of
    // its own term (paper §5.4.2), and ReadIndex waits for that commit (thesis §6.4).
    this.appendEntries([{ type: 'normal', data: EMPTY }]);
    this.logger.info(`became leader at term ${this.term}`);
  }

  // ---------------------------------------------------------------- clock

  tick(): void {
    if (this.state === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(message({ type: 'hup', from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(message({ type: 'checkQuorum', from: this.id }));
      // A transfer that did not complete within an election timeout is abandoned (thesis §3.10).
      if (this.state === 'leader' && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: 'beat', from: this.id }));
    }
  }

  // ---------------------------------------------------------------- sending

  private send(m: Partial<Message> & Pick<Message, 'type' | 'to'>): void {
    // Vote traffic carries its own term (a pre-vote campaigns for term+1); everything else carries ours.
    const votey =
      m.type === 'vote' || m.type === 'preVote' || m.type === 'voteResp' || m.type === 'preVoteResp';
    invariant(!votey || m.term !== undefined, `term should be set when sending ${m.type}`);
    this.msgs.push(message({ ...m, from: this.id, term: votey ? (m.term as number) : this.term }));
  }

  /** sendAppend sends the entries `to` needs, or a snapshot if they were compacted. */
  sendAppend(to: NodeId, sendIfEmpty = false): boolean {
    const pr = this.tracker.progress.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let ents: Entry[];
    try {
      prevTerm = this.raftLog.term(prevIndex);
      ents = this.raftLog.entries(pr.next, this.maxSizePerMsg);
    } catch (e) {
      if (isRaftError(e, 'COMPACTED')) return this.maybeSendSnapshot(to, pr);
      throw e;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: 'app',
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.raftLog.committed,
    });
    pr.sentEntries(prevIndex + ents.length, ents.length);
    pr.sentCommit = this.raftLog.committed;
    return true;
  }

  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug(`ignore sending snapshot to ${to} since it is not recently active`);
      return false;
    }
    let snap: Snapshot;
    try {
      snap = this.raftLog.snapshot();
    } catch (e) {
      if (isRaftError(e, 'SNAPSHOT_TEMPORARILY_UNAVAILABLE')) return false;
      throw e;
    }
    invariant(snap.metadata.index > 0, 'need non-empty snapshot');
    this.logger.debug(
      `[firstindex: ${this.raftLog.firstIndex()}] sending snapshot [index: ${snap.metadata.index}, term: ${snap.metadata.term}] to ${to} [${pr}]`,
    );
    pr.becomeSnapshot(snap);
    this.sendSnapshotChunks(to, pr);
    return true;
  }

  /** sendSnapshotChunks streams chunks of the pending snapshot up to the in-flight chunk window. */
  private sendSnapshotChunks(to: NodeId, pr: Progress): void {
    const s = pr.snap;
    if (!s) return;
    const { metadata, data } = s.snapshot;
    const total = data.byteLength;
    const window = this.maxInflightSnapshotChunks * this.snapshotChunkSize;
    while (!s.doneSent && s.sentOffset - s.ackedOffset < window) {
      const end = Math.min(total, s.sentOffset + this.snapshotChunkSize);
      const done = end === total;
      this.send({
        type: 'snap',
        to,
        snapshot: {
          metadata,
          offset: s.sentOffset,
          totalSize: total,
          data: data.subarray(s.sentOffset, end),
          done,
        },
      });
      s.sentOffset = end;
      if (done) s.doneSent = true;
    }
  }

  private sendHeartbeat(to: NodeId, ctx: Uint8Array): void {
    const pr = this.tracker.progress.get(to);
    if (!pr) return;
    // Never tell a follower to commit past what it is known to match: its log beyond `match` may
    // still conflict with ours.
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send({ type: 'heartbeat', to, commit, context: ctx });
  }

  private bcastHeartbeat(ctx?: Uint8Array): void {
    const c = ctx ?? this.readOnly.lastPendingContext() ?? EMPTY;
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      if (ctx === undefined && pr.beatMatch < 0) pr.beatMatch = pr.match;
      this.sendHeartbeat(id, c);
    }
  }

  /**
   * flushAppends sends every follower the entries and commit index it is missing, as far as flow
   * control allows. Called when a Ready is built, so proposals made between two Readys travel as one
   * batch per follower.
   */
  flushAppends(): void {
    if (this.state !== 'leader') return;
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      while (!pr.isPaused() && pr.next <= last) {
        if (!this.sendAppend(id)) break;
      }
      // A probe with nothing in flight (a new member, or after a rejection or stall): probe now.
      if (pr.state === 'probe' && !pr.probeSent && pr.match < last) this.sendAppend(id, true);
      if (
        pr.state === 'replicate' &&
        pr.inflights.size() === 0 &&
        pr.next === pr.match + 1 &&
        pr.sentCommit < Math.min(this.raftLog.committed, pr.match)
      ) {
        this.sendAppend(id, true); // tell a caught-up follower about the new commit index
      }
    }
  }

  // ---------------------------------------------------------------- log

  private appendEntries(es: ReadonlyArray<{ type: EntryType; data: Uint8Array }>): {
    index: number;
    term: number;
  } {
    const li = this.raftLog.lastIndex();
    const ents: Entry[] = es.map((e, i) => ({
      term: this.term,
      index: li + 1 + i,
      type: e.type,
      data: e.data,
    }));
    this.raftLog.append(ents);
    this.onAppended(ents);
    // NB: counting our own entries before they are persisted is safe only because Ready hands out
    // messages after the entries they depend on have been persisted (see rawNode.ts).
    const self = this.tracker.progress.get(this.id);
    if (self) self.maybeUpdate(this.raftLog.lastIndex());
    this.maybeCommit();
    return { index: this.raftLog.lastIndex(), term: this.term };
  }

  /** committedEntryInCurrentTerm: has this leader committed an entry of its own term yet? */
  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOr(this.raftLog.committed, 0) === this.term;
  }

  /**
   * maybeCommit advances the commit index to the largest index stored on a majority of voters —
   * but only if that entry is from the current term (paper §5.4.2, Figure 8).
   */
  maybeCommit(): boolean {
    if (this.state !== 'leader') return false;
    const mci = Math.min(this.tracker.committed(), this.raftLog.lastIndex());
    if (mci <= this.raftLog.committed) return false;
    if (this.raftLog.termOr(mci, 0) !== this.term) return false;
    this.raftLog.commitTo(mci);
    if (this.pendingReadIndex.length > 0 && this.committedEntryInCurrentTerm()) {
      const reqs = this.pendingReadIndex;
      this.pendingReadIndex = [];
      for (const r of reqs) this.sendReadIndex(r);
    }
    this.maybeStepDownRemoved();
    return true;
  }

  /** A leader removed from the configuration steps down once the removal is committed (thesis §4.2.2). */
  private maybeStepDownRemoved(): void {
    if (this.state !== 'leader' || this.isVoter(this.id)) return;
    if (this.raftLog.committed < this.lastConfIndex()) return;
    // Hand over to the most up-to-date voter so the cluster does not wait for an election timeout.
    let best: NodeId = NONE;
    let bestMatch = -1;
    for (const id of [...this.tracker.voters].sort((a, b) => a - b)) {
      const m = this.tracker.progress.get(id)?.match ?? 0;
      if (m > bestMatch) {
        best = id;
        bestMatch = m;
      }
    }
    this.logger.info(
      `removed from the configuration; stepping down${best !== NONE ? `, handing over to ${best}` : ''}`,
    );
    if (best !== NONE && bestMatch === this.raftLog.lastIndex()) this.send({ type: 'timeoutNow', to: best });
    this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------- local API

  /** propose appends entries at the leader; followers and candidates drop proposals. */
  propose(es: ReadonlyArray<{ type: EntryType; data: Uint8Array }>): ProposeResult {
    const drop = (reason: string): ProposeResult => {
      this.stats.proposalsDropped++;
      this.logger.debug(`dropped proposal: ${reason}`);
      return { accepted: false, reason };
    };
    if (es.length === 0) return drop('empty proposal');
    if (this.state !== 'leader') return drop(`not leader (leader is ${this.lead})`);
    if (this.leadTransferee !== NONE)
      return drop(`leadership transfer to ${this.leadTransferee} in progress`);
    let cs = this.confState();
    const out: { type: EntryType; data: Uint8Array }[] = [];
    for (const e of es) {
      if (e.type !== 'confChange') {
        out.push(e);
        continue;
      }
      const cc = decodeConfChange(e.data);
      if (!cc) return drop('malformed conf change');
      if (this.lastConfIndex() > this.raftLog.committed)
        return drop('a configuration change is still uncommitted');
      // Single-server changes are only safe once this leader has committed an entry of its term
      // (the fix to the single-server change bug; thesis §4.1 errata / raft-dev 2015).
      if (!this.committedEntryInCurrentTerm()) return drop('no entry of the current term is committed yet');
      if (cs !== this.confState()) return drop('only one configuration change per proposal');
      const why = checkConfChange(cs, cc);
      if (why) return drop(why);
      cs = applyConfChange(cs, cc);
      // The entry carries the resulting configuration (see confchange.ts).
      out.push({ type: 'confChange', data: encodeConfChange(cc, cs) });
    }
    const r = this.appendEntries(out);
    return { accepted: true, index: r.index, term: r.term };
  }

  /** proposeConfChange proposes a single-server membership change. */
  proposeConfChange(cc: ConfChange): ProposeResult {
    return this.propose([{ type: 'confChange', data: encodeConfChange(cc) }]);
  }

  /**
   * readIndex starts a linearizable read (thesis §6.4). The answer arrives as a ReadState carrying
   * `context`. Returns false if it was dropped at once (no known leader).
   */
  readIndex(context: Uint8Array): boolean {
    const m = message({ type: 'readIndex', from: this.id, to: this.id, context });
    if (this.state === 'leader') {
      this.handleReadIndex(m);
      return true;
    }
    if (this.lead === NONE) {
      this.stats.readIndexDropped++;
      return false;
    }
    this.send({ type: 'readIndex', to: this.lead, context });
    return true;
  }

  /** transferLeader asks the leader to hand leadership to `target` (thesis §3.10). */
  transferLeader(target: NodeId): void {
    if (this.state === 'leader') this.handleTransferLeader(target);
    else if (this.lead !== NONE) this.send({ type: 'transferLeader', to: this.lead, index: target });
  }

  /** campaign starts an election now (pre-vote first if enabled), as if the election timer fired. */
  hup(transfer = false): void {
    if (this.state === 'leader') {
      this.logger.debug('ignoring hup: already leader');
      return;
    }
    if (!this.promotable()) {
      this.logger.warn('is unpromotable and cannot campaign');
      return;
    }
    this.logger.info(`starting a new election at term ${this.term}`);
    if (transfer) this.campaign('transfer');
    else if (this.preVote) this.campaign('preElection');
    else this.campaign('election');
  }

  private campaign(kind: 'preElection' | 'election' | 'transfer'): void {
    let term: number;
    let voteMsg: MessageType;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      voteMsg = 'preVote';
      term = this.term + 1; // campaign for the next term without incrementing ours
    } else {
      this.becomeCandidate();
      voteMsg = 'vote';
      term = this.term;
    }
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tallyVotes() === 'won') {
      // Single-voter configuration.
      if (kind === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const ctx = kind === 'transfer' ? TRANSFER_CONTEXT : EMPTY;
    for (const id of [...this.tracker.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send({
        type: voteMsg,
        to: id,
        term,
        index: this.raftLog.lastIndex(),
        logTerm: this.raftLog.lastTerm(),
        context: ctx,
      });
    }
  }

  // ---------------------------------------------------------------- step

  /**
   * step handles one message. Network messages should have passed validateMessage (RawNode does
   * that); local messages (hup, beat, prop, checkQuorum) come from tick() and the API.
   */
  step(m: Message): void {
    switch (m.type) {
      case 'hup':
        this.hup(false);
        return;
      case 'beat':
        if (this.state === 'leader') this.onBeat();
        return;
      case 'checkQuorum':
        if (this.state === 'leader') this.onCheckQuorum();
        return;
      case 'prop':
        this.propose(m.entries);
        return;
      default:
        break;
    }

    // Term handling (paper §5.1, thesis §4.2.3 and §9.6).
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = bytesEqual(m.context, TRANSFER_CONTEXT);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // We heard from a live leader less than an election timeout ago: the sender is probably a
          // partitioned or removed server. Do not let it disrupt the cluster.
          this.stats.voteIgnoredInLease++;
          this.logger.info(
            `[logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}] ignored ${m.type} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === 'preVote') {
        // Never change our term in response to a pre-vote.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // A granted pre-vote carries the term we would campaign for; it is not a newer term.
      } else {
        this.logger.info(`received a ${m.type} with higher term from ${m.from} [term: ${m.term}]`);
        const leaderMsg = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
        this.becomeFollower(m.term, leaderMsg ? m.from : NONE);
      }
    } else if (m.term < this.term) {
      this.stats.staleTerm++;
      if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        // A stale leader: tell it our term so it steps down (paper §5.1). With pre-vote and
        // check-quorum this also un-sticks a partition where our term ran ahead.
        this.send({ type: 'appResp', to: m.from });
      } else if (m.type === 'preVote' || m.type === 'vote') {
        this.send({
          type: m.type === 'vote' ? 'voteResp' : 'preVoteResp',
          to: m.from,
          term: this.term,
          reject: true,
        });
      }
      return;
    }

    switch (m.type) {
      case 'vote':
      case 'preVote': {
        // We can vote if we already voted for this candidate, or have not voted and know no leader
        // in this term; a pre-vote for a later term is always considered.
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === 'preVote' && m.term > this.term);
        const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.logger.info(
            `[logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}] cast ${m.type} for ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
          );
          // The response to a vote carries the candidate's term: for a pre-vote that is our future term.
          this.send({ type: respType, to: m.from, term: m.term });
          if (m.type === 'vote') {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.logger.info(
            `[logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}] rejected ${m.type} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
          );
          this.send({ type: respType, to: m.from, term: this.term, reject: true });
        }
        return;
      }
      default:
        break;
    }

    switch (this.state) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  private onBeat(): void {
    this.bcastHeartbeat();
    // Snapshot streams that stopped making progress: resend from the last acknowledged offset, and
    // give up (restart from scratch on the next append) after an election timeout.
    const abortAfter = Math.max(2, Math.ceil((2 * this.electionTimeout) / this.heartbeatTimeout));
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id || pr.state !== 'snapshot' || !pr.snap) continue;
      pr.snap.idleBeats++;
      if (pr.snap.idleBeats >= abortAfter) {
        this.logger.info(`snapshot to ${id} stalled; aborting`);
        pr.becomeProbe();
      } else if (pr.snap.idleBeats >= 2) {
        pr.snap.sentOffset = pr.snap.ackedOffset;
        pr.snap.doneSent = false;
        this.sendSnapshotChunks(id, pr);
      }
    }
  }

  private onCheckQuorum(): void {
    if (!this.tracker.quorumActive()) {
      this.logger.warn('stepped down to follower since quorum is not active');
      this.becomeFollower(this.term, NONE);
      return;
    }
    for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false;
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'readIndex':
        this.handleReadIndex(m);
        return;
      case 'transferLeader':
        this.handleTransferLeader(m.index);
        return;
      default:
        break;
    }
    const pr = this.tracker.progress.get(m.from);
    if (!pr) {
      this.logger.debug(`no progress available for ${m.from}`);
      return;
    }
    switch (m.type) {
      case 'appResp':
        this.handleAppendResponse(m, pr);
        return;
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m, pr);
        return;
      case 'snapResp':
        this.handleSnapshotResponse(m, pr);
        return;
      default:
        this.logger.debug(`leader ignored ${m.type} from ${m.from}`);
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      this.logger.debug(
        `received appResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${m.from} for index ${m.index}`,
      );
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    if (pr.maybeUpdate(m.index)) {
      pr.stallBeats = 0;
      pr.beatMatch = -1;
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
        this.logger.debug(
          `recovered from needing snapshot, resumed sending replication messages to ${m.from} [${pr}]`,
        );
        pr.becomeReplicate();
      } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);
      this.maybeCommit();
      if (this.state !== 'leader') return; // stepped down (removed)
      if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
        this.logger.info(`sent timeoutNow to ${m.from} after received appResp`);
        this.send({ type: 'timeoutNow', to: m.from });
      }
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    const last = this.raftLog.lastIndex();
    if (pr.state === 'replicate') {
      // Detect lost appends: the follower is behind and acknowledged nothing during a whole heartbeat
      // round trip. Send an empty append at `next`: if entries were lost the follower rejects it and
      // we fall back to probing. If the window is full, give up on it after a few such rounds.
      if (pr.match < last && pr.match === pr.beatMatch) {
        pr.stallBeats++;
        if (pr.stallBeats >= Math.max(3, Math.ceil(this.electionTimeout / (2 * this.heartbeatTimeout)))) {
          pr.stallBeats = 0;
          pr.becomeProbe();
        } else {
          this.sendAppend(m.from, true);
        }
      } else {
        pr.stallBeats = 0;
      }
      pr.beatMatch = -1;
    }
    if (pr.state === 'probe' && pr.match < last) this.sendAppend(m.from, true);
    if (m.context.byteLength > 0) {
      const acks = this.readOnly.recvAck(m.from, m.context);
      if (acks) {
        const withSelf = new Set(acks);
        withSelf.add(this.id);
        if (hasQuorum(this.tracker.voters, withSelf)) {
          for (const r of this.readOnly.advance(m.context)) this.respondReadIndex(r.req, r.index);
        }
      }
    }
  }

  private handleSnapshotResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    const s = pr.snap;
    if (pr.state !== 'snapshot' || !s || m.index !== pr.pendingSnapshot) return; // stale
    s.idleBeats = 0;
    const total = s.snapshot.data.byteLength;
    if (m.reject) {
      // Out of order at the receiver: restart from what it has.
      s.ackedOffset = Math.min(m.rejectHint, total);
      s.sentOffset = s.ackedOffset;
      s.doneSent = false;
    } else {
      s.ackedOffset = Math.max(s.ackedOffset, Math.min(m.rejectHint, total));
      if (s.sentOffset < s.ackedOffset) s.sentOffset = s.ackedOffset;
    }
    this.sendSnapshotChunks(m.from, pr);
  }

  private handleReadIndex(m: Message): void {
    if (!this.committedEntryInCurrentTerm()) {
      // Thesis §6.4 step 1: the commit index is only known to be current once an entry of this
      // term is committed. Park the request until then.
      this.pendingReadIndex.push(m);
      return;
    }
    this.sendReadIndex(m);
  }

  private sendReadIndex(m: Message): void {
    const index = this.raftLog.committed;
    if (this.tracker.voters.size === 1 && this.isVoter(this.id)) {
      this.respondReadIndex(m, index);
      return;
    }
    if (this.readOnly.add(index, m)) this.bcastHeartbeat(m.context);
  }

  private respondReadIndex(req: Message, index: number): void {
    if (req.from === this.id || req.from === NONE) this.readStates.push({ index, context: req.context });
    else this.send({ type: 'readIndexResp', to: req.from, index, context: req.context });
  }

  private handleTransferLeader(target: NodeId): void {
    if (!this.isVoter(target)) {
      this.logger.debug(`ignored transferring leadership to ${target}: not a voter`);
      return;
    }
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === target) return;
      this.abortLeaderTransfer();
    }
    if (target === this.id) return;
    this.logger.info(`starts to transfer leadership to ${target}`);
    this.electionElapsed = 0; // the transfer must complete within one election timeout
    this.leadTransferee = target;
    const pr = this.tracker.progress.get(target);
    if (pr && pr.match === this.raftLog.lastIndex()) this.send({ type: 'timeoutNow', to: target });
    else this.sendAppend(target, true); // even if empty: a rejection reveals lost appends at once
  }

  /**
   * reportUnreachable is the transport telling the leader that a message to `id` could not be
   * delivered: stop pipelining to it and probe instead.
   */
  reportUnreachable(id: NodeId): void {
    const pr = this.tracker.progress.get(id);
    if (this.state === 'leader' && pr?.state === 'replicate') pr.becomeProbe();
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.state === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshotChunk(m);
        return;
      case 'preVoteResp':
      case 'voteResp': {
        if (m.type !== myVoteResp) return;
        this.tracker.recordVote(m.from, !m.reject);
        const res = this.tracker.tallyVotes();
        this.logger.info(
          `received ${m.type}${m.reject ? ' rejection' : ''} from ${m.from} at term ${this.term}: ${res}`,
        );
        if (res === 'won') {
          if (this.state === 'preCandidate') this.campaign('election');
          else this.becomeLeader();
        } else if (res === 'lost') {
          // A pre-vote rejection may carry a higher term; becomeFollower at ours is still correct.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      case 'timeoutNow':
        this.logger.debug(`ignored timeoutNow from ${m.from} as ${this.state}`);
        return;
      case 'readIndexResp':
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshotChunk(m);
        return;
      case 'transferLeader':
        if (this.lead === NONE) return;
        this.send({ type: 'transferLeader', to: this.lead, index: m.index });
        return;
      case 'timeoutNow':
        // Leadership transfer: campaign at once, skipping pre-vote and leases (thesis §3.10).
        this.hup(true);
        return;
      case 'readIndex':
        if (this.lead === NONE) {
          this.stats.readIndexDropped++;
          return;
        }
        this.send({ type: 'readIndex', to: this.lead, context: m.context });
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send({ type: 'appResp', to: m.from, index: this.raftLog.committed });
      return;
    }
    const r = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (r !== undefined) {
      // The configuration follows the log: re-derive it if anything was (re)written.
      if (r.appended.length > 0) this.onAppended(r.appended);
      this.send({ type: 'appResp', to: m.from, index: r.lastNew });
      return;
    }
    // Reject, with a hint that lets the leader skip a whole term at a time (paper §5.3, end).
    const hintIndex = this.raftLog.findConflictByTerm(Math.min(m.index, this.raftLog.lastIndex()), m.logTerm);
    const hintTerm = this.raftLog.termOr(hintIndex, 0);
    this.logger.debug(
      `[logterm: ${this.raftLog.termOr(m.index, 0)}, index: ${m.index}] rejected app [logterm: ${m.logTerm}, index: ${m.index}] from ${m.from}`,
    );
    this.send({
      type: 'appResp',
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hintIndex,
      logTerm: hintTerm,
    });
  }

  private handleHeartbeat(m: Message): void {
    if (m.commit <= this.raftLog.lastIndex()) this.raftLog.commitTo(m.commit);
    else this.stats.commitBeyondLog++;
    this.send({ type: 'heartbeatResp', to: m.from, context: m.context });
  }

  private handleSnapshotChunk(m: Message): void {
    const c = m.snapshot;
    if (!c) return;
    const md = c.metadata;
    if (md.index <= this.raftLog.committed) {
      // Already have everything it covers; tell the leader where we are.
      this.send({ type: 'appResp', to: m.from, index: this.raftLog.committed });
      return;
    }
    let rx = this.snapRx;
    if (!rx || rx.index !== md.index || rx.term !== md.term || rx.data.byteLength !== c.totalSize) {
      if (c.offset !== 0) {
        this.send({ type: 'snapResp', to: m.from, index: md.index, reject: true, rejectHint: 0 });
        return;
      }
      // NB: a first chunk always restarts reception, even of an older snapshot: a partial snapshot
      // from an earlier leader must not block the one the current leader is sending.
      rx = { index: md.index, term: md.term, data: new Uint8Array(c.totalSize), received: 0 };
      this.snapRx = rx;
    }
    if (c.offset < rx.received) {
      // Duplicate: re-acknowledge what we have.
      this.send({ type: 'snapResp', to: m.from, index: md.index, rejectHint: rx.received });
      return;
    }
    if (c.offset > rx.received) {
      this.send({ type: 'snapResp', to: m.from, index: md.index, reject: true, rejectHint: rx.received });
      return;
    }
    rx.data.set(c.data, c.offset);
    rx.received += c.data.byteLength;
    if (!c.done) {
      this.send({ type: 'snapResp', to: m.from, index: md.index, rejectHint: rx.received });
      return;
    }
    const data = rx.data;
    this.snapRx = undefined;
    const snap: Snapshot = { metadata: md, data };
    if (this.restore(snap)) {
      this.logger.info(
        `[commit: ${this.raftLog.committed}] restored snapshot [index: ${md.index}, term: ${md.term}]`,
      );
      this.send({ type: 'appResp', to: m.from, index: this.raftLog.lastIndex() });
    } else {
      this.send({ type: 'appResp', to: m.from, index: this.raftLog.committed });
    }
  }

  /** restore installs a snapshot received from the leader; false if it brought nothing new. */
  restore(s: Snapshot): boolean {
    const md = s.metadata;
    if (md.index <= this.raftLog.committed) return false;
    if (this.state !== 'follower') {
      // Only followers restore (step() makes the receiver of a snapshot chunk a follower first).
      this.logger.warn(`non-follower attempted to restore snapshot as ${this.state}`);
      return false;
    }
    // NB: the snapshot's configuration need not include us: a node added after the snapshot was
    // taken learns of its own membership from the log entries that follow.
    const cs = md.confState;
    if (this.raftLog.matchTerm(md.index, md.term)) {
      // Our log already contains the snapshot's last entry: just fast-forward the commit index.
      this.raftLog.commitTo(md.index);
      return false;
    }
    this.raftLog.restore(s);
    this.confBase = cs;
    this.confHistory = [];
    this.applyConfig();
    return true;
  }
}
