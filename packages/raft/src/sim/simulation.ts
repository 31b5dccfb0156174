import { bootstrapEntries, confStateAfter, decodeConfChange } from '../confchange/confchange.js';
import { RaftError } from '../errors.js';
import { bufferLogger, type Logger, silentLogger } from '../logger.js';
import { RawNode, type Ready } from '../rawNode.js';
import type { MemoryStorage } from '../storage.js';
import {
  type ConfState,
  EMPTY_CONF_STATE,
  type Entry,
  type Message,
  message,
  type NodeId,
  type StateType,
} from '../types.js';
import { SimDisk } from './disk.js';
import { decodeCommand, encodeCommand, KvStore } from './kv.js';
import {
  checkOperations,
  formatResult,
  type KvInput,
  type KvOperation,
  type KvOutput,
  kvModel,
} from './linearizability.js';
import { CALM, type NetworkFaults, SimNetwork } from './network.js';
import { Rng } from './prng.js';
import { SafetyChecker, SafetyViolation } from './safety.js';

/** replayCommand is the one-liner that re-runs a single seed. */
export function replayCommand(seed: number): string {
  return `RAFT_SIM_SEED=${seed} npx vitest run --project unit packages/raft -t "simulation"`;
}

/** Deliberate bugs, to prove the checks catch them (see simulation.test.ts). */
export interface SimBugs {
  /** Send a Ready's messages before persisting it (violates the Ready contract). */
  sendBeforePersist?: boolean;
  /** Serve gets from the local state machine without ReadIndex. */
  staleReads?: boolean;
}

export interface SimOptions {
  seed: number;
  /** Ticks of the fault phase (default 1200); the liveness phase follows. */
  chaosTicks?: number;
  bugs?: SimBugs;
  /** Capture the core's log (slower); the tail is attached to failures. */
  trace?: boolean;
}

export interface SimReport {
  seed: number;
  params: SimParams;
  ticks: number;
  ops: { total: number; ok: number; unknownPuts: number; reads: number };
  elections: number;
  crashes: number;
  crashesBeforeFsync: number;
  lostRecords: number;
  tornRecords: number;
  snapshotsInstalled: number;
  confChanges: number;
  transfersRequested: number;
  garbageInjected: number;
  dropped: { malformed: number; misrouted: number; unknownNode: number; staleConfig: number };
  messages: { sent: number; dropped: number; duplicated: number };
  linearizability: { outcome: string; steps: number };
  livenessTicks: number;
  safetyChecks: number;
}

export class SimFailure extends Error {
  constructor(
    readonly seed: number,
    readonly tick: number,
    readonly property: string,
    detail: string,
    readonly trace: readonly string[],
  ) {
    super(
      `simulation seed ${seed} failed at tick ${tick}: ${property}: ${detail}\n` +
        (trace.length > 0 ? `--- last log lines ---\n${trace.join('\n')}\n` : '') +
        `replay: ${replayCommand(seed)}`,
    );
    this.name = 'SimFailure';
  }
}

/** SimParams are drawn from the seed: each seed explores a different configuration and fault mix. */
export interface SimParams {
  nodes: number;
  preVote: boolean;
  checkQuorum: boolean;
  electionTick: number;
  heartbeatTick: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  snapshotChunkSize: number;
  maxInflightSnapshotChunks: number;
  compactEvery: number;
  compactKeep: number;
  membership: boolean;
  /** Chance per tick that the operator tries a change (at 0.2 it does not wait for the last one). */
  membershipRate: number;
  transfers: boolean;
  faults: NetworkFaults;
  crashRate: number;
  leaderCrashRate: number;
  crashBeforeFsync: number;
  partitionRate: number;
  garbageRate: number;
  clients: number;
  keys: string[];
  opTimeout: number;
}

