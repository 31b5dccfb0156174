/**
 * The BPF enforcer against the real kernel: real cgroups, real processes, real sockets. Needs root
 * (BPF, cgroup v2, bpffs) and a built addon (npm run build -w @palisade/native). On this VM's kernel
 * trampolines are refused, so `auto` picks the fallback back-end (tp_btf + cgroup/connect).
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { join } from 'node:path';
import type { EnforcementEvent, Mode, RuleKind } from '@palisade/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BpfContainerPolicy,
  type BpfEnforcer,
  type BpfPolicyGeneration,
  cgroupIdOf,
  cgroupV2Root,
  kernelDev,
  openBpfEnforcer,
  uninstallBpf,
} from './bpf.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('skipping bpf.privileged tests: they need root (BPF programs, cgroups, bpffs)');

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

/** Runs argv inside cgroup dir `cg`: the shell moves itself there, then execs argv. */
function runIn(cg: string, argv: string[], timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'echo $$ > "$0" && exec "$@"', join(cg, 'cgroup.procs'), ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out: ${argv.join(' ')}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, stdout });
    });
  });
}

const connectIn = (cg: string, port: number) =>
  runIn(cg, ['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]);

function connectHere(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    s.once('error', reject);
    s.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve();
    });
  });
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function listen(host = '127.0.0.1'): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((c) => c.destroy());
    server.listen(0, host, () => {
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : 0 });
    });
  });
}

function bpftoolIds(what: 'prog' | 'link'): Set<number> {
  const out = JSON.parse(execFileSync('bpftool', ['-j', what, 'show'], { encoding: 'utf8' })) as Array<{
    id: number;
  }>;
  return new Set(out.map((p) => p.id));
}

function pinnedId(path: string): number {
  const kind = path.includes('/link_') ? 'link' : 'prog';
  const out = JSON.parse(
    execFileSync('bpftool', ['-j', kind, 'show', 'pinned', path], { encoding: 'utf8' }),
  ) as {
    id: number;
  };
  return out.id;
}

/**
 * A C connect loop (python manages ~15k connects/s): `flood N PORT tcp|udp` connects one socket to
 * 127.0.0.1:PORT N times and prints how many connects failed. Built in /tmp, on the root filesystem,
 * so the exec backstop leaves it alone. Returns '' without a C compiler.
 */
function buildFlood(): string {
  const dir = mkdtempSync('/tmp/pal-flood-');
  const src = join(dir, 'flood.c');
  const bin = join(dir, 'flood');
  writeFileSync(
    src,
    `#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int n = atoi(argv[1]), failed = 0;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  a.sin_addr.s_addr = htonl(0x7f000001);
  int s = socket(AF_INET, strcmp(argv[3], "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM, 0);
  for (int i = 0; i < n; i++)
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) failed++;
  printf("%d\\n", failed);
  return 0;
}
`,
  );
  try {
    execFileSync('cc', ['-O2', '-o', bin, src], { stdio: 'pipe' });
    return bin;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return '';
  }
}

