#!/usr/bin/env node
// npm run migrate -w @palisade/db [-- <database URL>]
// Applies pending migrations (creating the database if needed). URL: argument, else DATABASE_URL,
// else postgresql://postgres@127.0.0.1:5432/palisade.
import { loadDist } from './lib.mjs';

const { migrate, defaultDatabaseUrl } = await loadDist('index.js');
const { redactUrl } = await loadDist('url.js');
const url = process.argv[2] ?? defaultDatabaseUrl();
try {
  const { applied } = await migrate(url, { log: (line) => console.log(line) });
  console.log(
    applied.length === 0
      ? `${redactUrl(url)}: up to date`
      : `${redactUrl(url)}: applied ${applied.length} migration(s)`,
  );
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
