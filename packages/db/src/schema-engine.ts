// Prisma's schema engine (the migration engine behind `prisma migrate`), run as WebAssembly over
// `pg`. The Prisma 7 CLI needs a native schema-engine binary that it downloads on first use, which
// this project's machines cannot do; the Wasm build of the same engine is an ordinary npm package
// and talks to PostgreSQL through a driver adapter, so it works offline.
//
// Two fixes are applied to @prisma/adapter-pg 7.10 for the engine's use:
// - `executeScript` there splits a script on every `;` (breaking string literals and `$$` bodies)
//   and runs the pieces one by one on a pool. Here a whole migration script goes to PostgreSQL as
//   one simple-protocol query, which PostgreSQL runs as one implicit transaction: a migration
//   either applies completely or not at all (exactly what the native engine does).
// - the adapter rejects catalog column types such as `"char"` (pg_class.relkind), which the
//   engine's schema description reads; those columns are relabelled as text.
// Each connection the engine opens is a pool of exactly one client, so that its advisory lock
// (pg_advisory_lock(72707369), taken by applyMigrations) is held by the session that runs the
// migrations, and released when that session ends.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';
import * as bindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';
import { quoteIdent, withDatabase } from './url.js';

export type { SchemaEngine };

// The ES2024 lib without DOM has no WebAssembly types: just what is used here.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, object>) => { exports: Record<string, unknown> };
};

let wasmLoaded = false;

/** Instantiates the engine's Wasm module once per process (without Node's experimental Wasm ESM import). */
function loadWasm(): void {
  if (wasmLoaded) return;
  const require = createRequire(import.meta.url);
  const wasmPath = join(dirname(require.resolve('@prisma/schema-engine-wasm')), 'schema_engine_bg.wasm');
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const instance = new WebAssembly.Instance(module, {
    './schema_engine_bg.js': bindings,
  });
  bindings.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  wasmLoaded = true;
}

// PostgreSQL catalog types that @prisma/adapter-pg 7.10 refuses but that are plain text for the engine:
// "char", int2vector, regproc, xid, oidvector, pg_node_tree, aclitem, regclass, regtype.
const TEXT_OID = 25;
const CATALOG_TEXT_OIDS = new Set([18, 22, 24, 28, 30, 194, 1033, 2205, 2206]);

function relabelCatalogColumns(result: unknown): void {
  for (const r of Array.isArray(result) ? result : [result]) {
    const fields = (r as { fields?: Array<{ dataTypeID: number }> } | undefined)?.fields;
    for (const field of fields ?? []) {
      if (CATALOG_TEXT_OIDS.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
    }
  }
}

function enginePool(databaseUrl: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1, idleTimeoutMillis: 0 });
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const pending = query(...args);
    if (!(pending instanceof Promise)) return pending; // callback style: not used by the adapter
    return pending.then((result: unknown) => {
      relabelCatalogColumns(result);
      return result;
    });
  };
  pool.on('error', () => {
    // An idle client died (server restart, ...): the next query reports it.
  });
  return pool;
}

async function connectAdapter(pool: pg.Pool): Promise<SqlDriverAdapter> {
  const adapter = await new PrismaPg(pool).connect();
  const onError = (adapter as unknown as { onError(error: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string): Promise<void> => {
    try {
      await pool.query(script);
    } catch (error) {
      onError(error);
    }
  };
  return adapter;
}

async function adminQuery(databaseUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * The engine's driver-adapter factory: `connect()` opens `databaseUrl`; `connectToShadowDb()` creates
 * a throwaway database on the same server (dropped again when the engine disposes of it, or at close()).
 */
class EngineAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName = '@palisade/db';
  private readonly pools = new Set<pg.Pool>();
  private readonly shadowDatabases = new Set<string>();

  constructor(private readonly databaseUrl: string) {}

  async connect(): Promise<SqlDriverAdapter> {
    return this.open(this.databaseUrl);
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    const name = `palisade_shadow_${crypto.randomUUID().replaceAll('-', '')}`;
    await adminQuery(this.databaseUrl, `CREATE DATABASE ${quoteIdent(name)}`);
    this.shadowDatabases.add(name);
    const pool = this.pool(withDatabase(this.databaseUrl, name));
    const adapter = await connectAdapter(pool);
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await this.endPool(pool);
      await this.dropShadow(name);
    };
    return adapter;
  }

  private async open(url: string): Promise<SqlDriverAdapter> {
    return connectAdapter(this.pool(url));
  }

  private pool(url: string): pg.Pool {
    const pool = enginePool(url);
    this.pools.add(pool);
    return pool;
  }

  private async endPool(pool: pg.Pool): Promise<void> {
    if (!this.pools.delete(pool)) return;
    await pool.end();
  }

  private async dropShadow(name: string): Promise<void> {
    if (!this.shadowDatabases.delete(name)) return;
    await adminQuery(this.databaseUrl, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  }

  async close(): Promise<void> {
    for (const pool of [...this.pools]) await this.endPool(pool);
    for (const name of [...this.shadowDatabases]) await this.dropShadow(name);
  }
}

export interface SchemaFile {
  path: string;
  content: string;
}

/**
 * Runs `fn` with a schema engine connected to `databaseUrl` (which must exist), then frees the engine and
 * closes every connection it opened. `schemaFiles` are the Prisma schema files, where the command needs them.
 */
export async function withSchemaEngine<T>(
  databaseUrl: string,
  schemaFiles: SchemaFile[] | undefined,
  fn: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  loadWasm();
  const factory = new EngineAdapterFactory(databaseUrl);
  const adapter = bindMigrationAwareSqlAdapterFactory(factory);
  const debug = process.env.PALISADE_DB_DEBUG
    ? (line: string) => console.error(`[schema-engine] ${line}`)
    : () => {};
  let engine: SchemaEngine | undefined;
  try {
    engine = await bindings.SchemaEngine.new(
      {
        datamodels:
          schemaFiles && schemaFiles.length > 0 ? schemaFiles.map((f) => [f.path, f.content]) : undefined,
      },
      debug,
      adapter,
    );
    return await fn(engine);
  } finally {
    engine?.free();
    await factory.close();
  }
}
