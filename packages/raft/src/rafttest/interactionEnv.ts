import { confStateAfter } from '../confchange/confchange.js';
import { bufferLogger } from '../logger.js';
import { type Config, mulberry32 } from '../raft.js';
import { RawNode } from '../rawNode.js';
import { MemoryStorage } from '../storage.js';
import {
  type ConfChangeType,
  type ConfState,
  type Entry,
  type Message,
  type MessageType,
  message,
  type NodeId,
  type ReadState,
} from '../types.js';

// InteractionEnv runs the data-driven scenario scripts in src/testdata/*.txt. A script is a list of
// commands, one per line (`#` starts a comment). The network is a FIFO queue the script controls
// explicitly: nothing is delivered unless a command says so. Every state change of a node is followed
// by handling its Ready in the documented order (persist → send → apply → advance). Assertions are
// `expect…` commands; the first failing one stops the script with its file and line.
//
// Commands (ids are node ids; `k=v` options are optional unless noted):
//   add-nodes <n> [ids=1,2,3] [voters=..] [learners=..] [prevote=true] [checkquorum=true]
//             [election=10] [heartbeat=1] [max-size=..] [max-inflight=..] [chunk=..] [chunk-window=..]
//             [random=true]
//                                   create nodes whose storage starts at a snapshot (index 0) with
//                                   that configuration (default: all of them voters)
//   add-node <id> [same options]     create a node with empty storage (to be added by conf change)
//   log <id> <term>...               reset <id>'s log to entries 1..n with these terms
//   hardstate <id> term=.. vote=.. commit=..
//   campaign <id> | tick <id,..|all> [n] | tick-election <id,..> | tick-heartbeat <id,..>
//   propose <id> <data> [expect=ok|dropped] [ready=false: leave the Ready for a later command]
//   conf-change <id> add-voter|add-learner|remove <node> [expect=ok|dropped]
//   read-index <id> <ctx> | transfer-leader <id> <target>
//   deliver [from=..] [to=..] [type=..] [reject=..] [n=..]   deliver matching queued messages (one round)
//   drop [from=..] [to=..] [type=..] [n=..]      drop matching queued messages (the first n)
//   stabilize [max=..]               deliver until nothing is left to do
//   partition <ids> | <ids> ...  /  cut <from> <to>  /  heal
//   crash <id> / restart <id>        crash keeps storage (everything was fsynced) and app state
//   compact <id> <index>             snapshot the application at <index> and compact the log
//   send-raw <id> <json> [expect=ok|malformed|...]  step an arbitrary message into <id> (bad input)
//   expect <id> key=value...         state term lead vote commit applied first-index last-index
//                                    log (terms) voters learners transferee
//   expect-applied <id> <data,...>   normal entries applied so far (data as text)
//   expect-reads <id> <ctx@index,...|none>   ReadStates received since the last expect-reads
//   expect-queue [from=..] [to=..] [type=..] count=<n>
//   expect-delivered [from=..] [to=..] [type=..] [count=..] [min=..] [max=..]   over the whole run
//   expect-stats <id> malformed=.. unknownNode=.. staleConfig=.. misrouted=.. staleTerm=..
//   expect-no-leader-at-term <term> / expect-leader <id>
//   log-level debug|off              print (or not) the core's log as the script runs