function drawParams(rng: Rng): SimParams {
  const heavy = rng.chance(0.3);
  return {
    nodes: rng.chance(0.7) ? 3 : 5,
    preVote: rng.chance(0.85),
    checkQuorum: rng.chance(0.85),
    electionTick: rng.pick([5, 10, 10, 15]),
    heartbeatTick: 1,
    maxSizePerMsg: rng.pick([60, 200, 1 << 20]),
    maxInflightMsgs: rng.pick([1, 2, 4, 64]),
    snapshotChunkSize: rng.pick([8, 32, 1024]),
    maxInflightSnapshotChunks: rng.pick([1, 2, 4]),
    compactEvery: rng.pick([8, 20, 50, 1_000_000]),
    compactKeep: rng.pick([0, 0, 3]),
    membership: rng.chance(0.5),
    membershipRate: rng.pick([0.02, 0.02, 0.2]),
    transfers: rng.chance(0.5),
    faults: {
      loss: heavy ? rng.pick([0.1, 0.2, 0.3]) : rng.pick([0, 0.01, 0.05]),
      duplicate: rng.pick([0, 0.02, 0.1]),
      maxDelay: rng.pick([0, 1, 2, 3]),
      longDelay: rng.pick([0, 0.01, 0.05]),
      longDelayMax: rng.pick([10, 40]),
      reorder: rng.pick([0, 0.02, 0.1]),
    },
    crashRate: rng.pick([0, 0.003, 0.01]),
    leaderCrashRate: rng.pick([0, 0, 0.005, 0.02]),
    crashBeforeFsync: rng.pick([0, 0.002, 0.01]),
    partitionRate: rng.pick([0, 0.005, 0.02]),
    garbageRate: rng.pick([0, 0.02]),
    clients: rng.range(2, 4),
    keys: ['a', 'b', 'c'].slice(0, rng.range(1, 3)),
    opTimeout: 60,
  };
}

interface SimClient {
  readonly id: number;
  seq: number;
  leaderHint: NodeId;
  nextAt: number;
  busy:
    | {
        readonly input: KvInput;
        readonly node: NodeId;
        readonly call: number;
        readonly deadline: number;
        readonly tag: string;
      }
    | undefined;
}

interface SimNode {
  readonly id: NodeId;
  readonly disk: SimDisk;
  storage: MemoryStorage;
  raw: RawNode | undefined;
  kv: KvStore;
  applied: number;
  confState: ConfState;
  /** Tick at which a removed node is shut down for good. */
  decommissionAt: number | undefined;
  decommissioned: boolean;
  restartAt: number;
  /** Client puts proposed here: tag → client. */
  readonly props: Map<string, SimClient>;
  /** Client gets: tag → read index once known. */
  readonly reads: Map<string, { client: SimClient; index: number | undefined }>;
  lastState: StateType;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Simulation runs one seeded, deterministic scenario: a cluster of RawNodes over a SimNetwork, with
 * crashes, restarts, disk faults, partitions, membership changes and leader transfers, plus clients
 * issuing puts and linearizable gets. Safety is checked after every step; at the end the network
 * heals, a commit must happen within a bounded number of ticks, all members must converge, and the
 * client history must be linearizable.
 */
export class Simulation {
  readonly rng: Rng;
  readonly params: SimParams;
  readonly net: SimNetwork;
  readonly safety = new SafetyChecker();
  readonly nodes = new Map<NodeId, SimNode>();
  private readonly clients: SimClient[] = [];
  private readonly history: KvOperation[] = [];
  private readonly bugs: SimBugs;
  private readonly chaosTicks: number;
  private readonly logger: Logger & { lines?: string[] };
  private readonly garbage = new WeakSet<object>();
  now = 0;
  private clock = 0;
  private nextNodeId: number;
  private pendingConfUntil = 0;
  private healedAt = -1;
  private livenessAt = -1;
  private convergeTarget = -1;
  private readonly report: Omit<
    SimReport,
    | 'ops'
    | 'linearizability'
    | 'messages'
    | 'ticks'
    | 'livenessTicks'
    | 'safetyChecks'
    | 'lostRecords'
    | 'tornRecords'
  >;

