import { sharedPath } from '@palisade/testdata';
import { describe, expect, it } from 'vitest';
import { analyzeRootfs } from './analyzers/index.js';
import { unpackImage } from './image/index.js';
import { InventoryCache, scanImage } from './scan.js';
import { assembleDb } from './vulndb/build.js';

const alpine = () => ({
  kind: 'docker-archive' as const,
  path: sharedPath('testdata', 'images', 'alpine-311.tar.gz'),
});
const emptyDb = assembleDb([], [], new Date('2026-11-23T00:00:00Z'));

describe('scanImage', () => {
  it('finds the same inventory from a selective unpack as from the full filesystem', async () => {
    const full = await unpackImage(alpine());
    try {
      const expected = await analyzeRootfs(full.rootDir);
      const selective = await scanImage(alpine(), { db: emptyDb });
      expect(selective.inventory).toEqual(expected);
      expect(selective.inventory.packages).toHaveLength(14);
      expect(selective.cached).toBe(false);
    } finally {
      await full.cleanup();
    }
  });

  it('reuses a cached inventory by config digest without unpacking layers', async () => {
    const cache = new InventoryCache();
    const first = await scanImage(alpine(), { db: emptyDb, cache });
    const second = await scanImage(alpine(), { db: emptyDb, cache });
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.inventory).toEqual(first.inventory);
    expect(second.image.configDigest).toBe(first.image.configDigest);
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
  });

  it('bounds the cache, dropping the least recently used entry', () => {
    const cache = new InventoryCache(2);
    const entry = { inventory: { os: null, packages: [] }, warnings: [] };
    cache.set('sha256:a', entry);
    cache.set('sha256:b', entry);
    cache.get('sha256:a');
    cache.set('sha256:c', entry);
    expect(['sha256:a', 'sha256:b', 'sha256:c'].map((d) => cache.has(d))).toEqual([true, false, true]);
  });
});
