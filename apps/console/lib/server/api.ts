import { connect } from '@nats-io/transport-node';

type ApiModule = typeof import('@palisade/api');
type ContextFactory = ReturnType<ApiModule['createContextFactory']>;

/** The server side of the API, as Node loads it from node_modules (never bundled). */
export interface ServerModules {
  api: ApiModule;
  adapter: typeof import('@trpc/server/adapters/fetch');
  trpc: typeof import('@trpc/server');
}

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
const holder = globalThis as typeof globalThis & {
  __palisadeContextFactory?: Promise<ContextFactory>;
  __palisadeServerModules?: Promise<ServerModules>;
};

/**
 * Loaded by Node at run time, never bundled: @palisade/api and the packages it imports (@palisade/db
 * with its generated Prisma client and migration files, @palisade/auth, @palisade/protocol) are
 * workspace packages, i.e. symlinks out of node_modules, which Turbopack bundles despite
 * serverExternalPackages — and the Prisma/migration code cannot run bundled. tRPC's server comes from
 * the same place so that the router, its errors (`instanceof TRPCError`) and the fetch adapter are one
 * copy.
 */
export function serverModules(): Promise<ServerModules> {
  if (!holder.__palisadeServerModules) {
    const pending = Promise.all([
      import(/* webpackIgnore: true */ '@palisade/api') as Promise<ApiModule>,
      import(/* webpackIgnore: true */ '@trpc/server/adapters/fetch') as Promise<ServerModules['adapter']>,
      import(/* webpackIgnore: true */ '@trpc/server') as Promise<ServerModules['trpc']>,
    ]).then(([api, adapter, trpc]) => ({ api, adapter, trpc }));
    holder.__palisadeServerModules = pending;
    pending.catch(() => {
      if (holder.__palisadeServerModules === pending) holder.__palisadeServerModules = undefined;
    });
  }
  return holder.__palisadeServerModules;
}

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
  const { api } = await serverModules();
  return api.createContextFactory({ nats, db, agentNatsUrl, secureCookies });
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
