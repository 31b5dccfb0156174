import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { InteractionEnv } from './rafttest/interactionEnv.js';

// Runs every scenario script in testdata/ through one InteractionEnv (see rafttest/interactionEnv.ts
// for the command language). Each script names the paper case it reproduces in its header.

const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata');

describe('scenarios', () => {
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.txt'))
    .sort()) {
    it(f.replace(/\.txt$/, ''), () => {
      new InteractionEnv(`testdata/${f}`).run(readFileSync(join(dir, f), 'utf8'));
    });
  }
});
