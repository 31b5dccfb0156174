import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bootstrapEntries,
  type ConfState,
  confStateAfter,
  type HardState,
  type Message,
  RawNode,
  type Snapshot,
} from '@palisade/raft';
import { afterAll, expect, it } from 'vitest';
import { DiskStorage } from './diskStorage.js';

const IDS = [1, 2, 3] as const;
const dec = new TextDecoder();
const enc = new TextEncoder();
let root = '';
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

interface Member {
  id: number;
  storage: DiskStorage;
  node: RawNode;
  /** State machine: the applied normal entries' payloads, in order. */
  applied: string[];
  appliedIndex: number;
  confState: ConfState;
  snapshotsInstalled: number;
}

async function start(id: number): Promise<Member> {
  const dir = join(root, `n${id}`);
  const opened = await DiskStorage.open(dir, { log: () => {}, rewriteThreshold: 2048 });
  const { storage } = opened;
  let { snapshot, confState } = opened;
  if (storage.lastIndex() === 0 && opened.hardState.term === 0) {
    const boot = bootstrapEntries([...IDS]);
    await storage.persist({
      entries: boot,
      hardState: { term: 1, vote: 0, commit: boot.length },
      mustSync: true,
    });
    confState = boot.reduce<ConfState>((cs, e) => confStateAfter(cs, e), confState);
    snapshot = storage.snapshot();
  }
  const node = new RawNode({
    id,
    storage,
    electionTick: 10,
    heartbeatTick: 1,
    applied: snapshot.metadata.index,
  });
  const applied = snapshot.metadata.index > 0 ? (JSON.parse(dec.decode(snapshot.data)) as string[]) : [];
  return {
    id,
    storage,
    node,
    applied,
    appliedIndex: snapshot.metadata.index,
    confState,
    snapshotsInstalled: 0,
  };
}

function restore(m: Member, snap: Snapshot) {
  m.applied = JSON.parse(dec.decode(snap.data)) as string[];
  m.appliedIndex = snap.metadata.index;
  m.confState = snap.metadata.confState;
  m.snapshotsInstalled++;
}

it('drives a 3-node cluster over DiskStorage, restarts a node from disk, and it matches the leader', async () => {
  root = await mkdtemp(join(tmpdir(), 'raft-cluster-'));
  const members = new Map<number, Member>();
  for (const id of IDS) members.set(id, await start(id));
  let inbox: Message[] = [];
  let proposals = 0;
  let crashedHardState: HardState | undefined;
  let crashedLast = 0;
  let victimId = 0;

  /** Handle every Ready and deliver every message until the cluster is quiet. */
  async function settle() {
    for (let round = 0; round < 100; round++) {
      let busy = false;
      for (const m of members.values()) {
        while (m.node.hasReady()) {
          busy = true;
          const rd = m.node.ready();
          await m.storage.persist(rd); // 1. durable before anything is sent
          inbox.push(...rd.messages); // 2. send
          if (rd.snapshot) restore(m, rd.snapshot); // 3. apply
          for (const e of rd.committedEntries) {
            if (e.type === 'normal' && e.data.byteLength > 0) m.applied.push(dec.decode(e.data));
            m.confState = confStateAfter(m.confState, e);
            m.appliedIndex = e.index;
          }
          m.node.advance(); // 4.
        }
      }
      const batch = inbox;
      inbox = [];
      for (const msg of batch) {
        const to = members.get(msg.to);
        if (to) to.node.step(msg);
        busy = true;
      }
      if (!busy) return;
    }
    throw new Error('cluster did not settle');
  }

  const leader = () => [...members.values()].find((m) => m.node.status().state === 'leader');

  for (let tick = 0; tick < 400; tick++) {
    for (const m of members.values()) m.node.tick();
    const l = leader();
    if (l && tick % 3 === 0) {
      l.node.propose(enc.encode(`v${proposals++}`));
    }
    await settle();
    // Compaction: each member snapshots its state machine now and then (exercises snapshot files,
    // WAL rewrite, and — for the member that is down — catching up by InstallSnapshot).
    if (tick % 40 === 39 && tick < 340) {
      for (const m of members.values()) {
        const snapIndex = m.storage.snapshot().metadata.index;
        if (m.appliedIndex > snapIndex + 5) {
          await m.storage.createSnapshot(m.appliedIndex, m.confState, enc.encode(JSON.stringify(m.applied)));
          await m.storage.compact(m.appliedIndex - 2);
        }
      }
    }
    if (tick === 120) {
      // Crash a follower: forget its in-memory state entirely.
      const victim = [...members.values()].find((m) => m !== leader()) as Member;
      crashedHardState = victim.storage.hardStateNow();
      crashedLast = victim.storage.lastIndex();
      await victim.storage.close();
      members.delete(victim.id);
      inbox = inbox.filter((msg) => msg.to !== victim.id);
      victimId = victim.id;
    }
    if (tick === 250) {
      const id = victimId;
      const back = await start(id);
      expect(back.storage.hardStateNow().term).toBe(crashedHardState?.term);
      expect(back.storage.hardStateNow().vote).toBe(crashedHardState?.vote);
      expect(back.storage.lastIndex()).toBe(crashedLast);
      members.set(id, back);
    }
  }
  // Quiet period: no proposals, let everyone catch up.
  for (let tick = 0; tick < 50; tick++) {
    for (const m of members.values()) m.node.tick();
    await settle();
  }

  const l = leader() as Member;
  expect(l).toBeDefined();
  expect(proposals).toBeGreaterThan(100);
  const commit = l.node.status().commit;
  const victim = members.get(victimId) as Member;
  for (const m of members.values()) {
    expect(m.node.status().commit).toBe(commit);
    // Log matching: every index both still hold agrees in term and payload, up to the commit.
    const lo = Math.max(m.storage.firstIndex(), l.storage.firstIndex());
    expect(lo).toBeLessThanOrEqual(commit);
    const mine = m.storage.entries(lo, commit + 1, Number.POSITIVE_INFINITY);
    const theirs = l.storage.entries(lo, commit + 1, Number.POSITIVE_INFINITY);
    expect(mine).toEqual(theirs);
    // State machines agree.
    expect(m.applied).toEqual(l.applied);
  }
  // The restarted member was behind the leader's compaction point: it caught up by InstallSnapshot,
  // persisted through DiskStorage.persist(rd.snapshot).
  expect(victim.snapshotsInstalled).toBeGreaterThan(0);
  expect(commit - l.storage.firstIndex()).toBeGreaterThan(20);
  // The restarted member's on-disk state, reopened once more, equals what it serves.
  await victim.storage.close();
  const reread = await DiskStorage.open(join(root, `n${victim.id}`), { log: () => {} });
  expect(reread.storage.lastIndex()).toBe(victim.storage.lastIndex());
  expect(reread.storage.entries(reread.storage.firstIndex(), commit + 1, Number.POSITIVE_INFINITY)).toEqual(
    l.storage.entries(reread.storage.firstIndex(), commit + 1, Number.POSITIVE_INFINITY),
  );
  await reread.storage.close();
  for (const m of members.values()) if (m !== victim) await m.storage.close();
});
