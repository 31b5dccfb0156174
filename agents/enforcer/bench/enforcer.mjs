#!/usr/bin/env node
// npm run bench:enforcer — the cost of native enforcement on a real container (root; eBPF; fanotify).
// A private containerd runs a busybox container (runc, host network) holding palbench, a small static C
// load generator compiled here; one `palbench serve` process inside the container runs every latency
// block, so no process start is timed. In one run:
//   1. exec latency: posix_spawn + wait of /bin/true (busybox, allowed) inside the container;
//   2. TCP connect latency: connects to palbench's own listener on 127.0.0.1 (an allowed destination);
//      both (a) against a true baseline, nothing of ours loaded: rounds of baseline, the enforced
//      configurations (Protect; Protect without file rules; Monitor), baseline again, each enforced p50
//      compared with the mean of the two baselines around it; and (b) with the enforcer up, short blocks
//      alternating the container in and out of the generation (the cost of enforcing this container);
//   3. kernel → JS events/s: a UDP connect flood to a destination the policy does not allow, network in
//      Monitor (one alert per connect), counted where the agent's EnforcementManager receives events;
//   4. enforcer RSS, idle (after GC) and while receiving ~10k events/s (with its CPU use meanwhile).
// Enforcement runs in enforcer-host.mjs, started with the agent's node flags: it loads all the agent's
// modules and runs openBackends + EnforcementManager from agents/enforcer/dist, the agent's enforcement
// path without the hub connection. Ratios are medians over rounds/cycles. Prints
// figures and ends with one JSON line. Knobs (env): ENFORCER_BENCH_{EXECS,CONNECTS,ROUNDS,CYCLES,
// BLOCK_EXECS,BLOCK_CONNECTS,FLOOD_SECONDS,FLOOD_PROCS,RSS_SECONDS,RSS_RATE,TIMEOUT_SECONDS}.
import { execFile, fork, spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AGENT_NODE_FLAGS } from '../dist/index.js';
import { median, palbenchServe, pctOver, round, us } from './common.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = resolve(here, '../../..');
const execFileP = promisify(execFile);

const EXECS = Number(process.env.ENFORCER_BENCH_EXECS ?? 2000);
const CONNECTS = Number(process.env.ENFORCER_BENCH_CONNECTS ?? 5000);
const ROUNDS = Number(process.env.ENFORCER_BENCH_ROUNDS ?? 5);
const FLOOD_SECONDS = Number(process.env.ENFORCER_BENCH_FLOOD_SECONDS ?? 4);
const RSS_SECONDS = Number(process.env.ENFORCER_BENCH_RSS_SECONDS ?? 5);
const CYCLES = Number(process.env.ENFORCER_BENCH_CYCLES ?? 10);
const BLOCK_EXECS = Number(process.env.ENFORCER_BENCH_BLOCK_EXECS ?? 200);
const BLOCK_CONNECTS = Number(process.env.ENFORCER_BENCH_BLOCK_CONNECTS ?? 500);
const FLOOD_PROCS = Number(process.env.ENFORCER_BENCH_FLOOD_PROCS ?? 1);
const RSS_RATE = Number(process.env.ENFORCER_BENCH_RSS_RATE ?? 10_000);
const VERBOSE = process.env.ENFORCER_BENCH_VERBOSE === '1';
const TIMEOUT_SECONDS = Number(process.env.ENFORCER_BENCH_TIMEOUT_SECONDS ?? 170);
const TARGET = { overheadPct: 5, eventsPerSecond: 100_000, rssMb: 64 };

// Per run: the containerd namespace is also the parent cgroup, which cleanup removes.
const NS = `palbench-${process.pid}`;
/** baseline: nothing of ours loaded. protect/monitor: all three kinds in that mode, default protected
 * paths included. protectNoFile: Protect without file rules (only the exec and network rules marked). */
