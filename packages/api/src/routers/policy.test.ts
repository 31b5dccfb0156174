/**
 * The policy router's permission and scope checks, validation and error mapping, through the real
 * tRPC caller. The controller is replaced by a small in-memory stand-in with the controller's
 * documented policy semantics (revision 0 initially, optimistic concurrency, NOT_FOUND for unknown
 * clusters); the end-to-end path against a real controller is covered by the system and browser tiers.
 */
import type { Principal } from '@palisade/auth';
import type { DbClient } from '@palisade/db';
import { type ClusterPolicy, initialPolicy, ProtocolError } from '@palisade/protocol';
import { TRPCError } from '@trpc/server';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Context } from '../context.js';
import type { ControllerClient } from '../controllerClient.js';
import { appRouter } from '../router.js';
import { createCallerFactory } from '../trpc.js';

const CLUSTERS = ['edge', 'core'];

class FakeControllerPolicies {
  readonly policies = new Map<string, ClusterPolicy>();
  readonly calls: string[] = [];

  async call(request: { op: string; cluster?: string; policy?: ClusterPolicy }): Promise<unknown> {
    this.calls.push(request.op);
    const cluster = request.cluster ?? '';
    if (!CLUSTERS.includes(cluster))
      throw new ProtocolError('NOT_FOUND', `cluster ${cluster} does not exist`);
    const now = this.policies.get(cluster) ?? initialPolicy(cluster);
    if (request.op === 'policy.get') return now;
    if (request.op === 'policy.set' && request.policy) {
      if (request.policy.revision !== now.revision) {
        throw new ProtocolError(
          'CONFLICT',
          `policy of ${cluster} is at revision ${now.revision}, not ${request.policy.revision}`,
        );
      }
      const stored = { ...request.policy, revision: now.revision + 1 };
      this.policies.set(cluster, stored);
      return stored;
    }
    throw new Error(`unexpected op ${request.op}`);
  }
}

const principals = {
  admin: { userId: 'u-1', username: 'root', role: 'admin', scope: { all: true } },
  edgeAdmin: {
    userId: 'u-2',
    username: 'edgy',
    role: 'cluster-admin',
    scope: { all: false, clusters: ['edge'] },
  },
  viewer: { userId: 'u-3', username: 'vic', role: 'viewer', scope: { all: true } },
} satisfies Record<string, Principal>;

let controller: FakeControllerPolicies;
let audits: Array<{ action: string; cluster: string | null; result: string; details: unknown }>;

function caller(principal: Principal) {
  const db = {
    auditLog: {
      create: async ({ data }: { data: (typeof audits)[number] }) => {
        audits.push(data);
        return data;
      },
    },
  } as unknown as DbClient;
  const ctx: Context = {
    principal,
    controller: controller as unknown as ControllerClient,
    scanner: undefined as never,
    db,
    agentNatsUrl: 'nats://unused',
    remoteAddress: 'test',
    secureCookies: false,
    resHeaders: new Headers(),
  };
  return createCallerFactory(appRouter)(ctx);
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TRPCError) return { code: err.code, message: err.message };
    throw err;
  }
  return { code: 'OK', message: '' };
}

function protectWeb(base: ClusterPolicy): ClusterPolicy {
  return {
    ...base,
    groups: [
      {
        name: 'web',
        selector: { image: 'docker.io/library/nginx:*' },
        priority: 0,
        modes: { process: 'protect' },
        process: [{ path: '/usr/sbin/nginx', action: 'allow' }],
        file: [],
        network: [],
      },
    ],
  };
}

beforeEach(() => {
  controller = new FakeControllerPolicies();
  audits = [];
});

