#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { ControllerClient } from '@palisade/api';
import { Ed25519PublicJwk, importVerifyKey } from '@palisade/auth';
import { createDbClient } from '@palisade/db';
import { VulnDbStore } from '@palisade/scanner';
import type { CryptoKey } from 'jose';
import { z } from 'zod';
import { type Logger, ScannerService, serve } from './service.js';

const USAGE = `usage: palisade-scanner --db-dir DIR --trust-key FILE [--trust-key FILE ...]
                        [--nats URL] [--database-url URL] [--work-dir DIR]

  --db-dir     where "palisade db import" installs the signed vulnerability DB (reloaded when it changes)
  --trust-key  an Ed25519 public JWK allowed to sign vulnerability DB bundles`;

const Options = z.object({
  'db-dir': z.string().min(1),
  'trust-key': z.array(z.string()).min(1, 'at least one --trust-key is required'),
  nats: z.string().default(process.env.PALISADE_NATS_URL ?? 'nats://127.0.0.1:4222'),
  'database-url': z
    .string()
    .default(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/palisade'),
  'work-dir': z.string().optional(),
  'reload-interval-ms': z.coerce.number().int().min(100).default(10_000),
});

const log: Logger = (level, msg, fields) =>
  process.stdout.write(
    `${JSON.stringify({ t: new Date().toISOString(), level, component: 'scanner', msg, ...fields })}\n`,
  );

function parseOptions() {
  try {
    const { values } = parseArgs({
      options: {
        'db-dir': { type: 'string' },
        'trust-key': { type: 'string', multiple: true },
        nats: { type: 'string' },
        'database-url': { type: 'string' },
        'work-dir': { type: 'string' },
        'reload-interval-ms': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const parsed = Options.safeParse({ ...values, 'trust-key': values['trust-key'] ?? [] });
    if (!parsed.success)
      throw new Error(parsed.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('; '));
    return parsed.data;
  } catch (err) {
    console.error(`palisade-scanner: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

async function readTrustedKey(path: string) {
  const parsed = Ed25519PublicJwk.safeParse(JSON.parse(await readFile(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} is not an Ed25519 public JWK`);
  return parsed.data;
}

async function main() {
  const options = parseOptions();
  const trusted = await Promise.all(options['trust-key'].map(readTrustedKey));
  const store = new VulnDbStore(options['db-dir'], trusted);
  const db = createDbClient(options['database-url']);
  const nc = await connect({
    servers: options.nats,
    name: 'palisade-scanner',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
  const controller = new ControllerClient(nc);
  let hubKey: Promise<CryptoKey> | undefined;
  const getHubKey = () => {
    hubKey ??= controller.call({ op: 'auth.sessionKey' }).then((r) => importVerifyKey(r.jwk));
    hubKey.catch(() => {
      hubKey = undefined;
    });
    return hubKey;
  };
  const service = new ScannerService(store, db, getHubKey, log, {
    ...(options['work-dir'] ? { workDir: options['work-dir'] } : {}),
  });
  const reload = () =>
    service.reload().catch((err: Error) => log('error', 'vulnerability DB refused', { error: err.message }));
  await reload();
  const reloader = setInterval(reload, options['reload-interval-ms']);
  const stop = new AbortController();
  const serving = serve(nc, service, log, stop.signal);
  await nc.flush();
  log('info', 'scanner ready', { dbSequence: service.db?.sequence ?? null });

  const shutdown = async () => {
    clearInterval(reloader);
    stop.abort();
    await nc.drain().catch(() => {});
    await serving.catch(() => {});
    await db.$disconnect();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

main().catch((err: Error) => {
  console.error(`palisade-scanner: ${err.message}`);
  process.exit(1);
});