const CONFIGS = ['baseline', 'protect', 'protectNoFile', 'monitor'];
const CONTAINER = 'palbench';
const IMAGE = 'palisade.bench/busybox:latest';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const verdict = (ok) => (ok ? 'met' : 'MISSED');
/** VmRSS and its anonymous / file-backed parts (the node binary's mapped text is file-backed), bytes. */
const memOf = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
};
const rssOf = (pid) => memOf(pid).rss;
/** CPU time (user + system) a process has used, seconds (/proc/<pid>/stat, clock ticks of 1/100 s). */
const cpuSecondsOf = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
/** Resident bytes per mapping group, from /proc/<pid>/smaps: where the RSS goes. */
function rssBreakdown(pid) {
  const groups = { nodeBinary: 0, bpfMaps: 0, sharedLibraries: 0, heapAndAnon: 0 };
  let group = 'heapAndAnon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1] ?? '';
      group =
        name === process.execPath
          ? 'nodeBinary'
          : name.includes('bpf')
            ? 'bpfMaps'
            : name.startsWith('/')
              ? 'sharedLibraries'
              : 'heapAndAnon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) groups[group] += Number(rss[1]) * 1024;
  }
  return groups;
}
const mb = (bytes) => round(bytes / 2 ** 20, 1);

const alive = (child) => child !== undefined && child.exitCode === null && child.signalCode === null;
/** Sends `signal` (if any), SIGKILL after 5 s; resolves once the child is gone (or 7 s passed). */
function stopChild(child, signal) {
  if (!alive(child)) return Promise.resolve();
  return new Promise((res) => {
    const done = () => {
      clearTimeout(kill);
      clearTimeout(giveUp);
      res();
    };
    child.once('exit', done);
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    const giveUp = setTimeout(done, 7000);
    if (signal) child.kill(signal);
  });
}

function which(bin) {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin', '/bin'])) {
    if (d && existsSync(join(d, bin))) return join(d, bin);
  }
  return undefined;
}

if (process.getuid?.() !== 0) {
  console.error('bench:enforcer needs root (eBPF, fanotify, a private containerd); run it as root');
  process.exit(1);
}
const tools = {};
const missing = [];
for (const [name, pkg] of [
  ['containerd', 'containerd'],
  ['ctr', 'containerd'],
  ['runc', 'runc'],
  ['umoci', 'umoci'],
  ['cc', 'gcc'],
]) {
  tools[name] = which(name);
  if (!tools[name]) missing.push(`${name} (apt ${pkg})`);
}
tools.busybox = ['/usr/bin/busybox', '/bin/busybox'].find(
  (p) => existsSync(p) && !readFileSync(p).subarray(0, 4096).includes('ld-linux'),
);
if (!tools.busybox) missing.push('a static busybox (apt busybox-static)');
if (!existsSync(join(root, 'agents/enforcer/dist/enforcement/manager.js'))) {
  missing.push(
    'a build of the agent: npm run build -w @palisade/native -w @palisade/policy -w @palisade/enforcer',
  );
}
if (missing.length > 0) {
  console.error(`bench:enforcer needs: ${missing.join(', ')}`);
  process.exit(1);
}
const { cgroupV2Root, uninstallBpf } = await import('@palisade/native');
const cgroupRoot = cgroupV2Root();
const { DEFAULT_PROTECTED_PATHS } = await import('@palisade/policy');

const dir = mkdtempSync(join(tmpdir(), 'palisade-bench-enforcer-'));
const socket = join(dir, 'containerd.sock');
const pinDir = `/sys/fs/bpf/palisade-bench-${process.pid}`;
let containerd;
let host;

