import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Command } from '../state/commands.js';
import { DesiredState } from '../state/desiredState.js';
import { decodeSnapshot, encodeSnapshot, NotLeaderError, RaftLog, type RaftLogOptions } from './raftLog.js';

const IDS = [1, 2, 3];

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function createCluster(name: string): Command {
  return {
    type: 'cluster.create',
    at: '2026-01-01T00:00:00.000Z',
    actor: { userId: 'u-admin', username: 'admin' },
    name,
    description: `cluster ${name}`,
    labels: { env: 'test' },
  };
}

interface Harness {
  root: string;
  logs: Map<number, RaftLog>;
  messages: Map<number, string[]>;
  open(id: number): Promise<RaftLog>;
  leader(among?: RaftLog[]): RaftLog | undefined;
}

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    for (const l of h.logs.values()) await l.close();
    await rm(h.root, { recursive: true, force: true });
  }
});

async function harness(extra: Partial<RaftLogOptions> = {}): Promise<Harness> {
  const root = await mkdtemp(join(tmpdir(), 'raftlog-'));
  const peers = new Map<number, { host: string; port: number }>();
  for (const id of IDS) peers.set(id, { host: '127.0.0.1', port: await freePort() });
  const h: Harness = {
    root,
    logs: new Map(),
    messages: new Map(),
    async open(id) {
      const msgs = h.messages.get(id) ?? [];
      h.messages.set(id, msgs);
      const l = await RaftLog.open({
        id,
        dir: join(root, `n${id}`),
        peers,
        listen: peers.get(id) as { host: string; port: number },
        voters: IDS,
        tickMs: 20,
        transport: { backoffInitialMs: 20, backoffMaxMs: 200 },
        log: (_level, msg) => msgs.push(msg),
        ...extra,
      });
      h.logs.set(id, l);
      return l;
    },
    leader(among = [...h.logs.values()]) {
      const leaders = among.filter((l) => l.status().role === 'leader');
      // Stable: exactly one leader, and every other member follows it.
      if (leaders.length !== 1) return undefined;
      const l = leaders[0] as RaftLog;
      return among.every((o) => o === l || o.status().leaderId === l.id) ? l : undefined;
    },
  };
  harnesses.push(h);
  // A port found free may be taken (e.g. as another socket's ephemeral source port) before we listen.
  for (let attempt = 1; ; attempt++) {
    const opened = await Promise.allSettled(IDS.map((id) => h.open(id)));
    const failed = opened.find((r) => r.status === 'rejected');
    if (!failed) return h;
    for (const l of h.logs.values()) await l.close();
    h.logs.clear();
    const err = failed.reason as NodeJS.ErrnoException;
    if (err.code !== 'EADDRINUSE' || attempt === 3) throw err;
    for (const id of IDS) peers.set(id, { host: '127.0.0.1', port: await freePort() });
  }
}

/** Waits until every log has applied `leader`'s commit index and their states are equal. */
async function converged(logs: RaftLog[], leader: RaftLog) {
  await waitFor('replicas to converge', () => {
    const commit = leader.status().commitIndex;
    return logs.every((l) => l.status().appliedIndex === commit) || undefined;
  });
  const want = leader.state.snapshot();
  for (const l of logs) expect(l.state.snapshot()).toEqual(want);
}

it('elects a leader, replicates proposals to all three, and followers refuse proposals', async () => {
  const h = await harness();
  const started = Date.now();
  const leader = await waitFor('a leader', () => h.leader());
  const electedMs = Date.now() - started;

  // Sequential and concurrent proposals.
  for (let i = 0; i < 5; i++) {
    const r = await leader.propose(createCluster(`seq-${i}`));
    expect(r).toMatchObject({ ok: true, value: { name: `seq-${i}`, createdBy: 'admin' } });
  }
  const batch = await Promise.all(
    Array.from({ length: 20 }, (_, i) => leader.propose(createCluster(`par-${i}`))),
  );
  expect(batch.every((r) => r.ok)).toBe(true);
  // A state-machine rejection is a result, replicated like any other command.
  expect(await leader.propose(createCluster('seq-0'))).toMatchObject({ ok: false, code: 'CONFLICT' });

  const all = [...h.logs.values()];
  await converged(all, leader);
  expect(leader.state.listClusters()).toHaveLength(25);
  expect(leader.state.index).toBe(26);

  const follower = all.find((l) => l !== leader) as RaftLog;
  const err = await follower.propose(createCluster('nope')).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NotLeaderError);
  expect((err as NotLeaderError).leaderId).toBe(leader.id);
  expect(follower.status()).toMatchObject({ role: 'follower', leaderId: leader.id });

  const st = leader.status();
  expect(st.role).toBe('leader');
  expect(st.leaderReady).toBe(true);
  expect(follower.status().leaderReady).toBe(false);
  expect(st.term).toBeGreaterThanOrEqual(2);
  expect(st.voters.sort()).toEqual(IDS);
  for (const id of IDS.filter((i) => i !== leader.id)) expect(st.followers?.[id]?.lag).toBe(0);
  console.info(`[raftLog] leader elected in ${electedMs} ms`);
}, 15_000);

