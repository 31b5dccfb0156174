// RaftLog: the replicated CommandLog. Binds the @palisade/raft core (RawNode) to DiskStorage (durable
// log + snapshots), TcpTransport (peer messages) and DesiredState (the state machine). See README.md
// ("RaftLog") in this folder for the Ready loop and the proposal lifecycle.
import { randomUUID } from 'node:crypto';
import {
  bootstrapEntries,
  type ConfState,
  confStateAfter,
  type Entry,
  type Message,
  type Logger as RaftLogger,
  RawNode,
  type Ready,
  type Snapshot,
} from '@palisade/raft';
import type { CommandLog } from '../log/commandLog.js';
import type { Logger } from '../logger.js';
import { Command } from '../state/commands.js';
import {
  type ApplyResult,
  DesiredState,
  DesiredStateBuilder,
  type DesiredStateSnapshot,
  type SnapshotRecord,
} from '../state/desiredState.js';
import { type PeerAddress, TcpTransport, type TcpTransportOptions } from '../transport/transport.js';
import { DiskStorage } from './diskStorage.js';

/** propose() was called on a node that is not the leader; forward to `leaderId` (undefined: unknown). */
export class NotLeaderError extends Error {
  override name = 'NotLeaderError';
  constructor(
    readonly leaderId: number | undefined,
    reason?: string,
  ) {
    super(
      `this controller is not the leader${leaderId !== undefined ? ` (leader is ${leaderId})` : ' (no leader known)'}` +
        (reason ? `: ${reason}` : ''),
    );
  }
}

/**
 * A proposal that did not get a result. `outcome: 'dropped'` — it was certainly not applied (another
 * entry was committed at its index), safe to retry. `outcome: 'unknown'` — it may or may not be
 * applied (timeout, close, storage failure, covered by a snapshot): read the state before retrying.
 */
export class ProposalError extends Error {
  override name = 'ProposalError';
  constructor(
    readonly outcome: 'dropped' | 'unknown',
    message: string,
  ) {
    super(message);
  }
}

export interface RaftLogOptions {
  /** This controller's Raft id (> 0). */
  id: number;
  /** State directory (WAL + snapshot files). */
  dir: string;
  /** Every member's transport address (this node's own entry, if present, is ignored). */
  peers: ReadonlyMap<number, PeerAddress>;
  /** Where this node's transport listens. */
  listen: PeerAddress;
  /** Founding voters; a member in this list with empty storage bootstraps the cluster from them. */
  voters: readonly number[];
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Take a state-machine snapshot every this many applied entries (default 1000). */
  snapshotEvery?: number;
  /** Log entries kept behind a snapshot, for slightly lagging followers (default 200). */
  snapshotKeep?: number;
  /** InstallSnapshot chunk size in bytes (default 1 MiB). */
  snapshotChunkBytes?: number;
  /** A proposal not applied within this time rejects with ProposalError 'unknown' (default 10 s). */
  proposeTimeoutMs?: number;
  /** Extra transport options (cluster name, tls, backoff, …). */
  transport?: Partial<Omit<TcpTransportOptions, 'id' | 'listen' | 'peers' | 'onMessage'>>;
  /** DiskStorage WAL rewrite threshold (bytes); default: DiskStorage's. */
  rewriteThreshold?: number;
  log?: Logger;
}

export interface RaftLogStatus {
  role: 'leader' | 'follower' | 'candidate';
  term: number;
  /** Raft log index applied to `state` (note: `state.index` counts commands only). */
  appliedIndex: number;
  commitIndex: number;
  leaderId: number | undefined;
  /**
   * This node leads, has committed an entry of its own term and applied everything committed: only
   * then does its `state` include every write acknowledged by an earlier leader. (Not a linearizable
   * read guarantee: a deposed leader may not know it yet; that needs ReadIndex.)
   */
  leaderReady: boolean;
  snapshotIndex: number;
  snapshotBytes: number;
  voters: number[];
  /** On the leader: per follower, the highest index known replicated and how far behind it is. */
  followers?: Record<number, { match: number; lag: number; state: string }>;
}

