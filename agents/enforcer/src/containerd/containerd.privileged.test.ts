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
 * Needs the apt packages containerd (containerd, ctr), runc, umoci and busybox-static.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  symlinkSync,
} from 'node:fs';
import { copyFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { Workload } from '@palisade/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerdClient, type DiscoveredWorkload } from './index.js';

const execFileP = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const IMAGE = 'palisade.test/busybox:latest';
const NAMESPACES = ['default', 'k8s.io'] as const;
const K8S_LABELS = {
  'io.kubernetes.pod.namespace': 'shop',
  'io.kubernetes.pod.name': 'web-0',
  'io.kubernetes.container.name': 'app',
};

function findExecutable(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
    '/usr/bin',
    '/bin',
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** True when the ELF file has no PT_INTERP program header (i.e. runs without a libc in the image). */
function isStaticElf(path: string): boolean {
  const buf = readFileSync(path);
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return false; // ELF64 LE only
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (buf.readUInt32LE(phoff + i * phentsize) === 3) return false;
  return true;
}

interface Tools {
  containerd: string;
  ctr: string;
  umoci: string;
  busybox: string;
}

/** Finds the tools or throws one message naming every missing apt package. */
function requireTools(): Tools {
  const missing: string[] = [];
  const need = (bin: string, pkg: string) => {
    const path = findExecutable(bin);
    if (!path) missing.push(`${bin} (apt package ${pkg})`);
    return path ?? '';
  };
  const tools = {
    containerd: need('containerd', 'containerd'),
    ctr: need('ctr', 'containerd'),
    umoci: need('umoci', 'umoci'),
    busybox: '',
  };
  need('runc', 'runc');
  const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((p) => existsSync(p) && isStaticElf(p));
  if (!busybox) missing.push('a static /usr/bin/busybox (apt package busybox-static)');
  tools.busybox = busybox ?? '';
  if (missing.length > 0) {
    throw new Error(
      `containerd privileged test needs: ${missing.join(', ')}. Install with: apt-get install -y containerd runc umoci busybox-static`,
    );
  }
  return tools;
}

/** Normalises containerd's RFC 3339 nano timestamp (as printed by `ctr c info`) to ms precision. */
function toMillisIso(rfc3339: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(rfc3339);
  if (!m) throw new Error(`unexpected timestamp ${rfc3339}`);
  return `${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

if (!isRoot) {
  describe('ContainerdClient against a real containerd', () => {
    it.skip(`SKIPPED: needs root to run a private containerd (running as uid ${process.getuid?.()})`, () => {});
  });
} else {
  describe('ContainerdClient against a real containerd', () => {
    let dir = '';
    let socket = '';
    let tools: Tools | undefined;
    let daemon: ChildProcess | undefined;
    let client: ContainerdClient | undefined;
    const started = Date.now();

    const ctr = async (ns: string, ...args: string[]) => {
      if (!tools) throw new Error('tools not resolved');
      const { stdout } = await execFileP(tools.ctr, ['-a', socket, '-n', ns, ...args], { timeout: 15_000 });
      return stdout;
    };
    const ctrTasks = async (ns: string) =>
      new Map(
        (await ctr(ns, 'task', 'ls'))
          .trim()
          .split('\n')
          .slice(1)
          .filter(Boolean)
          .map((line) => {
            const [id = '', pid = '', status = ''] = line.trim().split(/\s+/);
            return [id, { pid: Number(pid), status }] as const;
          }),
      );
    const live = () => {
      if (!client) throw new Error('beforeAll did not finish: no client');
      return client;
    };
    const daemonLog = () => {
      try {
        return readFileSync(join(dir, 'containerd.log'), 'utf8').split('\n').slice(-20).join('\n');
      } catch {
        return '(no log)';
      }
    };

    beforeAll(async () => {
      tools = requireTools();
      dir = await mkdtemp(join(tmpdir(), 'pal-ctd-'));
      socket = join(dir, 'containerd.sock');

      // 1. A private containerd (no systemd here: cgroupfs; overlayfs is the default snapshotter).
      await writeFile(
        join(dir, 'config.toml'),
        [
          'version = 2',
          `root = "${dir}/root"`,
          `state = "${dir}/state"`,
          // No CRI: it would start its own machinery; this test drives containerd with ctr only.
          'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
          '[grpc]',
          `  address = "${socket}"`,
          '',
        ].join('\n'),
      );
      const log = openSync(join(dir, 'containerd.log'), 'w');
      daemon = spawn(tools.containerd, ['--config', join(dir, 'config.toml')], {
        stdio: ['ignore', log, log],
      });
      const exited = new Promise<never>((_, reject) =>
        daemon?.once('exit', (code, signal) =>
          reject(new Error(`containerd exited early (${code ?? signal}):\n${daemonLog()}`)),
        ),
      );
      exited.catch(() => {});
      const up = (async () => {
        for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
          if (daemon?.exitCode !== null) return; // `exited` reports it
          try {
            if ((await stat(socket)).isSocket()) {
              await ctr('default', 'version');
              return;
            }
          } catch {}
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`containerd did not come up on ${socket} within 10 s:\n${daemonLog()}`);
      })();
      await Promise.race([up, exited]);

      // 2. A busybox OCI image, built with umoci (no registry) and imported into both namespaces.
      const umoci = (...args: string[]) =>
        execFileP(tools?.umoci ?? 'umoci', args, { cwd: dir, timeout: 15_000 });
      await umoci('init', '--layout', 'oci');
      await umoci('new', '--image', 'oci:latest');
      await umoci('unpack', '--image', 'oci:latest', 'bundle');
      const bin = join(dir, 'bundle', 'rootfs', 'bin');
      mkdirSync(bin, { recursive: true });
      await copyFile(tools.busybox, join(bin, 'busybox'));
      for (const applet of ['sh', 'sleep', 'true']) symlinkSync('busybox', join(bin, applet));
      await umoci('repack', '--image', 'oci:latest', 'bundle');
      await execFileP('tar', ['-C', join(dir, 'oci'), '-cf', join(dir, 'image.tar'), '.'], {
        timeout: 15_000,
      });
      for (const ns of NAMESPACES) {
        await ctr(ns, 'image', 'import', '--base-name', 'palisade.test/busybox', join(dir, 'image.tar'));
      }

      // 3. The workloads.
      await ctr(
        'default',
        'run',
        '-d',
        '--label',
        'palisade.test/role=running',
        IMAGE,
        'pal-running',
        'sleep',
        '300',
      );
      await ctr(
        'default',
        'container',
        'create',
        '--label',
        'palisade.test/role=created',
        '--label',
        'nerdctl/name=web-created',
        IMAGE,
        'pal-created',
        'sleep',
        '300',
      );
      await ctr(
        'k8s.io',
        'run',
        '-d',
        ...Object.entries(K8S_LABELS).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
        IMAGE,
        'pal-k8s',
        'sleep',
        '300',
      );

      client = new ContainerdClient(socket, { timeoutMs: 5_000 });
    }, 60_000);

    afterAll(async () => {
      client?.close();
      const errors: string[] = [];
      const attempt = async (what: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          errors.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
        }
      };
      if (tools && daemon && daemon.exitCode === null) {
        for (const ns of NAMESPACES) {
          const tasks = await ctrTasks(ns).catch(() => new Map<string, { pid: number; status: string }>());
          for (const [id, t] of tasks) {
            // A paused task does not die from SIGKILL until thawed.
            if (t.status === 'PAUSED') await attempt(`resume ${id}`, () => ctr(ns, 'task', 'resume', id));
            await attempt(`delete task ${id}`, () => ctr(ns, 'task', 'delete', '--force', id));
          }
          const ids = (await ctr(ns, 'container', 'ls', '-q').catch(() => '')).split('\n').filter(Boolean);
          for (const id of ids)
            await attempt(`delete container ${id}`, () => ctr(ns, 'container', 'delete', id));
        }
      }
      if (daemon && daemon.exitCode === null) {
        const gone = new Promise((r) => daemon?.once('exit', r));
        daemon.kill('SIGTERM');
        const timer = setTimeout(() => daemon?.kill('SIGKILL'), 5_000);
        await gone;
        clearTimeout(timer);
      }
      if (dir) {
        // Shims outlive containerd: end any that still serve our (unique) socket address.
        for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
          try {
            const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
            if (cmdline[0]?.includes('containerd-shim') && cmdline.includes(socket)) {
              errors.push(`left-over shim ${pid} killed`);
              process.kill(Number(pid), 'SIGKILL');
            }
          } catch {}
        }
        // Unmount anything still mounted under the temp dir (deepest first), then remove it.
        const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .map((l) => l.split(' ')[4] ?? '')
          .filter((m) => m.startsWith(`${dir}/`))
          .sort((a, b) => b.length - a.length);
        for (const m of mounts) await attempt(`umount ${m}`, () => execFileP('umount', ['-l', m]));
        await rm(dir, { recursive: true, force: true });
      }
      if (errors.length > 0) console.warn(`containerd test cleanup:\n  ${errors.join('\n  ')}`);
    }, 30_000);

    it('reads the version', async () => {
      const info = await live().version();
      expect(info.version).not.toBe('');
      expect(info.revision).not.toBe('');
      const { stdout } = await execFileP(tools?.containerd ?? 'containerd', ['--version']);
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
      await ctr('default', 'task', 'kill', '--signal', 'SIGKILL', 'pal-running');
      for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
        if ((await ctrTasks('default')).get('pal-running')?.status === 'STOPPED') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const running = (await live().listWorkloads()).find((w) => w.id === 'pal-running');
      expect(running?.state).toBe('stopped');
      expect(running?.pid).toBeUndefined();
    });

    it('rejects a non-existent socket within 3 s with an error naming the path', async () => {
      const path = join(dir, 'no-such-dir', 'containerd.sock');
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
