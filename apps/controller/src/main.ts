#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { createDbClient } from '@palisade/db';
import { z } from 'zod';
import { EventLoopWatch } from './eventLoop.js';
import { Hub } from './hub.js';
import { ObservationIngest, sweepOffline } from './ingest.js';
import type { CommandLog } from './log/commandLog.js';
import { LocalLog } from './log/localLog.js';
import { lockStateDir } from './log/stateLock.js';
import { DropCounter, jsonLogger } from './logger.js';
import { RaftLog } from './raft/raftLog.js';
import {
  consumeObservations,
  learnedForwarder,
  policyPublisher,
  serveRequests,
  serveStatus,
} from './service.js';

const USAGE = `usage: palisade-controller --state-dir DIR [--nats URL] [--database-url URL] [--id NAME]
                           [--heartbeat-interval-ms N] [--offline-after-ms N]
                           [--raft-id N --raft-peers 1=HOST:PORT,2=HOST:PORT,3=HOST:PORT]

  Without --raft-id the controller runs alone on a local write-ahead log. With it, it is one of the
  3 or 5 Raft replicas listed in --raft-peers (the same list on every replica); only the leader serves
  console and enrollment requests, every replica ingests observations.`;

const Options = z.object({
  'state-dir': z.string().min(1),
  nats: z.string().default(process.env.PALISADE_NATS_URL ?? 'nats://127.0.0.1:4222'),
  'database-url': z
    .string()
    .default(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/palisade'),
  id: z.string().default(`${hostname()}-${randomBytes(3).toString('hex')}`),
  'heartbeat-interval-ms': z.coerce.number().int().min(100).max(300_000).default(5000),
  'offline-after-ms': z.coerce.number().int().min(300).max(3_600_000).optional(),
  'raft-id': z.coerce.number().int().min(1).max(1000).optional(),
  'raft-peers': z.string().optional(),
  'raft-tick-ms': z.coerce.number().int().min(5).max(1000).default(100),
});

/** Parses `1=host:port,2=host:port`; every replica gets the same list. */
export function parsePeers(text: string): Map<number, { host: string; port: number }> {
  const peers = new Map<number, { host: string; port: number }>();
  for (const part of text.split(',').filter(Boolean)) {
    const m = part.trim().match(/^(\d+)=([^:\s]+):(\d+)$/);
    if (!m) throw new Error(`--raft-peers: "${part}" is not ID=HOST:PORT`);
    peers.set(Number(m[1]), { host: m[2] as string, port: Number(m[3]) });
  }
  if (peers.size !== 3 && peers.size !== 5) throw new Error('--raft-peers: run 3 or 5 controllers');
  return peers;
}

function parseOptions() {
  try {
    const { values } = parseArgs({
      options: {
        'state-dir': { type: 'string' },
        nats: { type: 'string' },
        'database-url': { type: 'string' },
        id: { type: 'string' },
        'heartbeat-interval-ms': { type: 'string' },
        'offline-after-ms': { type: 'string' },
        'raft-id': { type: 'string' },
        'raft-peers': { type: 'string' },
        'raft-tick-ms': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const parsed = Options.safeParse(values);
    if (!parsed.success)
      throw new Error(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
    return parsed.data;
  } catch (err) {
    console.error(`palisade-controller: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

async function main() {
  const options = parseOptions();
  const log = jsonLogger('controller');
  const heartbeatIntervalMs = options['heartbeat-interval-ms'];
  const offlineAfterMs = options['offline-after-ms'] ?? heartbeatIntervalMs * 3;

  await mkdir(options['state-dir'], { recursive: true, mode: 0o700 });
  const unlock = await lockStateDir(options['state-dir']);
  const raftId = options['raft-id'];
  let raftLog: RaftLog | undefined;
  let commandLog: CommandLog;
  if (raftId !== undefined) {
    if (!options['raft-peers']) throw new Error('--raft-id needs --raft-peers');
    const peers = parsePeers(options['raft-peers']);
    const listen = peers.get(raftId);
    if (!listen) throw new Error(`--raft-peers does not list this controller's id ${raftId}`);
    raftLog = await RaftLog.open({
      id: raftId,
      dir: join(options['state-dir'], 'raft'),
      peers,
      listen,
      voters: [...peers.keys()],
      tickMs: options['raft-tick-ms'],
      log,
    });
    commandLog = raftLog;
  } else {
    commandLog = await LocalLog.open(options['state-dir'], (msg) => log('warn', msg));
  }
  const db = createDbClient(options['database-url']);
  // The database client compiles its query engine (WebAssembly) on first use, ~170 ms of one task:
  // do it now, not in the middle of serving (found by bench:raft as a follower event-loop stall).
  await db.$queryRaw`SELECT 1`.catch((err: Error) =>
    log('warn', 'database not reachable at start; continuing', { error: err.message }),
  );
  // Its WebAssembly is compiled lazily, function by function, as query shapes are first used: the
  // offline sweep's query (every second on every replica) compiled ~40 ms of it in the middle of a
  // follower's catch-up. Sweep once now (what the sweeper would do a second later anyway).
  await sweepOffline(db, offlineAfterMs, log).catch(() => {});
  const drops = new DropCounter(log);
  let ingest: ObservationIngest | undefined;
  // Started once the controller is ready: start-up work (module loading, key import) is not a stall.
  const eventLoop = new EventLoopWatch();
  let publishPolicy: ((cluster: string, signed: string) => Promise<void>) | undefined;
  const hub = new Hub(commandLog, db, log, {
    id: options.id,
    heartbeatIntervalMs,
    stats: () => ({ dropped: Object.fromEntries(drops.counts), observationsAccepted: ingest?.accepted ?? 0 }),
    ...(raftId !== undefined ? { raftId } : {}),
    eventLoop,
    publishPolicy: (cluster, signed) => {
      if (!publishPolicy) return Promise.reject(new Error('not connected to NATS yet'));
      return publishPolicy(cluster, signed);
    },
  });
  // Replicated: the first leader bootstraps the hub; the others wait until they have applied it.
  while (raftLog && !commandLog.state.isBootstrapped()) {
    if (raftLog.status().leaderReady) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const firstAdmin = await hub.bootstrap();
  if (firstAdmin) {
    const path = join(options['state-dir'], 'initial-admin.json');
    await writeFile(path, `${JSON.stringify(firstAdmin, null, 2)}\n`, { mode: 0o600 });
    log('info', 'created the first admin; the generated password is in the credentials file', {
      username: firstAdmin.username,
      credentialsFile: path,
    });
  }

  const nc = await connect({
    servers: options.nats,
    name: `palisade-controller-${options.id}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') log('info', `nats ${s.type}`);
    }
  })();

  ingest = new ObservationIngest(
    db,
    () => commandLog.state,
    () => hub.signingKeys(),
    log,
    drops,
  );
  ingest.forwardLearned = learnedForwarder(nc);
  publishPolicy = policyPublisher(nc);
  serveStatus(nc, hub);
  // Only a leader that has applied everything committed serves requests: writes need the leader, and
  // reads then see every acknowledged write. Followers leave the queue group.
  let serving: { stop(): void } | undefined;
  // The term in which this replica, as leader, had applied everything committed: it serves from then
  // until it stops being that term's leader (applied may trail commit for a moment under load).
  let readyTerm = -1;
  const followLeadership = () => {
    const st = raftLog?.status();
    if (st?.role === 'leader' && st.leaderReady) readyTerm = st.term;
    const lead = !st || (st.role === 'leader' && st.term === readyTerm);
    if (lead && !serving) {
      serving = serveRequests(nc, hub, drops, log);
      hub
        .publishAllPolicies()
        .catch((err: Error) =>
          log('error', 'could not publish policies on taking over', { error: err.message }),
        );
      if (raftLog) log('info', 'serving requests as the leader', { raftId, term: raftLog.status().term });
    } else if (!lead && serving) {
      serving.stop();
      serving = undefined;
      log('info', 'no longer the leader: stopped serving requests', { raftId });
    }
  };
  followLeadership();
  const leadership = raftLog ? setInterval(followLeadership, 50) : undefined;
  const stop = new AbortController();
  const consuming = consumeObservations(nc, ingest, log, stop.signal);
  const sweeper = setInterval(
    () => {
      sweepOffline(db, offlineAfterMs, log).catch((err: Error) =>
        log('error', 'offline sweep failed', { error: err.message }),
      );
    },
    Math.min(1000, heartbeatIntervalMs),
  );
  await nc.flush();
  eventLoop.start();
  log('info', 'controller ready', {
    id: options.id,
    nats: options.nats,
    heartbeatIntervalMs,
    offlineAfterMs,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping', { signal });
    clearInterval(sweeper);
    if (leadership) clearInterval(leadership);
    stop.abort();
    await nc.drain().catch(() => {});
    await consuming.catch(() => {});
    await commandLog.close();
    await unlock();
    await db.$disconnect();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: Error) => {
  console.error(`palisade-controller: ${err.name === 'CorruptLogError' ? '' : 'fatal: '}${err.message}`);
  process.exit(1);
});
