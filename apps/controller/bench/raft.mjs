#!/usr/bin/env node
// npm run bench:raft — three controller processes on loopback (fsync on, real PostgreSQL and NATS):
// committed writes/s and latency with concurrent clients, then failover time over repeated SIGKILLs
// of the leader (kill → first acknowledged write through the new leader), then a lagging follower
// brought up through a ~50 MB snapshot (time, the leader's memory growth, both event loops' longest
// stall). Prints figures and ends with one JSON line.
// Knobs: RAFT_BENCH_KILLS, _CLIENTS, _WRITE_SECONDS, _TICK_MS, _SNAPSHOT_MB; for investigating the
// follower's install: _VERBOSE, _PROFILE_DIR (CPU profile), _FOLLOWER_NODE_ARGS (e.g. --trace-gc),
// _FOLLOWER_LOG (its whole output to a file).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const { connect } = await import('@nats-io/transport-node');
const { ControllerClient } = await import('@palisade/api');
const { migrate } = await import('@palisade/db');
const pg = (await import('pg')).default;

const KILLS = Number(process.env.RAFT_BENCH_KILLS ?? 30);
const CLIENTS = Number(process.env.RAFT_BENCH_CLIENTS ?? 128);
const WRITE_SECONDS = Number(process.env.RAFT_BENCH_WRITE_SECONDS ?? 5);
const TICK_MS = Number(process.env.RAFT_BENCH_TICK_MS ?? 50);
const SNAPSHOT_MB = Number(process.env.RAFT_BENCH_SNAPSHOT_MB ?? 50);
const rssOf = (pid) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
};

const freePort = () =>
  new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))];
};
const round = (x) => Math.round(x * 10) / 10;

const dir = mkdtempSync(join(tmpdir(), 'palisade-bench-raft-'));
const children = [];
function run(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.out = '';
  child.stdout.on('data', (d) => (child.out += d));
  child.stderr.on('data', (d) => (child.out += d));
  children.push(child);
  return child;
}
const natsPort = await freePort();
const nats = run('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', join(dir, 'nats')]);
while (!nats.out.includes('Server is ready')) await sleep(50);
const dbName = `palisade_bench_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres' });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const dbUrl = `postgresql://postgres@127.0.0.1:5432/${dbName}`;
await migrate(dbUrl);

const ports = [await freePort(), await freePort(), await freePort()];
const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
const replicas = new Map();
function startReplica(id, nodeArgs = []) {
  const child = run(process.execPath, [
    ...nodeArgs,
    join(root, 'apps/controller/dist/main.js'),
    ...[
      '--state-dir',
      join(dir, `c${id}`),
      '--nats',
      `nats://127.0.0.1:${natsPort}`,
      '--database-url',
      dbUrl,
    ],
    ...[
      '--id',
      `bench-${id}`,
      '--raft-id',
      String(id),
      '--raft-peers',
      peers,
      '--raft-tick-ms',
      String(TICK_MS),
    ],
  ]);
  replicas.set(id, child);
  return child;
}
for (const id of [1, 2, 3]) startReplica(id);

const nc = await connect({
  servers: `nats://127.0.0.1:${natsPort}`,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 100,
});
const client = new ControllerClient(nc, 500);
const actor = { userId: 'bench', username: 'bench' };
async function leaderOf(expected = 3) {
  for (;;) {
    const s = await client.statuses(300).catch(() => []);
    const leader = s.find((c) => c.role === 'leader');
    if (leader && s.length >= expected) return { leader, all: s };
    await sleep(50);
  }
}

