// Against the real PostgreSQL of DATABASE_URL's server (default 127.0.0.1:5432): every test database is
// created here under a unique name and dropped at the end.
// Needs the generated client: `npm run build -w @palisade/db` (or `npm run generate -w @palisade/db`).

import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDbClient, type DbClient, MigrationError, migrate, Prisma } from './index.js';
import {
  DEFAULT_MIGRATIONS_DIR,
  diffDatabaseToSchema,
  diffMigrationsToSchema,
  readMigrations,
} from './migrate.js';
import { defaultDatabaseUrl, quoteIdent, withDatabase } from './url.js';

const serverUrl = defaultDatabaseUrl();
const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const created: string[] = [];
const tempDirs: string[] = [];

function testDatabase(label: string): { name: string; url: string } {
  const name = `palisade_dbtest_${runId}_${label}`;
  created.push(name);
  return { name, url: withDatabase(serverUrl, name) };
}

async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const rows = await sql(
    withDatabase(serverUrl, 'postgres'),
    'SELECT 1 FROM pg_database WHERE datname = $1',
    [name],
  );
  return rows.length === 1;
}

function copyMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-migrations-'));
  tempDirs.push(dir);
  cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

const migrationNames = readMigrations().migrationDirectories.map((d) => d.path);
const main = testDatabase('main');
let client: DbClient | undefined;