interface Pending {
  readonly requestId: string;
  readonly data: Uint8Array;
  index: number;
  resolve(result: ApplyResult): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Snapshot payloads stored with DiskStorage snapshots. v2 is newline-delimited JSON: a `{"v":2}` line,
 * then one `SnapshotRecord` per line, so a large state is written and read in slices that yield to the
 * event loop in between (a 50 MB state never blocks it in one piece). v1 (one JSON document) is still read.
 */
interface SnapshotPayloadV1 {
  v: 1;
  state: DesiredStateSnapshot;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Longest stretch of snapshot or apply work between two yields to the event loop. */
const SLICE_MS = 5;
/**
 * After a snapshot that took T ms, the next one starts no sooner than this many times T later. The
 * cost of a snapshot grows with the state, not with `snapshotEvery`: a follower catching up through
 * thousands of entries of a 50 MB state otherwise spent most of its time re-snapshotting it.
 */
const SNAPSHOT_PAUSE_FACTOR = 2;
/** Bytes of log entries in the messages handed to the core for one Ready (see feed). */
const FEED_ENTRY_BYTES = 4 * 1024 * 1024;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Long work in slices: `if (slices.due()) await slices.next();` after each step. */
class TimeSlices {
  private start = performance.now();
  /** True once this slice has run SLICE_MS. */
  due(): boolean {
    return performance.now() - this.start > SLICE_MS;
  }
  /** Lets the event loop run, then starts a new slice. */
  async next(): Promise<void> {
    await yieldToEventLoop();
    this.start = performance.now();
  }
}

export async function encodeSnapshot(state: DesiredState): Promise<Uint8Array> {
  const parts: Buffer[] = [Buffer.from('{"v":2}\n')];
  let total = 8;
  const slices = new TimeSlices();
  // The Ready loop is paused while this runs, so the state cannot change between slices.
  for (const record of state.snapshotRecords()) {
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    parts.push(line);
    total += line.byteLength;
    if (slices.due()) await slices.next();
  }
  return concatSliced(parts, total);
}

/**
 * Buffer.concat in slices. The result of a large state is tens of megabytes of fresh memory, and
 * faulting it in (first touch) costs more than the copy: ~0.5 ms per MiB here, so one 50 MB concat
 * blocked the event loop for 30–80 ms.
 */
async function concatSliced(parts: readonly Uint8Array[], total: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  const slices = new TimeSlices();
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
    if (slices.due()) await slices.next();
  }
  return out;
}

const RECORD_KINDS = new Set<unknown>(['user', 'cluster', 'token', 'node', 'policy']);
const linePrefixes = new Map<unknown, Buffer>();

/**
 * The bytes of `record.r` within its snapshot line `data[start, end)`: encodeSnapshot writes each line
 * as JSON.stringify({t, r}), so they are exactly JSON.stringify(r) (which the state digest hashes).
 * Undefined when the line does not have that shape (then the record is serialised again).
 */
function recordJson(
  data: Buffer,
  start: number,
  end: number,
  record: SnapshotRecord,
): Uint8Array | undefined {
  if (!RECORD_KINDS.has(record.t)) return undefined;
  let prefix = linePrefixes.get(record.t);
  if (!prefix) {
    prefix = Buffer.from(`{"t":${JSON.stringify(record.t)},"r":`);
    linePrefixes.set(record.t, prefix);
  }
  const from = start + prefix.length;
  if (end - 1 <= from || data[end - 1] !== 0x7d || data.compare(prefix, 0, prefix.length, start, from) !== 0)
    return undefined;
  return data.subarray(from, end - 1);
}

export async function decodeSnapshot(snap: Snapshot): Promise<DesiredState> {
  if (snap.metadata.index === 0 || snap.data.byteLength === 0) return new DesiredState();
  const data = Buffer.from(snap.data.buffer, snap.data.byteOffset, snap.data.byteLength);
  let end = data.indexOf(10);
  if (end < 0) end = data.length;
  const first = JSON.parse(data.toString('utf8', 0, end)) as { v?: unknown };
  if (first.v === 1) return DesiredState.restore((first as SnapshotPayloadV1).state);
  if (first.v !== 2) throw new Error(`unknown snapshot payload version ${String(first.v)}`);
  const builder = new DesiredStateBuilder();
  const slices = new TimeSlices();
  for (let pos = end + 1; pos < data.length; ) {
    let next = data.indexOf(10, pos);
    if (next < 0) next = data.length;
    if (next > pos) {
      const record = JSON.parse(data.toString('utf8', pos, next)) as SnapshotRecord;
      builder.add(record, recordJson(data, pos, next, record));
    }
    pos = next + 1;
    if (slices.due()) await slices.next();
  }
  return builder.finish();
}

/** Entry data of a command: JSON `{"r": requestId, "c": command}`. */
function encodeCommand(requestId: string, command: Command): Uint8Array {
  return enc.encode(JSON.stringify({ r: requestId, c: command }));
}

function decodeCommand(data: Uint8Array): { requestId: string; command: Command } | undefined {
  try {
    const v = JSON.parse(dec.decode(data)) as { r?: unknown; c?: unknown };
    const parsed = Command.safeParse(v.c);
    if (typeof v.r !== 'string' || !parsed.success) return undefined;
    return { requestId: v.r, command: parsed.data };
  } catch {
    return undefined;
  }
}

function raftLogger(log: Logger, id: number): RaftLogger {
  return {
    debug() {},
    info: (msg) => log('info', msg, { component: 'raft', id }),
    warn: (msg) => log('warn', msg, { component: 'raft', id }),
    error: (msg) => log('error', msg, { component: 'raft', id }),
  };
}

/**
 * RaftLog is the Raft-replicated CommandLog. All core calls (tick, step, propose) happen only between
 * two Ready handlings: inputs are queued and fed by the single Ready loop, which handles each Ready
 * strictly in contract order — persist (fsync) → send → apply → advance.
 */
export class RaftLog implements CommandLog {
  private _state: DesiredState;
  private confState: ConfState;
  private appliedIndex: number;
  private transport!: TcpTransport;
  private timer: NodeJS.Timeout | undefined;