  constructor(opts: SimOptions) {
    this.rng = new Rng(opts.seed);
    this.params = drawParams(this.rng);
    this.net = new SimNetwork(this.rng.fork());
    this.net.faults = this.params.faults;
    this.bugs = opts.bugs ?? {};
    this.chaosTicks = opts.chaosTicks ?? 1200;
    this.logger = opts.trace
      ? bufferLogger('', Math.max(400, Number(process.env.RAFT_SIM_TRACE_LINES ?? 0)))
      : silentLogger;
    this.report = {
      seed: opts.seed,
      params: this.params,
      elections: 0,
      crashes: 0,
      crashesBeforeFsync: 0,
      snapshotsInstalled: 0,
      confChanges: 0,
      transfersRequested: 0,
      garbageInjected: 0,
      dropped: { malformed: 0, misrouted: 0, unknownNode: 0, staleConfig: 0 },
    };
    const founders: NodeId[] = [];
    for (let i = 1; i <= this.params.nodes; i++) founders.push(i);
    this.nextNodeId = this.params.nodes + 1;
    const boot = bootstrapEntries(founders);
    for (const id of founders) {
      const n = this.newNode(id);
      n.disk.write({ kind: 'entries', entries: boot });
      n.disk.write({ kind: 'hardState', hs: { term: 1, vote: 0, commit: boot.length } });
      n.disk.sync();
      this.start(n);
    }
    for (let c = 1; c <= this.params.clients; c++)
      this.clients.push({ id: c, seq: 0, leaderHint: 0, nextAt: 0, busy: undefined });
  }

  // ------------------------------------------------------------------ failure plumbing

  private fail(property: string, detail: string): never {
    throw new SimFailure(
      this.report.seed,
      this.now,
      property,
      detail,
      this.logger.lines?.slice(-Number(process.env.RAFT_SIM_TRACE_LINES ?? 60)) ?? [],
    );
  }

