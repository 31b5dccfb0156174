import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningJwks, importSigningKeyPair } from '@palisade/auth';
import { createBundle } from '@palisade/bundle';
import type { CryptoKey as JoseKey } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VulnDbStore } from './dbStore.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'palisade-dbstore-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function keyPair() {
  const jwks = await generateSigningJwks();
  return { publicJwk: jwks.publicJwk, privateKey: (await importSigningKeyPair(jwks.privateJwk)).privateKey };
}

function db(key: JoseKey, sequence: number, builtAt = new Date().toISOString()) {
  return createBundle(key, {
    kind: 'vulndb',
    issuer: 'test',
    sequence,
    content: Buffer.from(JSON.stringify({ sequence })),
    meta: { builtAt },
  });
}

describe('VulnDbStore', () => {
  it('installs, swaps atomically, keeps the previous DB and rolls back', async () => {
    const k = await keyPair();
    const store = new VulnDbStore(dir, [k.publicJwk]);
    expect(await store.load()).toBeNull();
    await store.install(await db(k.privateKey, 1));
    await store.install(await db(k.privateKey, 2));
    expect(JSON.parse((await store.load())?.content.toString() ?? '')).toEqual({ sequence: 2 });
    await store.install(await db(k.privateKey, 3));
    // only current (3) and previous (2) are kept
    expect((await readdir(dir)).filter((f) => f.endsWith('.bundle')).sort()).toEqual([
      'vulndb-2.bundle',
      'vulndb-3.bundle',
    ]);
    const rolledBack = await store.rollback();
    expect(rolledBack.sequence).toBe(2);
    expect(JSON.parse((await store.load())?.content.toString() ?? '')).toEqual({ sequence: 2 });
  });

  it('refuses untrusted, older and tampered bundles and keeps the installed DB', async () => {
    const [ours, theirs] = [await keyPair(), await keyPair()];
    const store = new VulnDbStore(dir, [ours.publicJwk]);
    await store.install(await db(ours.privateKey, 5));
    await expect(store.install(await db(theirs.privateKey, 6))).rejects.toThrow(/signature/);
    await expect(store.install(await db(ours.privateKey, 4))).rejects.toThrow(/not newer/);
    const tampered = Buffer.from(await db(ours.privateKey, 7));
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    await expect(store.install(tampered)).rejects.toThrow(/hash/);
    expect((await store.status()).sequence).toBe(5);
  });

  it('refuses to load a DB file that was altered on disk', async () => {
    const k = await keyPair();
    const store = new VulnDbStore(dir, [k.publicJwk]);
    await store.install(await db(k.privateKey, 1));
    await writeFile(join(dir, 'vulndb-1.bundle'), 'garbage');
    await expect(store.load()).rejects.toThrow(/bad magic/);
  });

  it('reports staleness', async () => {
    const k = await keyPair();
    const store = new VulnDbStore(dir, [k.publicJwk]);
    expect((await store.status()).installed).toBe(false);
    await store.install(await db(k.privateKey, 1, '2026-11-01T00:00:00.000Z'));
    const status = await store.status(new Date('2026-11-23T00:00:00.000Z'));
    expect(status).toMatchObject({ installed: true, sequence: 1, stale: true, ageDays: 22 });
    expect((await store.status(new Date('2026-11-03T00:00:00.000Z'))).stale).toBe(false);
  });
});
