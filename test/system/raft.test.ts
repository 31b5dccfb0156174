/**
 * Three controller processes replicate desired state with Raft over TCP (real disks, fsync on).
 * Clients write continuously; the leader is SIGKILLed; every acknowledged write must be present on
 * every replica afterwards, and a new leader must serve writes.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ControllerClient } from '@palisade/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, waitFor } from '../support/stack.js';

const stack = new Stack({ raftReplicas: 3 });
let nc: NatsConnection;
let controller: ControllerClient;
const actor = { userId: 'u-test', username: 'raft-test' };

async function statuses() {
  return controller.statuses(400);
}

beforeAll(async () => {
  await stack.start();
  nc = await connect({ servers: stack.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  // A short timeout: a request in flight to the killed leader must not hide the new leader.
  controller = new ControllerClient(nc, 500);
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await stack.stop();
});

describe('replicated controllers', () => {
  it('elect one leader that serves, and every replica reports role and term', async () => {
    const all = await waitFor('three replicas with one leader', async () => {
      const s = await statuses();
      return s.length === 3 && s.filter((c) => c.role === 'leader').length === 1 ? s : undefined;
    });
    const leader = all.find((c) => c.role === 'leader');
    expect(all.every((c) => c.term === leader?.term && c.leaderId === leader?.raftId)).toBe(true);
    expect(Object.keys(leader?.followers ?? {})).toHaveLength(2);
  });

  it('loses no acknowledged write when the leader is SIGKILLed, and a new leader takes over', async () => {
    const acked: string[] = [];
    let failures = 0;
    let stopWriting = false;
    let n = 0;
    const writer = (async () => {
      while (!stopWriting) {
        const name = `w-${n++}`;
        try {
          await controller.call({ op: 'cluster.create', actor, name });
          acked.push(name);
        } catch {
          failures++; // unavailable during the election: not acknowledged, so not promised
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })();
    await waitFor('30 acknowledged writes', async () => acked.length >= 30);
    const leader = (await statuses()).find((c) => c.role === 'leader');
    if (!leader?.raftId) throw new Error('no leader');
    const killedAt = Date.now();
    const before = acked.length;
    await stack.replicas.get(leader.raftId)?.kill('SIGKILL');
    await waitFor('a write through the new leader', async () => acked.length > before, 20_000, 10);
    const failoverMs = Date.now() - killedAt;
    await waitFor('30 more acknowledged writes', async () => acked.length >= before + 30, 30_000);
    stopWriting = true;
    await writer;
    console.log(
      `failover: ${failoverMs} ms from SIGKILL to the first acknowledged write; ${failures} refused meanwhile`,
    );

    const survivors = await waitFor('the two survivors to agree', async () => {
      const s = await statuses();
      return s.length === 2 && s[0]?.stateDigest === s[1]?.stateDigest && s.some((c) => c.role === 'leader')
        ? s
        : undefined;
    });
    expect(survivors.map((c) => c.raftId)).not.toContain(leader.raftId);
    const names = new Set((await controller.call({ op: 'cluster.list', actor })).map((c) => c.name));
    expect(acked.filter((name) => !names.has(name))).toEqual([]);

    // The killed replica comes back from its own disk and catches up to the same state.
    stack.startReplica(leader.raftId);
    await waitFor(
      'all three replicas to agree again',
      async () => {
        const s = await statuses();
        return s.length === 3 && new Set(s.map((c) => c.stateDigest)).size === 1;
      },
      30_000,
    );
  });
});