  // Inputs, fed to the core by the Ready loop.
  private inbox: Message[] = [];
  private pendingTicks = 0;
  private toPropose: Pending[] = [];
  /** Proposals appended to the log, by index, awaiting apply. */
  private readonly inLog = new Map<number, Pending>();

  private draining: Promise<void> | undefined;
  private kickScheduled = false;
  private closed = false;
  private failed: Error | undefined;
  private snapshotting = false;
  /** performance.now() before which no new snapshot starts (see SNAPSHOT_PAUSE_FACTOR). */
  private nextSnapshotAt = 0;

  private readonly log: Logger;
  private readonly snapshotEvery: number;
  private readonly snapshotKeep: number;
  private readonly proposeTimeoutMs: number;

  private constructor(
    private readonly opts: RaftLogOptions,
    private readonly storage: DiskStorage,
    private readonly node: RawNode,
    state: DesiredState,
    confState: ConfState,
    appliedIndex: number,
  ) {
    this._state = state;
    this.confState = confState;
    this.appliedIndex = appliedIndex;
    this.log = opts.log ?? (() => {});
    this.snapshotEvery = opts.snapshotEvery ?? 1000;
    this.snapshotKeep = opts.snapshotKeep ?? 200;
    this.proposeTimeoutMs = opts.proposeTimeoutMs ?? 10_000;
  }

