import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  Ed25519PrivateJwk,
  Ed25519PublicJwk,
  generateSigningJwks,
  importSigningKeyPair,
} from '@palisade/auth';
import { createBundle } from '@palisade/bundle';
import { buildDb, serializeDb, VulnDbStore } from '@palisade/scanner';
import { parseDuration, UsageError } from '../args.js';

export function defaultDbDir(env = process.env): string {
  return (
    env.PALISADE_VULNDB_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'palisade', 'vulndb')
  );
}

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

export async function readPublicKey(path: string) {
  const parsed = Ed25519PublicJwk.safeParse(await readJson(path, 'public key'));
  if (!parsed.success) throw new UsageError(`${path} is not an Ed25519 public JWK (kty OKP, crv Ed25519, x)`);
  return { kty: parsed.data.kty, crv: parsed.data.crv, x: parsed.data.x };
}

async function readPrivateKey(path: string) {
  const parsed = Ed25519PrivateJwk.safeParse(await readJson(path, 'private key'));
  if (!parsed.success) throw new UsageError(`${path} is not an Ed25519 private JWK`);
  return importSigningKeyPair(parsed.data);
}

/** Trusted keys from --trust (repeatable) or $PALISADE_VULNDB_TRUST (comma-separated paths). */
export async function trustedKeys(paths: string[] | undefined) {
  const list = paths?.length ? paths : (process.env.PALISADE_VULNDB_TRUST?.split(',').filter(Boolean) ?? []);
  if (list.length === 0) {
    throw new UsageError('no trusted key: pass --trust <public JWK file> or set PALISADE_VULNDB_TRUST');
  }
  return Promise.all(list.map(readPublicKey));
}

/** `palisade keys generate --out DIR`: an Ed25519 key pair for signing bundles. */
export async function keysGenerate(out: string | undefined): Promise<void> {
  if (!out) throw new UsageError('keys generate needs --out DIR');
  const { privateJwk, publicJwk } = await generateSigningJwks();
  await mkdir(out, { recursive: true, mode: 0o700 });
  await writeFile(join(out, 'signing.jwk'), `${JSON.stringify(privateJwk)}\n`, {
    mode: 0o600,
    flag: 'wx',
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST')
      throw new UsageError(`${join(out, 'signing.jwk')} exists; refusing to overwrite a key`);
    throw err;
  });
  await writeFile(join(out, 'signing.pub.jwk'), `${JSON.stringify(publicJwk)}\n`, { mode: 0o644 });
  console.error(
    `wrote ${join(out, 'signing.jwk')} (private, 0600) and ${join(out, 'signing.pub.jwk')} (public)`,
  );
}

/** `palisade db build`: raw feeds → a signed vulnerability DB bundle. */
export async function dbBuild(options: {
  vulndata?: string | undefined;
  key?: string | undefined;
  out?: string | undefined;
  sequence?: string | undefined;
  expires?: string | undefined;
}): Promise<void> {
  if (!options.vulndata || !options.key || !options.out) {
    throw new UsageError('db build needs --vulndata DIR --key PRIVATE_JWK --out FILE');
  }
  const keys = await readPrivateKey(options.key);
  const started = performance.now();
  const db = await buildDb(options.vulndata);
  const content = serializeDb(db);
  const builtAt = new Date();
  // Sequence defaults to the build time in seconds, so later builds are always newer.
  const sequence = options.sequence ? Number(options.sequence) : Math.floor(builtAt.getTime() / 1000);
  if (!Number.isSafeInteger(sequence) || sequence < 0)
    throw new UsageError('--sequence must be a non-negative integer');
  const expiresAt = options.expires
    ? new Date(builtAt.getTime() + parseDuration(options.expires) * 1000)
    : undefined;
  const bundle = await createBundle(keys.privateKey, {
    kind: 'vulndb',
    issuer: 'palisade db build',
    sequence,
    content,
    // The DB format compresses its sections itself.
    gzip: false,
    createdAt: builtAt,
    ...(expiresAt ? { expiresAt } : {}),
    meta: { sources: db.manifest.sources, counts: db.manifest.counts, builtAt: db.manifest.builtAt },
  });
  await mkdir(dirname(options.out), { recursive: true });
  await writeFile(options.out, bundle);
  console.error(
    `wrote ${options.out}: sequence ${sequence}, ${bundle.length} bytes, built in ${Math.round(performance.now() - started)} ms`,
  );
}

export async function dbImport(
  file: string | undefined,
  dbDir: string,
  trust: string[] | undefined,
): Promise<void> {
  if (!file) throw new UsageError('db import needs a bundle file');
  const store = new VulnDbStore(dbDir, await trustedKeys(trust));
  const manifest = await store.install(await readFile(file));
  console.error(
    `installed vulnerability DB sequence ${manifest.sequence} into ${dbDir} (the previous one is kept for rollback)`,
  );
}

export async function dbRollback(dbDir: string, trust: string[] | undefined): Promise<void> {
  const store = new VulnDbStore(dbDir, await trustedKeys(trust));
  const manifest = await store.rollback();
  console.error(`rolled back to vulnerability DB sequence ${manifest.sequence}`);
}

/** Prints what is installed; warns (on stderr) when it is stale. Returns the status for --output json. */
export async function dbStatus(dbDir: string, trust: string[] | undefined, maxAgeDays: number) {
  const store = new VulnDbStore(dbDir, await trustedKeys(trust));
  const status = await store.status(new Date(), maxAgeDays);
  if (status.installed && status.stale) {
    console.error(
      `WARNING: the vulnerability DB was built ${status.ageDays} days ago (more than ${maxAgeDays}); ` +
        'scans miss newer vulnerabilities. Import a fresh one with "palisade db import".',
    );
  }
  return status;
}