interface HNode {
  readonly id: NodeId;
  storage: MemoryStorage;
  raw: RawNode | undefined;
  opts: Record<string, string>;
  /** Application state: applied entries (normal, non-empty) and the tracked configuration. */
  applied: Entry[];
  appliedIndex: number;
  confState: ConfState;
  reads: ReadState[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function parseIds(s: string | undefined): NodeId[] {
  if (!s) return [];
  return s
    .split(',')
    .filter((x) => x.length > 0)
    .map(Number);
}

function splitArgs(rest: string[]): { pos: string[]; kv: Record<string, string> } {
  const pos: string[] = [];
  const kv: Record<string, string> = {};
  for (const a of rest) {
    const i = a.indexOf('=');
    if (i > 0 && !a.startsWith('{')) kv[a.slice(0, i)] = a.slice(i + 1);
    else pos.push(a);
  }
  return { pos, kv };
}

export class InteractionEnv {
  readonly nodes = new Map<NodeId, HNode>();
  queue: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly logger = bufferLogger('', 2000);
  private verbose = false;
  private lastStep = '';
  private printed = 0;
  /** Every message delivered, for assertions on traffic. */
  readonly delivered: Message[] = [];

  constructor(private readonly where: string) {}

  // ---------------------------------------------------------------- plumbing

  private node(id: NodeId): HNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  private live(id: NodeId): RawNode {
    const r = this.node(id).raw;
    if (!r) throw new Error(`node ${id} is down`);
    return r;
  }

  private config(id: NodeId, storage: MemoryStorage, o: Record<string, string>, applied: number): Config {
    const num = (k: string, d: number) => (o[k] !== undefined ? Number(o[k]) : d);
    return {
      id,
      storage,
      electionTick: num('election', 10),
      heartbeatTick: num('heartbeat', 1),
      applied,
      preVote: (o.prevote ?? 'true') === 'true',
      checkQuorum: (o.checkquorum ?? 'true') === 'true',
      maxSizePerMsg: num('max-size', 1 << 20),
      maxInflightMsgs: num('max-inflight', 256),
      snapshotChunkSize: num('chunk', 64 << 10),
      maxInflightSnapshotChunks: num('chunk-window', 4),
      // Predictable election timeouts: node i waits electionTick + (i-1) ticks (mod electionTick), so
      // scripts know who times out first. random=true draws them from a per-node PRNG instead.
      random:
        o.random === 'true' ? mulberry32(id) : () => ((id - 1) % num('election', 10)) / num('election', 10),
      logger: this.logger,
    };
  }

  private start(n: HNode): void {
    n.raw = new RawNode(this.config(n.id, n.storage, n.opts, n.appliedIndex));
  }

  /** handleReady processes a node's Ready batches in the documented order. */
  private handleReady(id: NodeId): void {
    const n = this.node(id);
    for (let guard = 0; n.raw?.hasReady(); guard++) {
      if (guard > 100) throw new Error(`node ${id} keeps producing Ready`);
      const rd = n.raw.ready();
      // 1. persist
      if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
      n.storage.append(rd.entries);
      if (rd.hardState) n.storage.setHardState(rd.hardState);
      // 2. send
      for (const m of rd.messages) this.queue.push(m);
      // 3. apply
      if (rd.snapshot) {
        n.appliedIndex = rd.snapshot.metadata.index;
        n.confState = rd.snapshot.metadata.confState;
        n.applied = [];
        n.applied.push({
          index: rd.snapshot.metadata.index,
          term: rd.snapshot.metadata.term,
          type: 'normal',
          data: enc.encode(`snap(${dec.decode(rd.snapshot.data)})`),
        });
      }
      for (const e of rd.committedEntries) {
        if (e.index !== n.appliedIndex + 1)
          throw new Error(`node ${id} applied ${e.index} after ${n.appliedIndex}`);
        n.appliedIndex = e.index;
        if (e.type === 'confChange') n.confState = confStateAfter(n.confState, e);
        else if (e.data.byteLength > 0) n.applied.push(e);
      }
      n.reads.push(...rd.readStates);
      // 4. advance
      n.raw.advance();
    }
    this.flushLog();
  }

  private flushLog(): void {
    if (this.verbose) for (const l of this.logger.lines.slice(this.printed)) console.log(l);
    this.printed = this.logger.lines.length;
  }

  private isCut(m: Message): boolean {
    return this.cut.has(`${m.from}>${m.to}`);
  }

  private matches(m: Message, kv: Record<string, string>): boolean {
    if (kv.from !== undefined && !parseIds(kv.from).includes(m.from)) return false;
    if (kv.to !== undefined && !parseIds(kv.to).includes(m.to)) return false;
    if (kv.type !== undefined && !kv.type.split(',').includes(m.type)) return false;
    if (kv.reject !== undefined && String(m.reject) !== kv.reject) return false;
    return true;
  }

  private deliverOne(m: Message): void {
    const n = this.nodes.get(m.to);
    if (!n?.raw || this.isCut(m)) return;
    this.delivered.push(m);
    n.raw.step(m);
    this.handleReady(m.to);
  }

  /** deliver delivers the matching messages queued now (not the ones they cause). */
  private deliver(kv: Record<string, string>): number {
    const limit = kv.n !== undefined ? Number(kv.n) : Number.POSITIVE_INFINITY;
    const now = this.queue;
    this.queue = [];
    const keep: Message[] = [];
    let count = 0;
    for (const m of now) {
      if (count < limit && this.matches(m, kv)) {
        count++;
        this.deliverOne(m);
      } else keep.push(m);
    }
    this.queue = keep.concat(this.queue);
    return count;
  }

  private stabilize(max: number): void {
    for (let i = 0; i < max; i++) {
      for (const id of [...this.nodes.keys()].sort((a, b) => a - b)) this.handleReady(id);
      if (this.queue.length === 0) return;
      this.deliver({});
    }
    throw new Error(`did not stabilize within ${max} rounds (${this.queue.length} messages queued)`);
  }

  // ---------------------------------------------------------------- script

  run(script: string): void {
    const lines = script.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] as string).replace(/#.*$/, '').trim();
      if (line.length === 0) continue;
      try {
        this.exec(line);
      } catch (e) {
        const tail = this.logger.lines.slice(-40).join('\n');
        throw new Error(
          `${this.where}:${i + 1}: ${line}\n  ${(e as Error).message}\n--- recent log ---\n${tail}`,
        );
      }
    }
  }