  static async open(opts: RaftLogOptions): Promise<RaftLog> {
    const log = opts.log ?? (() => {});
    const opened = await DiskStorage.open(opts.dir, {
      log: (msg) => log('warn', msg, { component: 'raft-storage' }),
      ...(opts.rewriteThreshold !== undefined ? { rewriteThreshold: opts.rewriteThreshold } : {}),
    });
    const { storage, snapshot } = opened;
    let { confState } = opened;
    try {
      if (storage.lastIndex() === 0 && opened.hardState.term === 0 && opts.voters.includes(opts.id)) {
        // A founding member with empty storage: every founder writes exactly these entries.
        const boot = bootstrapEntries(opts.voters);
        await storage.persist({
          entries: boot,
          hardState: { term: 1, vote: 0, commit: boot.length },
          mustSync: true,
        });
      }
      // The ConfState at the snapshot; entries after it (bootstrap ones included) are re-applied below.
      confState = snapshot.metadata.confState;
      const state = await decodeSnapshot(snapshot);
      const node = new RawNode({
        id: opts.id,
        storage,
        electionTick: opts.electionTick ?? 10,
        heartbeatTick: opts.heartbeatTick ?? 1,
        applied: snapshot.metadata.index,
        logger: raftLogger(log, opts.id),
        // Large chunks: a 50 MB snapshot then takes a dozen round trips instead of hundreds (frames
        // may be up to 64 MiB; 4 chunks in flight bound the memory a transfer holds).
        snapshotChunkSize: opts.snapshotChunkBytes ?? 1 << 20,
        maxInflightSnapshotChunks: 4,
      });
      const rl = new RaftLog(opts, storage, node, state, confState, snapshot.metadata.index);
      rl.transport = new TcpTransport({
        ...opts.transport,
        id: opts.id,
        listen: opts.listen,
        peers: opts.peers,
        onMessage: (m) => rl.onMessage(m),
        log,
      });
      // Replay the committed entries after the snapshot before serving: the first Ready holds them.
      await rl.drain();
      if (rl.failed) throw rl.failed;
      await rl.transport.start();
      rl.timer = setInterval(() => rl.onTick(), opts.tickMs ?? 100);
      return rl;
    } catch (err) {
      await storage.close().catch(() => {});
      throw err;
    }
  }

  /** The applied desired state. Replaced when a snapshot is installed: read `log.state` each time. */
  get state(): DesiredState {
    return this._state;
  }

  get id(): number {
    return this.opts.id;
  }

