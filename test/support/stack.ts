/**
 * Starts the real Palisade processes for cross-process tests: a private nats-server with JetStream,
 * a private PostgreSQL database, the controller, the console and agents. Everything is torn down by
 * `stop()`, even after a failure. Nothing here is a mock.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { AGENT_NODE_FLAGS } from '@palisade/enforcer';
import {
  decode,
  type EnrollAccepted,
  EnrollReply,
  encode,
  type NodeInfo,
  subjects,
} from '@palisade/protocol';
import pg from 'pg';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PG_ADMIN_URL = process.env.PALISADE_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
    server.on('error', reject);
  });
}

/**
 * Enrolls a node straight over NATS, as an agent would, without running one: for tests that need an
 * enrolled node (and its credential) but no agent process. Throws when the hub refuses.
 */
export async function enrollTestNode(
  nc: NatsConnection,
  token: string,
  node: Partial<NodeInfo> & { hostname: string },
): Promise<EnrollAccepted> {
  const info: NodeInfo = {
    kernel: '6.1',
    arch: 'x64',
    os: { id: 'debian', name: 'Debian', version: '12' },
    containerRuntime: null,
    agentVersion: 't',
    ...node,
  };
  const reply = await nc.request(subjects.enroll, encode({ v: 1, token, node: info }), { timeout: 5000 });
  const decoded = decode(EnrollReply, reply.data);
  if (!decoded.ok || !decoded.value.ok) throw new Error(`enrollment failed: ${JSON.stringify(decoded)}`);
  return decoded.value;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`,
  );
}

export function requireBuilt(path: string, hint: string): string {
  const full = join(ROOT, path);
  if (!existsSync(full)) throw new Error(`${path} is missing: ${hint}`);
  return full;
}

export class ManagedProcess {
  output = '';
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (d: Buffer) => this.append(d));
    child.stderr?.on('data', (d: Buffer) => this.append(d));
    this.exited = new Promise((r) =>
      child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        r(code);
      }),
    );
  }

  private append(d: Buffer) {
    this.output += d.toString();
    if (this.output.length > 2_000_000) this.output = this.output.slice(-1_000_000);
    if (process.env.PALISADE_TEST_VERBOSE) process.stderr.write(`[${this.name}] ${d}`);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `${this.name} to print ${pattern}`,
      async () => {
        if (!this.running && !pattern.test(this.output)) {
          throw new Error(`${this.name} exited with ${this.exitCode}:\n${this.output.slice(-3000)}`);
        }
        return pattern.test(this.output);
      },
      timeoutMs,
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface StackOptions {
  heartbeatIntervalMs?: number;
  withConsole?: boolean;
  /** Run this many Raft-replicated controllers (3 or 5) instead of one. */
  raftReplicas?: number;
}

export class Stack {
  natsUrl = '';
  natsPort = 0;
  databaseUrl = '';
  consoleUrl = '';
  dir = '';
  nats?: ManagedProcess;
  controller?: ManagedProcess;
  console?: ManagedProcess;
  private readonly processes: ManagedProcess[] = [];
  private databaseName = '';

  constructor(readonly options: StackOptions = {}) {}

  spawn(
    name: string,
    command: string,
    args: string[],
    env: Record<string, string> = {},
    cwd = ROOT,
  ): ManagedProcess {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const managed = new ManagedProcess(name, child);
    this.processes.push(managed);
    return managed;
  }

  async start(): Promise<this> {
    requireBuilt('apps/controller/dist/main.js', 'run "npm run build" first');
    this.dir = await mkdtemp(join(tmpdir(), 'palisade-stack-'));
    await this.startNats();
    this.databaseName = `palisade_t_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${this.databaseName}`);
    await admin.end();
    this.databaseUrl = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${this.databaseName}`);
    const { migrate } = await import('@palisade/db');
    await migrate(this.databaseUrl);
    if (this.options.raftReplicas) {
      const ports = await Promise.all(Array.from({ length: this.options.raftReplicas }, () => freePort()));
      this.raftPeers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
      for (let id = 1; id <= this.options.raftReplicas; id++) this.startReplica(id);
      await Promise.all([...this.replicas.values()].map((r) => r.waitForOutput(/controller ready/, 60_000)));
    } else {
      await this.startController();
    }
    if (this.options.withConsole) await this.startConsole();
    return this;
  }

  async startNats(): Promise<void> {
    if (!this.natsPort) this.natsPort = await freePort();
    this.natsUrl = `nats://127.0.0.1:${this.natsPort}`;
    const storeDir = join(this.dir, 'nats');
    await mkdir(storeDir, { recursive: true });
    this.nats = this.spawn('nats', 'nats-server', [
      '-js',
      '-a',
      '127.0.0.1',
      '-p',
      String(this.natsPort),
      '-sd',
      storeDir,
    ]);
    await this.nats.waitForOutput(/Server is ready/);
  }

  raftPeers = '';
  readonly replicas = new Map<number, ManagedProcess>();

  /** Starts (or restarts) Raft replica `id` of the group; resolves once spawned, not once ready. */
  startReplica(id: number): ManagedProcess {
    const replica = this.spawn(`controller-${id}`, process.execPath, [
      join(ROOT, 'apps/controller/dist/main.js'),
      '--state-dir',
      join(this.dir, `controller-${id}`),
      '--nats',
      this.natsUrl,
      '--database-url',
      this.databaseUrl,
      '--id',
      `replica-${id}`,
      '--raft-id',
      String(id),
      '--raft-peers',
      this.raftPeers,
      '--raft-tick-ms',
      '50',
      '--heartbeat-interval-ms',
      String(this.options.heartbeatIntervalMs ?? 1000),
    ]);
    this.replicas.set(id, replica);
    return replica;
  }

  controllerStateDir(): string {
    return join(this.dir, 'controller');
  }

  async startController(): Promise<ManagedProcess> {
    this.controller = this.spawn('controller', process.execPath, [
      join(ROOT, 'apps/controller/dist/main.js'),
      '--state-dir',
      this.controllerStateDir(),
      '--nats',
      this.natsUrl,
      '--database-url',
      this.databaseUrl,
      '--heartbeat-interval-ms',
      String(this.options.heartbeatIntervalMs ?? 1000),
    ]);
    await this.controller.waitForOutput(/controller ready/);
    return this.controller;
  }

  /** Starts a scanner that loads the vulnerability DB installed in `dbDir`, trusting `trustKey`. */
  async startScanner(dbDir: string, trustKey: string): Promise<ManagedProcess> {
    requireBuilt('apps/scanner/dist/main.js', 'run "npm run build" first');
    const scanner = this.spawn('scanner', process.execPath, [
      join(ROOT, 'apps/scanner/dist/main.js'),
      '--db-dir',
      dbDir,
      '--trust-key',
      trustKey,
      '--nats',
      this.natsUrl,
      '--database-url',
      this.databaseUrl,
      '--work-dir',
      this.dir,
    ]);
    await scanner.waitForOutput(/scanner ready/);
    return scanner;
  }

  async initialAdmin(): Promise<{ username: string; password: string }> {
    // Replicated: whichever replica led first bootstrapped the hub and holds the file.
    const dirs = this.options.raftReplicas
      ? [...this.replicas.keys()].map((id) => join(this.dir, `controller-${id}`))
      : [this.controllerStateDir()];
    for (const dir of dirs) {
      const text = await readFile(join(dir, 'initial-admin.json'), 'utf8').catch(() => undefined);
      if (text) return JSON.parse(text);
    }
    throw new Error(`no initial-admin.json in ${dirs.join(', ')}`);
  }

  async startConsole(): Promise<void> {
    requireBuilt('apps/console/.next/BUILD_ID', 'run "npm run build" (it runs next build) first');
    const port = await freePort();
    this.consoleUrl = `http://127.0.0.1:${port}`;
    this.console = this.spawn(
      'console',
      process.execPath,
      [join(ROOT, 'node_modules/next/dist/bin/next'), 'start', '-p', String(port), '-H', '127.0.0.1'],
      {
        DATABASE_URL: this.databaseUrl,
        PALISADE_NATS_URL: this.natsUrl,
        PALISADE_AGENT_NATS_URL: this.natsUrl,
      },
      join(ROOT, 'apps/console'),
    );
    await waitFor(
      'the console to answer /api/health',
      async () => {
        if (!this.console?.running) throw new Error(`console exited:\n${this.console?.output.slice(-3000)}`);
        const res = await fetch(`${this.consoleUrl}/api/health`).catch(() => null);
        return res?.ok ?? false;
      },
      60_000,
    );
  }

  agent(
    name: string,
    options: {
      stateDir: string;
      cluster?: string;
      joinToken?: string;
      hostname?: string;
      /** containerd socket to scan; by default a path that does not exist (no runtime). */
      containerdSocket?: string;
      /**
       * A bpffs directory of the test's own: the agent then enforces with the kernel back-ends (root).
       * Without it the agent runs with --no-enforce, so tests never touch the host's enforcement.
       */
      bpfPinDir?: string;
      extra?: string[];
    },
  ): ManagedProcess {
    const args = [
      ...AGENT_NODE_FLAGS,
      join(ROOT, 'agents/enforcer/dist/main.js'),
      '--state-dir',
      options.stateDir,
      '--nats',
      this.natsUrl,
    ];
    if (options.cluster) args.push('--cluster', options.cluster);
    if (options.joinToken) args.push('--join-token', options.joinToken);
    if (options.hostname) args.push('--hostname', options.hostname);
    args.push('--inventory-interval-ms', '1000', ...(options.extra ?? []));
    if (options.bpfPinDir) args.push('--bpf-pin-dir', options.bpfPinDir);
    else args.push('--no-enforce');
    // By default a socket path that does not exist: most tests are about enrollment, not containers.
    args.push('--containerd-socket', options.containerdSocket ?? join(this.dir, 'no-containerd.sock'));
    return this.spawn(name, process.execPath, args);
  }

  /** Runs the `palisade` CLI against this stack's console; resolves with its exit code and output. */
  cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [join(ROOT, 'apps/cli/dist/main.js'), ...args], {
      env: { ...process.env, PALISADE_CONFIG: join(this.dir, 'cli-config.json'), PALISADE_PASSWORD: '' },
      input,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill('SIGTERM', 5000).catch(() => {})));
    if (this.databaseName) {
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${this.databaseName} WITH (FORCE)`).catch(() => {});
      await admin.end();
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** Output of every process, for failure messages. */
  logs(): string {
    return this.processes
      .map((p) => `--- ${p.name} (exit ${p.exitCode})\n${p.output.slice(-4000)}`)
      .join('\n');
  }
}
