/**
 * Workload inventory end to end (needs root): a private containerd runs real busybox containers,
 * the real agent process scans it over gRPC and reports through NATS/JetStream, the real controller
 * stores what it reports in PostgreSQL, and the tRPC API (called in-process, as an admin) shows it.
 *
 *   default/pal-web-1, default/pal-web-2   plain containerd containers (name = id)
 *   k8s.io/pal-k8s                         a container with the CRI labels (name/kubernetes from them)
 *
 * Then one container is removed with ctr: it must drop out of the node's workloads within seconds
 * and stay listed, marked removed, with `includeRemoved` (history is never deleted).
 *
 * Needs root and the apt packages containerd, runc, umoci and busybox-static (see
 * test/support/containerd.ts); CI runs it as root.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { appRouter, contextFor, createCallerFactory } from '@palisade/api';
import { createDbClient, type DbClient } from '@palisade/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, isRoot, NOT_ROOT_MESSAGE, PrivateContainerd } from '../support/containerd.js';
import { type ManagedProcess, Stack, waitFor } from '../support/stack.js';

const CLUSTER = 'workloads';
const HOSTNAME = 'wl-node-1';
const K8S_LABELS = {
  'io.kubernetes.pod.namespace': 'shop',
  'io.kubernetes.pod.name': 'web-0',
  'io.kubernetes.container.name': 'app',
};
const WEB_LABELS = { 'palisade.test/role': 'web' };

/** Normalises containerd's RFC 3339 nano timestamp (as printed by `ctr c info`) to ms precision. */
function toMillisIso(rfc3339: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(rfc3339);
  if (!m) throw new Error(`unexpected timestamp ${rfc3339}`);
  return `${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

if (!isRoot) {
  console.warn(`test/system/workloads.test.ts: ${NOT_ROOT_MESSAGE}`);
  describe('workload inventory from a real containerd', () => {
    it.skip(NOT_ROOT_MESSAGE, () => {});
  });
} else {
  describe('workload inventory from a real containerd', () => {
    const stack = new Stack({ heartbeatIntervalMs: 1000 });
    const containerd = new PrivateContainerd();
    let nc: NatsConnection | undefined;
    let db: DbClient | undefined;
    let agent: ManagedProcess | undefined;
    let nodeId = '';

    const admin = () => {
      if (!nc || !db) throw new Error('beforeAll did not finish');
      const principal = { userId: 'u-admin', username: 'root', role: 'admin', scope: { all: true } } as const;
      const deps = { nats: nc, db, agentNatsUrl: stack.natsUrl, secureCookies: false };
      return createCallerFactory(appRouter)(contextFor(deps, principal, 'test'));
    };
    /** waitFor, with the processes' and containerd's output in the failure message. */
    const waitWithLogs = async <T>(
      what: string,
      probe: () => Promise<T | undefined | null | false>,
      timeoutMs?: number,
    ): Promise<T> => {
      try {
        return await waitFor(what, probe, timeoutMs);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${stack.logs()}\n--- containerd\n${containerd.log()}`);
      }
    };
    const ctrInfo = async (ns: string, id: string) =>
      JSON.parse(await containerd.ctr(ns, 'container', 'info', id)) as {
        CreatedAt: string;
        Labels?: Record<string, string>;
      };

    beforeAll(async () => {
      await containerd.start();
      await containerd.importBusyboxImage(['default', 'k8s.io']);
      await containerd.run('default', 'pal-web-1', ['sleep', '300'], WEB_LABELS);
      await containerd.run('default', 'pal-web-2', ['sleep', '300'], WEB_LABELS);
      await containerd.run('k8s.io', 'pal-k8s', ['sleep', '300'], K8S_LABELS);

      await stack.start();
      nc = await connect({ servers: stack.natsUrl });
      db = createDbClient(stack.databaseUrl);
      await admin().clusters.create({ name: CLUSTER });
      const { token } = await admin().clusters.createJoinToken({ cluster: CLUSTER });
      const stateDir = join(stack.dir, 'agent');
      await mkdir(stateDir, { recursive: true });
      // stack.agent() passes --inventory-interval-ms 1000.
      agent = stack.agent('agent', {
        stateDir,
        cluster: CLUSTER,
        joinToken: token,
        hostname: HOSTNAME,
        containerdSocket: containerd.socket,
      });
      await agent.waitForOutput(/agent running/);
      const node = await waitWithLogs('the node to be listed online', async () => {
        const { items } = await admin().nodes.list({ cluster: CLUSTER });
        return items.find((n) => n.hostname === HOSTNAME && n.status === 'online');
      });
      nodeId = node.id;
    }, 180_000);

    afterAll(async () => {
      // Each step runs even if an earlier one failed; containerd last (the agent is gone by then).
      try {
        await nc?.close().catch(() => {});
        await db?.$disconnect().catch(() => {});
        await stack.stop();
      } finally {
        await containerd.stop();
      }
    }, 60_000);

    it("shows containerd as the node's runtime", async () => {
      const node = await waitWithLogs('the node to report containerd', async () => {
        const n = await admin().nodes.get({ nodeId });
        return n.runtimeName === 'containerd' ? n : undefined;
      });
      expect(node).toMatchObject({
        cluster: CLUSTER,
        hostname: HOSTNAME,
        status: 'online',
        runtimeName: 'containerd',
        runtimeSocket: containerd.socket,
        runtimeError: null,
      });
      expect(node.runtimeVersion ?? '').not.toBe('');
      const serverVersion = (await containerd.ctr('default', 'version')).split('Server:')[1] ?? '';
      expect(serverVersion).toContain(`Version:  ${node.runtimeVersion}`);
    });

    it('lists exactly the three containers, running, with image, pid and Kubernetes fields', async () => {
      const workloads = await waitWithLogs('three running workloads', async () => {
        const rows = await admin().nodes.workloads({ nodeId });
        return rows.length === 3 && rows.every((w) => w.state === 'running') ? rows : undefined;
      });
      expect(workloads.map((w) => `${w.runtimeNamespace}/${w.containerId}`).sort()).toEqual([
        'default/pal-web-1',
        'default/pal-web-2',
        'k8s.io/pal-k8s',
      ]);
      const tasks = {
        default: await containerd.tasks('default'),
        'k8s.io': await containerd.tasks('k8s.io'),
      };
      for (const w of workloads) {
        const ns = w.runtimeNamespace as keyof typeof tasks;
        const task = tasks[ns].get(w.containerId);
        expect(task?.status).toBe('RUNNING');
        const info = await ctrInfo(ns, w.containerId);
        expect(w).toMatchObject({
          cluster: CLUSTER,
          nodeId,
          image: BUSYBOX_IMAGE,
          state: 'running',
          pid: task?.pid,
          labels: info.Labels ?? {},
          removedAt: null,
        });
        expect(w.pid).toBeGreaterThan(0);
        expect(w.createdAt?.toISOString()).toBe(toMillisIso(info.CreatedAt));
      }
      const byId = new Map(workloads.map((w) => [w.containerId, w]));
      for (const id of ['pal-web-1', 'pal-web-2']) {
        expect(byId.get(id)).toMatchObject({
          name: id,
          runtimeNamespace: 'default',
          labels: WEB_LABELS,
          k8sNamespace: null,
          k8sPod: null,
          k8sContainer: null,
        });
      }
      expect(byId.get('pal-k8s')).toMatchObject({
        name: 'app',
        runtimeNamespace: 'k8s.io',
        labels: K8S_LABELS,
        k8sNamespace: 'shop',
        k8sPod: 'web-0',
        k8sContainer: 'app',
      });
      const listed = await admin().nodes.list({ cluster: CLUSTER });
      expect(listed.items.find((n) => n.id === nodeId)?.workloads).toBe(3);
    });

    it('marks a container removed within seconds once it is deleted, and keeps it', async () => {
      const before = await admin().nodes.workloads({ nodeId });
      const removing = Date.now();
      await containerd.killTask('default', 'pal-web-2');
      await containerd.deleteTask('default', 'pal-web-2');
      await containerd.deleteContainer('default', 'pal-web-2');
      expect(await containerd.containers('default')).toEqual(['pal-web-1']);

      const current = await waitWithLogs(
        'pal-web-2 to drop out of the workloads',
        async () => {
          const rows = await admin().nodes.workloads({ nodeId });
          return rows.length === 2 ? rows : undefined;
        },
        8_000,
      );
      const seconds = (Date.now() - removing) / 1000;
      expect(current.map((w) => w.containerId).sort()).toEqual(['pal-k8s', 'pal-web-1']);

      const all = await admin().nodes.workloads({ nodeId, includeRemoved: true });
      expect(all).toHaveLength(3);
      const removed = all.find((w) => w.containerId === 'pal-web-2');
      expect(removed?.removedAt).toBeInstanceOf(Date);
      const removedAt = removed?.removedAt?.getTime() ?? 0;
      expect(removedAt).toBeGreaterThanOrEqual(removing - 1_000); // same host; 1 s of slack
      expect(removedAt).toBeLessThanOrEqual(Date.now());
      expect(removed?.lastSeenAt.getTime()).toBeLessThanOrEqual(removedAt);
      // The row is the same one (not deleted and re-created).
      expect(removed?.id).toBe(before.find((w) => w.containerId === 'pal-web-2')?.id);
      for (const w of all.filter((w) => w.containerId !== 'pal-web-2')) expect(w.removedAt).toBeNull();
      expect((await admin().nodes.list({ cluster: CLUSTER })).items[0]?.workloads).toBe(2);

      console.info(`pal-web-2 dropped out of the workloads ${seconds.toFixed(1)} s after ctr deleted it`);
    });
  });
}