afterAll(async () => {
  await client?.$disconnect();
  for (const name of created) {
    await sql(
      withDatabase(serverUrl, 'postgres'),
      `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`,
    );
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('@palisade/db migrations', () => {
  it('has a committed init migration and a lockfile', () => {
    expect(migrationNames.length).toBeGreaterThan(0);
    expect(migrationNames[0]).toMatch(/^\d{14}_init$/);
    expect(readMigrations().lockfile.content).toContain('provider = "postgresql"');
  });

  it('creates the database and applies every migration, recorded as Prisma records them', async () => {
    expect(await databaseExists(main.name)).toBe(false);
    const lines: string[] = [];
    const { applied } = await migrate(main.url, { log: (line) => lines.push(line) });
    expect(applied).toEqual(migrationNames);
    expect(await databaseExists(main.name)).toBe(true);
    expect(lines[0]).toBe(`created database ${main.name}`);

    const rows = await sql(
      main.url,
      'SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count ' +
        'FROM _prisma_migrations ORDER BY started_at',
    );
    expect(rows.map((r) => r.migration_name)).toEqual(migrationNames);
    for (const row of rows) {
      const file = readFileSync(join(DEFAULT_MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(file).digest('hex'));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.logs).toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('is idempotent: a second run applies nothing', async () => {
    expect(await migrate(main.url)).toEqual({ applied: [] });
    const [count] = await sql(main.url, 'SELECT count(*)::int AS n FROM _prisma_migrations');
    expect(count?.n).toBe(migrationNames.length);
  });

  it('produces exactly schema.prisma: the migrated database diffs empty against the schema', async () => {
    expect(await diffDatabaseToSchema(main.url)).toBeNull();
    // and the migrations directory is complete (a shadow database built from it matches the schema)
    expect(await diffMigrationsToSchema({ databaseUrl: serverUrl })).toBeNull();
    const tables = await sql(
      main.url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual([
      '_prisma_migrations',
      'audit_logs',
      'events',
      'findings',
      'nodes',
      'scan_reports',
      'workloads',
    ]);
  });

  it('the diff check notices a database that drifted from the schema', async () => {
    const drift = testDatabase('drift');
    await migrate(drift.url);
    await sql(drift.url, 'ALTER TABLE workloads DROP COLUMN k8s_pod');
    expect(await diffDatabaseToSchema(drift.url)).toContain('k8s_pod');
  });

  it('refuses to run when an applied migration was edited (checksum mismatch)', async () => {
    const dir = copyMigrations();
    const first = migrationNames[0] as string;
    appendFileSync(join(dir, first, 'migration.sql'), '\n-- edited after it was applied\n');
    const error = await migrate(main.url, { migrationsDir: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).code).toBe('checksum_mismatch');
    expect((error as MigrationError).migrations).toEqual([first]);
    expect((error as Error).message).toContain('checksum');
    // the untouched directory still works
    expect(await migrate(main.url)).toEqual({ applied: [] });
  });

  it('two concurrent runs on a new database apply each migration once', async () => {
    const race = testDatabase('race');
    const results = await Promise.all([migrate(race.url), migrate(race.url)]);
    expect(results.flatMap((r) => r.applied).sort()).toEqual(migrationNames);
    const [count] = await sql(race.url, 'SELECT count(*)::int AS n FROM _prisma_migrations');
    expect(count?.n).toBe(migrationNames.length);
  });

  it('runs a migration in one transaction: a failing one leaves nothing behind and blocks later runs', async () => {
    const broken = testDatabase('broken');
    const dir = copyMigrations();
    const name = '29991231235959_broken';
    mkdirSync(join(dir, name));
    writeFileSync(
      join(dir, name, 'migration.sql'),
      [
        'CREATE TABLE "partial" ("x" INTEGER);',
        `ALTER TABLE "nodes" ADD COLUMN "note" TEXT NOT NULL DEFAULT 'semi;colon';`,
        'SELECT 1 / 0;',
      ].join('\n'),
    );
    const error = await migrate(broken.url, { migrationsDir: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).code).toBe('engine');
    expect((error as Error).message).toContain('division by zero');

    const leftovers = await sql(
      broken.url,
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_name = 'partial' OR column_name = 'note'",
    );
    expect(leftovers).toEqual([]);
    const [row] = await sql(
      broken.url,
      'SELECT finished_at, logs FROM _prisma_migrations WHERE migration_name = $1',
      [name],
    );
    expect(row?.finished_at).toBeNull();
    expect(row?.logs).toContain('division by zero');

    const again = await migrate(broken.url, { migrationsDir: dir }).catch((e: unknown) => e);
    expect((again as MigrationError).code).toBe('failed_migration');
    expect((again as MigrationError).migrations).toEqual([name]);
  });
});

describe('@palisade/db client', () => {
  it('writes and reads nodes, workloads, events and audit logs', async () => {
    client = createDbClient(main.url);
    const db = client;

    const node = await db.node.create({
      data: {
        id: 'n-abc123',
        cluster: 'prod-eu',
        hostname: 'worker-1',
        kernel: '6.1.0-28-amd64',
        arch: 'amd64',
        osId: 'debian',
        osName: 'Debian GNU/Linux',
        osVersion: '12',
        agentVersion: '0.1.0',
        runtimeName: 'containerd',
        runtimeSocket: '/run/containerd/containerd.sock',
        runtimeVersion: '1.7.24',
        cpus: 8,
        memoryBytes: 34_359_738_368n,
        lastHeartbeatAt: new Date(),
      },
    });
    expect(node.status).toBe('online');
    expect(node.memoryBytes).toBe(34_359_738_368n);
    expect(node.enrolledAt).toBeInstanceOf(Date);
    expect(node.updatedAt).toBeInstanceOf(Date);
    expect(node.runtimeError).toBeNull();

    const labels = { app: 'web', 'io.kubernetes.pod.name': 'web-7d4b9', nested: { a: [1, 2, 3] } };
    const seenAt = new Date('2026-01-02T03:04:05.678Z');
    const workload = await db.workload.create({
      data: {
        cluster: 'prod-eu',
        node: { connect: { id: node.id } },
        containerId: 'f'.repeat(64),
        name: 'web',
        image: 'registry.local/web:1.2.3',
        runtimeNamespace: 'k8s.io',
        state: 'running',
        pid: 4242,
        labels,
        k8sNamespace: 'shop',
        k8sPod: 'web-7d4b9',
        k8sContainer: 'web',
        lastSeenAt: seenAt,
      },
    });
    expect(workload.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(workload.labels).toEqual(labels);
    expect(workload.lastSeenAt.toISOString()).toBe(seenAt.toISOString());

    // observed again: upsert on (nodeId, containerId); then it disappears: marked removed, not deleted
    const key = { nodeId_containerId: { nodeId: node.id, containerId: 'f'.repeat(64) } };
    await db.workload.upsert({
      where: key,
      create: { ...workload, labels },
      update: { state: 'exited', pid: null, lastSeenAt: new Date() },
    });
    await db.workload.update({ where: key, data: { removedAt: new Date() } });
    const stored = await db.workload.findUniqueOrThrow({ where: key, include: { node: true } });
    expect(stored.state).toBe('exited');
    expect(stored.pid).toBeNull();
    expect(stored.removedAt).toBeInstanceOf(Date);
    expect(stored.node.hostname).toBe('worker-1');
    await expect(
      db.workload.create({
        data: { ...workload, id: undefined, labels, nodeId: node.id },
      }),
    ).rejects.toMatchObject({ code: 'P2002' });

    const e1 = await db.event.create({
      data: {
        cluster: 'prod-eu',
        nodeId: node.id,
        type: 'node.enrolled',
        severity: 'info',
        message: 'enrolled',
      },
    });
    const e2 = await db.event.create({
      data: {
        cluster: 'prod-eu',
        nodeId: node.id,
        type: 'node.offline',
        severity: 'medium',
        message: 'missed 3 heartbeats',
        data: { missed: 3, lastHeartbeatAt: '2026-01-02T03:04:05Z' },
      },
    });
    expect(typeof e1.id).toBe('bigint');
    expect(e2.id).toBeGreaterThan(e1.id);
    expect(e1.data).toEqual({});
    expect(e2.data).toEqual({ missed: 3, lastHeartbeatAt: '2026-01-02T03:04:05Z' });
    const offline = await db.event.findMany({ where: { cluster: 'prod-eu', type: 'node.offline' } });
    expect(offline.map((e) => e.id)).toEqual([e2.id]);

    const audit = await db.auditLog.create({
      data: {
        actorId: 'u-1',
        actorName: 'alice',
        action: 'node.delete',
        cluster: 'prod-eu',
        object: `node/${node.id}`,
        result: 'denied',
        details: { reason: 'role viewer' },
      },
    });
    const readBack = await db.auditLog.findUniqueOrThrow({ where: { id: audit.id } });
    expect(typeof readBack.id).toBe('bigint');
    expect(readBack.details).toEqual({ reason: 'role viewer' });
    expect(readBack.at).toBeInstanceOf(Date);

    // Json null vs. SQL null are distinct in Prisma: the Prisma namespace is exported for callers
    expect(Prisma.JsonNull).toBeDefined();

    // deleting a node cascades to its workloads; events are kept (no foreign key)
    await db.node.delete({ where: { id: node.id } });
    expect(await db.workload.count({ where: { nodeId: node.id } })).toBe(0);
    expect(await db.event.count({ where: { nodeId: node.id } })).toBe(2);
  });
});