describe.skipIf(!isRoot)('BPF enforcer on the real kernel (root)', () => {
  const tag = `${process.pid}-${Date.now()}`;
  const pinDir = `/sys/fs/bpf/pal_test_${process.pid}`;
  const dropsPinDir = `/sys/fs/bpf/pal_test_drops_${process.pid}`;
  let cgroupRoot = '';
  let cg = '';
  let nested = '';
  let cgId = 0n;
  let rootDev = 0n;
  let binDir = '';
  let allowedBin = '';
  let deniedBin = '';
  let allowed: { server: Server; port: number };
  let denied: { server: Server; port: number };
  let enforcer: BpfEnforcer | undefined;
  let floodBin = '';
  let generation = 0;
  const events: EnforcementEvent[] = [];

  const modes = (m: Mode): Record<RuleKind, Mode> => ({ process: m, file: m, network: m });

  function container(m: Record<RuleKind, Mode>, extra: Partial<BpfContainerPolicy> = {}): BpfContainerPolicy {
    const allowedStat = statSync(allowedBin, { bigint: true });
    return {
      cgroupId: cgId,
      rootPath: '/',
      // Binaries on / (sh, bash, python3) are fanotify's in the fallback back-end: the backstop skips them.
      rootDev,
      modes: m,
      execAllow: [{ dev: kernelDev(allowedStat.dev), ino: allowedStat.ino, path: allowedBin }],
      fileProtect: [],
      netAllow: [{ family: 4, addr: '127.0.0.1', prefixLen: 32, port: allowed.port, protocol: 'tcp' }],
      ...extra,
    };
  }

  function apply(containers: BpfContainerPolicy[]): BpfPolicyGeneration {
    generation += 1;
    const g = { generation, containers };
    enforcer?.applyGeneration(g);
    return g;
  }

  const eventsFor = (pred: (e: EnforcementEvent) => boolean) => () => events.find(pred);

  beforeAll(async () => {
    cgroupRoot = cgroupV2Root();
    cg = join(cgroupRoot, `pal-test-${tag}`);
    mkdirSync(cg);
    nested = join(cg, 'nested');
    mkdirSync(nested);
    cgId = cgroupIdOf(cg);
    rootDev = kernelDev(statSync('/', { bigint: true }).dev);
    // A filesystem other than / so the exec backstop judges these binaries.
    binDir = mkdtempSync('/dev/shm/pal-test-');
    expect(kernelDev(statSync(binDir, { bigint: true }).dev)).not.toBe(rootDev);
    allowedBin = join(binDir, 'allowed-true');
    deniedBin = join(binDir, 'denied-true');
    copyFileSync('/bin/true', allowedBin, 0);
    copyFileSync('/bin/true', deniedBin, 0);
    execFileSync('chmod', ['755', allowedBin, deniedBin]);
    allowed = await listen();
    denied = await listen();
    floodBin = buildFlood();
    uninstallBpf(pinDir);
    uninstallBpf(dropsPinDir);
    enforcer = openBpfEnforcer({ pinDir, backend: 'auto' });
    enforcer.onEvents((batch) => events.push(...batch));
  });

  afterAll(async () => {
    enforcer?.close();
    uninstallBpf(pinDir);
    uninstallBpf(dropsPinDir);
    allowed?.server.close();
    denied?.server.close();
    for (const dir of [nested, cg]) {
      if (dir && existsSync(dir)) {
        try {
          rmdirSync(dir);
        } catch (e) {
          console.log(`could not remove ${dir}: ${(e as Error).message}`);
        }
      }
    }
    if (binDir) rmSync(binDir, { recursive: true, force: true });
    if (floodBin) rmSync(join(floodBin, '..'), { recursive: true, force: true });
  });

  it('chooses a back-end by trying to load and says why', () => {
    const s = enforcer?.status();
    console.log(`backend ${s?.backend}: ${s?.reason}`);
    expect(['bpf-lsm', 'fallback']).toContain(s?.backend);
    expect(s?.reason).toMatch(/bpf-lsm/);
    if (s?.backend === 'fallback') {
      expect(s.mechanisms.network).toEqual(['cgroup-connect']);
      expect(s.mechanisms.process).toEqual(['tp_btf-kill']);
    }
    expect(existsSync(join(pinDir, 'pal_config'))).toBe(true);
  });

  it('Protect: a non-allowed connect gets EPERM, an allowed one connects, the host is unaffected', async () => {
    apply([container(modes('protect'))]);
    const bad = await connectIn(cg, denied.port);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Operation not permitted/);
    const good = await connectIn(cg, allowed.port);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    await connectHere(denied.port); // the test process is in no container
    const ev = await waitFor(
      'network deny event',
      eventsFor((e) => e.kind === 'network' && e.action === 'deny' && e.dport === denied.port),
    );
    expect(ev.cgroupId).toBe(cgId);
    expect(ev.daddr).toBe('127.0.0.1');
    expect(ev.protocol).toBe('tcp');
    expect(ev.family).toBe(4);
    expect(ev.mechanism).toBe(enforcer?.backend === 'bpf-lsm' ? 'bpf-lsm' : 'cgroup-connect');
    expect(ev.comm).toBe('bash');
    expect(events.some((e) => e.kind === 'network' && e.dport === allowed.port)).toBe(false);
  });

  it('Monitor: connects succeed and raise alerts', async () => {
    apply([container({ process: 'protect', file: 'protect', network: 'monitor' })]);
    const r = await connectIn(cg, denied.port);
    expect(r.code).toBe(0);
    await waitFor(
      'network alert',
      eventsFor((e) => e.kind === 'network' && e.action === 'alert' && e.dport === denied.port),
    );
  });

  it('Discover: connects succeed and are reported as allowed (learned)', async () => {
    apply([container({ process: 'protect', file: 'protect', network: 'discover' })]);
    const r = await connectIn(cg, denied.port);
    expect(r.code).toBe(0);
    await waitFor(
      'network allow',
      eventsFor((e) => e.kind === 'network' && e.action === 'allow' && e.dport === denied.port),
    );
  });

  it('covers a cgroup nested inside the container, attributed to the container', async () => {
    apply([container(modes('protect'))]);
    const since = events.length;
    const r = await connectIn(nested, denied.port);
    expect(r.stderr).toMatch(/Operation not permitted/);
    const ev = await waitFor('nested deny', () =>
      events.slice(since).find((e) => e.kind === 'network' && e.action === 'deny'),
    );
    expect(ev.cgroupId).toBe(cgId);
  });

  it('judges IPv6 connects, and v4-mapped addresses by the IPv4 rules', async () => {
    const v6allowed = await listen('::1');
    const v6denied = await listen('::1');
    try {
      apply([
        container(modes('protect'), {
          netAllow: [
            { family: 4, addr: '127.0.0.1', prefixLen: 32, port: allowed.port, protocol: 'tcp' },
            { family: 6, addr: '::1', prefixLen: 128, port: v6allowed.port, protocol: 'any' },
          ],
        }),
      ]);
      const since = events.length;
      const bad = await runIn(cg, ['bash', '-c', `exec 3<>/dev/tcp/::1/${v6denied.port}`]);
      expect(bad.stderr).toMatch(/Operation not permitted/);
      expect((await runIn(cg, ['bash', '-c', `exec 3<>/dev/tcp/::1/${v6allowed.port}`])).code).toBe(0);
      const ev = await waitFor('v6 deny', () =>
        events.slice(since).find((e) => e.kind === 'network' && e.dport === v6denied.port),
      );
      expect(ev).toMatchObject({ action: 'deny', family: 6, daddr: '::1', protocol: 'tcp' });

      const mapped = (port: number) =>
        runIn(cg, [
          'python3',
          '-c',
          `import socket\ns = socket.socket(socket.AF_INET6)\ns.connect(("::ffff:127.0.0.1", ${port}))`,
        ]);
      expect((await mapped(denied.port)).stderr).toMatch(/PermissionError/);
      expect((await mapped(allowed.port)).code).toBe(0);
      const mev = await waitFor('v4-mapped deny', () =>
        events.slice(since).find((e) => e.kind === 'network' && e.dport === denied.port),
      );
      expect(mev).toMatchObject({ family: 4, daddr: '127.0.0.1' });
    } finally {
      v6allowed.server.close();
      v6denied.server.close();
    }
  });

  it('exec backstop: a non-allowed binary off the root filesystem is SIGKILLed, an allowed one runs', async () => {
    apply([container(modes('protect'))]);
    const bad = await runIn(cg, [deniedBin]);
    expect(bad.signal).toBe('SIGKILL');
    const good = await runIn(cg, [allowedBin]);
    expect(good.code).toBe(0);
    expect(good.signal).toBeNull();
    const onRoot = await runIn(cg, ['/bin/true']); // root filesystem: fanotify's job, not ours
    expect(onRoot.code).toBe(0);
    const deniedIno = statSync(deniedBin, { bigint: true }).ino;
    const ev = await waitFor(
      'exec deny event',
      eventsFor((e) => e.kind === 'process' && e.action === 'deny' && e.file?.ino === deniedIno),
    );
    expect(ev.path).toBe(deniedBin);
    expect(ev.cgroupId).toBe(cgId);
    expect(ev.mechanism).toBe(enforcer?.backend === 'bpf-lsm' ? 'bpf-lsm' : 'tp_btf-kill');
    expect(events.some((e) => e.kind === 'process' && e.path === allowedBin)).toBe(false);

    // Monitor: it runs, and an alert is raised.
    apply([container({ process: 'monitor', file: 'protect', network: 'protect' })]);
    const monitored = await runIn(cg, [deniedBin]);
    expect(monitored.code).toBe(0);
    await waitFor(
      'exec alert',
      eventsFor((e) => e.kind === 'process' && e.action === 'alert' && e.file?.ino === deniedIno),
    );
  });

  it('rejects malformed generations and keeps enforcing the last good one', async () => {
    const good = apply([container(modes('protect'))]);
    const before = enforcer?.status().generation;
    const bad = (g: unknown) => () => enforcer?.applyGeneration(g as BpfPolicyGeneration);
    expect(
      bad({
        generation: generation + 1,
        containers: [
          container(modes('protect'), {
            netAllow: [{ family: 4, addr: '300.1.2.3', prefixLen: 8, port: 0, protocol: 'any' }],
          }),
        ],
      }),
    ).toThrow(/not an IPv4 address/);
    expect(
      bad({
        generation: generation + 1,
        containers: [
          container(modes('protect'), {
            netAllow: [{ family: 4, addr: '10.0.0.1', prefixLen: 8, port: 0, protocol: 'any' }],
          }),
        ],
      }),
    ).toThrow(/host bits/);
    expect(
      bad({
        generation: generation + 1,
        containers: [container(modes('discover' as Mode)), container(modes('protect'))],
      }),
    ).toThrow(/duplicate/);
    expect(
      bad({
        generation: generation + 1,
        containers: [container({ process: 'block' as Mode, file: 'protect', network: 'protect' })],
      }),
    ).toThrow(/unknown mode/);
    // Allows everything, but is not newer than the active generation.
    expect(bad({ ...good, containers: [container(modes('discover'))] })).toThrow(/not greater/);
    expect(bad({ generation: generation - 1, containers: [] })).toThrow(/not greater/);
    expect(enforcer?.status().generation).toBe(before);
    const r = await connectIn(cg, denied.port);
    expect(r.stderr).toMatch(/Operation not permitted/);
    expect((await connectIn(cg, allowed.port)).code).toBe(0);
  });

  it('close() keeps enforcing; re-opening re-adopts the pins with no gap', async () => {
    enforcer?.close();
    enforcer = undefined;
    const between = await connectIn(cg, denied.port);
    expect(between.stderr).toMatch(/Operation not permitted/);

    const reopened = openBpfEnforcer({ pinDir, backend: 'auto' });
    enforcer = reopened;
    reopened.onEvents((batch) => events.push(...batch));
    expect(reopened.reason).toMatch(/re-adopted/);
    expect(reopened.status().generation).toBe(generation);
    const since = events.length;
    const after = await connectIn(cg, denied.port);
    expect(after.stderr).toMatch(/Operation not permitted/);
    await waitFor('event after re-adoption', () =>
      events.slice(since).find((e) => e.kind === 'network' && e.action === 'deny'),
    );
    // The next generation continues from the pinned one.
    apply([container(modes('protect'))]);
    expect(reopened.status().generation).toBe(generation);
  });

  it('measures kernel→JS event throughput (printed, not asserted)', async () => {
    if (!floodBin) {
      console.log('skipping the throughput measurement: no C compiler for the connect generator');
      return;
    }
    const n = 1_000_000;
    const start = events.length;
    const dropsBefore = enforcer?.status().drops ?? 0;
    const t0 = process.hrtime.bigint();
    const flood = await runIn(cg, [floodBin, String(n), String(denied.port), 'tcp'], 60_000);
    const tGen = Number(process.hrtime.bigint() - t0) / 1e9;
    expect(Number(flood.stdout.trim())).toBe(n);
    const settled = () => events.length - start + ((enforcer?.status().drops ?? 0) - dropsBefore) >= n;
    await waitFor('flood events', () => (settled() ? true : undefined), 20_000).catch(() => undefined);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const got = events.length - start;
    const s = enforcer?.status();
    console.log(
      `throughput: ${n} denied connects generated in ${tGen.toFixed(2)} s (${Math.round(n / tGen)}/s); ` +
        `${got} events reached JS in ${secs.toFixed(2)} s = ${Math.round(got / secs)} events/s; ` +
        `drops so far kernel=${s?.kernelDrops} user=${s?.userDrops}`,
    );
    events.length = 0;
  });

  it('a reader never sees a half-applied generation (UDP connects during 100 swaps)', async () => {
    if (!floodBin) {
      console.log('skipping: no C compiler for the connect generator');
      return;
    }
    // Large generations widen the window a non-atomic writer would expose: the allowed rule is
    // surrounded by 3000 others, and every generation rewrites all of them.
    const filler = Array.from({ length: 3000 }, (_, i) => ({
      family: 4 as const,
      addr: `10.${(i >> 8) & 0xff}.${i & 0xff}.0`,
      prefixLen: 24,
      port: 1000 + (i % 50000),
      protocol: 'udp' as const,
    }));
    const policyWith = () =>
      container(modes('protect'), {
        netAllow: [
          { family: 4, addr: '127.0.0.1', prefixLen: 32, port: allowed.port, protocol: 'any' },
          ...filler,
        ],
      });
    apply([policyWith()]);
    const loop = runIn(cg, [floodBin, '2000000', String(allowed.port), 'udp'], 60_000);
    let swaps = 0;
    const t0 = Date.now();
    for (; swaps < 100; swaps++) {
      apply([policyWith()]);
      await new Promise((r) => setImmediate(r));
    }
    const swapMs = (Date.now() - t0) / swaps;
    const r = await loop;
    console.log(
      `${swaps} generation swaps of ${filler.length + 1} rules, ${swapMs.toFixed(1)} ms each; failed connects: ${r.stdout.trim()}`,
    );
    expect(r.code).toBe(0);
    expect(Number(r.stdout.trim())).toBe(0);
    // The control: the same loop against a port that is not allowed fails every time.
    const control = await runIn(cg, [floodBin, '1000', String(denied.port), 'udp']);
    expect(Number(control.stdout.trim())).toBe(1000);
  });

  it('uninstall removes every program, link and pin of ours', async () => {
    const progPins = ['prog_pal_exec_tp', 'prog_pal_conn4', 'prog_pal_conn6'].map((p) => join(pinDir, p));
    const linkPins = ['link_pal_exec_tp', 'link_pal_conn4', 'link_pal_conn6'].map((p) => join(pinDir, p));
    const present = [...progPins, ...linkPins].filter((p) => existsSync(p));
    expect(present.length).toBeGreaterThan(0);
    const progIds = present.filter((p) => p.includes('/prog_')).map(pinnedId);
    const linkIds = present.filter((p) => p.includes('/link_')).map(pinnedId);
    enforcer?.close();
    enforcer = undefined;
    expect(uninstallBpf(pinDir)).toBe(true);
    expect(existsSync(pinDir)).toBe(false);
    await waitFor('programs and links gone', () => {
      const progs = bpftoolIds('prog');
      const links = bpftoolIds('link');
      return progIds.every((id) => !progs.has(id)) && linkIds.every((id) => !links.has(id))
        ? true
        : undefined;
    });
    // Nothing enforces any more.
    expect((await connectIn(cg, denied.port)).code).toBe(0);
    expect(uninstallBpf(pinDir)).toBe(false);
  });

  it('a full ring buffer counts drops and never weakens enforcement', async () => {
    const small = openBpfEnforcer({ pinDir: dropsPinDir, backend: 'auto', ringBufferBytes: 4096 });
    enforcer = small;
    let received = 0;
    small.onEvents((batch) => {
      received += batch.length;
    });
    generation = 0; // fresh pins start from generation 0
    apply([container(modes('protect'))]);
    const n = 50_000;
    const flood = await runIn(
      cg,
      [
        'python3',
        '-c',
        `import socket
denied = 0
for i in range(${n}):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", ${denied.port}))
    except PermissionError:
        denied += 1
    s.close()
print(denied)`,
      ],
      60_000,
    );
    expect(Number(flood.stdout.trim())).toBe(n); // every single connect was denied
    await new Promise((r) => setTimeout(r, 300));
    const s = small.status();
    console.log(
      `drops with a 4 KiB ring buffer: received=${received} kernelDrops=${s.kernelDrops} userDrops=${s.userDrops} drops=${s.drops}`,
    );
    expect(s.drops).toBeGreaterThan(0);
    expect(s.events + s.drops).toBeLessThanOrEqual(n);
    expect((await connectIn(cg, denied.port)).stderr).toMatch(/Operation not permitted/);
    small.close();
    enforcer = undefined;
    expect(uninstallBpf(dropsPinDir)).toBe(true);
  });
});
