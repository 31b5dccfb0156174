/**
 * The fanotify handler against the real kernel (root only). A "container" is stood in by a cgroup made
 * under the cgroup v2 root and a private tmpfs holding copies of busybox-static as its root
 * filesystem, so the inodes are ours: nothing on the host outside that tmpfs is marked.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EnforcementEvent, FileId, Mode, PolicyGeneration } from '@palisade/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FanotifyEnforcer, type FanotifyOptions, openFanotifyEnforcer } from './fanotify.js';

const isRoot = process.getuid?.() === 0;
const busybox = '/bin/busybox';
const canRun = isRoot && existsSync(busybox);
if (!canRun) {
  console.log(
    `skipping fanotify privileged tests: ${isRoot ? `${busybox} missing (apt busybox-static)` : 'needs root'}`,
  );
}

// Lets a freshly built addon be tried without touching native/addon/build.
const addonOpts: FanotifyOptions = process.env.PALISADE_FANOTIFY_ADDON
  ? { addonPath: process.env.PALISADE_FANOTIFY_ADDON }
  : {};

const O_WRONLY = 0o1;
const O_APPEND = 0o2000;

function cgroup2Root(): string {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ')) return left?.split(' ')[4] ?? '';
  }
  throw new Error('no cgroup2 mount');
}

/** stat's dev_t (glibc encoding) → the kernel's major << 20 | minor. */
function fileId(path: string): FileId {
  const st = statSync(path, { bigint: true });
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  return { dev: (major << 20n) | minor, ino: st.ino };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a shell script as a process moved into `cgroup` first (host shell, so only the script's own targets are ours). */
function runIn(cgroup: string | null, script: string): Run {
  const full = cgroup ? `echo $$ > ${cgroup}/cgroup.procs || exit 99; ${script}` : script;
  const r = spawnSync('/bin/sh', ['-c', full], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!canRun)('fanotify enforcer (privileged: root, real kernel, real cgroups)', () => {
  let dir = '';
  let root = ''; // the stand-in container root filesystem (a tmpfs mount of ours)
  let cgroup = '';
  let nested = '';
  let cgroupId = 0n;
  let generation = 0;
  let enforcer: FanotifyEnforcer | undefined;
  const events: EnforcementEvent[] = [];
  const handlers: FanotifyEnforcer[] = [];

  const open = (): FanotifyEnforcer => {
    const e = openFanotifyEnforcer(addonOpts);
    handlers.push(e);
    e.onEvents((batch) => events.push(...batch));
    return e;
  };

  const policy = (process: Mode, file: Mode): PolicyGeneration => {
    generation += 1;
    return {
      generation,
      containers: [
        {
          cgroupId,
          rootPath: root,
          modes: { process, file, network: 'discover' },
          execAllow: [{ ...fileId(join(root, 'allowed/busybox')), path: '/allowed/busybox' }],
          fileProtect: [
            { id: fileId(join(root, 'etc/passwd')), dir: false, path: '/etc/passwd' },
            { id: fileId(join(root, 'etc')), dir: true, namePrefix: 'sudoers', path: '/etc' },
          ],
          netAllow: [],
        },
      ],
    };
  };

  const waitForEvent = async (pred: (e: EnforcementEvent) => boolean, ms = 3000) => {
    const end = Date.now() + ms;
    for (;;) {
      const hit = events.find(pred);
      if (hit) return hit;
      if (Date.now() > end) return undefined;
      await sleep(20);
    }
  };

  // Events of earlier steps may still be on their way (spawnSync blocks the loop that delivers them).
  const clearEvents = async () => {
    await sleep(150);
    events.length = 0;
  };

  const forbidden = () => join(root, 'forbidden/busybox');
  const allowed = () => join(root, 'allowed/busybox');
  const passwd = () => join(root, 'etc/passwd');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'palisade-fan-'));
    root = join(dir, 'root');
    mkdirSync(root);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=755', 'palisade-fan-test', root]);
    for (const sub of ['allowed', 'forbidden', 'etc', 'etc/sudoers.d']) mkdirSync(join(root, sub));
    for (const sub of ['allowed', 'forbidden']) {
      copyFileSync(busybox, join(root, sub, 'busybox'));
      chmodSync(join(root, sub, 'busybox'), 0o755);
    }
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
    writeFileSync(join(root, 'etc/sudoers'), 'root ALL=(ALL) ALL\n');
    cgroup = join(cgroup2Root(), `palisade-fan-test-${process.pid}`);
    mkdirSync(cgroup);
    nested = join(cgroup, 'inner');
    mkdirSync(nested);
    cgroupId = statSync(cgroup, { bigint: true }).ino;
    enforcer = open();
  });

  afterAll(() => {
    for (const h of handlers) h.close();
    for (const cg of [nested, cgroup]) {
      if (!cg || !existsSync(cg)) continue;
      for (const pid of readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {}
      }
    }
    for (const cg of [nested, cgroup]) {
      for (let i = 0; cg && existsSync(cg) && i < 50; i++) {
        try {
          rmdirSync(cg);
        } catch {
          spawnSync('sleep', ['0.1']);
        }
      }
    }
    if (root) spawnSync('umount', ['-l', root]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('protect exec: EPERM for a binary not allowed, inside the container only', async () => {
    enforcer?.setGeneration(policy('protect', 'protect'));
    const denied = runIn(cgroup, `exec ${forbidden()} true`);
    expect(denied.status).toBe(126);
    expect(denied.stderr).toMatch(/Operation not permitted/);
    const ev = await waitForEvent((e) => e.kind === 'process' && e.action === 'deny');
    expect(ev).toMatchObject({ mechanism: 'fanotify', cgroupId, file: fileId(forbidden()) });
    expect(ev?.path).toBe(forbidden());
    expect(ev?.pid).toBeGreaterThan(0);

    expect(runIn(cgroup, `${allowed()} true`).status).toBe(0);
    // The host (the test's own cgroup) is not a container of the policy.
    expect(runIn(null, `${forbidden()} echo host-ok`)).toMatchObject({ status: 0, stdout: 'host-ok\n' });
    expect(enforcer?.status()).toMatchObject({ generation, failOpen: 0, drops: 0, marks: 3 });
  });

  it('protect file: write-open of a protected file is EPERM, reads and other files work', async () => {
    const before = readFileSync(passwd(), 'utf8');
    const w = runIn(cgroup, `echo evil >> ${passwd()}`);
    expect(w.status).not.toBe(0);
    expect(w.stderr).toMatch(/Operation not permitted/);
    expect(readFileSync(passwd(), 'utf8')).toBe(before);
    const ev = await waitForEvent((e) => e.kind === 'file' && e.action === 'deny' && e.path === passwd());
    expect(ev).toMatchObject({ mechanism: 'fanotify', cgroupId, file: fileId(passwd()) });
    expect((ev?.flags ?? 0) & (O_WRONLY | O_APPEND)).toBe(O_WRONLY | O_APPEND);

    expect(runIn(cgroup, `cat ${passwd()}`)).toMatchObject({ status: 0, stdout: before });
    expect(runIn(cgroup, `echo 10.0.0.1 db >> ${join(root, 'etc/hosts')}`).status).toBe(0);
    // Directory entry /etc with namePrefix "sudoers": its sudoers* children only.
    const sudo = runIn(cgroup, `echo 'x ALL=(ALL) NOPASSWD: ALL' > ${join(root, 'etc/sudoers')}`);
    expect(sudo.status).not.toBe(0);
    expect(sudo.stderr).toMatch(/Operation not permitted/);
    expect(readFileSync(join(root, 'etc/sudoers'), 'utf8')).toBe('root ALL=(ALL) ALL\n');
    expect(
      runIn(cgroup, `ls ${join(root, 'etc/sudoers.d')} && cat ${join(root, 'etc/sudoers')}`).status,
    ).toBe(0);
    // Not a container of the policy: the host writes freely.
    expect(runIn(null, `echo host >> ${join(root, 'etc/sudoers')}`).status).toBe(0);
    writeFileSync(join(root, 'etc/sudoers'), 'root ALL=(ALL) ALL\n');
  });

  it.skipIf(!existsSync('/usr/bin/python3'))(
    'reads the flags of openat2 (open_how in task memory) and creat',
    () => {
      // ctypes: raw syscalls, so the exact call under test is the one the task is blocked in.
      const py = (call: string) =>
        runIn(
          cgroup,
          `exec /usr/bin/python3 -c '
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
path = sys.argv[1].encode()
${call}
print("errno", 0 if r >= 0 else ctypes.get_errno())' ${passwd()}`,
        );
      const openat2 = (flags: number) =>
        py(`how = ctypes.create_string_buffer(struct.pack("QQQ", ${flags}, 0, 0), 24)
r = libc.syscall(437, -100, path, how, 24)`);
      expect(openat2(O_WRONLY).stdout).toBe('errno 1\n');
      expect(openat2(0).stdout).toBe('errno 0\n');
      expect(py('r = libc.syscall(85, path, 0o644)').stdout).toBe('errno 1\n');
    },
  );

  it('covers a nested cgroup inside the container', () => {
    expect(runIn(nested, `exec ${forbidden()} true`).status).toBe(126);
    expect(runIn(nested, `echo evil >> ${passwd()}`).stderr).toMatch(/Operation not permitted/);
    expect(runIn(nested, `${allowed()} true`).status).toBe(0);
  });

  it('monitor: the same actions succeed and raise alerts', async () => {
    enforcer?.setGeneration(policy('monitor', 'monitor'));
    await clearEvents();
    expect(runIn(cgroup, `exec ${forbidden()} true`).status).toBe(0);
    expect(runIn(cgroup, `echo monitored >> ${passwd()}`).status).toBe(0);
    expect(await waitForEvent((e) => e.kind === 'process' && e.action === 'alert')).toBeDefined();
    expect(await waitForEvent((e) => e.kind === 'file' && e.action === 'alert')).toBeDefined();
    expect(events.some((e) => e.action === 'deny')).toBe(false);
  });

  it('discover: the same actions succeed and are reported as allow (learning)', async () => {
    enforcer?.setGeneration(policy('discover', 'discover'));
    await clearEvents();
    expect(runIn(cgroup, `exec ${forbidden()} true`).status).toBe(0);
    expect(runIn(cgroup, `echo learned >> ${passwd()}`).status).toBe(0);
    const exec = await waitForEvent((e) => e.kind === 'process' && e.action === 'allow');
    expect(exec?.file).toEqual(fileId(forbidden()));
    expect(await waitForEvent((e) => e.kind === 'file' && e.action === 'allow')).toBeDefined();
    // Allowed binaries are not reported.
    await clearEvents();
    expect(runIn(cgroup, `${allowed()} true`).status).toBe(0);
    await sleep(200);
    expect(events.filter((e) => e.kind === 'process')).toEqual([]);
  });

  it('rejects a bad generation with a clear error and keeps enforcing the previous one', () => {
    const good = policy('protect', 'protect');
    enforcer?.setGeneration(good);
    const wrongInode = policy('discover', 'discover');
    const entry = wrongInode.containers[0]?.fileProtect[0];
    if (entry) entry.id = { dev: entry.id.dev, ino: entry.id.ino + 12345n };
    expect(() => enforcer?.setGeneration(wrongInode)).toThrow(
      /\/etc\/passwd is dev \d+ ino \d+, not the given/,
    );
    expect(() => enforcer?.setGeneration({ ...policy('discover', 'discover'), generation: 1 })).toThrow(
      /not greater than the current generation/,
    );
    const badShape = policy('discover', 'discover') as unknown as {
      containers: Array<Record<string, unknown>>;
    };
    if (badShape.containers[0]) badShape.containers[0].cgroupId = 42;
    expect(() => enforcer?.setGeneration(badShape as unknown as PolicyGeneration)).toThrow(
      /containers\[0\]\.cgroupId: expected a bigint/,
    );
    expect(enforcer?.status().generation).toBe(good.generation);
    expect(runIn(cgroup, `exec ${forbidden()} true`).status).toBe(126);
    expect(runIn(cgroup, `echo evil >> ${passwd()}`).status).not.toBe(0);
  });

  it('a container left out of a generation is not enforced and its marks are removed', () => {
    generation += 1;
    enforcer?.setGeneration({ generation, containers: [] });
    expect(enforcer?.status().marks).toBe(0);
    expect(runIn(cgroup, `exec ${forbidden()} true`).status).toBe(0);
    enforcer?.setGeneration(policy('protect', 'protect'));
    expect(runIn(cgroup, `exec ${forbidden()} true`).status).toBe(126);
  });

  it('close removes every mark; measures the fail-open window of a handler restart', () => {
    enforcer?.close();
    expect(enforcer?.status()).toMatchObject({ closed: true, marks: 0 });
    expect(runIn(cgroup, `exec ${forbidden()} true`).status).toBe(0);
    expect(runIn(cgroup, `echo unprotected >> ${passwd()}`).status).toBe(0);

    // Restart as the agent would: old handler closes, a new one opens and loads the generation.
    const old = open();
    old.setGeneration(policy('protect', 'protect'));
    const windows: number[] = [];
    const parts = { close: 0, open: 0, set: 0 };
    let current = old;
    const restarts = 5;
    for (let i = 0; i < restarts; i++) {
      const t0 = performance.now();
      current.close();
      const t1 = performance.now();
      current = open();
      const t2 = performance.now();
      current.setGeneration(policy('protect', 'protect'));
      const t3 = performance.now();
      windows.push(t3 - t0);
      parts.close += t1 - t0;
      parts.open += t2 - t1;
      parts.set += t3 - t2;
    }
    windows.sort((a, b) => a - b);
    const mean = (x: number) => (x / restarts).toFixed(2);
    console.log(
      `fanotify fail-open window (close old handler → new handler's setGeneration done), ${restarts} restarts: ` +
        `median ${windows[2]?.toFixed(2)} ms, max ${windows[4]?.toFixed(2)} ms ` +
        `(mean close ${mean(parts.close)} ms, open ${mean(parts.open)} ms, setGeneration ${mean(parts.set)} ms)`,
    );
    expect(runIn(cgroup, `exec ${forbidden()} true`).status).toBe(126);

    // Hand-over without a window: the new handler enforces before the old one lets go.
    const next = open();
    next.setGeneration(policy('protect', 'protect'));
    expect(runIn(cgroup, `exec ${forbidden()} true`).status).toBe(126);
    current.close();
    expect(runIn(cgroup, `exec ${forbidden()} true`).status).toBe(126);
    current = next;
    enforcer = current;
  });

  it('allowed binaries skip the handler (ignore marks), until they leave the allow list or are modified', () => {
    const h = open();
    h.setGeneration(policy('protect', 'protect'));
    expect(h.status().ignoreMarks).toBe(1);
    expect(runIn(cgroup, `${allowed()} true`).status).toBe(0);
    expect(h.status().decisions).toBe(0);
    // Modifying the binary clears its ignore mark: the handler decides again (still allowed: same inode).
    writeFileSync(allowed(), readFileSync(allowed()));
    expect(runIn(cgroup, `${allowed()} true`).status).toBe(0);
    expect(h.status().decisions).toBeGreaterThan(0);
    // A generation without it in the allow list removes the ignore mark: now it is refused.
    const next = policy('protect', 'protect');
    next.containers[0] = { ...(next.containers[0] as (typeof next.containers)[number]), execAllow: [] };
    h.setGeneration(next);
    expect(h.status().ignoreMarks).toBe(0);
    const denied = runIn(cgroup, `${allowed()} true`);
    expect(denied.status).toBe(126);
    h.close();
  });

  it('measures exec decisions per second (execs of an allowed binary in the container)', () => {
    const n = 300;
    const rounds = 9;
    const loop = `i=0; while [ $i -lt ${n} ]; do ${allowed()} true || exit 1; i=$((i+1)); done`;
    // CPU (ms) of this process (the handler thread) plus its waited-for children (the exec loop):
    // less sensitive than wall time to the other work on a shared machine.
    const cpuMs = () => {
      const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
      const ticks = Number(f[13]) + Number(f[14]); // cutime + cstime
      const self = process.cpuUsage();
      return ticks * 10 + (self.user + self.system) / 1000;
    };
    let cpuWith = 0;
    let cpuWithout = 0;
    const timeLoop = (cpu: (ms: number) => void) => {
      const t0 = performance.now();
      const c0 = cpuMs();
      expect(runIn(cgroup, loop).status).toBe(0);
      cpu(cpuMs() - c0);
      return performance.now() - t0;
    };
    enforcer?.close();
    // Alternate without/with: the machine is shared and its load drifts; compare neighbours.
    const ratios: number[] = [];
    const withTimes: number[] = [];
    const withoutTimes: number[] = [];
    let decided = 0;
    let decideNs = 0;
    for (let round = 0; round < rounds; round++) {
      const without = timeLoop((ms) => {
        cpuWithout += ms;
      });
      const h = open();
      h.setGeneration(policy('protect', 'protect'));
      const withHandler = timeLoop((ms) => {
        cpuWith += ms;
      });
      decided += h.status().decisions;
      decideNs += h.status().decideNs;
      h.close();
      withTimes.push(withHandler);
      withoutTimes.push(without);
      ratios.push(withHandler / without);
    }
    // Allowed binaries carry an ignore mark: the kernel raises no permission event for their execs.
    expect(decided).toBe(0);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const bestWith = Math.min(...withTimes);
    const bestWithout = Math.min(...withoutTimes);
    console.log(
      `fanotify exec: ${n} execs × ${rounds} rounds: best with handler ${bestWith.toFixed(0)} ms, ` +
        `best without ${bestWithout.toFixed(0)} ms (ratio of bests ${(bestWith / bestWithout).toFixed(3)}, ` +
        `median per-round ratio ${median(ratios).toFixed(3)}, ` +
        `${(((bestWith - bestWithout) / n) * 1000).toFixed(1)} µs added per exec); ` +
        `${((n / bestWith) * 1000).toFixed(0)} exec decisions/s end to end (one shell, serial execs); ` +
        `permission events for these allowed execs: ${decided} (${decideNs} ns deciding); ` +
        `CPU with/without ${(cpuWith / cpuWithout).toFixed(3)} (${(((cpuWith - cpuWithout) / (rounds * n)) * 1000).toFixed(1)} µs CPU per exec)`,
    );
  });

  it('a full event queue drops (counted) and never blocks enforcement', async () => {
    const h = open();
    const tiny = openFanotifyEnforcer({ ...addonOpts, maxQueuedBatches: 1 });
    handlers.push(tiny);
    let delivered = 0;
    tiny.onEvents((batch) => {
      delivered += batch.length;
    });
    tiny.setGeneration(policy('discover', 'discover'));
    h.close();
    // spawnSync keeps the JS loop busy, so the queue towards JS cannot drain while the execs run.
    const n = 200;
    const r = runIn(cgroup, `i=0; while [ $i -lt ${n} ]; do ${forbidden()} true || exit 1; i=$((i+1)); done`);
    expect(r.status).toBe(0);
    await sleep(300);
    const st = tiny.status();
    expect(st.drops).toBeGreaterThan(0);
    expect(st.events).toBe(delivered);
    expect(st.events + st.drops).toBe(n);
    console.log(
      `fanotify drops: ${n} events with a 1-batch queue: ${st.events} delivered, ${st.drops} dropped (counted)`,
    );
    tiny.close();
  });
});