  private exec(line: string): void {
    const [cmd, ...rest] = line.split(/\s+/) as [string, ...string[]];
    const { pos, kv } = splitArgs(rest);
    const id = Number(pos[0]);
    switch (cmd) {
      case 'log-level':
        this.verbose = pos[0] === 'debug';
        return;
      case 'add-nodes': {
        const ids = kv.ids ? parseIds(kv.ids) : Array.from({ length: Number(pos[0]) }, (_, i) => i + 1);
        const voters = kv.voters !== undefined ? parseIds(kv.voters) : ids;
        const learners = parseIds(kv.learners);
        for (const nid of ids) {
          const storage = new MemoryStorage({
            metadata: { index: 0, term: 0, confState: { voters, learners } },
            data: new Uint8Array(0),
          });
          const n: HNode = {
            id: nid,
            storage,
            raw: undefined,
            opts: kv,
            applied: [],
            appliedIndex: 0,
            confState: { voters, learners },
            reads: [],
          };
          this.nodes.set(nid, n);
          this.start(n);
        }
        return;
      }
      case 'add-node': {
        const n: HNode = {
          id,
          storage: new MemoryStorage(),
          raw: undefined,
          opts: kv,
          applied: [],
          appliedIndex: 0,
          confState: { voters: [], learners: [] },
          reads: [],
        };
        this.nodes.set(id, n);
        this.start(n);
        return;
      }
      case 'log': {
        const n = this.node(id);
        const terms = pos.slice(1).map(Number);
        const cs = n.storage.snapshot().metadata.confState;
        const st = new MemoryStorage({
          metadata: { index: 0, term: 0, confState: cs },
          data: new Uint8Array(0),
        });
        st.append(
          terms.map((t, i) => ({
            index: i + 1,
            term: t,
            type: 'normal' as const,
            data: enc.encode(`${i + 1}/${t}`),
          })),
        );
        st.setHardState(n.storage.hardStateNow());
        n.storage = st;
        this.start(n);
        return;
      }
      case 'hardstate': {
        const n = this.node(id);
        const hs = n.storage.hardStateNow();
        n.storage.setHardState({
          term: Number(kv.term ?? hs.term),
          vote: Number(kv.vote ?? hs.vote),
          commit: Number(kv.commit ?? hs.commit),
        });
        n.appliedIndex = Math.min(n.appliedIndex, Number(kv.commit ?? hs.commit));
        this.start(n);
        return;
      }
      case 'campaign':
        this.live(id).campaign();
        this.handleReady(id);
        return;
      case 'tick':
      case 'tick-election':
      case 'tick-heartbeat': {
        const ids =
          pos[0] === 'all' ? [...this.nodes.keys()].filter((x) => this.nodes.get(x)?.raw) : parseIds(pos[0]);
        for (const nid of ids) {
          const r = this.live(nid);
          const times =
            cmd === 'tick'
              ? Number(pos[1] ?? 1)
              : cmd === 'tick-election'
                ? 2 * r.raft.electionTimeout
                : r.raft.heartbeatTimeout;
          for (let k = 0; k < times; k++) {
            r.tick();
            this.handleReady(nid);
          }
        }
        return;
      }
      case 'propose': {
        const res = this.live(id).propose(enc.encode(pos[1] ?? ''));
        if (kv.ready !== 'false') this.handleReady(id);
        this.expectOutcome(res.accepted, kv.expect, res.accepted ? '' : res.reason);
        return;
      }
      case 'conf-change': {
        const map: Record<string, ConfChangeType> = {
          'add-voter': 'addVoter',
          'add-learner': 'addLearner',
          remove: 'removeNode',
        };
        const type = map[pos[1] ?? ''];
        if (!type) throw new Error(`unknown conf change ${pos[1]}`);
        const res = this.live(id).proposeConfChange({ type, nodeId: Number(pos[2]) });
        this.handleReady(id);
        this.expectOutcome(res.accepted, kv.expect, res.accepted ? '' : res.reason);
        return;
      }
      case 'read-index':
        this.live(id).readIndex(enc.encode(pos[1] ?? ''));
        this.handleReady(id);
        return;
      case 'transfer-leader':
        this.live(id).transferLeader(Number(pos[1]));
        this.handleReady(id);
        return;
      case 'deliver':
        this.deliver(kv);
        return;
      case 'drop': {
        let n = kv.n !== undefined ? Number(kv.n) : Number.POSITIVE_INFINITY;
        this.queue = this.queue.filter((m) => !(n > 0 && this.matches(m, kv) && n-- > 0));
        return;
      }
      case 'stabilize':
        this.stabilize(Number(kv.max ?? 200));
        return;
      case 'partition': {
        const groups = rest
          .join(' ')
          .split('|')
          .map((g) => g.trim().split(/\s+/).map(Number));
        this.cut.clear();
        for (const a of groups)
          for (const b of groups)
            if (a !== b) for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
        return;
      }
      case 'cut':
        this.cut.add(`${pos[0]}>${pos[1]}`);
        return;
      case 'heal':
        this.cut.clear();
        return;
      case 'crash': {
        const n = this.node(id);
        n.raw = undefined;
        this.queue = this.queue.filter((m) => m.to !== id);
        return;
      }
      case 'restart':
        this.start(this.node(id));
        this.handleReady(id);
        return;
      case 'compact': {
        const n = this.node(id);
        const index = Number(pos[1]);
        if (index > n.appliedIndex) throw new Error(`cannot compact ${index} > applied ${n.appliedIndex}`);
        const data = n.applied
          .filter((e) => e.index <= index)
          .map((e) => dec.decode(e.data))
          .join(',');
        n.storage.createSnapshot(index, n.confState, enc.encode(data));
        n.storage.compact(index);
        return;
      }
      case 'send-raw': {
        // Steps an arbitrary message straight into <id>, whatever its `to` says (bad-input tests).
        const raw = JSON.parse(pos.slice(1).join(' ')) as Record<string, unknown>;
        const m = { ...message({ type: 'app', to: id }), ...raw } as Message;
        this.lastStep = this.live(id).step(m);
        this.handleReady(id);
        if (kv.expect !== undefined && this.lastStep !== kv.expect)
          throw new Error(`step: got ${this.lastStep}, want ${kv.expect}`);
        return;
      }
      case 'expect':
        this.expectState(id, kv);
        return;
      case 'expect-applied': {
        const got = this.node(id)
          .applied.map((e) => dec.decode(e.data))
          .join(',');
        const want = pos.slice(1).join(' ');
        if (got !== want) throw new Error(`applied: got [${got}], want [${want}]`);
        return;
      }
      case 'expect-reads': {
        const n = this.node(id);
        const got = n.reads.map((r) => `${dec.decode(r.context)}@${r.index}`).join(',') || 'none';
        n.reads = [];
        if (got !== pos[1]) throw new Error(`reads: got ${got}, want ${pos[1]}`);
        return;
      }
      case 'expect-queue': {
        const got = this.queue.filter((m) => this.matches(m, kv)).length;
        if (String(got) !== kv.count)
          throw new Error(`queued matching messages: got ${got}, want ${kv.count}`);
        return;
      }
      case 'expect-delivered': {
        const got = this.delivered.filter((m) => this.matches(m, kv)).length;
        if (kv.count !== undefined && String(got) !== kv.count)
          throw new Error(`delivered matching messages: got ${got}, want ${kv.count}`);
        if (kv.min !== undefined && got < Number(kv.min))
          throw new Error(`delivered matching messages: got ${got}, want ≥ ${kv.min}`);
        if (kv.max !== undefined && got > Number(kv.max))
          throw new Error(`delivered matching messages: got ${got}, want ≤ ${kv.max}`);
        return;
      }
      case 'expect-stats': {
        const s = this.live(id).stats;
        const flat: Record<string, number> = {
          ...s.dropped,
          staleTerm: s.staleTerm,
          voteIgnoredInLease: s.voteIgnoredInLease,
          proposalsDropped: s.proposalsDropped,
        };
        for (const [k, v] of Object.entries(kv)) {
          if (flat[k] === undefined) throw new Error(`unknown stat ${k}`);
          if (String(flat[k]) !== v) throw new Error(`stat ${k}: got ${flat[k]}, want ${v}`);
        }
        return;
      }
      case 'expect-leader': {
        const leaders = [...this.nodes.values()]
          .filter((n) => n.raw?.raft.state === 'leader')
          .map((n) => n.id);
        if (leaders.join(',') !== (pos[0] ?? ''))
          throw new Error(`leaders: got [${leaders}], want [${pos[0]}]`);
        return;
      }
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  }

  private expectOutcome(accepted: boolean, want: string | undefined, reason: string): void {
    if (want === undefined) return;
    const got = accepted ? 'ok' : 'dropped';
    if (got !== want) throw new Error(`proposal ${got}${reason ? ` (${reason})` : ''}, want ${want}`);
  }

  private expectState(id: NodeId, kv: Record<string, string>): void {
    const r = this.live(id);
    const st = r.status();
    const log = r.raft.raftLog;
    const actual: Record<string, string> = {
      state: st.state,
      term: String(st.term),
      lead: String(st.lead),
      vote: String(st.vote),
      commit: String(st.commit),
      applied: String(this.node(id).appliedIndex),
      'first-index': String(st.firstIndex),
      'last-index': String(st.lastIndex),
      log: log
        .allEntries()
        .map((e) => e.term)
        .join(','),
      voters: st.config.voters.join(','),
      learners: st.config.learners.join(','),
      transferee: String(st.leadTransferee),
    };
    const bad: string[] = [];
    for (const [k, v] of Object.entries(kv)) {
      if (actual[k] === undefined) throw new Error(`unknown field ${k}`);
      if (actual[k] !== v) bad.push(`${k}: got ${actual[k]}, want ${v}`);
    }
    if (bad.length > 0) throw new Error(`node ${id}: ${bad.join('; ')}`);
  }

  /** messagesOfType is a helper for tests written in TypeScript. */
  messagesOfType(t: MessageType): Message[] {
    return this.queue.filter((m) => m.type === t);
  }
}
