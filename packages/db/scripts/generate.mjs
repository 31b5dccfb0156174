#!/usr/bin/env node
// `prisma generate`, offline: writes the TypeScript client to src/generated/prisma (compiled with the package).
// The Prisma 7 CLI wants a schema-engine binary (and downloads one) even for `generate`, which does not
// use it: pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file stops the download.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const schema = fileURLToPath(new URL('../prisma/schema.prisma', import.meta.url));
const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');

rmSync(new URL('../src/generated/prisma', import.meta.url), { recursive: true, force: true });
const result = spawnSync(process.execPath, [prismaCli, 'generate', '--schema', schema], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || schema,
    CHECKPOINT_DISABLE: '1',
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  },
});
if (result.error) throw result.error;
process.exit(result.status ?? 1);