  private guard<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof SimFailure) throw e;
      if (e instanceof SafetyViolation) this.fail(e.property, e.detail);
      if (e instanceof RaftError) this.fail('core invariant', `${what}: ${e.message}`);
      throw e;
    }
  }

  // ------------------------------------------------------------------ nodes

  private newNode(id: NodeId): SimNode {
    const n: SimNode = {
      id,
      disk: new SimDisk(),
      storage: undefined as unknown as MemoryStorage,
      raw: undefined,
      kv: new KvStore(),
      applied: 0,
      confState: EMPTY_CONF_STATE,
      decommissionAt: undefined,
      decommissioned: false,
      restartAt: 0,
      props: new Map(),
      reads: new Map(),
      lastState: 'follower',
    };
    this.nodes.set(id, n);
    return n;
  }

  private start(n: SimNode): void {
    this.guard(`start ${n.id}`, () => {
      n.storage = n.disk.recover();
      const snap = n.storage.snapshot();
      n.kv = KvStore.restore(snap.data);
      n.applied = snap.metadata.index;
      n.confState = snap.metadata.confState;
      const r = this.rng.fork();
      const p = this.params;
      n.raw = new RawNode({
        id: n.id,
        storage: n.storage,
        electionTick: p.electionTick,
        heartbeatTick: p.heartbeatTick,
        applied: n.applied,
        preVote: p.preVote,
        checkQuorum: p.checkQuorum,
        maxSizePerMsg: p.maxSizePerMsg,
        maxInflightMsgs: p.maxInflightMsgs,
        snapshotChunkSize: p.snapshotChunkSize,
        maxInflightSnapshotChunks: p.maxInflightSnapshotChunks,
        random: () => r.next(),
        logger: this.logger,
      });
      n.lastState = 'follower';
    });
  }

  private crash(n: SimNode, why: string): void {
    if (!n.raw) return;
    this.addDropped(n);
    n.raw = undefined;
    n.disk.crash(this.rng);
    n.props.clear();
    n.reads.clear();
    this.report.crashes++;
    this.logger.info(`[sim] crash ${n.id} (${why})`);
    n.restartAt = this.now + this.rng.range(5, 80);
  }

  private addDropped(n: SimNode): void {
    if (!n.raw) return;
    const d = n.raw.stats.dropped;
    this.report.dropped.malformed += d.malformed;
    this.report.dropped.misrouted += d.misrouted;
    this.report.dropped.unknownNode += d.unknownNode;
    this.report.dropped.staleConfig += d.staleConfig;
  }

  private live(): SimNode[] {
    const out: SimNode[] = [];
    for (const n of this.nodes.values()) if (n.raw) out.push(n);
    return out;
  }

  private observe(n: SimNode): void {
    const raw = n.raw;
    if (!raw) return;
    this.guard('observe', () => this.safety.observeRole(raw.raft));
    if (raw.raft.state === 'leader' && n.lastState !== 'leader') this.report.elections++;
    n.lastState = raw.raft.state;
  }

  // ------------------------------------------------------------------ Ready handling

  private processReady(n: SimNode): void {
    this.guard(`ready ${n.id}`, () => {
      let loops = 0;
      while (n.raw?.hasReady()) {
        if (++loops > 1000) this.fail('ready loop', `node ${n.id} keeps producing Ready`);
        const raw = n.raw;
        const rd = raw.ready();
        this.safety.observeAppended(raw.raft, rd.entries);
        if (this.bugs.sendBeforePersist) this.sendAll(rd);
        // 1. Persist (snapshot, entries, hard state), then fsync if required.
        if (rd.snapshot) {
          n.disk.write({ kind: 'recvSnapshot', snap: rd.snapshot });
          n.storage.applySnapshot(rd.snapshot);
        }
        if (rd.entries.length > 0) {
          n.disk.write({ kind: 'entries', entries: rd.entries });
          n.storage.append(rd.entries);
        }
        if (rd.hardState) {
          n.disk.write({ kind: 'hardState', hs: rd.hardState });
          n.storage.setHardState(rd.hardState);
        }
        if (rd.mustSync) {
          if (this.healedAt < 0 && this.rng.chance(this.params.crashBeforeFsync)) {
            this.report.crashesBeforeFsync++;
            this.crash(n, 'before fsync');
            return;
          }
          n.disk.sync();
        }
        // 2. Send.
        if (!this.bugs.sendBeforePersist) this.sendAll(rd);
        // 3. Apply.
        if (rd.snapshot) {
          const md = rd.snapshot.metadata;
          n.kv = KvStore.restore(rd.snapshot.data);
          n.applied = md.index;
          n.confState = md.confState;
          n.props.clear(); // proposals covered by the snapshot are not observed here
          this.report.snapshotsInstalled++;
          this.safety.observeSnapshotRestored(n.id, md.index, md.term, n.kv.hash());
        }
        this.safety.observeCommitted(n.id, raw.raft.term, rd.committedEntries);
        for (const e of rd.committedEntries) this.apply(n, e, raw.raft.term);
        for (const rs of rd.readStates) {
          const r = n.reads.get(dec.decode(rs.context));
          if (r) r.index = rs.index;
        }
        // 4. Advance.
        raw.advance();
        this.serveReads(n);
        this.maybeCompact(n);
      }
    });
    this.observe(n);
  }

  private sendAll(rd: Ready): void {
    for (const m of rd.messages) this.net.send(m, this.now);
  }

  private apply(n: SimNode, e: Entry, term: number): void {
    if (e.index !== n.applied + 1)
      this.fail('apply order', `node ${n.id} applied ${e.index} after ${n.applied}`);
    if (e.type === 'normal' && e.data.byteLength > 0) {
      const cmd = decodeCommand(e.data);
      n.kv.put(cmd.k, cmd.v);
      const tag = `${cmd.c}.${cmd.s}`;
      const cl = n.props.get(tag);
      if (cl) {
        n.props.delete(tag);
        if (cl.busy?.tag === tag) this.complete(cl, null);
      }
    } else if (e.type === 'confChange') {
      n.confState = confStateAfter(n.confState, e);
      this.onConfApplied(e);
    }
    n.applied = e.index;
    this.safety.observeApplied(n.id, term, e, n.kv.hash());
  }

  private serveReads(n: SimNode): void {
    for (const [tag, r] of n.reads) {
      if (r.index === undefined || r.index > n.applied) continue;
      n.reads.delete(tag);
      const b = r.client.busy;
      if (b?.tag === tag && b.input.kind === 'get') this.complete(r.client, n.kv.get(b.input.key));
    }
  }

  private maybeCompact(n: SimNode): void {
    const p = this.params;
    const snapIndex = n.storage.snapshot().metadata.index;
    if (n.applied - snapIndex < p.compactEvery) return;
    const compactIndex = Math.max(snapIndex + 1, n.applied - p.compactKeep);
    const data = n.kv.snapshot();
    n.storage.createSnapshot(n.applied, n.confState, data);
    n.storage.compact(compactIndex);
    n.disk.write({ kind: 'appSnapshot', index: n.applied, confState: n.confState, data, compactIndex });
    n.disk.sync();
  }

  // ------------------------------------------------------------------ membership

  private onConfApplied(e: Entry): void {
    const cc = decodeConfChange(e.data);
    if (cc?.type !== 'removeNode') return;
    const victim = this.nodes.get(cc.nodeId);
    if (victim && victim.decommissionAt === undefined) {
      // A removed node keeps running for a while (it may not know it was removed), then goes away.
      victim.decommissionAt = this.now + this.rng.range(0, 60);
    }
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.live()) {
      const r = (n.raw as RawNode).raft;
      if (r.state === 'leader' && (!best || r.term > (best.raw as RawNode).raft.term)) best = n;
    }
    return best;
  }

  private operate(): void {
    const p = this.params;
    const ld = this.leader();
    if (!ld?.raw) return;
    const raft = ld.raw.raft;
    if (p.transfers && this.rng.chance(0.004)) {
      const others = [...raft.tracker.voters].filter((v) => v !== raft.id);
      if (others.length > 0) {
        const target = this.rng.pick(others);
        this.report.transfersRequested++;
        this.logger.info(`[sim] transfer leadership ${raft.id} -> ${target}`);
        ld.raw.transferLeader(target);
      }
    }
    if (!p.membership || !this.rng.chance(p.membershipRate)) return;
    // A careful operator waits for the previous change; an impatient one relies on the leader's guard.
    if (p.membershipRate < 0.1 && this.now < this.pendingConfUntil) return;
    const cs = raft.confState();
    const caughtUp = cs.learners.filter(
      (l) => (raft.tracker.progress.get(l)?.match ?? 0) >= raft.raftLog.committed,
    );
    let res: ReturnType<RawNode['proposeConfChange']> | undefined;
    let spawn: NodeId | undefined;
    if (caughtUp.length > 0 && cs.voters.length < 5) {
      res = ld.raw.proposeConfChange({ type: 'addVoter', nodeId: this.rng.pick(caughtUp) });
    } else if (cs.learners.length === 0 && cs.voters.length < 5 && this.rng.chance(0.5)) {
      spawn = this.nextNodeId;
      res = ld.raw.proposeConfChange({ type: 'addLearner', nodeId: spawn });
    } else if (cs.voters.length > 3 || (cs.learners.length > 0 && this.rng.chance(0.2))) {
      const victims = cs.voters.length > 3 ? [...cs.voters, ...cs.learners] : [...cs.learners];
      res = ld.raw.proposeConfChange({ type: 'removeNode', nodeId: this.rng.pick(victims) });
    }
    if (res?.accepted) {
      this.report.confChanges++;
      this.pendingConfUntil = this.now + 30;
      this.logger.info(`[sim] conf change proposed at ${raft.id}: index ${res.index}`);
      if (spawn !== undefined) {
        this.nextNodeId++;
        this.start(this.newNode(spawn));
      }
    }
    this.processReady(ld);
  }

  // ------------------------------------------------------------------ clients

  private pickTarget(c: SimClient): SimNode | undefined {
    const hinted = this.nodes.get(c.leaderHint);
    if (hinted?.raw && this.rng.chance(0.8)) return hinted;
    const live = this.live().filter((n) => !n.decommissioned);
    return live.length > 0 ? this.rng.pick(live) : undefined;
  }

  private clientStep(c: SimClient): void {
    const b = c.busy;
    if (b && this.now > b.deadline) {
      // Timed out: a put's outcome is unknown (it may still be applied); a get constrains nothing.
      if (b.input.kind === 'put') this.history.push(this.op(c, b.input, undefined, b.call, Infinity));
      const n = this.nodes.get(b.node);
      n?.props.delete(b.tag);
      n?.reads.delete(b.tag);
      c.busy = undefined;
      c.nextAt = this.now + 1;
      c.leaderHint = 0;
    }
    if (c.busy || this.now < c.nextAt) return;
    if (this.livenessAt >= 0) return; // quiescing: let every member catch up
    const n = this.pickTarget(c);
    if (!n?.raw) return;
    const key = this.rng.pick(this.params.keys);
    const seq = c.seq + 1;
    const tag = `${c.id}.${seq}`;
    if (this.rng.chance(0.5)) {
      const value = `v${c.id}.${seq}`;
      const res = n.raw.propose(encodeCommand({ c: c.id, s: seq, k: key, v: value }));
      if (!res.accepted) {
        c.leaderHint = n.raw.raft.lead;
        return;
      }
      c.seq = seq;
      c.busy = {
        input: { kind: 'put', key, value },
        node: n.id,
        call: ++this.clock,
        deadline: this.now + this.params.opTimeout,
        tag,
      };
      n.props.set(tag, c);
    } else {
      const call = ++this.clock;
      c.seq = seq;
      if (this.bugs.staleReads) {
        c.busy = {
          input: { kind: 'get', key },
          node: n.id,
          call,
          deadline: this.now + this.params.opTimeout,
          tag,
        };
        this.complete(c, n.kv.get(key));
        return;
      }
      if (!n.raw.readIndex(enc.encode(tag))) {
        c.leaderHint = n.raw.raft.lead;
        c.seq = seq; // the tag is burnt; never reused
        return;
      }
      c.busy = {
        input: { kind: 'get', key },
        node: n.id,
        call,
        deadline: this.now + this.params.opTimeout,
        tag,
      };
      n.reads.set(tag, { client: c, index: undefined });
    }
    this.processReady(n);
  }

  private op(
    c: SimClient,
    input: KvInput,
    output: KvOutput | undefined,
    call: number,
    ret: number,
  ): KvOperation {
    return { id: this.history.length, clientId: c.id, input, output, call, ret };
  }

  private complete(c: SimClient, output: KvOutput): void {
    const b = c.busy;
    if (!b) return;
    this.history.push(this.op(c, b.input, output, b.call, ++this.clock));
    c.busy = undefined;
    c.leaderHint = b.node;
    c.nextAt = this.now + this.rng.int(3);
    if (this.healedAt >= 0 && this.livenessAt < 0 && b.input.kind === 'put' && b.call > this.healClock) {
      this.livenessAt = this.now;
    }
  }

  private healClock = 0;

  // ------------------------------------------------------------------ faults

  private chaos(): void {
    const p = this.params;
    const rng = this.rng;
    for (const n of this.nodes.values()) {
      if (n.decommissioned) continue;
      if (n.decommissionAt !== undefined && this.now >= n.decommissionAt) {
        this.addDropped(n);
        n.raw = undefined;
        n.decommissioned = true;
        this.logger.info(`[sim] decommission ${n.id}`);
        continue;
      }
      if (!n.raw && this.now >= n.restartAt) {
        this.logger.info(`[sim] restart ${n.id}`);
        this.start(n);
      }
    }
    const live = this.live();
    const members = [...this.nodes.values()].filter((n) => !n.decommissioned);
    const down = members.length - live.length;
    if (
      live.length > 0 &&
      rng.chance(p.crashRate) &&
      (down < Math.floor(members.length / 2) || rng.chance(0.2))
    ) {
      this.crash(rng.pick(live), 'random');
    }
    // Leaders are the interesting victims (Figure 8 needs leaders dying right after replicating).
    const ld = this.leader();
    if (ld && rng.chance(p.leaderCrashRate)) this.crash(ld, 'leader');
    if (rng.chance(p.partitionRate)) {
      const ids = members.map((n) => n.id);
      const kind = rng.int(4);
      this.net.heal();
      if (kind === 0) {
        // Symmetric split.
        rng.shuffle(ids);
        const k = rng.range(1, Math.max(1, ids.length - 1));
        this.net.partition([ids.slice(0, k), ids.slice(k)]);
        this.logger.info(`[sim] partition ${ids.slice(0, k)} | ${ids.slice(k)}`);
      } else if (kind === 1) {
        // Asymmetric: one node can send but not receive (or the reverse).
        const x = rng.pick(ids);
        const inbound = rng.chance(0.5);
        for (const y of ids) if (y !== x) inbound ? this.net.cutLink(y, x) : this.net.cutLink(x, y);
        this.logger.info(`[sim] asymmetric: ${x} ${inbound ? 'deaf' : 'mute'}`);
      } else if (kind === 2) {
        // Random one-way link cuts.
        const cuts = rng.range(1, ids.length);
        for (let i = 0; i < cuts; i++) {
          const a = rng.pick(ids);
          const b = rng.pick(ids);
          if (a !== b) this.net.cutLink(a, b);
        }
        this.logger.info('[sim] random link cuts');
      } else {
        this.logger.info('[sim] heal');
      }
    }
    if (rng.chance(0.01))
      this.net.faults = rng.chance(0.5) ? p.faults : { ...p.faults, loss: Math.min(0.5, p.faults.loss * 3) };
    if (rng.chance(p.garbageRate)) this.injectGarbage(members.map((n) => n.id));
  }

  /** injectGarbage puts malformed or foreign messages on the wire; nodes must drop them all. */
  private injectGarbage(ids: NodeId[]): void {
    if (ids.length === 0) return;
    const to = this.rng.pick(ids);
    const from = this.rng.pick(ids.filter((i) => i !== to).concat([9999]));
    const base = { from, to, term: this.rng.range(1, 50) };
    const variants: unknown[] = [
      {
        ...message({ type: 'app', ...base, index: 3 }),
        entries: [{ term: 1, index: 7, type: 'normal', data: new Uint8Array(1) }],
      },
      message({ type: 'hup', ...base }),
      { ...message({ type: 'vote', ...base }), term: -1 },
      { ...message({ type: 'heartbeat', ...base }), commit: Number.NaN },
      { ...message({ type: 'appResp', ...base }), type: 'bogus' },
      message({ type: 'preVoteResp', ...base, from: 7777 }),
      message({ type: 'appResp', ...base, from: 8888, index: 5 }),
      message({ type: 'heartbeat', ...base, from: to }),
      message({
        type: 'snap',
        ...base,
        snapshot: {
          metadata: { index: 5, term: 1, confState: { voters: [1], learners: [] } },
          offset: 10,
          totalSize: 5,
          data: new Uint8Array(3),
          done: false,
        },
      }),
      { type: 42, to, from },
      { type: 'app', to, from },
    ];
    const m = this.rng.pick(variants) as Message;
    if (m && typeof m === 'object') this.garbage.add(m);
    this.report.garbageInjected++;
    this.net.inject(m, this.now);
  }

  private heal(): void {
    this.healedAt = this.now;
    this.healClock = this.clock;
    this.net.heal();
    this.net.faults = { ...CALM, maxDelay: Math.min(this.params.faults.maxDelay, 2) };
    for (const n of this.nodes.values()) {
      if (n.decommissionAt !== undefined && !n.decommissioned) {
        this.addDropped(n);
        n.raw = undefined;
        n.decommissioned = true;
      }
      if (!n.raw && !n.decommissioned) this.start(n);
    }
    this.logger.info('[sim] heal: network healed, all nodes restarted');
  }

  // ------------------------------------------------------------------ main loop

  private deliver(m: Message): void {
    const n = this.nodes.get((m as { to?: NodeId })?.to ?? -1);
    if (!n?.raw) return;
    const raw = n.raw;
    const res = this.guard(`step ${n.id}`, () => raw.step(m));
    if (res === 'ok' && m !== null && typeof m === 'object' && this.garbage.has(m)) {
      this.fail('bad input', `node ${n.id} accepted an injected bad message ${JSON.stringify(m)}`);
    }
    this.processReady(n);
  }

  private tickAll(): void {
    for (const n of this.live()) {
      if (this.healedAt < 0 && this.rng.chance(0.05)) continue; // clock drift: a missed tick
      const raw = n.raw as RawNode;
      this.guard(`tick ${n.id}`, () => raw.tick());
      this.processReady(n);
    }
  }

  private deliverDue(): void {
    let budget = 20_000; // a healthy tick delivers a few hundred messages at most
    for (let m = this.net.nextDue(this.now); m !== undefined; m = this.net.nextDue(this.now)) {
      if (--budget < 0) this.fail('network', 'message storm');
      this.deliver(m);
    }
  }

  private fullLogCheck(): void {
    const rafts = this.live().map((n) => (n.raw as RawNode).raft);
    this.guard('log check', () => {
      rafts.forEach((a, i) => {
        for (const b of rafts.slice(i + 1)) this.safety.checkLogsPairwise(a, b);
      });
    });
  }

  /** converged: have all current members applied what the leader had committed when clients stopped? */
  private converged(): boolean {
    const ld = this.leader();
    if (!ld?.raw) return false;
    const cs = ld.raw.raft.confState();
    if (this.convergeTarget < 0) this.convergeTarget = ld.raw.raft.raftLog.committed;
    for (const id of [...cs.voters, ...cs.learners]) {
      const n = this.nodes.get(id);
      if (!n?.raw || n.applied < this.convergeTarget) return false;
    }
    return true;
  }

  run(): SimReport {
    const p = this.params;
    // After healing, a client write must commit within livenessBound ticks; then, with clients
    // quiet, every member must catch up within convergeBound ticks (slow configurations, such as
    // one entry per message and one message in flight, need time but must not stall).
    const livenessBound = 30 * p.electionTick + 100;
    const convergeBound = 1500;
    const end = this.chaosTicks + livenessBound + convergeBound + 10;
    for (this.now = 0; this.now < end; this.now++) {
      if (this.now === this.chaosTicks) this.heal();
      const chaos = this.healedAt < 0;
      if (chaos) this.chaos();
      this.tickAll();
      this.deliverDue();
      for (const c of this.clients) this.clientStep(c);
      if (chaos) this.operate();
      this.deliverDue();
      if (this.now % 97 === 0) this.fullLogCheck();
      if (!chaos) {
        if (this.livenessAt < 0 && this.now - this.healedAt > livenessBound) {
          this.fail('liveness', `no client write committed within ${livenessBound} ticks after healing`);
        }
        if (this.livenessAt >= 0 && this.converged()) break;
        if (this.livenessAt >= 0 && this.now - this.livenessAt > convergeBound) {
          const lag = [...this.nodes.values()].filter((n) => n.raw).map((n) => `${n.id}:${n.applied}`);
          this.fail(
            'liveness',
            `members did not converge on index ${this.convergeTarget} within ${convergeBound} ticks (applied: ${lag.join(' ')})`,
          );
        }
      }
    }
    this.fullLogCheck();
    // Ops still pending at the end: puts have unknown outcome.
    for (const c of this.clients) {
      const b = c.busy;
      if (b?.input.kind === 'put') this.history.push(this.op(c, b.input, undefined, b.call, Infinity));
      c.busy = undefined;
    }
    const lin = checkOperations(kvModel, this.history, { budget: 2_000_000 });
    if (lin.outcome === 'illegal') this.fail('linearizability', formatResult(kvModel, lin));
    for (const n of this.nodes.values()) this.addDropped(n);
    const lost = [...this.nodes.values()].reduce((a, n) => a + n.disk.lostRecords, 0);
    const torn = [...this.nodes.values()].reduce((a, n) => a + n.disk.tornRecords, 0);
    return {
      ...this.report,
      ticks: this.now,
      ops: {
        total: this.history.length,
        ok: this.history.filter((o) => o.ret !== Infinity).length,
        unknownPuts: this.history.filter((o) => o.ret === Infinity).length,
        reads: this.history.filter((o) => o.input.kind === 'get').length,
      },
      messages: { sent: this.net.sent, dropped: this.net.dropped, duplicated: this.net.duplicated },
      linearizability: { outcome: lin.outcome, steps: lin.steps },
      livenessTicks: this.livenessAt - this.healedAt,
      safetyChecks: this.safety.checks,
      lostRecords: lost,
      tornRecords: torn,
    };
  }
}

/** runSimulation runs one seed and returns its report, or throws a SimFailure naming the seed. */
export function runSimulation(opts: SimOptions): SimReport {
  return new Simulation(opts).run();
}