  propose(command: Command): Promise<ApplyResult> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error('command log is closed'));
    const r = this.node.raft;
    if (r.state !== 'leader') return Promise.reject(new NotLeaderError(r.lead || undefined));
    const checked = Command.safeParse(command);
    if (!checked.success) return Promise.reject(new Error(`invalid command: ${checked.error.message}`));
    const requestId = `${this.opts.id}-${randomUUID()}`;
    return new Promise<ApplyResult>((resolve, reject) => {
      const p: Pending = {
        requestId,
        data: encodeCommand(requestId, checked.data),
        index: 0,
        resolve,
        reject,
        timer: undefined,
      };
      p.timer = setTimeout(() => {
        this.forget(p);
        reject(new ProposalError('unknown', `proposal not applied within ${this.proposeTimeoutMs} ms`));
      }, this.proposeTimeoutMs);
      this.toPropose.push(p);
      this.kick();
    });
  }

  status(): RaftLogStatus {
    const r = this.node.raft;
    const st: RaftLogStatus = {
      role: r.state === 'leader' ? 'leader' : r.state === 'follower' ? 'follower' : 'candidate',
      term: r.term,
      appliedIndex: this.appliedIndex,
      commitIndex: r.raftLog.committed,
      leaderId: r.lead || undefined,
      leaderReady:
        r.state === 'leader' && r.committedEntryInCurrentTerm() && this.appliedIndex === r.raftLog.committed,
      snapshotIndex: this.storage.snapshot().metadata.index,
      snapshotBytes: this.storage.snapshot().data.byteLength,
      voters: [...this.confState.voters],
    };
    if (r.state === 'leader') {
      const last = r.raftLog.lastIndex();
      st.followers = {};
      for (const [id, pr] of this.node.status().progress) {
        if (id !== this.opts.id)
          st.followers[id] = { match: pr.match, lag: last - pr.match, state: pr.state };
      }
    }
    return st;
  }

  /** Transport counters (connections, queues, drops). */
  transportStats() {
    return this.transport.stats();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.transport.close();
    await this.draining?.catch(() => {});
    this.rejectAll(new ProposalError('unknown', 'command log closed before the proposal was applied'));
    await this.storage.close();
  }

  // ---------------------------------------------------------------- inputs

  private onMessage(m: Message): void {
    if (this.closed) return;
    this.inbox.push(m);
    this.kick();
  }

  private onTick(): void {
    this.pendingTicks++;
    this.kick();
  }

  /** kick schedules the Ready loop (once per burst of inputs). */
  private kick(): void {
    if (this.kickScheduled || this.closed) return;
    this.kickScheduled = true;
    queueMicrotask(() => {
      this.kickScheduled = false;
      if (!this.draining && !this.closed && !this.failed) void this.drain();
    });
  }

  /** feed hands queued inputs to the core; only called while no Ready is in flight. */
  private feed(): void {
    const n = this.node;
    const msgs = this.inbox;
    this.inbox = [];
    // A follower catching up receives appends faster than it persists them: stepping them all at once
    // would make one Ready (one WAL write, encoded synchronously) of tens of megabytes. Step about
    // FEED_ENTRY_BYTES of entries per Ready; the rest stays queued, in order, for the next one.
    let entryBytes = 0;
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i] as Message;
      if (entryBytes >= FEED_ENTRY_BYTES && m.entries.length > 0) {
        this.inbox = msgs.slice(i);
        break;
      }
      for (const e of m.entries) entryBytes += e.data.byteLength;
      n.step(m);
    }
    for (; this.pendingTicks > 0; this.pendingTicks--) n.tick();
    const props = this.toPropose;
    this.toPropose = [];
    for (const p of props) {
      const res = n.propose(p.data);
      if (!res.accepted) {
        this.forget(p);
        const lead = n.raft.lead !== 0 && n.raft.lead !== this.opts.id ? n.raft.lead : undefined;
        p.reject(new NotLeaderError(lead, res.reason));
        continue;
      }
      p.index = res.index;
      // A stale proposal that was at this index (overwritten log) can no longer be applied there.
      const old = this.inLog.get(res.index);
      if (old) this.settle(old, new ProposalError('dropped', 'entry overwritten by a new leader'));
      this.inLog.set(res.index, p);
    }
  }

  // ---------------------------------------------------------------- the Ready loop

  private drain(): Promise<void> {
    if (this.draining) return this.draining;
    this.draining = this.loop().finally(() => {
      this.draining = undefined;
      // Inputs queued between the loop's last check and now (e.g. a propose() from a microtask).
      if (this.inbox.length > 0 || this.pendingTicks > 0 || this.toPropose.length > 0) this.kick();
    });
    return this.draining;
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        if (this.closed || this.failed) return;
        this.feed();
        if (!this.node.hasReady()) return;
        const rd = this.node.ready();
        // Receiving the last chunk of a large snapshot (reassembly in feed) and writing it out (checksum)
        // each take tens of ms: let the event loop run in between.
        if (rd.snapshot) await yieldToEventLoop();
        await this.storage.persist(rd); // 1. durable (fdatasync when rd.mustSync)
        if (this.closed) return; // never send or apply after close: the node is gone
        this.transport.send(rd.messages); // 2. only after persist resolved
        await this.apply(rd); // 3. snapshot, committed entries, pending proposals
        this.node.advance(); // 4.
        await this.maybeSnapshot();
      }
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private async apply(rd: Ready): Promise<void> {
    if (rd.snapshot && rd.snapshot.metadata.index > this.appliedIndex) {
      const s = rd.snapshot;
      this._state = await decodeSnapshot(s);
      this.confState = s.metadata.confState;
      this.appliedIndex = s.metadata.index;
      for (const [index, p] of this.inLog) {
        if (index <= s.metadata.index)
          this.settle(p, new ProposalError('unknown', 'a snapshot from the leader replaced the log'));
      }
      this.log('info', 'installed snapshot', {
        component: 'raft',
        id: this.opts.id,
        index: s.metadata.index,
      });
    }
    // A follower catching up gets thousands of committed entries in one Ready (each a JSON parse, a
    // schema check and a SHA-256): apply them in slices so the event loop runs in between. The Ready
    // loop is paused meanwhile (inputs queue up), and `appliedIndex` moves entry by entry.
    const slices = new TimeSlices();
    for (const e of rd.committedEntries) {
      this.applyEntry(e);
      if (slices.due()) await slices.next();
    }
  }

  private applyEntry(e: Entry): void {
    if (e.index <= this.appliedIndex) return;
    const p = this.inLog.get(e.index);
    if (e.type === 'confChange') {
      this.confState = confStateAfter(this.confState, e);
      if (p) this.settle(p, new ProposalError('dropped', 'another entry was committed at its index'));
    } else if (e.data.byteLength === 0) {
      // A new leader's empty entry.
      if (p) this.settle(p, new ProposalError('dropped', 'another entry was committed at its index'));
    } else {
      const d = decodeCommand(e.data);
      if (!d) {
        // Deterministic on every replica: the entry changes nothing.
        this.log('error', 'undecodable command entry skipped', { component: 'raft', index: e.index });
        if (p) this.settle(p, new ProposalError('dropped', 'entry could not be decoded'));
      } else {
        const result = this._state.apply(this._state.index + 1, d.command);
        if (p) {
          if (p.requestId === d.requestId) this.settle(p, result);
          else this.settle(p, new ProposalError('dropped', 'another entry was committed at its index'));
        }
      }
    }
    this.appliedIndex = e.index;
  }

  private async maybeSnapshot(): Promise<void> {
    const snapIndex = this.storage.snapshot().metadata.index;
    if (this.snapshotting || this.appliedIndex - snapIndex < this.snapshotEvery) return;
    if (performance.now() < this.nextSnapshotAt) return;
    this.snapshotting = true;
    const started = performance.now();
    try {
      const index = this.appliedIndex;
      await this.storage.createSnapshot(index, this.confState, await encodeSnapshot(this._state));
      const compactTo = index - this.snapshotKeep;
      if (compactTo >= this.storage.firstIndex()) await this.storage.compact(compactTo);
      this.log('info', 'snapshot taken', { component: 'raft', id: this.opts.id, index, compactTo });
    } finally {
      this.snapshotting = false;
      const now = performance.now();
      this.nextSnapshotAt = now + SNAPSHOT_PAUSE_FACTOR * (now - started);
    }
  }

  // ---------------------------------------------------------------- proposals

  private settle(p: Pending, outcome: ApplyResult | Error): void {
    this.forget(p);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  private forget(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    if (p.index > 0 && this.inLog.get(p.index) === p) this.inLog.delete(p.index);
    const i = this.toPropose.indexOf(p);
    if (i >= 0) this.toPropose.splice(i, 1);
  }

  private rejectAll(err: Error): void {
    for (const p of [...this.inLog.values(), ...this.toPropose]) this.settle(p, err);
  }

  /** A storage failure: the node stops participating and must be restarted from disk. */
  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.log('error', 'raft log failed; restart the controller', { component: 'raft', error: err.message });
    if (this.timer) clearInterval(this.timer);
    this.rejectAll(new ProposalError('unknown', `raft log failed: ${err.message}`));
    void this.transport?.close();
  }
}
