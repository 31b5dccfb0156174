/** Builds a signed vulnerability DB from the real feeds with the `palisade` CLI and installs it. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { sharedPath } from '@palisade/testdata';
import { ROOT } from './stack.js';

export function palisade(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(process.execPath, [join(ROOT, 'apps/cli/dist/main.js'), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

function mustRun(args: string[]) {
  const result = palisade(args);
  if (result.status !== 0)
    throw new Error(`palisade ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result;
}

/** Returns the DB directory and the public key that verifies it, both under `workDir`. */
export function installVulnDb(workDir: string): { dbDir: string; trustKey: string; bundle: string } {
  const keys = join(workDir, 'keys');
  const bundle = join(workDir, 'vulndb.bundle');
  const dbDir = join(workDir, 'db');
  mustRun(['keys', 'generate', '--out', keys]);
  mustRun([
    'db',
    'build',
    '--vulndata',
    sharedPath('vulndata'),
    '--key',
    join(keys, 'signing.jwk'),
    '--out',
    bundle,
  ]);
  mustRun(['db', 'import', bundle, '--db-dir', dbDir, '--trust', join(keys, 'signing.pub.jwk')]);
  return { dbDir, trustKey: join(keys, 'signing.pub.jwk'), bundle };
}
