/**
 * ContainerdClient against a REAL containerd (needs root).
 *
 * Starts a private containerd (own root/state/socket in a temp dir, CRI plugin disabled so that
 * nothing but this test creates containers), builds a busybox OCI image with umoci, imports it
 * with `ctr`, and creates:
 *   default/pal-running  running task                     (name = id)
 *   default/pal-created  container without a task         (name from the nerdctl/name label)
 *   k8s.io/pal-k8s       running task with the CRI labels (name/kubernetes from the labels)
 * Then it compares what the client reads over gRPC with what `ctr` reports. A wrong field number
 * in the embedded .proto shows up here as an empty or wrong value.
 *
 * The private containerd and the image come from test/support/containerd.ts (shared with the
 * system tests). Needs root and the apt packages containerd (containerd, ctr), runc, umoci and
 * busybox-static.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Workload } from '@palisade/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUSYBOX_IMAGE as IMAGE,
  isRoot,
  NOT_ROOT_MESSAGE,
  PrivateContainerd,
} from '../../../../test/support/containerd.js';
import { ContainerdClient, type DiscoveredWorkload } from './index.js';

const execFileP = promisify(execFile);
const NAMESPACES = ['default', 'k8s.io'] as const;
const K8S_LABELS = {
  'io.kubernetes.pod.namespace': 'shop',
  'io.kubernetes.pod.name': 'web-0',
  'io.kubernetes.container.name': 'app',
};

/** Normalises containerd's RFC 3339 nano timestamp (as printed by `ctr c info`) to ms precision. */
function toMillisIso(rfc3339: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(rfc3339);
  if (!m) throw new Error(`unexpected timestamp ${rfc3339}`);
  return `${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

if (!isRoot) {
  describe('ContainerdClient against a real containerd', () => {
    it.skip(NOT_ROOT_MESSAGE, () => {});
  });
} else {
  describe('ContainerdClient against a real containerd', () => {
    const containerd = new PrivateContainerd();
    let client: ContainerdClient | undefined;
    const started = Date.now();

    const ctr = (ns: string, ...args: string[]) => containerd.ctr(ns, ...args);
    const ctrTasks = (ns: string) => containerd.tasks(ns);
    const live = () => {
      if (!client) throw new Error('beforeAll did not finish: no client');
      return client;
    };

    beforeAll(async () => {
      await containerd.start();
      await containerd.importBusyboxImage(NAMESPACES);
      await containerd.run('default', 'pal-running', ['sleep', '300'], { 'palisade.test/role': 'running' });
      await containerd.create('default', 'pal-created', ['sleep', '300'], {
        'palisade.test/role': 'created',
        'nerdctl/name': 'web-created',
      });
      await containerd.run('k8s.io', 'pal-k8s', ['sleep', '300'], K8S_LABELS);
      client = new ContainerdClient(containerd.socket, { timeoutMs: 5_000 });
    }, 60_000);

    afterAll(async () => {
      client?.close();
      await containerd.stop();
    }, 30_000);

    it('reads the version', async () => {
      const info = await live().version();
      expect(info.version).not.toBe('');
      expect(info.revision).not.toBe('');
      const { stdout } = await execFileP(containerd.tools?.containerd ?? 'containerd', ['--version']);
      expect(stdout).toContain(info.version);
    });

    it('lists the namespaces', async () => {
      const namespaces = await live().namespaces();
      expect(namespaces).toEqual(expect.arrayContaining(['default', 'k8s.io']));
      const fromCtr = (await ctr('default', 'namespaces', 'ls', '-q')).split('\n').filter(Boolean).sort();
      expect(namespaces).toEqual(fromCtr);
    });

    it('lists exactly the workloads, with task state and pid joined in', async () => {
      const workloads = await live().listWorkloads();
      expect(workloads.map((w) => `${w.runtimeNamespace}/${w.id}`)).toEqual([
        'default/pal-created',
        'default/pal-running',
        'k8s.io/pal-k8s',
      ]);
      const byId = new Map(workloads.map((w) => [w.id, w]));
      const get = (id: string): DiscoveredWorkload => {
        const w = byId.get(id);
        if (!w) throw new Error(`${id} not listed`);
        return w;
      };
      const running = get('pal-running');
      const created = get('pal-created');
      const k8s = get('pal-k8s');

      const defaultTasks = await ctrTasks('default');
      const k8sTasks = await ctrTasks('k8s.io');
      expect(defaultTasks.get('pal-running')?.status).toBe('RUNNING');
      expect(defaultTasks.has('pal-created')).toBe(false);

      expect(running).toMatchObject({
        name: 'pal-running',
        image: IMAGE,
        runtimeNamespace: 'default',
        state: 'running',
        pid: defaultTasks.get('pal-running')?.pid,
        labels: { 'palisade.test/role': 'running' },
      });
      expect(running.pid).toBeGreaterThan(0);
      expect(readFileSync(`/proc/${running.pid}/cmdline`, 'utf8').split('\0')).toContain('sleep');
      expect(running.kubernetes).toBeUndefined();

      expect(created).toMatchObject({
        name: 'web-created',
        image: IMAGE,
        runtimeNamespace: 'default',
        state: 'stopped',
        labels: { 'palisade.test/role': 'created', 'nerdctl/name': 'web-created' },
      });
      expect(created.pid).toBeUndefined();
      expect(created.kubernetes).toBeUndefined();

      expect(k8s).toMatchObject({
        name: 'app',
        image: IMAGE,
        runtimeNamespace: 'k8s.io',
        state: 'running',
        pid: k8sTasks.get('pal-k8s')?.pid,
        labels: K8S_LABELS,
        kubernetes: { namespace: 'shop', pod: 'web-0', container: 'app' },
      });
      expect(k8s.pid).toBeGreaterThan(0);

      // created_at (field 8, Timestamp seconds/nanos) matches what ctr reports, to the millisecond.
      for (const w of workloads) {
        const info = JSON.parse(await ctr(w.runtimeNamespace, 'container', 'info', w.id)) as {
          CreatedAt: string;
          Labels: Record<string, string>;
        };
        expect(w.createdAt).toBe(toMillisIso(info.CreatedAt));
        const createdMs = Date.parse(w.createdAt ?? '');
        expect(createdMs).toBeGreaterThanOrEqual(started - 1_000);
        expect(createdMs).toBeLessThanOrEqual(Date.now());
        expect(w.labels).toEqual(info.Labels ?? {});
        // Valid against the protocol schema the agent reports with.
        const asProtocol: Workload = w satisfies DiscoveredWorkload;
        expect(Workload.parse(asProtocol)).toEqual(w);
      }
    });

    it('reports a paused task as paused, and running again after resume', async () => {
      await ctr('k8s.io', 'task', 'pause', 'pal-k8s');
      let k8s = (await live().listWorkloads()).find((w) => w.id === 'pal-k8s');
      expect(k8s).toMatchObject({ state: 'paused', pid: (await ctrTasks('k8s.io')).get('pal-k8s')?.pid });
      await ctr('k8s.io', 'task', 'resume', 'pal-k8s');
      k8s = (await live().listWorkloads()).find((w) => w.id === 'pal-k8s');
      expect(k8s?.state).toBe('running');
    });

    it('reports a task whose process exited as stopped, without a pid', async () => {
      await containerd.killTask('default', 'pal-running'); // waits until ctr reports STOPPED
      const running = (await live().listWorkloads()).find((w) => w.id === 'pal-running');
      expect(running?.state).toBe('stopped');
      expect(running?.pid).toBeUndefined();
    });

    it('rejects a non-existent socket within 3 s with an error naming the path', async () => {
      const path = join(containerd.dir, 'no-such-dir', 'containerd.sock');
      const missing = new ContainerdClient(path);
      const start = Date.now();
      try {
        await expect(missing.listWorkloads()).rejects.toThrow(path);
      } finally {
        missing.close();
      }
      expect(Date.now() - start).toBeLessThan(3_000);
    });
  });
}
