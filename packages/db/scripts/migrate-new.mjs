#!/usr/bin/env node
// npm run migrate:new -w @palisade/db -- <name>
//   Writes prisma/migrations/<timestamp>_<name>/migration.sql with the SQL that takes the existing
//   migrations to prisma/schema.prisma (the offline `prisma migrate dev --create-only`).
// npm run migrate:check -w @palisade/db
//   Exits 1 (printing the missing SQL) if schema.prisma has changes that no migration contains.
// Both need a PostgreSQL server (DATABASE_URL or the local default) for a throwaway shadow database.
import { loadDist } from './lib.mjs';

const { createMigration, diffMigrationsToSchema } = await loadDist('migrate.js');
const arg = process.argv[2];
try {
  if (arg === '--check') {
    const missing = await diffMigrationsToSchema();
    if (missing === null) {
      console.log('migrations match prisma/schema.prisma');
    } else {
      console.error('prisma/schema.prisma has changes without a migration; missing SQL:\n');
      console.error(missing);
      process.exit(1);
    }
  } else if (arg === undefined || arg.startsWith('-')) {
    console.error('usage: npm run migrate:new -w @palisade/db -- <name>   |   migrate-new.mjs --check');
    process.exit(2);
  } else {
    const created = await createMigration(arg);
    if (created === null) console.log('no schema changes: no migration created');
    else console.log(`created ${created.path}\nreview it, then apply with: npm run migrate -w @palisade/db`);
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
