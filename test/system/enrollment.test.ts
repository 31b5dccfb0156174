/**
 * The foundation slice across real processes: nats-server (JetStream), PostgreSQL, the controller,
 * the console (Next.js + tRPC), the `palisade` CLI and the enforcer agent. No mocks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { AppRouter } from '@palisade/api';
import { decode, EnrollReply, encode, subjects } from '@palisade/protocol';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ManagedProcess, Stack, waitFor } from '../support/stack.js';

const stack = new Stack({ heartbeatIntervalMs: 1000, withConsole: true });
let api: ReturnType<typeof createTRPCClient<AppRouter>>;
let nc: NatsConnection;
let agentDir: string;
const CLUSTER = 'sys-local';

function trpc(token?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${stack.consoleUrl}/api/trpc`,
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
}

async function nodeByHostname(hostname: string) {
  const { items } = await api.nodes.list.query({ cluster: CLUSTER, search: hostname });
  return items.find((n) => n.hostname === hostname);
}

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TRPCClientError) return (err.data as { code?: string })?.code;
    throw err;
  }
  return undefined;
}

beforeAll(async () => {
  await stack.start();
  agentDir = await mkdtemp(join(tmpdir(), 'palisade-agent-'));
  const admin = await stack.initialAdmin();
  const login = await trpc().auth.login.mutate({ ...admin, bearer: true });
  api = trpc(login.token);
  nc = await connect({ servers: stack.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
}, 180_000);

afterAll(async () => {
  await nc?.close();
  await stack.stop();
  if (agentDir) await rm(agentDir, { recursive: true, force: true });
});

describe('sign-in', () => {
  it('refuses anonymous calls', async () => {
    expect(await errorCode(trpc().clusters.list.query())).toBe('UNAUTHORIZED');
  });

  it('answers a wrong password and an unknown user the same way', async () => {
    const attempts = await Promise.all(
      [
        { username: 'admin', password: 'wrong-password' },
        { username: 'nobody', password: 'wrong-password' },
      ].map((c) =>
        trpc()
          .auth.login.mutate(c)
          .catch((e: TRPCClientError<AppRouter>) => e),
      ),
    );
    const [wrongPassword, unknownUser] = attempts as TRPCClientError<AppRouter>[];
    expect(wrongPassword?.message).toBe('invalid username or password');
    expect(unknownUser?.message).toBe(wrongPassword?.message);
    expect(unknownUser?.data?.code).toBe(wrongPassword?.data?.code);
  });

  it('rate-limits repeated failures for a user', async () => {
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 8; i++) {
      codes.push(await errorCode(trpc().auth.login.mutate({ username: 'mallory', password: `guess-${i}` })));
    }
    expect(codes.slice(0, 5).every((c) => c === 'UNAUTHORIZED')).toBe(true);
    expect(codes).toContain('TOO_MANY_REQUESTS');
  });
});

describe('cluster → token → agent → online → offline → online', () => {
  let token = '';
  let nodeId = '';
  let agent1: ManagedProcess | undefined;

  it('creates a cluster and a join token with the palisade CLI', async () => {
    const admin = await stack.initialAdmin();
    const login = stack.cli(
      ['login', '--server', stack.consoleUrl, '--username', admin.username, '--password-stdin'],
      admin.password,
    );
    expect(login.status, login.stderr).toBe(0);
    const create = stack.cli(['cluster', 'create', CLUSTER, '--label', 'env=test']);
    expect(create.status, create.stderr).toBe(0);
    const again = stack.cli(['cluster', 'create', CLUSTER]);
    expect(again.status).toBe(3);
    expect(again.stderr).toMatch(/already exists/);
    const list = stack.cli(['cluster', 'list', '--output', 'json']);
    expect(JSON.parse(list.stdout).map((c: { name: string }) => c.name)).toContain(CLUSTER);
    const minted = stack.cli(['cluster', 'join-token', CLUSTER, '--quiet']);
    expect(minted.status, minted.stderr).toBe(0);
    token = minted.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
  });

  it('enrolls the agent process and shows its node through tRPC', async () => {
    agent1 = stack.agent('agent-1', {
      stateDir: agentDir,
      cluster: CLUSTER,
      joinToken: token,
      hostname: 'sys-node-1',
    });
    await agent1.waitForOutput(/agent running/);
    const node = await waitFor('the node to be listed online', async () => {
      const n = await nodeByHostname('sys-node-1');
      return n?.status === 'online' ? n : undefined;
    });
    nodeId = node.id;
    expect(node.id).toMatch(/^n-/);
    expect(node.lastHeartbeatAt).not.toBeNull();
    const detail = await api.nodes.get.query({ nodeId });
    expect(detail.cluster).toBe(CLUSTER);
    expect(detail.kernel.length).toBeGreaterThan(0);
    expect(detail.runtimeName).toBeNull();
    const tokens = await api.clusters.tokens.query({ cluster: CLUSTER });
    expect(tokens.find((t) => t.usedByNode === nodeId)).toBeDefined();
  });

  it('marks the node offline when the agent is killed', async () => {
    await agent1?.kill('SIGKILL');
    const offline = await waitFor(
      'the node to turn offline',
      async () => {
        const n = await nodeByHostname('sys-node-1');
        return n?.status === 'offline' ? n : undefined;
      },
      15_000,
    );
    expect(offline.id).toBe(nodeId);
    const events = await api.nodes.events.query({ nodeId });
    expect(events.map((e) => e.type)).toContain('node.offline');
  });

  it('brings the same node back online on restart, without a new token', async () => {
    const tokensBefore = await api.clusters.tokens.query({ cluster: CLUSTER });
    const agent = stack.agent('agent-1b', { stateDir: agentDir, cluster: CLUSTER, hostname: 'sys-node-1' });
    await agent.waitForOutput(/agent running/);
    const online = await waitFor('the node to come back online', async () => {
      const n = await nodeByHostname('sys-node-1');
      return n?.status === 'online' ? n : undefined;
    });
    expect(online.id).toBe(nodeId);
    expect(await api.clusters.tokens.query({ cluster: CLUSTER })).toHaveLength(tokensBefore.length);
    const { total } = await api.nodes.list.query({ cluster: CLUSTER });
    expect(total).toBe(1);
    expect((await api.nodes.events.query({ nodeId })).map((e) => e.type)).toContain('node.online');
  });

  it('keeps the agent reporting across a controller restart, without enrolling again', async () => {
    await stack.controller?.kill('SIGKILL');
    await stack.startController();
    const before = (await nodeByHostname('sys-node-1'))?.lastHeartbeatAt;
    await waitFor('a heartbeat after the controller restart', async () => {
      const n = await nodeByHostname('sys-node-1');
      return n?.status === 'online' && n.lastHeartbeatAt !== before;
    });
    expect(stack.controller?.output).not.toMatch(/node enrolled/);
  });

  it('reconnects the agent after a NATS restart', async () => {
    await stack.nats?.kill('SIGKILL');
    await stack.startNats();
    const restartedAt = Date.now();
    await waitFor(
      'a heartbeat after the NATS restart',
      async () => {
        const n = await nodeByHostname('sys-node-1');
        return (
          n?.status === 'online' &&
          n.lastHeartbeatAt !== null &&
          Date.parse(String(n.lastHeartbeatAt)) > restartedAt
        );
      },
      30_000,
    );
    // The console and the controllers find each other again too.
    await waitFor(
      'the console to reach the controllers again',
      async () => (await api.clusters.list.query()).length > 0,
      15_000,
    );
  });

  it('refuses to reuse the spent token and creates nothing', async () => {
    const otherDir = await mkdtemp(join(tmpdir(), 'palisade-agent-'));
    try {
      const agent = stack.agent('agent-reuse', {
        stateDir: otherDir,
        cluster: CLUSTER,
        joinToken: token,
        hostname: 'sys-node-2',
      });
      expect(await agent.exited).toBe(3);
      expect(agent.output).toMatch(/TOKEN_USED/);
      expect((await api.nodes.list.query({ cluster: CLUSTER })).total).toBe(1);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });
});

describe('bad enrollment input', () => {
  async function enroll(body: unknown) {
    const reply = await nc.request(
      subjects.enroll,
      typeof body === 'string' ? new TextEncoder().encode(body) : encode(body),
      {
        timeout: 5000,
      },
    );
    const decoded = decode(EnrollReply, reply.data);
    if (!decoded.ok) throw new Error(decoded.error);
    return decoded.value;
  }
  let intruderCredential = '';
  const node = {
    hostname: 'intruder',
    kernel: '6.1',
    arch: 'x64',
    os: { id: 'debian', name: 'Debian', version: '12' },
    containerRuntime: null,
    agentVersion: '0.1.0',
  };

  it('refuses garbage, forged, wrong-cluster and revoked tokens, and creates no node', async () => {
    await api.clusters.create.mutate({ name: 'sys-other' });
    const other = await api.clusters.createJoinToken.mutate({ cluster: 'sys-other' });
    const revoked = await api.clusters.createJoinToken.mutate({ cluster: CLUSTER });
    await api.clusters.revokeToken.mutate({ cluster: CLUSTER, jti: revoked.view.jti });
    const [h, p] = other.token.split('.');
    const forged = `${h}.${p}.${Buffer.from('x'.repeat(64)).toString('base64url')}`;

    const refusals = [
      await enroll('{"v":1,'),
      await enroll({ v: 1, token: 'not-a-jwt', node }),
      await enroll({ v: 1, token: forged, node }),
      await enroll({ v: 1, token: other.token, expectedCluster: CLUSTER, node }),
      await enroll({ v: 1, token: revoked.token, node }),
    ];
    expect(refusals.map((r) => (r.ok ? 'accepted' : r.error.code))).toEqual([
      'BAD_REQUEST',
      'BAD_REQUEST',
      'TOKEN_INVALID',
      'TOKEN_WRONG_CLUSTER',
      'TOKEN_REVOKED',
    ]);
    expect((await api.nodes.list.query({ cluster: 'sys-other' })).total).toBe(0);
    expect((await api.nodes.list.query({ cluster: CLUSTER })).total).toBe(1);
    // The wrong-cluster token was not spent by the refusal: it still enrolls in its own cluster.
    const ok = await enroll({ v: 1, token: other.token, expectedCluster: 'sys-other', node });
    expect(ok.ok).toBe(true);
    if (ok.ok) intruderCredential = ok.credential;
    expect(stack.controller?.running).toBe(true);
  });

  it('drops malformed and impersonating observations without crashing', async () => {
    const { jetstream } = await import('@nats-io/jetstream');
    const js = jetstream(nc);
    const victim = await nodeByHostname('sys-node-1');
    if (!victim) throw new Error('sys-node-1 is not listed');
    expect(intruderCredential).not.toBe('');
    const before = victim.lastHeartbeatAt;
    await js.publish(subjects.observation(CLUSTER, victim.id, 'heartbeat'), new TextEncoder().encode('}{'));
    // A real agent of cluster sys-other reporting as sys-node-1 of another cluster.
    await js.publish(
      subjects.observation(CLUSTER, victim.id, 'node'),
      encode({
        v: 1,
        credential: intruderCredential,
        sentAt: new Date().toISOString(),
        kind: 'node',
        body: { ...node, hostname: 'pwned' },
      }),
    );
    await waitFor(
      'the controller to log both drops',
      async () =>
        /"reason":"malformed"/.test(stack.controller?.output ?? '') &&
        /"reason":"impersonation"/.test(stack.controller?.output ?? ''),
    );
    expect(stack.controller?.running).toBe(true);
    const [status] = await api.system.controllers.query();
    expect(status?.dropped.malformed).toBeGreaterThanOrEqual(1);
    expect(status?.dropped.impersonation).toBeGreaterThanOrEqual(1);
    expect(status?.observationsAccepted).toBeGreaterThan(0);
    const cliStatus = stack.cli(['controller', 'status']);
    expect(cliStatus.stdout).toMatch(/impersonation=\d+/);
    const after = await nodeByHostname('sys-node-1');
    expect(after?.hostname).toBe('sys-node-1');
    expect(before).toBeDefined();
  });
});