// --- cleanup: everything this run made, also after an error, a signal or the time limit ---------------
// One cleanup, whoever asks first (the run's end, a signal, the time limit); everyone waits for it.
let cleaning;
function cleanup() {
  cleaning ??= removeEverything();
  return cleaning;
}
async function removeEverything() {
  const problems = [];
  const attempt = async (what, fn) => {
    const t0 = performance.now();
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${err.message.split('\n')[0]}`);
    }
    if (VERBOSE) console.error(`cleanup: ${what} (${Math.round(performance.now() - t0)} ms)`);
  };
  await attempt('stop the enforcer', () => stopHost());
  server?.stdin.end();
  await attempt('uninstall eBPF pins', async () => {
    if (existsSync(pinDir)) uninstallBpf(pinDir);
    if (existsSync(pinDir)) rmSync(pinDir, { recursive: true, force: true });
  });
  if (alive(containerd)) {
    await attempt('delete the task', () => ctr('task', 'delete', '--force', CONTAINER));
    await attempt('delete the container', () => ctr('container', 'delete', CONTAINER));
  }
  await attempt('stop containerd', () => stopChild(containerd, 'SIGTERM'));
  // Shims outlive containerd: end the ones serving our (unique) socket.
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmdline[0]?.includes('containerd-shim') && cmdline.includes(socket))
        process.kill(Number(pid), 'SIGKILL');
    } catch {}
  }
  // Whatever of the container survived a failed delete: kill its cgroup, remove our cgroup directories.
  await attempt('remove the container cgroups', async () => {
    const unified = join(cgroupRoot, NS, CONTAINER);
    if (existsSync(join(unified, 'cgroup.kill'))) writeFileSync(join(unified, 'cgroup.kill'), '1');
    for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
      const nsDir = join('/sys/fs/cgroup', hierarchy, NS);
      for (const d of [join(nsDir, CONTAINER), nsDir]) {
        for (let tries = 0; existsSync(d) && tries < 20; tries++) {
          try {
            rmdirSync(d);
          } catch {
            await sleep(50); // a cgroup cannot go while its last task is still exiting
          }
        }
      }
    }
  });
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await attempt(`umount ${m}`, () => execFileP('umount', ['-l', m]));
  await attempt(`remove ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
  if (problems.length > 0) console.error(`cleanup:\n  ${problems.join('\n  ')}`);
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    console.error(`${sig}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  console.error(`bench:enforcer exceeded ${TIMEOUT_SECONDS} s (ENFORCER_BENCH_TIMEOUT_SECONDS); cleaning up`);
  cleanup().finally(() => process.exit(1));
}, TIMEOUT_SECONDS * 1000);
watchdog.unref();

// --- containerd, image, container ----------------------------------------------------------------------
async function ctr(...args) {
  const { stdout } = await execFileP(tools.ctr, ['-a', socket, '-n', NS, ...args], {
    timeout: 60_000,
    maxBuffer: 1 << 20,
  });
  return stdout;
}

async function startContainerd() {
  writeFileSync(
    join(dir, 'config.toml'),
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '',
    ].join('\n'),
  );
  const log = openSync(join(dir, 'containerd.log'), 'w');
  containerd = spawn(tools.containerd, ['--config', join(dir, 'config.toml')], {
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
    if (containerd.exitCode !== null) break;
    try {
      if (statSync(socket).isSocket()) {
        await ctr('version');
        return;
      }
    } catch {}
  }
  throw new Error(
    `containerd did not come up:\n${readFileSync(join(dir, 'containerd.log'), 'utf8').slice(-2000)}`,
  );
}

/** A busybox image with /palbench, built with umoci (no registry) and imported. */
async function buildImage() {
  const umoci = (...args) => execFileP(tools.umoci, args, { cwd: dir, timeout: 30_000 });
  await umoci('init', '--layout', 'oci');
  await umoci('new', '--image', 'oci:latest');
  await umoci('unpack', '--image', 'oci:latest', 'bundle');
  const rootfs = join(dir, 'bundle', 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  copyFileSync(tools.busybox, join(rootfs, 'bin', 'busybox'));
  for (const applet of ['sh', 'sleep', 'true']) symlinkSync('busybox', join(rootfs, 'bin', applet));
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await execFileP(tools.cc, ['-O2', '-static', '-o', join(rootfs, 'palbench'), join(here, 'palbench.c')], {
    timeout: 60_000,
  });
  await umoci('repack', '--image', 'oci:latest', 'bundle');
  const tar = join(dir, 'image.tar');
  await execFileP('tar', ['-C', join(dir, 'oci'), '-cf', tar, '.'], { timeout: 30_000 });
  await ctr('image', 'import', '--base-name', 'palisade.bench/busybox', tar);
}

let execSeq = 0;
/** Runs palbench inside the container (one long-running process per measurement) and parses its line. */
async function palbench(...args) {
  const out = await ctr(
    'task',
    'exec',
    '--exec-id',
    `b${execSeq++}`,
    CONTAINER,
    '/palbench',
    ...args.map(String),
  );
  return JSON.parse(out.trim().split('\n').at(-1));
}

/** palbench serve: one long-running process in the container answers every latency command. */
let server;
let command;
function startServer() {
  server = spawn(
    tools.ctr,
    ['-a', socket, '-n', NS, 'task', 'exec', '--exec-id', 'serve', CONTAINER, '/palbench', 'serve'],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  ({ command } = palbenchServe(server));
}

// --- the enforcer (enforcer-host.mjs) ------------------------------------------------------------------
let msgSeq = 0;
const waiting = new Map();
async function startHost() {
  if (cleaning) throw new Error('stopping: no new enforcer');
  const child = fork(join(here, 'enforcer-host.mjs'), [pinDir], {
    execArgv: ['--expose-gc', ...AGENT_NODE_FLAGS],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  host = child;
  const ready = await new Promise((res, rej) => {
    child.once('exit', (code, sig) =>
      rej(new Error(`the enforcer exited (${code ?? sig}) before it was ready`)),
    );
    child.once('message', res);
  });
  child.removeAllListeners('exit');
  child.on('message', (m) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (!w) return;
    if (m.ok) w.res(m);
    else w.rej(new Error(m.error));
  });
  child.on('exit', () => {
    for (const w of waiting.values()) w.rej(new Error('the enforcer exited'));
    waiting.clear();
  });
  if (ready.backend === 'none') throw new Error(`no enforcement back-end: ${ready.reason}`);
  return ready;
}
function ask(msg) {
  const id = ++msgSeq;
  return new Promise((res, rej) => {
    waiting.set(id, { res, rej });
    host.send({ ...msg, id });
  });
}
async function stopHost() {
  const child = host;
  host = undefined;
  if (alive(child)) {
    try {
      child.send({ op: 'close', id: ++msgSeq });
    } catch {} // no channel any more: the SIGKILL below ends it
    await stopChild(child, undefined);
  }
  // The agent leaves its pinned programs enforcing; for a true baseline nothing of ours stays loaded.
  if (existsSync(pinDir)) uninstallBpf(pinDir);
}

// --- policies ------------------------------------------------------------------------------------------
let revision = 0;
/**
 * The bench group: /bin/true (busybox), busybox and palbench allowed; TCP to 127.0.0.1:allowedPort
 * allowed. With defaultFiles the default protected paths (/etc/passwd, /bin/, /usr/bin/, ...) apply, as
 * for any group; without, they are allowed away, so only the exec rules are marked.
 */
function policy(modes, allowedPort, defaultFiles = true) {
  const mode = { process: modes, file: modes, network: modes };
  return {
    v: 1,
    cluster: 'bench',
    revision: ++revision,
    defaults: { modes: { process: 'discover', file: 'discover', network: 'discover' } },
    groups: [
      {
        name: 'bench',
        selector: { name: CONTAINER },
        priority: 0,
        modes: mode,
        process: [
          { path: '/bin/true', action: 'allow' },
          { path: '/bin/busybox', action: 'allow' },
          { path: '/palbench', action: 'allow' },
        ],
        file: defaultFiles
          ? []
          : DEFAULT_PROTECTED_PATHS.map((path) => ({ path, access: 'write', action: 'allow' })),
        network: [{ to: '127.0.0.1/32', ports: [allowedPort], protocol: 'tcp', action: 'allow' }],
      },
    ],
  };
}
async function enforce(modes, allowedPort, pid, defaultFiles = true) {
  await ask({ op: 'policy', policy: policy(modes, allowedPort, defaultFiles) });
  const r = await ask({
    op: 'workloads',
    workloads: [
      {
        id: CONTAINER,
        name: CONTAINER,
        image: IMAGE,
        runtimeNamespace: NS,
        state: 'running',
        pid,
        labels: {},
      },
    ],
  });
  const w = r.counters.workloads.find((x) => x.containerId === CONTAINER);
  if (
    r.counters.lastError ||
    w?.group !== 'bench' ||
    w.modes.process !== modes ||
    w.modes.network !== modes
  ) {
    throw new Error(
      `the enforcer did not take the ${modes} policy: ${r.counters.lastError ?? JSON.stringify(r.counters.workloads)}`,
    );
  }
  return r;
}

const freePort = () =>
  new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

// --- the run -------------------------------------------------------------------------------------------
let failed = false;
try {
  const started = performance.now();
  // Other Palisade installs (the agent's, tests') keep their hooks loaded during our baseline too.
  const others = existsSync('/sys/fs/bpf')
    ? readdirSync('/sys/fs/bpf').filter((d) => d.startsWith('palisade') || d.startsWith('pal_'))
    : [];
  await startContainerd();
  await buildImage();
  await ctr('run', '-d', '--net-host', IMAGE, CONTAINER, '/bin/sleep', '1000000');
  const pid = Number(
    (await ctr('task', 'ls'))
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f[0] === CONTAINER)?.[1],
  );
  if (!pid) throw new Error('the container has no running task');
  const allowedPort = await freePort();
  let deniedPort = await freePort();
  while (deniedPort === allowedPort) deniedPort = await freePort();
  console.log(
    `container ${CONTAINER} (runc, host network) pid ${pid}; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} on ${availableParallelism()} CPUs`,
  );
  if (others.length > 0) {
    console.log(
      `note: other Palisade eBPF pin dirs are present and stay loaded during the baseline: ${others.join(', ')}`,
    );
  }

  // 1 + 2: exec and connect latency. One palbench server in the container runs every block.
  startServer();
  const failures = [];
  /** One block of execs and connects; a failure (of an allowed target) is recorded with the enforcer's view. */
  const measure = async (label, execs, connects) => {
    const before = host ? (await ask({ op: 'status' })).counters : undefined;
    const exec = await command('exec', execs, '/bin/true');
    if (before) {
      // What the fanotify handler did for these execs: permission events answered, time deciding.
      const after = (await ask({ op: 'status' })).counters;
      exec.fanotifyDecisions = after.fanotifyDecisions - before.fanotifyDecisions;
      exec.fanotifyDecideNs = after.fanotifyDecideNs - before.fanotifyDecideNs;
    }
    const connect = await command('connect', connects, allowedPort);
    if (exec.failed > 0 || connect.failed > 0) {
      const c = host ? (await ask({ op: 'status' })).counters : undefined;
      const enforcer = c && {
        fanotifyDenied: c.fanotifyDenied,
        failOpen: c.fanotifyFailOpen,
        errors: c.fanotifyErrors,
        recent: c.recent,
      };
      failures.push({
        label,
        exec: exec.failed,
        connect: connect.failed,
        execFirst: exec.firstFailure,
        connectFirst: connect.firstFailure,
        enforcer,
      });
      console.log(
        `${label}: ${exec.failed} of ${execs} execs failed (first: ${exec.firstFailure || '-'}), ` +
          `${connect.failed} of ${connects} connects failed (first: ${connect.firstFailure || '-'})` +
          (enforcer ? `; enforcer: ${JSON.stringify(enforcer)}` : ''),
      );
    }
    return { exec, connect };
  };
  const apply = {
    protect: () => enforce('protect', allowedPort, pid),
    protectNoFile: () => enforce('protect', allowedPort, pid, false),
    monitor: () => enforce('monitor', allowedPort, pid),
  };
  const ENFORCED = CONFIGS.slice(1);

  // 1a. Against a true baseline (nothing of ours loaded), rounds of A-B-A.
  const rounds = [];
  const hostStartMs = [];
  let backendInfo;
  for (let r = 0; r < ROUNDS; r++) {
    const round = {};
    round.baselineBefore = await measure(`round ${r + 1} baseline`, EXECS, CONNECTS);
    const t0 = performance.now();
    backendInfo = await startHost();
    hostStartMs.push(performance.now() - t0);
    // The enforced configurations take turns going first, so drift does not favour one of them.
    for (let i = 0; i < ENFORCED.length; i++) {
      const name = ENFORCED[(i + r) % ENFORCED.length];
      await apply[name]();
      round[name] = await measure(`round ${r + 1} ${name}`, EXECS, CONNECTS);
    }
    await stopHost();
    round.baselineAfter = await measure(`round ${r + 1} baseline`, EXECS, CONNECTS);
    // Baseline before and after the enforced runs: their mean cancels a steady drift of the machine's load.
    const both = (what, key) => (round.baselineBefore[what][key] + round.baselineAfter[what][key]) / 2;
    round.baseline = {
      exec: { p50Ns: both('exec', 'p50Ns'), meanNs: both('exec', 'meanNs') },
      connect: { p50Ns: both('connect', 'p50Ns'), meanNs: both('connect', 'meanNs') },
    };
    rounds.push(round);
    const line = (what) =>
      [
        `baseline ${us(round.baselineBefore[what].p50Ns)}/${us(round.baselineAfter[what].p50Ns)}`,
        ...ENFORCED.map((c) => `${c} ${us(round[c][what].p50Ns)}`),
      ].join(', ');
    console.log(`round ${r + 1} p50 µs: exec ${line('exec')} | connect ${line('connect')}`);
  }
  console.log(
    `enforcement back-end: ${backendInfo.backend} (${backendInfo.reason}); enforcer start (fresh eBPF install + fanotify) median ${round(median(hostStartMs))} ms`,
  );

  // 1b. The enforcer stays up; short blocks alternate the container in and out of the generation
  // ("unenforced": the global hooks still run, the container has no marks and no entries).
  await startHost();
  const cycles = [];
  for (let k = 0; k < CYCLES; k++) {
    const cycle = {};
    const order = ['unenforced', ...ENFORCED];
    for (let i = 0; i < order.length; i++) {
      const name = order[(i + k) % order.length];
      if (name === 'unenforced') await ask({ op: 'workloads', workloads: [] });
      else await apply[name]();
      cycle[name] = await measure(`cycle ${k + 1} ${name}`, BLOCK_EXECS, BLOCK_CONNECTS);
    }
    cycles.push(cycle);
  }
  await stopHost();

  const summarize = (samples, base, label) => {
    const out = {};
    for (const what of ['exec', 'connect']) {
      const entry = { baselineP50Us: us(median(samples.map((x) => x[base][what].p50Ns))) };
      // Ratios per round first (baseline and enforced ran back to back), then the median over rounds.
      for (const mode of ENFORCED) {
        const ratios = samples.map((x) => x[mode][what].p50Ns / x[base][what].p50Ns);
        const ratio = median(ratios);
        entry[`${mode}P50Us`] = us(median(samples.map((x) => x[mode][what].p50Ns)));
        entry[`${mode}Ratio`] = round(ratio, 3);
        entry[`${mode}RatioRange`] = [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)];
        entry[`${mode}OverheadPct`] = pctOver(ratio);
        entry[`${mode}WithinTarget`] = pctOver(ratio) <= TARGET.overheadPct;
      }
      out[what] = entry;
      console.log(
        `${what} ${label}: p50 ${base} ${entry.baselineP50Us} µs; ` +
          ENFORCED.map(
            (c) =>
              `${c} ${entry[`${c}P50Us`]} µs ×${entry[`${c}Ratio`]} (${entry[`${c}OverheadPct`]} %, range ×${entry[`${c}RatioRange`].join('–')}): ${verdict(entry[`${c}WithinTarget`])}`,
          ).join('; ') +
          ` — target ≤ ${TARGET.overheadPct} %`,
      );
    }
    return out;
  };
  console.log(
    `ratios = median over rounds/cycles of (enforced p50 / that round's baseline p50); protect and monitor include the default protected paths (/bin/, /usr/bin/, /etc/passwd, ...), protectNoFile has no file rules`,
  );
  const handler = {};
  for (const c of ENFORCED) {
    const decisions = rounds.reduce((a, x) => a + x[c].exec.fanotifyDecisions, 0);
    const ns = rounds.reduce((a, x) => a + x[c].exec.fanotifyDecideNs, 0);
    handler[c] = {
      decisionsPerExec: round(decisions / (ROUNDS * EXECS), 2),
      decideUsPerDecision: decisions ? round(ns / decisions / 1000, 1) : 0,
    };
  }
  console.log(
    `fanotify handler per exec: ${ENFORCED.map((c) => `${c} ${handler[c].decisionsPerExec} permission events, ${handler[c].decideUsPerDecision} µs deciding each`).join('; ')}`,
  );
  const latency = summarize(
    rounds,
    'baseline',
    `vs nothing loaded (${ROUNDS} rounds × ${EXECS} execs, ${CONNECTS} connects)`,
  );
  const interleaved = summarize(
    cycles,
    'unenforced',
    `vs container not in the generation (${CYCLES} cycles × ${BLOCK_EXECS} execs, ${BLOCK_CONNECTS} connects)`,
  );

  // 3 + 4: events and RSS, network in Monitor, UDP connects to a port the policy does not allow.
  await startHost();
  await enforce('monitor', allowedPort, pid);
  await sleep(1500);
  await ask({ op: 'gc' });
  await sleep(500);
  const memIdle = memOf(host.pid);
  const where = rssBreakdown(host.pid);
  const rssIdle = memIdle.rss;
  console.log(
    `enforcer RSS idle (policy applied, after GC): ${mb(rssIdle)} MB (anonymous ${mb(memIdle.anon)} MB, file-backed ${mb(memIdle.file)} MB; ` +
      `node binary ${mb(where.nodeBinary)} MB, BPF maps ${mb(where.bpfMaps)} MB, other files/libraries ${mb(where.sharedLibraries)} MB, heap and other anonymous ${mb(where.heapAndAnon)} MB) — target ≤ ${TARGET.rssMb} MB: ${verdict(rssIdle <= TARGET.rssMb * 2 ** 20)}`,
  );

  /** Runs a flood; samples the enforcer's counters and RSS meanwhile; returns rates and accounting. */
  async function flood(seconds, rate, procs = 1) {
    const before = (await ask({ op: 'status' })).counters;
    const sinceMs = Date.now();
    const gen = Promise.all(
      Array.from({ length: procs }, () => palbench('flood', seconds, deniedPort, rate / procs, 'udp')),
    ).then((rs) => ({
      attempts: rs.reduce((a, x) => a + x.attempts, 0),
      totalNs: Math.max(...rs.map((x) => x.totalNs)),
      startRealMs: Math.min(...rs.map((x) => x.startRealMs)),
      endRealMs: Math.max(...rs.map((x) => x.endRealMs)),
    }));
    let done = false;
    gen.finally(() => {
      done = true;
    });
    const rss = [];
    const cpuBefore = cpuSecondsOf(host.pid);
    const cpuFrom = performance.now();
    for (const t0 = Date.now(); !done; await sleep(200)) {
      if (Date.now() - t0 >= 500) rss.push(rssOf(host.pid));
    }
    const cpuPercent = round(((cpuSecondsOf(host.pid) - cpuBefore) * 1e5) / (performance.now() - cpuFrom), 1);
    const result = await gen;
    // Let the tail drain, then account for every generated event: delivered or counted as dropped.
    let after = (await ask({ op: 'status' })).counters;
    for (let stable = 0, last = -1; stable < 3 && Date.now() - result.endRealMs < 10_000; await sleep(200)) {
      after = (await ask({ op: 'status' })).counters;
      stable = after.events === last ? stable + 1 : 0;
      last = after.events;
    }
    // Steady state, from the enforcer's own samples: 0.5 s after the generator started to 0.3 s before it
    // ended. Average: every delivered event over the time from the start to the last delivery.
    const { samples } = await ask({ op: 'samples', sinceMs });
    const inWindow = samples.filter(
      (x) => x.atMs >= result.startRealMs + 500 && x.atMs <= result.endRealMs - 300,
    );
    const first = inWindow[0];
    const last = inWindow.at(-1);
    const steady =
      first && last && last.atMs > first.atMs
        ? ((last.events - first.events) * 1000) / (last.atMs - first.atMs)
        : NaN;
    const lastDelivery = samples.find((x) => x.events === after.events)?.atMs ?? Date.now();
    const delivered = after.events - before.events;
    return {
      generated: result.attempts,
      generatedPerSecond: Math.round(result.attempts / (result.totalNs / 1e9)),
      delivered,
      drops: after.drops - before.drops,
      kernelDrops: after.kernelDrops - before.kernelDrops,
      userDrops: after.userDrops - before.userDrops,
      steadyEventsPerSecond: Number.isFinite(steady) ? Math.round(steady) : null,
      steadySamples: inWindow.length,
      averageEventsPerSecond: Math.round((delivered * 1000) / Math.max(1, lastDelivery - result.startRealMs)),
      rssMax: Math.max(...rss),
      rssMedian: median(rss),
      cpuPercent,
    };
  }

  const paced = await flood(RSS_SECONDS, RSS_RATE);
  console.log(
    `enforcer RSS at ~${RSS_RATE} events/s (${paced.steadyEventsPerSecond ?? paced.averageEventsPerSecond}/s delivered, ${paced.drops} dropped, ${RSS_SECONDS} s): median ${mb(paced.rssMedian)} MB, max ${mb(paced.rssMax)} MB, CPU ${paced.cpuPercent} % of one core — target ≤ ${TARGET.rssMb} MB: ${verdict(paced.rssMax <= TARGET.rssMb * 2 ** 20)}`,
  );
  const saturated = await flood(FLOOD_SECONDS, 0, FLOOD_PROCS);
  // Everything generated arrived and nothing dropped: the pipeline kept up, so the rate is the generator's.
  const keptUp = saturated.drops === 0 && saturated.delivered === saturated.generated;
  const lost = saturated.generated - saturated.delivered - saturated.drops;
  // The steady rate needs the enforcer's sampler to have run inside the flood; else the average.
  const eventsPerSecond = saturated.steadyEventsPerSecond ?? saturated.averageEventsPerSecond;
  console.log(
    `events kernel → JS: ${saturated.steadyEventsPerSecond ?? 'n/a'}/s steady (${saturated.steadySamples} samples), ${saturated.averageEventsPerSecond}/s average ` +
      `(flood of ${saturated.generatedPerSecond} UDP connects/s from ${FLOOD_PROCS} process(es), network in Monitor, ${FLOOD_SECONDS} s); ` +
      `${saturated.generated} generated = ${saturated.delivered} delivered + ${saturated.drops} dropped (kernel ${saturated.kernelDrops}, user ${saturated.userDrops})` +
      `${lost !== 0 ? ` + ${lost} unaccounted` : ''}; RSS max ${mb(saturated.rssMax)} MB — target ≥ ${TARGET.eventsPerSecond}/s: ${verdict(eventsPerSecond >= TARGET.eventsPerSecond)}` +
      (keptUp ? ' (JS kept up with the generator: a lower bound of what the pipeline takes)' : ''),
  );
  console.log(
    `RSS measured on: a Node process with the agent's node flags (${AGENT_NODE_FLAGS.join(' ') || 'none'}) and all its modules loaded, running its enforcement path (openBackends + EnforcementManager from agents/enforcer/dist, drained every 1 s like the agent); it makes no hub or containerd connection`,
  );
  await stopHost();

  const figures = {
    backend: backendInfo.backend,
    rounds: ROUNDS,
    execsPerRun: EXECS,
    connectsPerRun: CONNECTS,
    exec: latency.exec,
    connect: latency.connect,
    cycles: CYCLES,
    blockExecs: BLOCK_EXECS,
    blockConnects: BLOCK_CONNECTS,
    execInterleaved: interleaved.exec,
    connectInterleaved: interleaved.connect,
    enforcerStartMs: round(median(hostStartMs)),
    fanotifyPerExec: handler,
    eventsPerSecond,
    eventsSteadyPerSecond: saturated.steadyEventsPerSecond,
    eventsAveragePerSecond: saturated.averageEventsPerSecond,
    eventsFloodGeneratedPerSecond: saturated.generatedPerSecond,
    eventsFloodProcesses: FLOOD_PROCS,
    eventsBoundedByGenerator: keptUp,
    eventsGenerated: saturated.generated,
    eventsDelivered: saturated.delivered,
    eventsDropped: saturated.drops,
    eventsKernelDrops: saturated.kernelDrops,
    eventsUserDrops: saturated.userDrops,
    eventsUnaccounted: lost,
    eventsTarget: TARGET.eventsPerSecond,
    eventsWithinTarget: eventsPerSecond >= TARGET.eventsPerSecond,
    rssMeasuredOn:
      'enforcer-host.mjs: agent node flags and modules, enforcement path running, no hub/containerd connection',
    agentNodeFlags: AGENT_NODE_FLAGS,
    rssIdleMb: mb(rssIdle),
    rssIdleAnonMb: mb(memIdle.anon),
    rssIdleFileMb: mb(memIdle.file),
    rssIdleByMappingMb: Object.fromEntries(Object.entries(where).map(([k, v]) => [k, mb(v)])),
    rssLoadRatePerSecond: RSS_RATE,
    rssLoadDeliveredPerSecond: paced.steadyEventsPerSecond ?? paced.averageEventsPerSecond,
    rssLoadMedianMb: mb(paced.rssMedian),
    rssLoadMaxMb: mb(paced.rssMax),
    loadCpuPercent: paced.cpuPercent,
    rssSaturatedMaxMb: mb(saturated.rssMax),
    rssTargetMb: TARGET.rssMb,
    rssWithinTarget: Math.max(rssIdle, paced.rssMax) <= TARGET.rssMb * 2 ** 20,
    overheadTargetPct: TARGET.overheadPct,
    failures,
    elapsedSeconds: round((performance.now() - started) / 1000),
  };
  console.log(JSON.stringify(figures));
} catch (err) {
  failed = true;
  // After a signal or the time limit the cleanup ends the run's steps; their errors are its echo.
  if (!cleaning) console.error(`bench:enforcer failed: ${err.stack ?? err.message}`);
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
