/**
 * Unit tests: mapping and failure paths that need no containerd. The wire format (field numbers)
 * is verified against a real containerd in containerd.privileged.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Workload } from '@palisade/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerdClient, type DiscoveredWorkload, taskState, timestampToIso, toWorkload } from './index.js';

// Compile-time: a DiscoveredWorkload must be usable wherever a protocol Workload is expected.
const assignable: (w: DiscoveredWorkload) => Workload = (w) => w;
void assignable;

describe('taskState', () => {
  it('maps every containerd.v1.types.Status value', () => {
    expect(['UNKNOWN', 'CREATED', 'RUNNING', 'STOPPED', 'PAUSED', 'PAUSING'].map(taskState)).toEqual([
      'unknown',
      'created',
      'running',
      'stopped',
      'paused',
      'paused',
    ]);
    expect([0, 1, 2, 3, 4, 5, 6].map(taskState)).toEqual([
      'unknown',
      'created',
      'running',
      'stopped',
      'paused',
      'paused',
      'unknown',
    ]);
    expect(taskState(undefined)).toBe('unknown');
  });
});

describe('timestampToIso', () => {
  it('converts seconds/nanos to RFC 3339 and treats zero as unset', () => {
    expect(timestampToIso({ seconds: 1_795_000_000, nanos: 123_456_789 })).toBe('2026-11-18T11:06:40.123Z');
    expect(timestampToIso({ seconds: '1795000000', nanos: 0 })).toBe('2026-11-18T11:06:40.000Z');
    expect(timestampToIso({ seconds: 0, nanos: 0 })).toBeUndefined();
    expect(timestampToIso(null)).toBeUndefined();
  });
});

describe('toWorkload', () => {
  const created_at = { seconds: 1_795_000_000, nanos: 5_000_000 };

  it('uses the CRI labels for Kubernetes containers', () => {
    const w = toWorkload(
      'k8s.io',
      {
        id: 'abc',
        image: 'docker.io/library/nginx:1.27',
        created_at,
        labels: {
          'io.kubernetes.pod.namespace': 'shop',
          'io.kubernetes.pod.name': 'web-0',
          'io.kubernetes.container.name': 'nginx',
        },
      },
      { id: 'abc', pid: 42, status: 'RUNNING' },
    );
    expect(w).toEqual({
      id: 'abc',
      name: 'nginx',
      image: 'docker.io/library/nginx:1.27',
      runtimeNamespace: 'k8s.io',
      state: 'running',
      pid: 42,
      labels: {
        'io.kubernetes.pod.namespace': 'shop',
        'io.kubernetes.pod.name': 'web-0',
        'io.kubernetes.container.name': 'nginx',
      },
      createdAt: '2026-11-18T11:06:40.005Z',
      kubernetes: { namespace: 'shop', pod: 'web-0', container: 'nginx' },
    });
    expect(Workload.parse(w)).toEqual(w);
  });

  it('marks a pod sandbox as Kubernetes with an empty container name', () => {
    const w = toWorkload(
      'k8s.io',
      {
        id: 'sandbox1',
        labels: { 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.name': 'web-0' },
      },
      undefined,
    );
    expect(w.name).toBe('sandbox1');
    expect(w.kubernetes).toEqual({ namespace: 'shop', pod: 'web-0', container: '' });
  });

  it('falls back to nerdctl/name, then the id; no task means stopped', () => {
    expect(toWorkload('default', { id: 'x1', labels: { 'nerdctl/name': 'web' } }, undefined)).toMatchObject({
      name: 'web',
      state: 'stopped',
    });
    const w = toWorkload('default', { id: 'x2' }, undefined);
    expect(w).toEqual({
      id: 'x2',
      name: 'x2',
      image: '',
      runtimeNamespace: 'default',
      state: 'stopped',
      labels: {},
    });
    expect(w.kubernetes).toBeUndefined();
    expect(Workload.parse(w)).toEqual(w);
  });

  it('drops the stale pid of a stopped task', () => {
    const w = toWorkload('default', { id: 'x3' }, { id: 'x3', pid: 99, status: 'STOPPED', exit_status: 137 });
    expect(w.state).toBe('stopped');
    expect(w.pid).toBeUndefined();
    expect(toWorkload('default', { id: 'x4' }, { id: 'x4', pid: 7, status: 'PAUSED' }).pid).toBe(7);
  });
});

describe('ContainerdClient failure paths (no containerd needed)', () => {
  let dir: string;
  let silent: Server;
  const silentPath = () => join(dir, 'silent.sock');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pal-ctd-unit-'));
    // A listener that accepts and never answers (not containerd, or a wedged daemon).
    silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(silentPath(), resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      silent.close(() => resolve());
      // close() waits for connections; the clients are closed, but don't depend on it.
      setTimeout(resolve, 500).unref();
    });
    rmSync(dir, { recursive: true, force: true });
  });

  async function failure(path: string, timeoutMs?: number): Promise<{ message: string; ms: number }> {
    const client = new ContainerdClient(path, timeoutMs ? { timeoutMs } : {});
    const start = Date.now();
    try {
      await client.version();
    } catch (err) {
      return { message: (err as Error).message, ms: Date.now() - start };
    } finally {
      client.close();
    }
    throw new Error(`version() against ${path} unexpectedly succeeded`);
  }

  it('rejects a missing socket at once, naming the path', async () => {
    const path = join(dir, 'nope', 'containerd.sock');
    const { message, ms } = await failure(path);
    expect(message).toContain(path);
    expect(message).toMatch(/does not exist/);
    expect(ms).toBeLessThan(1_000);
  });

  it('rejects a path that is not a socket', async () => {
    const path = join(dir, 'plain-file');
    writeFileSync(path, '');
    const { message } = await failure(path);
    expect(message).toContain(path);
    expect(message).toMatch(/not a unix socket/);
  });

  it('rejects a stale socket (nobody listening) quickly', async () => {
    const path = join(dir, 'stale.sock');
    // A process that binds the socket and dies leaves the socket file behind.
    const r = spawnSync(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(r.signal).toBe('SIGKILL');
    const { message, ms } = await failure(path);
    expect(message).toContain(path);
    expect(message).toMatch(/refused/);
    expect(ms).toBeLessThan(2_000);
  });

  it('rejects a silent listener within the timeout instead of hanging', async () => {
    const { message, ms } = await failure(silentPath(), 400);
    expect(message).toContain(silentPath());
    expect(message).toMatch(/did not answer .* within 400 ms/);
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(2_000);
  });

  it('refuses calls after close()', async () => {
    const client = new ContainerdClient(silentPath());
    client.close();
    await expect(client.namespaces()).rejects.toThrow(/closed/);
  });

  it('validates timeoutMs', () => {
    expect(() => new ContainerdClient('/x', { timeoutMs: 0 })).toThrow(RangeError);
  });
});