/** Kills a follower, writes ~SNAPSHOT_MB of desired state, restarts it and times its catch-up. */
async function snapshotCatchUp() {
  const { leader } = await leaderOf(3);
  const followerId = [1, 2, 3].find((id) => id !== leader.raftId);
  const follower = replicas.get(followerId);
  follower.kill('SIGKILL');
  await new Promise((r) =>
    follower.exitCode !== null || follower.signalCode !== null ? r() : follower.once('exit', r),
  );
  // Big records: 32 labels of 63 characters and a 500-character description, ~3 KB each as stored.
  const labels = Object.fromEntries(
    Array.from({ length: 32 }, (_, i) => [`label-${i}`, `${'v'.repeat(56)}${String(i).padStart(7, '0')}`]),
  );
  const description = 'd'.repeat(500);
  const perRecord =
    JSON.stringify({
      t: 'cluster',
      r: { name: 's-000000', description, labels, createdAt: new Date().toISOString(), createdBy: 'bench' },
    }).length + 1;
  const needed = Math.ceil((SNAPSHOT_MB * 2 ** 20) / perRecord) + 1000; // + one snapshot interval
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < needed) {
        const name = `s-${String(next++).padStart(6, '0')}`;
        for (;;) {
          try {
            await client.call({ op: 'cluster.create', actor, name, description, labels });
            break;
          } catch (err) {
            if (/already exists/.test(err.message)) break;
            await sleep(20);
          }
        }
      }
    }),
  );
  const { leader: now } = await leaderOf(2);
  const leaderProc = replicas.get(now.raftId);
  const target = now.appliedIndex;
  const bytes = now.snapshotBytes ?? 0;
  await sleep(1500); // let the leader's loop settle so its stall series shows only the catch-up
  const rssBase = rssOf(leaderProc.pid);
  let rssPeak = rssBase;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(leaderProc.pid))), 25);
  const startedAt = performance.now();
  // RAFT_BENCH_PROFILE_DIR: a CPU profile of the catching-up follower, to see where its time goes.
  const profileDir = process.env.RAFT_BENCH_PROFILE_DIR;
  // RAFT_BENCH_FOLLOWER_NODE_ARGS: extra node flags for it (e.g. --trace-gc).
  const extra = (process.env.RAFT_BENCH_FOLLOWER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  startReplica(followerId, [...extra, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])]);
  let firstAnswerAt;
  let caught;
  for (;;) {
    const all = await client.statuses(300).catch(() => []);
    const f = all.find((c) => c.raftId === followerId);
    if (f && firstAnswerAt === undefined) firstAnswerAt = performance.now();
    if (f && f.appliedIndex >= target) {
      caught = { at: performance.now(), follower: f, leader: all.find((c) => c.role === 'leader') };
      break;
    }
    await sleep(20);
  }
  clearInterval(sampler);
  if (process.env.RAFT_BENCH_VERBOSE) {
    const f = replicas.get(followerId);
    console.log(
      `follower started at ${new Date(Date.now() - (performance.now() - startedAt)).toISOString()}`,
    );
    if (process.env.RAFT_BENCH_FOLLOWER_LOG) writeFileSync(process.env.RAFT_BENCH_FOLLOWER_LOG, f.out);
    const interesting = /snapshot|ready|leader|term|Mark-Compact/i;
    for (const line of f.out
      .split('\n')
      .filter((l) => interesting.test(l))
      .slice(0, 40)) {
      console.log(`  ${line.slice(0, 240)}`);
    }
  }
  if (profileDir) {
    // The profile is written on a clean exit.
    const f = replicas.get(followerId);
    f.kill('SIGTERM');
    await new Promise((r) => (f.exitCode !== null ? r() : f.once('exit', r)));
  }
  // Stalls from the follower's first status answer on: its process start-up (module loading, WAL
  // replay) is not part of installing the snapshot.
  const seconds = Math.ceil((caught.at - firstAnswerAt) / 1000) + 1;
  const stall = (s) => Math.max(0, ...(s?.eventLoopMaxMsPerSecond ?? []).slice(-seconds));
  return {
    bytes,
    catchUpMs: caught.at - firstAnswerAt,
    sinceStartMs: caught.at - startedAt,
    leaderRssGrowth: rssPeak - rssBase,
    leaderRssPeak: rssPeak,
    leaderStallMs: stall(caught.leader),
    followerStallMs: stall(caught.follower),
  };
}