describe('policy router', () => {
  it('declares policy.read or policy.write on every procedure', () => {
    const procedures = (
      appRouter as unknown as {
        _def: { procedures: Record<string, { _def: { meta?: { permission?: string } } }> };
      }
    )._def.procedures;
    const policy = Object.entries(procedures).filter(([name]) => name.startsWith('policy.'));
    expect(Object.fromEntries(policy.map(([name, p]) => [name, p._def.meta?.permission]))).toEqual({
      'policy.get': 'policy.read',
      'policy.diff': 'policy.read',
      'policy.set': 'policy.write',
    });
  });

  it('lets a viewer read and preview but not write', async () => {
    const viewer = caller(principals.viewer);
    const current = await viewer.policy.get({ cluster: 'edge' });
    expect(current.revision).toBe(0);
    const preview = await viewer.policy.diff({ cluster: 'edge', policy: protectWeb(current) });
    expect(preview.upToDate).toBe(true);
    expect(preview.changes.map((c) => c.group)).toContain('web');
    const denied = await failure(viewer.policy.set({ cluster: 'edge', policy: protectWeb(current) }));
    expect(denied.code).toBe('FORBIDDEN');
    expect(controller.calls).not.toContain('policy.set');
    expect(audits).toEqual([expect.objectContaining({ action: 'policy.write', result: 'denied' })]);
  });

  it('keeps a cluster admin to their own cluster', async () => {
    const edge = caller(principals.edgeAdmin);
    expect((await failure(edge.policy.get({ cluster: 'core' }))).code).toBe('FORBIDDEN');
    const core = initialPolicy('core');
    expect((await failure(edge.policy.set({ cluster: 'core', policy: protectWeb(core) }))).code).toBe(
      'FORBIDDEN',
    );
    expect((await failure(edge.policy.diff({ cluster: 'core', policy: core }))).code).toBe('FORBIDDEN');
    expect(controller.policies.has('core')).toBe(false);
    const stored = await edge.policy.set({ cluster: 'edge', policy: protectWeb(initialPolicy('edge')) });
    expect(stored.revision).toBe(1);
    expect((await edge.policy.get({ cluster: 'edge' })).groups.map((g) => g.name)).toEqual(['web']);
    const ok = audits.find((a) => a.result === 'ok');
    expect(ok).toMatchObject({
      action: 'policy.write',
      cluster: 'edge',
      details: { revision: 1, changeCount: 1 },
    });
    expect(JSON.stringify(ok?.details)).toContain('web');
  });

  it('passes a stale write through as CONFLICT and changes nothing', async () => {
    const admin = caller(principals.admin);
    const read = await admin.policy.get({ cluster: 'edge' });
    await admin.policy.set({ cluster: 'edge', policy: protectWeb(read) });
    const stale = {
      ...read,
      defaults: { modes: { process: 'protect', file: 'protect', network: 'protect' } },
    };
    const conflict = await failure(admin.policy.set({ cluster: 'edge', policy: stale as ClusterPolicy }));
    expect(conflict).toEqual({ code: 'CONFLICT', message: 'policy of edge is at revision 1, not 0' });
    expect((await admin.policy.get({ cluster: 'edge' })).defaults.modes.process).toBe('discover');
    expect((await admin.policy.diff({ cluster: 'edge', policy: stale as ClusterPolicy })).upToDate).toBe(
      false,
    );
    expect(audits.at(-1)).toMatchObject({ result: 'error', details: { code: 'CONFLICT', basedOn: 0 } });
  });

  it('rejects invalid or mismatched policies before they reach the controller', async () => {
    const admin = caller(principals.admin);
    const bad = { ...initialPolicy('edge'), groups: [{ name: 'Web!', selector: {} }] };
    expect((await failure(admin.policy.set({ cluster: 'edge', policy: bad as never }))).code).toBe(
      'BAD_REQUEST',
    );
    const other = await failure(admin.policy.set({ cluster: 'edge', policy: initialPolicy('core') }));
    expect(other).toEqual({ code: 'BAD_REQUEST', message: 'the policy is for cluster "core", not "edge"' });
    expect(controller.calls).not.toContain('policy.set');
  });

  it('passes NOT_FOUND through for unknown clusters', async () => {
    const admin = caller(principals.admin);
    expect(await failure(admin.policy.get({ cluster: 'nowhere' }))).toEqual({
      code: 'NOT_FOUND',
      message: 'cluster nowhere does not exist',
    });
  });
});
