import { connect } from '@nats-io/transport-node';
import { createContextFactory } from '@palisade/api';

type ContextFactory = ReturnType<typeof createContextFactory>;

const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** Reads the server's settings from its environment (see README "Configuration"). */
export function serverSettings() {
  const natsUrl = process.env.PALISADE_NATS_URL || DEFAULT_NATS_URL;
  return {
    natsUrl,
    agentNatsUrl: process.env.PALISADE_AGENT_NATS_URL || natsUrl,
    secureCookies: process.env.PALISADE_SECURE_COOKIES === '1',
  };
}

// One NATS connection and one database pool per server process, shared by every request. Kept on
// globalThis so that module re-evaluation (dev mode, several route bundles) does not open more.
const holder = globalThis as typeof globalThis & { __palisadeContextFactory?: Promise<ContextFactory> };

async function build(): Promise<ContextFactory> {
  const { natsUrl, agentNatsUrl, secureCookies } = serverSettings();
  const nats = await connect({
    servers: natsUrl,
    name: 'palisade-console',
    maxReconnectAttempts: -1,
    // Come back quickly after a NATS restart; requests made meanwhile fail fast as 503.
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
  // Loaded by Node at run time, never bundled: @palisade/db is a workspace package (a symlink), which
  // Turbopack would otherwise bundle despite serverExternalPackages, and its generated Prisma client
  // and migration code expect to run from their own files.
  const { createDbClient } = (await import(
    /* webpackIgnore: true */ '@palisade/db'
  )) as typeof import('@palisade/db');
  // DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/palisade (see @palisade/db).
  const db = createDbClient();
  return createContextFactory({ nats, db, agentNatsUrl, secureCookies });
}

/** The per-request tRPC context factory, created on first use. A failed start is retried next time. */
export function contextFactory(): Promise<ContextFactory> {
  if (!holder.__palisadeContextFactory) {
    const pending = build();
    holder.__palisadeContextFactory = pending;
    pending.catch(() => {
      if (holder.__palisadeContextFactory === pending) holder.__palisadeContextFactory = undefined;
    });
  }
  return holder.__palisadeContextFactory;
}
