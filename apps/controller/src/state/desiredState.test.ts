import { describe, expect, it } from 'vitest';
import type { Command } from './commands.js';
import { DesiredState, DesiredStateBuilder } from './desiredState.js';

const actor = { userId: 'u-1', username: 'admin' };
const t0 = '2026-11-23T10:00:00.000Z';
const later = (s: number) => new Date(Date.parse(t0) + s * 1000).toISOString();

function stateWith(...commands: Command[]) {
  const state = new DesiredState();
  const results = commands.map((c, i) => state.apply(i + 1, c));
  return { state, results };
}

const createLocal: Command = {
  type: 'cluster.create',
  at: t0,
  actor,
  name: 'local',
  description: '',
  labels: {},
};
const token = (jti: string, ttl = 3600, cluster = 'local'): Command => ({
  type: 'token.create',
  at: t0,
  actor,
  cluster,
  jti,
  expiresAt: later(ttl),
});
const consume = (jti: string, nodeId: string, at = later(10), cluster = 'local'): Command => ({
  type: 'token.consume',
  at,
  jti,
  cluster,
  nodeId,
});

describe('DesiredState', () => {
  it('creates clusters once', () => {
    const { state, results } = stateWith(createLocal, createLocal);
    expect(results[0]).toMatchObject({ ok: true });
    expect(results[1]).toMatchObject({ ok: false, code: 'CONFLICT' });
    expect(state.listClusters().map((c) => c.name)).toEqual(['local']);
  });

  it('refuses tokens for unknown clusters', () => {
    const { results } = stateWith(token('jt0000000000000001', 3600, 'ghost'));
    expect(results[0]).toMatchObject({ ok: false, code: 'NOT_FOUND' });
  });

  it('spends a join token exactly once', () => {
    const { state, results } = stateWith(
      createLocal,
      token('jt0000000000000001'),
      consume('jt0000000000000001', 'n-00000001'),
      consume('jt0000000000000001', 'n-00000002'),
    );
    expect(results[2]).toMatchObject({ ok: true });
    expect(results[3]).toMatchObject({ ok: false, code: 'TOKEN_USED' });
    expect(state.getNode('n-00000001')).toMatchObject({ cluster: 'local' });
    expect(state.getNode('n-00000002')).toBeUndefined();
    expect(state.listTokens('local')[0]).toMatchObject({ usedByNode: 'n-00000001' });
  });

  it('refuses expired, revoked, unknown and wrong-cluster tokens, changing nothing', () => {
    const { state, results } = stateWith(
      createLocal,
      { ...createLocal, name: 'prod' },
      token('jt0000000000000001', 60),
      token('jt0000000000000002'),
      { type: 'token.revoke', at: later(1), actor, cluster: 'local', jti: 'jt0000000000000002' },
      consume('jt0000000000000001', 'n-00000001', later(61)),
      consume('jt0000000000000002', 'n-00000002'),
      consume('jt0000000000000099', 'n-00000003'),
      consume('jt0000000000000001', 'n-00000004', later(10), 'prod'),
    );
    expect(results.slice(5).map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'TOKEN_EXPIRED',
      'TOKEN_REVOKED',
      'TOKEN_INVALID',
      'TOKEN_WRONG_CLUSTER',
    ]);
    expect(['n-00000001', 'n-00000002', 'n-00000003', 'n-00000004'].map((id) => state.getNode(id))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('does not revoke a token that was already used', () => {
    const { results } = stateWith(
      createLocal,
      token('jt0000000000000001'),
      consume('jt0000000000000001', 'n-00000001'),
      { type: 'token.revoke', at: later(20), actor, cluster: 'local', jti: 'jt0000000000000001' },
    );
    expect(results[3]).toMatchObject({ ok: false, code: 'CONFLICT' });
  });

  it('applies in order only', () => {
    const state = new DesiredState();
    expect(() => state.apply(2, createLocal)).toThrow(/out of order/);
  });

  it('snapshots and restores to an equal state that is independent of the original', () => {
    const { state } = stateWith(
      createLocal,
      token('jt0000000000000001'),
      consume('jt0000000000000001', 'n-00000001'),
    );
    const restored = DesiredState.restore(state.snapshot());
    expect(restored.snapshot()).toEqual(state.snapshot());
    restored.apply(4, { ...createLocal, name: 'other' });
    expect(state.getCluster('other')).toBeUndefined();
  });

  it('keeps a content digest in step with every change, equal after a restore', () => {
    const empty = new DesiredState().digest();
    const { state } = stateWith(createLocal, token('jt0000000000000001'));
    const before = state.digest();
    expect(before).not.toBe(empty);
    expect(DesiredState.restore(state.snapshot()).digest()).toBe(before);
    // Mutating a record in place (consuming the token) must move the digest.
    state.apply(3, consume('jt0000000000000001', 'n-00000001'));
    const after = state.digest();
    expect(after).not.toBe(before);
    // The same commands on another replica give the same digest; a different history does not.
    const { state: replica } = stateWith(
      createLocal,
      token('jt0000000000000001'),
      consume('jt0000000000000001', 'n-00000001'),
    );
    expect(replica.digest()).toBe(after);
    const { state: other } = stateWith(createLocal, token('jt0000000000000002'));
    expect(other.digest()).not.toBe(before);
  });

  it('snapshots record by record and rebuilds an equal state from the records', () => {
    const { state } = stateWith(
      createLocal,
      token('jt0000000000000001'),
      consume('jt0000000000000001', 'n-00000001'),
    );
    const builder = new DesiredStateBuilder();
    for (const record of state.snapshotRecords()) builder.add(JSON.parse(JSON.stringify(record)));
    const rebuilt = builder.finish();
    expect(rebuilt.snapshot()).toEqual(state.snapshot());
    expect(rebuilt.digest()).toBe(state.digest());
    const noHead = new DesiredStateBuilder();
    expect(() =>
      noHead.add({ t: 'node', r: { id: 'n', cluster: 'c', enrolledAt: t0, joinToken: 'j' } }),
    ).toThrow(/before the head/);
    expect(() => new DesiredStateBuilder().finish()).toThrow(/no head/);
  });

  it('hands out copies, not its own records', () => {
    const { state } = stateWith(createLocal);
    const cluster = state.getCluster('local');
    if (cluster) cluster.labels.evil = 'yes';
    expect(state.getCluster('local')?.labels).toEqual({});
  });
});