it('fails over when the leader dies, keeps acknowledged writes, and restarted nodes catch up (snapshots)', async () => {
  const h = await harness({ snapshotEvery: 5, snapshotKeep: 2 });
  const first = await waitFor('a leader', () => h.leader());
  const acked: string[] = [];
  for (let i = 0; i < 12; i++) {
    const r = await first.propose(createCluster(`before-${i}`));
    expect(r.ok).toBe(true);
    acked.push(`before-${i}`);
  }
  // Some in flight when the leader dies: their outcome may be unknown, but must not be invented.
  const inflight = Array.from({ length: 5 }, (_, i) =>
    first.propose(createCluster(`inflight-${i}`)).then(
      (r) => ({ name: `inflight-${i}`, ok: r.ok }),
      () => ({ name: `inflight-${i}`, ok: false }),
    ),
  );

  // Kill the leader.
  const oldId = first.id;
  const killedAt = Date.now();
  await first.close();
  h.logs.delete(oldId);
  const survivors = [...h.logs.values()];
  const second = await waitFor('a new leader', () => h.leader(survivors));
  const failoverMs = Date.now() - killedAt;
  expect(second.id).not.toBe(oldId);
  for (const r of await Promise.all(inflight)) if (r.ok) acked.push(r.name);

  // Every acknowledged write survived on the new leader — once it has committed an entry of its own
  // term (before that its commit index may lag the old leader's: a fresh leader's state can be stale).
  await waitFor('new leader to be ready', () => second.status().leaderReady);
  const names = new Set(second.state.listClusters().map((c) => c.name));
  for (const n of acked) expect(names.has(n)).toBe(true);

  // New writes succeed on two of three.
  for (let i = 0; i < 12; i++) expect((await second.propose(createCluster(`after-${i}`))).ok).toBe(true);
  await converged(survivors, second);
  // Compaction ran past the dead node's log, so it must catch up by InstallSnapshot.
  expect(second.status().snapshotIndex).toBeGreaterThan(20);

  // Reopen the old leader from its directory: it catches up to the same state.
  const reopenedAt = Date.now();
  const back = await h.open(oldId);
  await converged([...h.logs.values()], second);
  const catchUpMs = Date.now() - reopenedAt;
  expect(h.messages.get(oldId)).toContain('installed snapshot');
  expect((await second.propose(createCluster('with-three'))).ok).toBe(true);
  await converged([...h.logs.values()], second);

  // Restart a follower: it recovers the same state from its snapshot + log before serving.
  const follower = [...h.logs.values()].find((l) => l !== second && l !== back) as RaftLog;
  const fid = follower.id;
  // Leave committed entries after its latest snapshot, so reopening must replay the log tail too.
  for (let i = 0; follower.status().appliedIndex === follower.status().snapshotIndex; i++) {
    expect((await second.propose(createCluster(`tail-${i}`))).ok).toBe(true);
    await converged([...h.logs.values()], second);
  }
  const before = follower.state.snapshot();
  const beforeStatus = follower.status();
  expect(beforeStatus.snapshotIndex).toBeGreaterThan(0);
  expect(beforeStatus.appliedIndex).toBeGreaterThan(beforeStatus.snapshotIndex);
  await follower.close();
  h.logs.delete(fid);
  const restarted = await h.open(fid);
  expect(restarted.status().appliedIndex).toBe(beforeStatus.appliedIndex);
  expect(restarted.state.snapshot()).toEqual(before);
  expect((await second.propose(createCluster('after-restart'))).ok).toBe(true);
  await converged([...h.logs.values()], second);
  expect(second.state.getCluster('after-restart')).toBeDefined();

  console.info(`[raftLog] failover ${failoverMs} ms, old leader caught up in ${catchUpMs} ms`);
}, 20_000);

