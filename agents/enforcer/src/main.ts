#!/usr/bin/env -S node --lite-mode --max-semi-space-size=1
// The flags above are AGENT_NODE_FLAGS (nodeFlags.ts; a test keeps the two equal).
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { DEFAULT_PIN_DIR, uninstallBpf } from '@palisade/native';
import { ClusterName } from '@palisade/protocol';
import { z } from 'zod';
import { Agent, EnrollmentRefused, type Log } from './agent.js';
import { DEFAULT_CONTAINERD_SOCKET } from './containerd/index.js';

const USAGE = `usage: palisade-enforcer --state-dir DIR [--nats URL] [--cluster NAME] [--join-token TOKEN]
                         [--containerd-socket PATH] [--hostname NAME] [--no-forward-inventories]
                         [--no-enforce] [--bpf-pin-dir DIR]
       palisade-enforcer uninstall [--bpf-pin-dir DIR]

  uninstall removes every eBPF program, link and pin of ours (enforcement stops on this node).

  --join-token is needed only for the first start (or set PALISADE_JOIN_TOKEN); the credential the
  hub returns is kept in --state-dir and used on every later start.`;

const Options = z.object({
  'state-dir': z
    .string()
    .min(1)
    .default(process.env.PALISADE_AGENT_STATE_DIR ?? '/var/lib/palisade/agent'),
  nats: z
    .string()
    .min(1)
    .default(process.env.PALISADE_NATS_URL ?? 'nats://127.0.0.1:4222'),
  cluster: ClusterName.optional(),
  'join-token': z.string().min(1).optional(),
  'containerd-socket': z
    .string()
    .default(process.env.PALISADE_CONTAINERD_SOCKET ?? DEFAULT_CONTAINERD_SOCKET),
  hostname: z.string().min(1).max(253).optional(),
  'inventory-interval-ms': z.coerce.number().int().min(200).max(3_600_000).default(15_000),
  'no-forward-inventories': z.boolean().default(false),
  'no-enforce': z.boolean().default(false),
  'bpf-pin-dir': z.string().startsWith('/').optional(),
});

const log: Log = (level, msg, fields) =>
  process.stdout.write(
    `${JSON.stringify({ t: new Date().toISOString(), level, component: 'enforcer', msg, ...fields })}\n`,
  );

function parseOptions() {
  try {
    const { values, positionals } = parseArgs({
      options: {
        'state-dir': { type: 'string' },
        nats: { type: 'string' },
        cluster: { type: 'string' },
        'join-token': { type: 'string' },
        'containerd-socket': { type: 'string' },
        hostname: { type: 'string' },
        'inventory-interval-ms': { type: 'string' },
        'no-forward-inventories': { type: 'boolean' },
        'no-enforce': { type: 'boolean' },
        'bpf-pin-dir': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    if (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== 'uninstall')) {
      throw new Error(`unknown command: ${positionals.join(' ')}`);
    }
    const parsed = Options.safeParse({
      ...values,
      'join-token': values['join-token'] ?? process.env.PALISADE_JOIN_TOKEN,
    });
    if (!parsed.success)
      throw new Error(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
    return { ...parsed.data, command: positionals[0] as 'uninstall' | undefined };
  } catch (err) {
    console.error(`palisade-enforcer: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

async function main() {
  const options = parseOptions();
  if (options.command === 'uninstall') {
    const dir = options['bpf-pin-dir'] ?? DEFAULT_PIN_DIR;
    const removed = uninstallBpf(dir);
    console.log(
      removed
        ? `removed Palisade's eBPF programs, links and pins under ${dir}`
        : `nothing of ours under ${dir}`,
    );
    return;
  }
  const nc = await connect({
    servers: options.nats,
    name: 'palisade-enforcer',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
  });
  const agent = new Agent(
    nc,
    {
      stateDir: options['state-dir'],
      cluster: options.cluster,
      joinToken: options['join-token'],
      containerdSocket: options['containerd-socket'],
      hostname: options.hostname,
      inventoryIntervalMs: options['inventory-interval-ms'],
      forwardInventories: !options['no-forward-inventories'],
      enforce: !options['no-enforce'],
      ...(options['bpf-pin-dir'] ? { bpfPinDir: options['bpf-pin-dir'] } : {}),
    },
    log,
  );
  const stop = new AbortController();
  const shutdown = async () => {
    stop.abort();
    agent.stop();
    await nc.drain().catch(() => {});
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  const identity = await agent.ensureEnrolled(stop.signal);
  if (!options['no-enforce']) await agent.startEnforcement();
  agent.run();
  log('info', 'agent running', { cluster: identity.cluster, nodeId: identity.nodeId, nats: options.nats });
}

main().catch((err: Error) => {
  if (err instanceof EnrollmentRefused) {
    console.error(`palisade-enforcer: the hub refused enrollment (${err.code}): ${err.message}`);
    process.exit(3);
  }
  console.error(`palisade-enforcer: ${err.message}`);
  process.exit(1);
});