try {
  await leaderOf();
  // --- throughput: CLIENTS concurrent writers for WRITE_SECONDS ----------------------------------
  let seq = 0;
  const latencies = [];
  let errors = 0;
  const errorKinds = new Map();
  const deadline = performance.now() + WRITE_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          await client.call({ op: 'cluster.create', actor, name: `b-${seq++}` });
          latencies.push(performance.now() - t);
        } catch (err) {
          errors++;
          errorKinds.set(err.message.slice(0, 60), (errorKinds.get(err.message.slice(0, 60)) ?? 0) + 1);
        }
      }
    }),
  );
  const writesPerSecond = latencies.length / WRITE_SECONDS;
  console.log(
    `writes: ${round(writesPerSecond)} committed/s with ${CLIENTS} clients (fsync on), latency p50 ${round(pct(latencies, 50))} ms, p99 ${round(pct(latencies, 99))} ms, ${errors} errors`,
  );
  if (errors) console.log('errors:', Object.fromEntries(errorKinds));

  // --- failover: SIGKILL the leader KILLS times ---------------------------------------------------
  const failovers = [];
  for (let k = 0; k < KILLS; k++) {
    const { leader } = await leaderOf(3);
    const victim = replicas.get(leader.raftId);
    if (process.env.RAFT_BENCH_VERBOSE)
      console.log(`kill ${k + 1}: leader ${leader.raftId} term ${leader.term}`);
    const killedAt = performance.now();
    victim.kill('SIGKILL');
    for (;;) {
      try {
        await client.call({ op: 'cluster.create', actor, name: `f-${k}-${seq++}` });
        break;
      } catch {
        await sleep(5);
      }
    }
    failovers.push(performance.now() - killedAt);
    await new Promise((r) =>
      victim.exitCode !== null || victim.signalCode !== null ? r() : victim.once('exit', r),
    );
    startReplica(leader.raftId);
    // Wait for the restarted replica to catch up before the next kill.
    for (let waited = 0; ; waited++) {
      const s = await client.statuses(300).catch(() => []);
      if (s.length === 3 && new Set(s.map((c) => c.stateDigest)).size === 1) break;
      if (process.env.RAFT_BENCH_VERBOSE && waited % 20 === 0) {
        console.log(`  waiting: ${s.map((c) => `${c.raftId}:${c.role}:${c.appliedIndex}`).join(' ')}`);
      }
      await sleep(50);
    }
  }
  console.log(
    `failover over ${KILLS} SIGKILLs: p50 ${round(pct(failovers, 50))} ms, p99 ${round(pct(failovers, 99))} ms, max ${round(Math.max(...failovers))} ms (tick ${TICK_MS} ms, election timeout ${TICK_MS * 10}-${TICK_MS * 20} ms)`,
  );
  // --- snapshot catch-up: a follower misses ~SNAPSHOT_MB of state and comes back -------------------
  const snapshot = await snapshotCatchUp();
  console.log(
    `snapshot: follower caught up through a ${round(snapshot.bytes / 2 ** 20)} MiB snapshot in ${round(snapshot.catchUpMs)} ms (from its first status answer; process start to caught up ${round(snapshot.sinceStartMs)} ms); leader RSS +${round(snapshot.leaderRssGrowth / 2 ** 20)} MiB (peak ${round(snapshot.leaderRssPeak / 2 ** 20)} MiB); longest event-loop stall during catch-up: leader ${snapshot.leaderStallMs} ms, follower ${snapshot.followerStallMs} ms`,
  );
  const figures = {
    clients: CLIENTS,
    writesPerSecond: round(writesPerSecond),
    writeP50Ms: round(pct(latencies, 50)),
    writeP99Ms: round(pct(latencies, 99)),
    kills: KILLS,
    failoverP50Ms: round(pct(failovers, 50)),
    failoverP99Ms: round(pct(failovers, 99)),
    failoverTargetMs: 1500,
    failoverWithinTarget: pct(failovers, 99) <= 1500,
    writesTarget: 5000,
    writesWithinTarget: writesPerSecond >= 5000,
    snapshotBytes: snapshot.bytes,
    snapshotCatchUpMs: round(snapshot.catchUpMs),
    snapshotProcessStartToCaughtUpMs: round(snapshot.sinceStartMs),
    snapshotLeaderRssGrowthBytes: snapshot.leaderRssGrowth,
    snapshotLeaderStallMs: snapshot.leaderStallMs,
    snapshotFollowerStallMs: snapshot.followerStallMs,
    snapshotTargetMs: 3000,
    snapshotWithinTarget:
      snapshot.catchUpMs <= 3000 && Math.max(snapshot.leaderStallMs, snapshot.followerStallMs) <= 50,
  };
  console.log(JSON.stringify(figures));
} finally {
  await nc.close().catch(() => {});
  for (const c of children) c.kill('SIGKILL');
  await sleep(200);
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