it('rejects a proposal whose entry a new leader overwrote (matched by request id, not index)', async () => {
  const h = await harness();
  const old = await waitFor('a leader', () => h.leader());
  expect((await old.propose(createCluster('committed'))).ok).toBe(true);
  await converged([...h.logs.values()], old);

  // Partition the leader: it neither sends nor receives (test-only reach into the private transport).
  const inner = old as unknown as {
    transport: { send: (m: unknown) => void };
    onMessage: (m: unknown) => void;
  };
  inner.transport.send = () => {};
  inner.onMessage = () => {};
  // Three entries at indices i..i+2; the new leader puts its empty entry at i and commands after it,
  // so the later orphans meet a command at their index and only the request id tells them apart.
  const orphans = [0, 1, 2].map((i) =>
    old.propose(createCluster(`orphan-${i}`)).then(
      (r) => r,
      (e: unknown) => e,
    ),
  );

  const others = [...h.logs.values()].filter((l) => l !== old);
  const next = await waitFor('a leader among the majority', () => h.leader(others), 5000);
  for (let i = 0; i < 3; i++) expect((await next.propose(createCluster(`winner-${i}`))).ok).toBe(true);

  // Heal: the old leader learns the new term, its uncommitted entry is overwritten.
  delete (inner as { transport: { send?: unknown } }).transport.send; // back to the prototype's send
  delete (inner as { onMessage?: unknown }).onMessage;
  for (const outcome of await Promise.all(orphans))
    expect(outcome).toMatchObject({ name: 'ProposalError', outcome: 'dropped' });
  await converged([...h.logs.values()], next);
  for (let i = 0; i < 3; i++) {
    expect(old.state.getCluster(`orphan-${i}`)).toBeUndefined();
    expect(old.state.getCluster(`winner-${i}`)).toBeDefined();
  }
}, 15_000);

it('encodes large snapshots in slices that let the event loop run, and decodes both payload versions', async () => {
  const state = new DesiredState();
  for (let i = 1; i <= 20_000; i++) state.apply(i, createCluster(`c-${i}`));
  let turns = 0;
  const ticker = setInterval(() => turns++, 0);
  const data = await encodeSnapshot(state);
  const encodeTurns = turns;
  const metadata = { index: 42, term: 3, confState: { voters: [1, 2, 3], learners: [] } };
  const back = await decodeSnapshot({ metadata, data } as never);
  const decodeTurns = turns - encodeTurns;
  clearInterval(ticker);
  expect(back.listClusters()).toHaveLength(20_000);
  expect(back.digest()).toBe(state.digest());
  expect(back.index).toBe(state.index);
  // A 20k-record state takes well over one slice on any machine: timers must have fired in between.
  expect(encodeTurns).toBeGreaterThan(0);
  expect(decodeTurns).toBeGreaterThan(0);
  // Snapshots written by earlier versions (one JSON document) still restore.
  const v1 = new TextEncoder().encode(JSON.stringify({ v: 1, state: state.snapshot() }));
  expect((await decodeSnapshot({ metadata, data: v1 } as never)).digest()).toBe(state.digest());
  const bad = new TextEncoder().encode('{"v":9}\n');
  await expect(decodeSnapshot({ metadata, data: bad } as never)).rejects.toThrow(
    /unknown snapshot payload version 9/,
  );
});

it('restores the digest from the bytes of snapshot lines, and from lines of any other shape', async () => {
  // Decoding hashes each record from its bytes in the line instead of serialising it again: the
  // digest must not change, whatever the record holds (integer-like keys, escapes, non-ASCII).
  const state = new DesiredState();
  const labels = JSON.parse(
    '{"b":"x","10":"ten","2":"two","é":"ü\\u2028\\"\\\\","__proto__":"p","k":"\\u0007"}',
  ) as Record<string, string>;
  state.apply(1, { ...createCluster('c-1'), labels, description: 'line\nbreak ✓ 😀' } as Command);
  state.apply(2, createCluster('c-2'));
  const metadata = { index: 7, term: 1, confState: { voters: [1], learners: [] } };
  const data = await encodeSnapshot(state);
  const back = await decodeSnapshot({ metadata, data } as never);
  expect(back.digest()).toBe(state.digest());
  expect(back.getCluster('c-1')?.labels).toEqual(labels);
  // Lines written another way (keys reordered, spaces) are hashed from the parsed record.
  const other = Buffer.from(
    `${new TextDecoder()
      .decode(data)
      .split('\n')
      .filter(Boolean)
      .map((line, i) => {
        if (i === 0) return line;
        const { t, ...rest } = JSON.parse(line) as { t: string };
        return JSON.stringify({ ...rest, t }, null, 1).replace(/\n/g, ' ');
      })
      .join('\n')}\n`,
  );
  expect((await decodeSnapshot({ metadata, data: other } as never)).digest()).toBe(state.digest());
});
