/**
 * Runtime enforcement end to end (needs root, eBPF and fanotify; CI runs it as root): a private
 * containerd runs a real busybox container; the real agent enforces the cluster's signed policy,
 * which the real controller publishes, with the kernel back-end this machine allows (here the
 * fallback: fanotify + tp_btf + cgroup/connect; the bpf-lsm back-end is tested in QEMU guests,
 * see native/vm). Exec, file and network rules in Protect, Monitor and Discover; learned behaviour
 * becoming rules; the host and other containers unaffected; an agent restart; uninstall.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server, Socket } from 'node:net';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ControllerClient } from '@palisade/api';
import { createDbClient, type DbClient } from '@palisade/db';
import { AGENT_NODE_FLAGS } from '@palisade/enforcer';
import type { ClusterPolicy, GroupInput } from '@palisade/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, isRoot, NOT_ROOT_MESSAGE, PrivateContainerd } from '../support/containerd.js';
import { type ManagedProcess, ROOT, Stack, waitFor } from '../support/stack.js';

const CLUSTER = 'enforce';
const NS = 'default';
const WEB = 'pal-enf-web';
const OTHER = 'pal-enf-other';
const actor = { userId: 'u-test', username: 'enforcement-test' };

if (!isRoot) {
  console.warn(`test/system/enforcement.test.ts: ${NOT_ROOT_MESSAGE}`);
  describe('runtime enforcement in real containers', () => {
    it.skip(NOT_ROOT_MESSAGE, () => {});
  });
} else {
  describe('runtime enforcement in real containers', () => {
    const stack = new Stack({ heartbeatIntervalMs: 1000 });
    const containerd = new PrivateContainerd();
    const pinDir = `/sys/fs/bpf/palisade-test-${process.pid}`;
    let nc: NatsConnection;
    let db: DbClient;
    let controller: ControllerClient;
    let agent: ManagedProcess | undefined;
    let agentArgs: Parameters<Stack['agent']>[1];
    let allowedServer: Server;
    let deniedServer: Server;
    let allowedPort = 0;
    let deniedPort = 0;
    let nodeId = '';

    const withLogs = async <T>(
      what: string,
      probe: () => Promise<T | undefined | null | false>,
      ms = 30_000,
    ) => {
      try {
        return await waitFor(what, probe, ms);
      } catch (err) {
        // The agent's first complaints matter more than its last lines.
        const firstErrors = (agent?.output ?? '')
          .split('\n')
          .filter((l) => /"level":"(error|warn)"/.test(l) && !l.includes('could not forward an inventory'))
          .slice(0, 15)
          .join('\n');
        throw new Error(
          `${(err as Error).message}\n--- agent's first errors\n${firstErrors}\n${stack.logs()}\n--- containerd\n${containerd.log()}`,
        );
      }
    };

    /** Runs a shell script inside a container; resolves with its exit code and output (never throws). */
    let execSeq = 0;
    async function inContainer(id: string, script: string): Promise<{ code: number; out: string }> {
      try {
        const out = await containerd.ctr(
          NS,
          'task',
          'exec',
          '--exec-id',
          `t${execSeq++}`,
          id,
          'sh',
          '-c',
          script,
        );
        return { code: 0, out };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
      }
    }

    const listen = () =>
      new Promise<[Server, number]>((resolve) => {
        // A client that goes away early (nc -w) resets the connection: not an error of ours.
        const s = createServer((sock) => sock.on('error', () => {}).end('hello\n')).listen(
          0,
          '127.0.0.1',
          () => {
            resolve([s, (s.address() as { port: number }).port]);
          },
        );
      });
    /** A TCP connect from the host (the test process): must never be affected. */
    const hostConnects = (port: number) =>
      new Promise<boolean>((resolve) => {
        const sock = new Socket();
        sock.once('connect', () => {
          sock.destroy();
          resolve(true);
        });
        sock.once('error', () => resolve(false));
        sock.connect(port, '127.0.0.1');
      });

    async function policy(): Promise<ClusterPolicy> {
      return controller.call({ op: 'policy.get', actor, cluster: CLUSTER });
    }
    async function setWebGroup(group: Partial<GroupInput>): Promise<ClusterPolicy> {
      const current = await policy();
      const web: GroupInput = {
        name: 'web',
        selector: { name: WEB },
        modes: { process: 'protect', file: 'protect', network: 'protect' },
        process: [{ path: '/bin/busybox', action: 'allow' }],
        file: [],
        network: [{ to: '127.0.0.1/32', ports: [allowedPort], protocol: 'tcp', action: 'allow' }],
        ...group,
      };
      const next = await controller.call({
        op: 'policy.set',
        actor,
        cluster: CLUSTER,
        policy: { ...current, groups: [web as never] },
      });
      await enforcing(next.revision);
      return next;
    }
    /** Waits until the agent reports it enforces `revision` on the web container. */
    async function enforcing(revision: number) {
      await withLogs(`the agent to enforce policy revision ${revision}`, async () => {
        const node = await db.node.findUnique({ where: { id: nodeId } });
        const e = node?.enforcement as {
          policyRevision?: number;
          workloads?: Array<{ containerId: string; group: string }>;
        } | null;
        return (
          e?.policyRevision === revision &&
          e.workloads?.some((w) => w.containerId === WEB && w.group === 'web')
        );
      });
    }
    const eventsOf = (type: string) =>
      db.event.findMany({ where: { cluster: CLUSTER, containerId: WEB, type }, orderBy: { id: 'asc' } });

    beforeAll(async () => {
      [allowedServer, allowedPort] = await listen();
      [deniedServer, deniedPort] = await listen();
      await containerd.start();
      await containerd.importBusyboxImage(NS);
      // Host networking so the container reaches the test's servers on 127.0.0.1.
      for (const id of [WEB, OTHER])
        await containerd.ctr(NS, 'run', '-d', '--net-host', BUSYBOX_IMAGE, id, 'sleep', '600');
      // Files the rules talk about: /etc/passwd, and copies of busybox with inodes of their own.
      for (const id of [WEB, OTHER]) {
        const prep = await inContainer(
          id,
          // busybox picks its applet from argv[0], so each copy is named "true" in a directory of its own.
          'mkdir -p /etc /tmp /opt/forbidden /opt/learned /opt/new && echo root:x:0:0::/root:/bin/sh > /etc/passwd && ' +
            '/bin/busybox cp /bin/busybox /opt/forbidden/true && /bin/busybox cp /bin/busybox /opt/learned/true',
        );
        expect(prep.code, prep.out).toBe(0);
      }
      await stack.start();
      nc = await connect({ servers: stack.natsUrl });
      controller = new ControllerClient(nc, 5000);
      db = createDbClient(stack.databaseUrl);
      await controller.call({ op: 'cluster.create', actor, name: CLUSTER });
      const { token } = await controller.call({ op: 'token.create', actor, cluster: CLUSTER });
      const stateDir = join(stack.dir, 'agent');
      await mkdir(stateDir, { recursive: true });
      agentArgs = {
        stateDir,
        cluster: CLUSTER,
        joinToken: token,
        containerdSocket: containerd.socket,
        bpfPinDir: pinDir,
      };
      agent = stack.agent('agent', agentArgs);
      await agent.waitForOutput(/agent running/, 60_000);
      const node = await withLogs('the node to report its enforcement', async () =>
        db.node.findFirst({ where: { cluster: CLUSTER, NOT: { enforcement: { equals: null as never } } } }),
      );
      nodeId = node.id;
    }, 180_000);

    afterAll(async () => {
      try {
        await nc?.close().catch(() => {});
        await db?.$disconnect().catch(() => {});
        await stack.stop();
        allowedServer?.close();
        deniedServer?.close();
      } finally {
        await containerd.stop();
        // Whatever a failed step left behind.
        try {
          execFileSync(process.execPath, [
            ...AGENT_NODE_FLAGS,
            join(ROOT, 'agents/enforcer/dist/main.js'),
            'uninstall',
            '--bpf-pin-dir',
            pinDir,
          ]);
        } catch {}
      }
    }, 60_000);

    it('reports the kernel back-end it chose by trying, with the mechanism per rule kind', async () => {
      const node = await db.node.findUnique({ where: { id: nodeId } });
      const e = node?.enforcement as {
        backend: string;
        reason: string;
        mechanisms: Record<string, string[]>;
      };
      // This VM's kernel refuses BPF LSM programs (see ENVIRONMENT.md): the fallback must be chosen, and say why.
      expect(e.backend).toBe('fallback');
      expect(e.reason).toMatch(/bpf-lsm: program load refused/);
      expect(e.mechanisms.process).toEqual(expect.arrayContaining(['fanotify', 'tp_btf-kill']));
      expect(e.mechanisms.file).toContain('fanotify');
      expect(e.mechanisms.network).toContain('cgroup-connect');
    });

    it('Protect: blocks a non-allowed binary, a write to /etc/passwd and a non-allowed connect; allowed ones work', async () => {
      await setWebGroup({});
      const denied = await inContainer(WEB, '/opt/forbidden/true');
      expect(denied.code).not.toBe(0);
      expect(denied.out).toMatch(/Permission denied|not permitted/i);
      expect((await inContainer(WEB, '/bin/busybox true && echo ran')).out).toContain('ran');
      const write = await inContainer(WEB, 'echo evil:x:0:0::/:/bin/sh >> /etc/passwd');
      expect(write.code).not.toBe(0);
      expect(write.out).toMatch(/Permission denied|not permitted/);
      expect((await inContainer(WEB, '/bin/busybox cat /etc/passwd')).out).toContain('root:x:0:0');
      expect((await inContainer(WEB, 'echo scratch > /tmp/scratch && echo wrote')).out).toContain('wrote');
      const blocked = await inContainer(WEB, `/bin/busybox nc -w 2 127.0.0.1 ${deniedPort} < /dev/null`);
      expect(blocked.code).not.toBe(0);
      expect(blocked.out).toMatch(/not permitted/i);
      expect(
        (await inContainer(WEB, `/bin/busybox nc -w 2 127.0.0.1 ${allowedPort} < /dev/null`)).out,
      ).toContain('hello');

      // The other container (no group: the default Discover policy) and the host are unaffected.
      expect((await inContainer(OTHER, '/opt/forbidden/true && echo ran')).out).toContain('ran');
      expect((await inContainer(OTHER, 'echo x >> /etc/passwd && echo wrote')).out).toContain('wrote');
      expect(await hostConnects(deniedPort)).toBe(true);

      for (const type of ['security.process.denied', 'security.file.denied', 'security.network.denied']) {
        const rows = await withLogs(`a ${type} event`, async () => {
          const r = await eventsOf(type);
          return r.length > 0 ? r : undefined;
        });
        expect(rows[0]?.severity).toBe('high');
      }
      const proc = (await eventsOf('security.process.denied'))[0]?.data as {
        path?: string;
        mechanism: string;
      };
      expect(proc.mechanism).toBe('fanotify');
      expect(proc.path).toContain('/opt/forbidden/true');
      const net = (await eventsOf('security.network.denied'))[0]?.data as { dport?: number; daddr?: string };
      expect(net).toMatchObject({ dport: deniedPort, daddr: '127.0.0.1' });
    });

    it('covers a nested cgroup inside the container (Protect still blocks there)', async () => {
      const tasks = await containerd.tasks(NS);
      const hostPid = tasks.get(WEB)?.pid;
      if (!hostPid) throw new Error('web task not running');
      const cgroupRoot = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' '))
        .find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
      if (!cgroupRoot) throw new Error('no cgroup2 mount');
      const containerCgroup = readFileSync(`/proc/${hostPid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('0::'))
        ?.slice(3);
      const nested = join(cgroupRoot, containerCgroup ?? '/nonexistent', 'palisade-nested');
      mkdirSync(nested, { recursive: true });
      const root = `/proc/${hostPid}/root`;
      rmSync(`${root}/tmp/go`, { force: true });
      // A process of the container that waits, is moved into the nested cgroup, then tries the exec.
      const run = inContainer(
        WEB,
        'echo $$ > /tmp/nested.pid; while [ ! -e /tmp/go ]; do sleep 0.1; done; /opt/forbidden/true; echo rc=$?',
      );
      try {
        const inner = await withLogs(
          'the waiting process',
          async () => Number(readFileSync(`${root}/tmp/nested.pid`, 'utf8').trim()) || undefined,
        ).catch(() => undefined);
        // Its host pid: the process whose innermost namespace pid is `inner` and that is in the container.
        const host = readdirSync('/proc')
          .filter((d) => /^\d+$/.test(d))
          .find((d) => {
            try {
              const ns = /NSpid:\s+([\d\s]+)/
                .exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]
                ?.trim()
                .split(/\s+/);
              return (
                ns &&
                ns.length > 1 &&
                Number(ns[ns.length - 1]) === inner &&
                readFileSync(`/proc/${d}/cgroup`, 'utf8').includes(containerCgroup ?? '')
              );
            } catch {
              return false;
            }
          });
        if (!host) throw new Error(`host pid of container pid ${inner} not found`);
        writeFileSync(join(nested, 'cgroup.procs'), host);
        expect(readFileSync(`/proc/${host}/cgroup`, 'utf8')).toContain('palisade-nested');
        writeFileSync(`${root}/tmp/go`, '');
        const result = await run;
        // 126: the shell could not execute it (EPERM from the fanotify handler); stderr is not captured here.
        expect(result.out).toContain('rc=126');
      } finally {
        writeFileSync(`${root}/tmp/go`, '');
        await run;
        await withLogs(
          'the nested cgroup to empty',
          async () => {
            try {
              rmdirSync(nested);
              return true;
            } catch {
              return false;
            }
          },
          10_000,
        );
      }
    });

    it('Monitor: the same actions succeed and raise alerts', async () => {
      await setWebGroup({ modes: { process: 'monitor', file: 'monitor', network: 'monitor' } });
      expect((await inContainer(WEB, '/opt/forbidden/true && echo ran')).out).toContain('ran');
      expect(
        (await inContainer(WEB, `/bin/busybox nc -w 2 127.0.0.1 ${deniedPort} < /dev/null`)).out,
      ).toContain('hello');
      expect((await inContainer(WEB, 'echo monitored >> /etc/passwd && echo wrote')).out).toContain('wrote');
      for (const type of ['security.process.alert', 'security.file.alert', 'security.network.alert']) {
        await withLogs(`a ${type} event`, async () => (await eventsOf(type)).length > 0);
      }
    });

    it('Discover: learns what the container does; in Protect the learned behaviour works and new behaviour is blocked', async () => {
      const before = await setWebGroup({
        modes: { process: 'discover', file: 'discover', network: 'discover' },
      });
      expect((await inContainer(WEB, '/opt/learned/true && echo ran')).out).toContain('ran');
      expect(
        (await inContainer(WEB, `/bin/busybox nc -w 2 127.0.0.1 ${deniedPort} < /dev/null`)).out,
      ).toContain('hello');
      const learned = await withLogs('the controller to add the learned rules', async () => {
        const p = await policy();
        const web = p.groups.find((g) => g.name === 'web');
        const hasExec = web?.process.some((r) => r.path === '/opt/learned/true' && r.action === 'allow');
        const hasNet = web?.network.some((r) => r.ports !== 'any' && r.ports.includes(deniedPort));
        return p.revision > before.revision && hasExec && hasNet ? p : undefined;
      });
      // Switch the learned group to Protect, keeping its (learned) rules.
      const web = learned.groups.find((g) => g.name === 'web');
      const next = await controller.call({
        op: 'policy.set',
        actor,
        cluster: CLUSTER,
        policy: {
          ...learned,
          groups: [
            {
              ...(web as NonNullable<typeof web>),
              modes: { process: 'protect', file: 'protect', network: 'protect' },
            },
          ],
        },
      });
      await enforcing(next.revision);
      expect((await inContainer(WEB, '/opt/learned/true && echo ran')).out).toContain('ran');
      expect(
        (await inContainer(WEB, `/bin/busybox nc -w 2 127.0.0.1 ${deniedPort} < /dev/null`)).out,
      ).toContain('hello');
      // Never seen in Discover: blocked now.
      expect(
        (await inContainer(WEB, '/bin/busybox cp /bin/busybox /opt/new/true && /opt/new/true')).out,
      ).toMatch(/Permission denied|not permitted/i);
    });

    it('keeps enforcing across an agent restart (network pinned in the kernel; exec back after re-start)', async () => {
      const revision = (await policy()).revision;
      await agent?.kill('SIGKILL');
      // The pinned cgroup/connect programs keep denying while no agent runs (a port never learned).
      const unlearned = await listen();
      const downConnect = await inContainer(
        WEB,
        `/bin/busybox nc -w 2 127.0.0.1 ${unlearned[1]} < /dev/null`,
      );
      unlearned[0].close();
      expect(downConnect.out).toMatch(/not permitted/i);
      agent = stack.agent('agent-restarted', { ...agentArgs, joinToken: undefined });
      await agent.waitForOutput(/agent running/, 60_000);
      await enforcing(revision);
      expect((await inContainer(WEB, '/opt/forbidden/true')).out).toMatch(/Permission denied|not permitted/i);
    });

    it('keeps security events on the node while the hub is unreachable and delivers them once it is back', async () => {
      await enforcing((await policy()).revision);
      const denied = async () =>
        (await eventsOf('security.process.denied')).filter((e) =>
          JSON.stringify(e.data).includes('/opt/forbidden/true'),
        ).length;
      const before = await denied();
      const spoolFile = join(agentArgs.stateDir, 'spool', 'observations.ndjson');
      await stack.nats?.kill('SIGKILL');
      // The kernel and the agent's handler decide locally: still blocked without a hub.
      expect((await inContainer(WEB, '/opt/forbidden/true')).out).toMatch(/Permission denied|not permitted/i);
      const kept = await withLogs('the agent to keep the security event on disk', async () => {
        const text = existsSync(spoolFile) ? readFileSync(spoolFile, 'utf8') : '';
        return text.includes('"kind":"security"') && text.includes('/opt/forbidden/true') ? text : false;
      });
      // The node's credential is not copied into the spool (the agent adds it when it sends).
      const { credential } = JSON.parse(readFileSync(join(agentArgs.stateDir, 'credential.json'), 'utf8'));
      expect(kept).not.toContain(credential);
      await stack.startNats();
      await withLogs(
        'the kept event to reach the hub and the spool to empty',
        async () => (await denied()) > before && !existsSync(spoolFile),
        60_000,
      );
      // Delivered once: nothing replays it again.
      const delivered = await denied();
      await new Promise((r) => setTimeout(r, 2500));
      expect(await denied()).toBe(delivered);
    });

    it('uninstall removes every program, link and pin of ours', async () => {
      await agent?.kill('SIGTERM');
      // Our programs are the ones pinned in our pin directory (other installs may run on this host).
      const pinned = readdirSync(pinDir).filter((f) => f.startsWith('prog_'));
      expect(pinned.length).toBeGreaterThan(0);
      const ours = pinned.map(
        (f) =>
          (
            JSON.parse(
              execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', join(pinDir, f)]).toString(),
            ) as { id: number }
          ).id,
      );
      const out = execFileSync(process.execPath, [
        ...AGENT_NODE_FLAGS,
        join(ROOT, 'agents/enforcer/dist/main.js'),
        'uninstall',
        '--bpf-pin-dir',
        pinDir,
      ]).toString();
      expect(out).toContain('removed');
      expect(existsSync(pinDir)).toBe(false);
      // The kernel frees detached programs and links asynchronously (well under a second here).
      const left = () => {
        const progs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show']).toString()) as Array<{
          id: number;
        }>;
        const links = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show']).toString()) as Array<{
          prog_id: number;
        }>;
        return [
          ...progs.filter((p) => ours.includes(p.id)),
          ...links.filter((l) => ours.includes(l.prog_id)),
        ];
      };
      await withLogs('our programs and links to be gone', async () => left().length === 0, 10_000);
      expect(
        (await inContainer(WEB, `/bin/busybox nc -w 2 127.0.0.1 ${deniedPort} < /dev/null`)).out,
      ).toContain('hello');
    });
  });
}
