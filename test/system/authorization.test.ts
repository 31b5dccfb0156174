/**
 * Role and cluster-scope checks of every tRPC procedure, against a real controller process, real
 * NATS and PostgreSQL. Principals are injected into the context directly: user management has its
 * own issue, and the session path is covered by enrollment.test.ts.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { appRouter, contextFor, createCallerFactory } from '@palisade/api';
import type { Principal } from '@palisade/auth';
import { createDbClient, type DbClient } from '@palisade/db';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollTestNode, Stack } from '../support/stack.js';

const stack = new Stack();
let nc: NatsConnection;
let db: DbClient;
const nodeOf: Record<string, string> = {};
function nodeIdOf(cluster: string): string {
  const id = nodeOf[cluster];
  if (!id) throw new Error(`no node enrolled in ${cluster}`);
  return id;
}

const principals = {
  admin: { userId: 'u-admin', username: 'root', role: 'admin', scope: { all: true } },
  edgeAdmin: {
    userId: 'u-edge',
    username: 'edgy',
    role: 'cluster-admin',
    scope: { all: false, clusters: ['authz-edge'] },
  },
  viewer: { userId: 'u-view', username: 'vic', role: 'viewer', scope: { all: true } },
  edgeViewer: {
    userId: 'u-ev',
    username: 'eve',
    role: 'viewer',
    scope: { all: false, clusters: ['authz-edge'] },
  },
} satisfies Record<string, Principal>;

function caller(principal: Principal | null) {
  const deps = { nats: nc, db, agentNatsUrl: stack.natsUrl, secureCookies: false };
  return createCallerFactory(appRouter)(contextFor(deps, principal, 'test'));
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    if (err instanceof TRPCError) return err.code;
    throw err;
  }
}

beforeAll(async () => {
  await stack.start();
  nc = await connect({ servers: stack.natsUrl });
  db = createDbClient(stack.databaseUrl);
  const admin = caller(principals.admin);
  for (const cluster of ['authz-edge', 'authz-core']) {
    await admin.clusters.create({ name: cluster });
    const { token } = await admin.clusters.createJoinToken({ cluster });
    nodeOf[cluster] = (await enrollTestNode(nc, token, { hostname: `${cluster}-node` })).nodeId;
  }
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await db?.$disconnect();
  await stack.stop();
});

describe('authorization', () => {
  it('declares a permission (or public) on every procedure', () => {
    const procedures = (
      appRouter as unknown as { _def: { procedures: Record<string, { _def: { meta?: object } }> } }
    )._def.procedures;
    const undeclared = Object.entries(procedures)
      .filter(([, p]) => {
        const meta = p._def.meta as { permission?: string; public?: boolean } | undefined;
        return !meta?.permission && !meta?.public;
      })
      .map(([name]) => name);
    expect(Object.keys(procedures).length).toBeGreaterThan(10);
    expect(undeclared).toEqual([]);
  });

  it('requires a session for everything but sign-in and health', async () => {
    const anon = caller(null);
    expect(await code(anon.clusters.list())).toBe('UNAUTHORIZED');
    expect(await code(anon.nodes.get({ nodeId: nodeIdOf('authz-edge') }))).toBe('UNAUTHORIZED');
    expect(await code(anon.system.health())).toBe('OK');
    expect(await anon.auth.me()).toBeNull();
  });

  it('limits a cluster admin to their cluster', async () => {
    const edge = caller(principals.edgeAdmin);
    expect((await edge.clusters.list()).map((c) => c.name)).toEqual(['authz-edge']);
    expect(await code(edge.clusters.get({ cluster: 'authz-core' }))).toBe('FORBIDDEN');
    expect(await code(edge.clusters.createJoinToken({ cluster: 'authz-core' }))).toBe('FORBIDDEN');
    expect(await code(edge.clusters.tokens({ cluster: 'authz-core' }))).toBe('FORBIDDEN');
    expect(await code(edge.nodes.list({ cluster: 'authz-core' }))).toBe('FORBIDDEN');
    expect(await code(edge.nodes.get({ nodeId: nodeIdOf('authz-core') }))).toBe('FORBIDDEN');
    expect(await code(edge.nodes.workloads({ nodeId: nodeIdOf('authz-core') }))).toBe('FORBIDDEN');
    expect(await code(edge.clusters.create({ name: 'authz-rogue' }))).toBe('FORBIDDEN');
    expect(await code(edge.system.controllers())).toBe('FORBIDDEN');
    // ...and lets them work inside it.
    expect(await code(edge.clusters.createJoinToken({ cluster: 'authz-edge' }))).toBe('OK');
    expect((await edge.nodes.list({ cluster: 'authz-edge' })).total).toBe(1);
    expect((await edge.system.events()).every((e) => e.cluster === 'authz-edge')).toBe(true);
  });

  it('lets viewers read but not mint or revoke tokens', async () => {
    const viewer = caller(principals.viewer);
    expect((await viewer.clusters.list()).length).toBeGreaterThanOrEqual(2);
    expect(await code(viewer.nodes.get({ nodeId: nodeIdOf('authz-core') }))).toBe('OK');
    expect(await code(viewer.clusters.createJoinToken({ cluster: 'authz-core' }))).toBe('FORBIDDEN');
    expect(await code(viewer.clusters.tokens({ cluster: 'authz-core' }))).toBe('FORBIDDEN');
    expect(
      await code(viewer.clusters.revokeToken({ cluster: 'authz-core', jti: 'jt000000000000000000' })),
    ).toBe('FORBIDDEN');
    const edgeViewer = caller(principals.edgeViewer);
    expect(await code(edgeViewer.nodes.get({ nodeId: nodeIdOf('authz-core') }))).toBe('FORBIDDEN');
  });

  it('answers NOT_FOUND for unknown nodes and clusters', async () => {
    const admin = caller(principals.admin);
    expect(await code(admin.nodes.get({ nodeId: 'n-ffffffffffffffff' }))).toBe('NOT_FOUND');
    expect(await code(admin.clusters.get({ cluster: 'authz-nowhere' }))).toBe('NOT_FOUND');
  });

  it('records denials and changes in the audit log', async () => {
    const rows = await db.auditLog.findMany({ where: { actorName: 'edgy' } });
    expect(rows.some((r) => r.result === 'denied' && r.cluster === 'authz-core')).toBe(true);
    expect(
      rows.some(
        (r) => r.result === 'ok' && r.action === 'cluster.token.create' && r.cluster === 'authz-edge',
      ),
    ).toBe(true);
  });

  it('rejects invalid input before it reaches the controller', async () => {
    const admin = caller(principals.admin);
    expect(await code(admin.clusters.create({ name: 'Bad Name' }))).toBe('BAD_REQUEST');
    expect(await code(admin.clusters.createJoinToken({ cluster: 'authz-edge', ttlSeconds: 5 }))).toBe(
      'BAD_REQUEST',
    );
    expect((await admin.clusters.list()).map((c) => c.name)).not.toContain('Bad Name');
  });
});
