/**
 * A private containerd for tests that need a real container runtime (root only).
 *
 * `start()` runs containerd with its own root, state and socket in a temp dir and the CRI plugin
 * disabled, so that nothing but the test creates containers. `importBusyboxImage()` builds a
 * one-layer busybox OCI image with umoci (no registry, no network) and imports it with `ctr`;
 * `run()`/`create()`/`killTask()`/... drive containers with `ctr`. `stop()` removes every task and
 * container, stops containerd, ends left-over shims, unmounts and deletes the temp dir; it is safe
 * to call after a failed or partial `start()`.
 *
 * Needs root and the apt packages containerd (containerd, ctr), runc, umoci and busybox-static.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
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

const execFileP = promisify(execFile);

export const isRoot = process.getuid?.() === 0;
/** Why tests that need a private containerd are skipped when not root. */
export const NOT_ROOT_MESSAGE = `SKIPPED: needs root to run a private containerd (running as uid ${process.getuid?.()})`;
/** The image reference `importBusyboxImage()` creates. */
export const BUSYBOX_IMAGE = 'palisade.test/busybox:latest';
const APT_HINT = 'Install with: apt-get install -y containerd runc umoci busybox-static';

export function findExecutable(name: string): string | undefined {
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
export function isStaticElf(path: string): boolean {
  const buf = readFileSync(path);
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return false; // ELF64 LE only
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (buf.readUInt32LE(phoff + i * phentsize) === 3) return false;
  return true;
}

export interface ContainerdTools {
  containerd: string;
  ctr: string;
  umoci: string;
  busybox: string;
}

/** Finds the tools or throws one message naming every missing apt package. */
export function requireContainerdTools(): ContainerdTools {
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
  if (missing.length > 0) throw new Error(`a private containerd needs: ${missing.join(', ')}. ${APT_HINT}`);
  return tools;
}

export interface TaskInfo {
  pid: number;
  /** As `ctr task ls` prints it: RUNNING, STOPPED, PAUSED, CREATED, ... */
  status: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PrivateContainerd {
  /** Temp dir holding config, root, state, socket, log and the image build. */
  dir = '';
  socket = '';
  tools: ContainerdTools | undefined;
  private daemon: ChildProcess | undefined;
  private imageTar = '';

  get running(): boolean {
    return this.daemon !== undefined && this.daemon.exitCode === null && this.daemon.signalCode === null;
  }

  /** Starts containerd and waits until `ctr version` answers on the private socket. */
  async start(): Promise<this> {
    if (!isRoot) {
      throw new Error(`a private containerd needs root (running as uid ${process.getuid?.()})`);
    }
    const tools = requireContainerdTools();
    this.tools = tools;
    this.dir = await mkdtemp(join(tmpdir(), 'pal-ctd-'));
    this.socket = join(this.dir, 'containerd.sock');
    // No systemd here: cgroupfs; overlayfs is the default snapshotter.
    await writeFile(
      join(this.dir, 'config.toml'),
      [
        'version = 2',
        `root = "${this.dir}/root"`,
        `state = "${this.dir}/state"`,
        // No CRI: it would start its own machinery; tests drive containerd with ctr only.
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${this.socket}"`,
        '',
      ].join('\n'),
    );
    const log = openSync(join(this.dir, 'containerd.log'), 'w');
    try {
      this.daemon = spawn(tools.containerd, ['--config', join(this.dir, 'config.toml')], {
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log); // the child has its own copy
    }
    const daemon = this.daemon;
    const exited = new Promise<never>((_, reject) => {
      daemon.once('error', (err) => reject(new Error(`containerd did not start: ${err.message}`)));
      daemon.once('exit', (code, signal) =>
        reject(new Error(`containerd exited early (${code ?? signal}):\n${this.log()}`)),
      );
    });
    exited.catch(() => {});
    const up = (async () => {
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        if (!this.running) return; // `exited` reports it
        try {
          if ((await stat(this.socket)).isSocket()) {
            await this.ctr('default', 'version');
            return;
          }
        } catch {}
        await sleep(100);
      }
      throw new Error(`containerd did not come up on ${this.socket} within 10 s:\n${this.log()}`);
    })();
    await Promise.race([up, exited]);
    return this;
  }

  /** The last lines of containerd's log, for failure messages. */
  log(lines = 20): string {
    try {
      return readFileSync(join(this.dir, 'containerd.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Runs `ctr -a <socket> -n <namespace> ...args` and returns its stdout. */
  async ctr(namespace: string, ...args: string[]): Promise<string> {
    if (!this.tools) throw new Error('PrivateContainerd.start() did not run');
    const { stdout } = await execFileP(this.tools.ctr, ['-a', this.socket, '-n', namespace, ...args], {
      timeout: 15_000,
    });
    return stdout;
  }

  /** `ctr task ls` as id → pid and status. */
  async tasks(namespace: string): Promise<Map<string, TaskInfo>> {
    return new Map(
      (await this.ctr(namespace, 'task', 'ls'))
        .trim()
        .split('\n')
        .slice(1)
        .filter(Boolean)
        .map((line) => {
          const [id = '', pid = '', status = ''] = line.trim().split(/\s+/);
          return [id, { pid: Number(pid), status }] as const;
        }),
    );
  }

  /** Container ids in a namespace (`ctr container ls -q`). */
  async containers(namespace: string): Promise<string[]> {
    return (await this.ctr(namespace, 'container', 'ls', '-q')).split('\n').filter(Boolean).sort();
  }

  /**
   * Builds (once) a busybox OCI image with umoci and imports it into the namespace(s) as
   * BUSYBOX_IMAGE. The image has /bin/busybox and the applets sh, sleep and true.
   */
  async importBusyboxImage(namespaces: string | readonly string[]): Promise<string> {
    const tools = this.tools;
    if (!tools) throw new Error('PrivateContainerd.start() did not run');
    if (!this.imageTar) {
      const umoci = (...args: string[]) => execFileP(tools.umoci, args, { cwd: this.dir, timeout: 15_000 });
      await umoci('init', '--layout', 'oci');
      await umoci('new', '--image', 'oci:latest');
      await umoci('unpack', '--image', 'oci:latest', 'bundle');
      const bin = join(this.dir, 'bundle', 'rootfs', 'bin');
      mkdirSync(bin, { recursive: true });
      await copyFile(tools.busybox, join(bin, 'busybox'));
      for (const applet of ['sh', 'sleep', 'true']) symlinkSync('busybox', join(bin, applet));
      await umoci('repack', '--image', 'oci:latest', 'bundle');
      const tar = join(this.dir, 'image.tar');
      await execFileP('tar', ['-C', join(this.dir, 'oci'), '-cf', tar, '.'], { timeout: 15_000 });
      this.imageTar = tar;
    }
    for (const ns of typeof namespaces === 'string' ? [namespaces] : namespaces) {
      await this.ctr(ns, 'image', 'import', '--base-name', 'palisade.test/busybox', this.imageTar);
    }
    return BUSYBOX_IMAGE;
  }

  /** Creates a container and starts its task in the background (`ctr run -d`). */
  async run(
    namespace: string,
    id: string,
    cmd: readonly string[],
    labels: Record<string, string> = {},
    image = BUSYBOX_IMAGE,
  ): Promise<void> {
    await this.ctr(namespace, 'run', '-d', ...labelArgs(labels), image, id, ...cmd);
  }

  /** Creates a container without a task (`ctr container create`). */
  async create(
    namespace: string,
    id: string,
    cmd: readonly string[],
    labels: Record<string, string> = {},
    image = BUSYBOX_IMAGE,
  ): Promise<void> {
    await this.ctr(namespace, 'container', 'create', ...labelArgs(labels), image, id, ...cmd);
  }

  /** Signals a task (SIGKILL by default) and, for SIGKILL, waits until ctr reports it STOPPED. */
  async killTask(namespace: string, id: string, signal = 'SIGKILL', timeoutMs = 5_000): Promise<void> {
    await this.ctr(namespace, 'task', 'kill', '--signal', signal, id);
    if (signal !== 'SIGKILL' && signal !== '9') return;
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
      if ((await this.tasks(namespace)).get(id)?.status === 'STOPPED') return;
      await sleep(50);
    }
    throw new Error(`task ${namespace}/${id} did not stop within ${timeoutMs} ms after ${signal}`);
  }

  /** Deletes a (stopped) task; `force` also kills a running one. */
  async deleteTask(namespace: string, id: string, force = false): Promise<void> {
    await this.ctr(namespace, 'task', 'delete', ...(force ? ['--force'] : []), id);
  }

  async deleteContainer(namespace: string, id: string): Promise<void> {
    await this.ctr(namespace, 'container', 'delete', id);
  }

  /** Kills and deletes the task (if any), then deletes the container. */
  async remove(namespace: string, id: string): Promise<void> {
    const task = (await this.tasks(namespace)).get(id);
    if (task) {
      if (task.status === 'PAUSED') await this.ctr(namespace, 'task', 'resume', id);
      if (task.status !== 'STOPPED') await this.killTask(namespace, id);
      await this.deleteTask(namespace, id);
    }
    await this.deleteContainer(namespace, id);
  }

  /**
   * Removes every task and container in every namespace, stops containerd, kills shims left
   * serving this socket, unmounts and deletes the temp dir. Never throws; returns what went wrong
   * (and prints it).
   */
  async stop(): Promise<string[]> {
    const errors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
      }
    };
    if (this.tools && this.running) {
      const namespaces = (await this.ctr('default', 'namespaces', 'ls', '-q').catch(() => ''))
        .split('\n')
        .filter(Boolean);
      for (const ns of namespaces) {
        const tasks = await this.tasks(ns).catch(() => new Map<string, TaskInfo>());
        for (const [id, t] of tasks) {
          // A paused task does not die from SIGKILL until thawed.
          if (t.status === 'PAUSED')
            await attempt(`resume ${ns}/${id}`, () => this.ctr(ns, 'task', 'resume', id));
          await attempt(`delete task ${ns}/${id}`, () => this.deleteTask(ns, id, true));
        }
        for (const id of await this.containers(ns).catch(() => [])) {
          await attempt(`delete container ${ns}/${id}`, () => this.deleteContainer(ns, id));
        }
      }
    }
    const daemon = this.daemon;
    if (daemon && this.running) {
      const gone = new Promise((r) => daemon.once('exit', r));
      daemon.kill('SIGTERM');
      const timer = setTimeout(() => daemon.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    }
    if (this.dir) {
      // Shims outlive containerd: end any that still serve our (unique) socket address.
      if (this.socket) {
        for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
          try {
            const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
            if (cmdline[0]?.includes('containerd-shim') && cmdline.includes(this.socket)) {
              errors.push(`left-over shim ${pid} killed`);
              process.kill(Number(pid), 'SIGKILL');
            }
          } catch {}
        }
      }
      // Unmount anything still mounted under the temp dir (deepest first), then remove it.
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[4] ?? '')
        .filter((m) => m.startsWith(`${this.dir}/`))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) await attempt(`umount ${m}`, () => execFileP('umount', ['-l', m]));
      await attempt(`remove ${this.dir}`, () => rm(this.dir, { recursive: true, force: true }));
    }
    if (errors.length > 0) console.warn(`private containerd cleanup:\n  ${errors.join('\n  ')}`);
    return errors;
  }
}

function labelArgs(labels: Record<string, string>): string[] {
  return Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
}
