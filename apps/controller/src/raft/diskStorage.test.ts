import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConfState, type Entry, MemoryStorage, type Snapshot, type Storage } from '@palisade/raft';
import { afterEach, describe, expect, it } from 'vitest';
import { CorruptWalError, DiskStorage, type DiskStorageOptions } from './diskStorage.js';
import { encodeRecord, scanWal } from './wal.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'raft-wal-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const quiet: DiskStorageOptions = { log: () => {} };
const bytes = (s: string) => new TextEncoder().encode(s);
const ent = (index: number, term: number, data = `e${index}t${term}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: bytes(data),
});
const ents = (lo: number, hi: number, term: number) =>
  Array.from({ length: hi - lo + 1 }, (_, i) => ent(lo + i, term));
const CS: ConfState = { voters: [1, 2, 3], learners: [] };

/** Everything a Storage answers, for comparisons. */
function view(s: Storage) {
  const first = s.firstIndex();
  const last = s.lastIndex();
  const terms: number[] = [];
  for (let i = first - 1; i <= last; i++) terms.push(s.term(i));
  const snap = s.snapshot();
  return {
    first,
    last,
    terms,
    entries: s.entries(first, last + 1, Number.POSITIVE_INFINITY),
    initialState: s.initialState(),
    snapshot: { metadata: snap.metadata, data: Array.from(snap.data) },
  };
}

async function reopen(dir: string, storage: DiskStorage, opts: DiskStorageOptions = quiet) {
  await storage.close();
  return DiskStorage.open(dir, opts);
}

describe('DiskStorage', () => {
  it('round-trips entries, hard state and snapshot across reopen', async () => {
    const dir = await tempDir();
    let { storage, hardState, snapshot } = await DiskStorage.open(dir, quiet);
    expect(hardState).toEqual({ term: 0, vote: 0, commit: 0 });
    expect(snapshot.metadata.index).toBe(0);
    await storage.persist({
      entries: ents(1, 10, 1),
      hardState: { term: 1, vote: 2, commit: 5 },
      mustSync: true,
    });
    const data = new Uint8Array([0, 1, 2, 255, 254]);
    await storage.createSnapshot(4, CS, data);
    const before = view(storage);
    const opened = await reopen(dir, storage);
    storage = opened.storage;
    expect(view(storage)).toEqual(before);
    expect(opened.hardState).toEqual({ term: 1, vote: 2, commit: 5 });
    expect(opened.confState).toEqual(CS);
    expect(opened.snapshot.metadata).toEqual({ index: 4, term: 1, confState: CS });
    expect(opened.snapshot.data).toEqual(data);
    expect(storage.entries(3, 6, 1_000_000).map((e) => e.index)).toEqual([3, 4, 5]);
    await storage.close();
  });

  it('persists conflicting-suffix truncation', async () => {
    const dir = await tempDir();
    let { storage } = await DiskStorage.open(dir, quiet);
    await storage.append(ents(1, 10, 1));
    await storage.append([ent(6, 2, 'new6'), ent(7, 2, 'new7')]);
    expect(storage.lastIndex()).toBe(7);
    ({ storage } = await reopen(dir, storage));
    expect(storage.lastIndex()).toBe(7);
    expect(storage.term(5)).toBe(1);
    expect(storage.term(6)).toBe(2);
    expect(new TextDecoder().decode(storage.entries(7, 8, 100)[0]?.data)).toBe('new7');
    expect(() => storage.term(8)).toThrow();
    await storage.close();
  });

  it('keeps term and vote of the hard state', async () => {
    const dir = await tempDir();
    const { storage } = await DiskStorage.open(dir, quiet);
    await storage.setHardState({ term: 7, vote: 3, commit: 0 });
    await storage.setHardState({ term: 9, vote: 2, commit: 0 });
    const opened = await reopen(dir, storage);
    expect(opened.hardState).toEqual({ term: 9, vote: 2, commit: 0 });
    expect(opened.storage.initialState().hardState).toEqual({ term: 9, vote: 2, commit: 0 });
    // and after a WAL rewrite
    await opened.storage.rewrite();
    const again = await reopen(dir, opened.storage);
    expect(again.hardState).toEqual({ term: 9, vote: 2, commit: 0 });
    await again.storage.close();
  });

  it('recovers the prefix when the last record is torn at any byte', async () => {
    const dir = await tempDir();
    const { storage } = await DiskStorage.open(dir, quiet);
    await storage.persist({
      entries: ents(1, 5, 1),
      hardState: { term: 1, vote: 1, commit: 3 },
      mustSync: true,
    });
    await storage.persist({ hardState: { term: 2, vote: 3, commit: 3 }, mustSync: true });
    const prefixSize = storage.walSize;
    const prefixView = view(storage);
    await storage.persist({ entries: [ent(6, 2, 'x'.repeat(40))], mustSync: true });
    await storage.close();
    const walPath = join(dir, 'wal.log');
    const full = await readFile(walPath);
    expect(full.length).toBeGreaterThan(prefixSize + 40);
    const warnings: string[] = [];
    for (let cut = prefixSize; cut < full.length; cut++) {
      await writeFile(walPath, full.subarray(0, cut));
      const opened = await DiskStorage.open(dir, { log: (m) => warnings.push(m) });
      expect(view(opened.storage)).toEqual(prefixView);
      expect(opened.hardState).toEqual({ term: 2, vote: 3, commit: 3 });
      await opened.storage.close();
      expect((await stat(walPath)).size).toBe(prefixSize);
    }
    expect(warnings.length).toBe(full.length - prefixSize - 1); // cut == prefixSize is a clean end
    // A zero-filled tail (e.g. allocated blocks after a crash) is torn too.
    await writeFile(walPath, Buffer.concat([full, Buffer.alloc(4096)]));
    const opened = await DiskStorage.open(dir, quiet);
    expect(opened.storage.lastIndex()).toBe(6);
    // Appending after recovery works.
    await opened.storage.append([ent(7, 2)]);
    const again = await reopen(dir, opened.storage);
    expect(again.storage.lastIndex()).toBe(7);
    await again.storage.close();
  });

  it('refuses to open when a middle record is corrupt (every byte of it)', async () => {
    const dir = await tempDir();
    const { storage } = await DiskStorage.open(dir, quiet);
    await storage.persist({
      entries: ents(1, 3, 1),
      hardState: { term: 1, vote: 1, commit: 1 },
      mustSync: true,
    });
    const midStart = storage.walSize;
    await storage.persist({ entries: ents(4, 5, 1), mustSync: true });
    const midEnd = storage.walSize;
    await storage.persist({ hardState: { term: 1, vote: 1, commit: 5 }, mustSync: true });
    await storage.close();
    const walPath = join(dir, 'wal.log');
    const good = await readFile(walPath);
    for (let at = midStart; at < midEnd; at++) {
      const bad = Buffer.from(good);
      bad[at] = (bad[at] as number) ^ 0x5a;
      await writeFile(walPath, bad);
      await expect(DiskStorage.open(dir, quiet), `flipped byte ${at}`).rejects.toBeInstanceOf(
        CorruptWalError,
      );
      // and the file was left alone
      expect((await readFile(walPath)).equals(bad)).toBe(true);
    }
    await writeFile(walPath, good);
    const ok = await DiskStorage.open(dir, quiet);
    expect(ok.storage.lastIndex()).toBe(5);
    await ok.storage.close();
  });

  it('refuses to open when the snapshot file named by the WAL is missing or damaged', async () => {
    const dir = await tempDir();
    const { storage } = await DiskStorage.open(dir, quiet);
    await storage.append(ents(1, 5, 1));
    await storage.createSnapshot(3, CS, bytes('state'));
    await storage.close();
    const snapName = (await readdir(dir)).find((n) => n.startsWith('snap-')) as string;
    const snapPath = join(dir, snapName);
    const good = await readFile(snapPath);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
    await writeFile(snapPath, bad);
    await expect(DiskStorage.open(dir, quiet)).rejects.toBeInstanceOf(CorruptWalError);
    await rm(snapPath);
    await expect(DiskStorage.open(dir, quiet)).rejects.toThrow(/missing/);
  });

  it('removes leftovers of interrupted atomic writes and unreferenced snapshots on open', async () => {
    const dir = await tempDir();
    let { storage } = await DiskStorage.open(dir, quiet);
    await storage.append(ents(1, 5, 1));
    await storage.createSnapshot(2, CS, bytes('s2'));
    const before = view(storage);
    await storage.close();
    await writeFile(join(dir, 'wal.log.tmp'), 'half a rewrite');
    await writeFile(join(dir, 'snap-0000000000000004.snap.tmp'), 'half a snapshot');
    await writeFile(join(dir, 'snap-0000000000000005.snap'), 'written, never named by the WAL');
    ({ storage } = await DiskStorage.open(dir, quiet));
    expect(view(storage)).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(['snap-0000000000000002.snap', 'wal.log']);
    await storage.close();
  });

  it('rewrites the WAL on compact and removes superseded snapshots', async () => {
    const dir = await tempDir();
    let { storage } = await DiskStorage.open(dir, { ...quiet, rewriteThreshold: 0 });
    for (let i = 0; i < 20; i++) await storage.append(ents(i * 10 + 1, i * 10 + 10, 1));
    const big = storage.walSize;
    await storage.createSnapshot(150, CS, bytes('s150'));
    await storage.compact(150);
    await storage.createSnapshot(190, CS, bytes('s190'));
    await storage.compact(190);
    expect(storage.walSize).toBeLessThan(big / 5);
    expect((await readdir(dir)).sort()).toEqual(['snap-00000000000000be.snap', 'wal.log']);
    const before = view(storage);
    ({ storage } = await reopen(dir, storage));
    expect(view(storage)).toEqual(before);
    expect(storage.firstIndex()).toBe(191);
    expect(() => storage.entries(190, 192, 100)).toThrow(/compact/);
    await storage.close();
  });

  it('matches MemoryStorage over random operations and reopens (differential, seeded)', async () => {
    const counts: Record<string, number> = {};
    const count = (k: string) => {
      counts[k] = (counts[k] ?? 0) + 1;
    };
    for (let seed = 1; seed <= 6; seed++) {
      const rnd = mulberry32(seed);
      const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1)); // inclusive
      const dir = await tempDir();
      const opts = (): DiskStorageOptions => ({
        ...quiet,
        rewriteThreshold: [0, 500, 1e9][int(0, 2)] as number,
      });
      let disk = (await DiskStorage.open(dir, opts())).storage;
      const mem = new MemoryStorage();
      let term = 1;
      let pending: Promise<unknown>[] = [];
      for (let step = 0; step < 250; step++) {
        const r = rnd();
        const first = mem.firstIndex();
        const last = mem.lastIndex();
        const snapIndex = mem.snapshot().metadata.index;
        if (r < 0.4) {
          // append, possibly overwriting a suffix with a newer term
          const lo = int(Math.max(first, last - 3), last + 1);
          if (lo <= last) term++;
          const batch = ents(lo, lo + int(0, 4), term).map((e) => ({
            ...e,
            data: bytes(`${seed}:${step}:${e.index}`),
          }));
          mem.append(batch);
          count(lo <= last ? 'overwrite' : 'append');
          pending.push(disk.append(batch));
        } else if (r < 0.55) {
          const hs = { term: term + int(0, 2), vote: int(0, 3), commit: int(0, last) };
          term = hs.term;
          mem.setHardState(hs);
          count('hardState');
          pending.push(disk.setHardState(hs));
        } else if (r < 0.65 && last > snapIndex) {
          const idx = int(Math.max(snapIndex + 1, first - 1), last);
          if (idx <= snapIndex || idx < first - 1) continue;
          const cs: ConfState = { voters: [1, 2, int(3, 5)], learners: rnd() < 0.5 ? [] : [9] };
          const data = bytes(`snap ${seed}:${step}`);
          mem.createSnapshot(idx, cs, data);
          count('createSnapshot');
          pending.push(disk.createSnapshot(idx, cs, data));
        } else if (r < 0.75 && last >= first) {
          const idx = int(first, Math.min(last, Math.max(first, snapIndex)));
          mem.compact(idx);
          count('compact');
          pending.push(disk.compact(idx));
        } else if (r < 0.8) {
          term++;
          const idx = last + int(-2, 5);
          if (idx <= snapIndex) continue;
          const snap: Snapshot = {
            metadata: { index: idx, term, confState: { voters: [1, 2, 3], learners: [] } },
            data: bytes(`leader snap ${seed}:${step}`),
          };
          mem.applySnapshot(snap);
          count('applySnapshot');
          pending.push(
            disk.persist({ snapshot: snap, hardState: { term, vote: 0, commit: idx }, mustSync: true }),
          );
          mem.setHardState({ term, vote: 0, commit: idx });
        } else if (r < 0.9) {
          await Promise.all(pending);
          pending = [];
          disk = (await reopen(dir, disk, opts())).storage;
          count('reopen');
          expect(view(disk), `seed ${seed} step ${step}`).toEqual(view(mem));
          continue;
        }
        if (rnd() < 0.5) {
          await Promise.all(pending);
          pending = [];
        }
        expect(view(disk), `seed ${seed} step ${step} (live)`).toEqual(view(mem));
      }
      await Promise.all(pending);
      disk = (await reopen(dir, disk)).storage;
      expect(view(disk)).toEqual(view(mem));
      await disk.close();
    }
    for (const k of [
      'append',
      'overwrite',
      'hardState',
      'createSnapshot',
      'compact',
      'applySnapshot',
      'reopen',
    ])
      expect(counts[k] ?? 0, `${k} ${JSON.stringify(counts)}`).toBeGreaterThan(10);
  });

  it('resolves persist only after fdatasync, and concurrent callers share fsyncs', async () => {
    const dir = await tempDir();
    const events: string[] = [];
    let syncs = 0;
    const { storage } = await DiskStorage.open(dir, {
      ...quiet,
      hooks: {
        datasync: async (fh) => {
          events.push('sync-start');
          await new Promise((r) => setTimeout(r, 15));
          await fh.datasync();
          syncs++;
          events.push('sync-done');
        },
      },
    });
    const done = Array.from({ length: 10 }, (_, i) =>
      storage.persist({ entries: [ent(i + 1, 1)], mustSync: true }).then(() => events.push(`resolved ${i}`)),
    );
    await Promise.all(done);
    expect(syncs).toBeLessThanOrEqual(2); // the first write alone, then the other nine together
    for (let i = 0; i < 10; i++) {
      const at = events.indexOf(`resolved ${i}`);
      expect(events.slice(0, at)).toContain('sync-done');
      expect(events.lastIndexOf('sync-done')).toBeGreaterThan(-1);
    }
    // The first resolution comes after the first completed sync.
    expect(events.indexOf('sync-done')).toBeLessThan(events.findIndex((e) => e.startsWith('resolved')));
    // commit-only updates (mustSync false) do not fsync.
    const n = syncs;
    await storage.persist({ hardState: { term: 1, vote: 0, commit: 3 }, mustSync: false });
    expect(syncs).toBe(n);
    await storage.close();
  });

  it('fails the storage after an fsync error (fault injection)', async () => {
    const dir = await tempDir();
    let fail = false;
    const { storage } = await DiskStorage.open(dir, {
      ...quiet,
      hooks: {
        datasync: async (fh) => {
          if (fail) throw new Error('EIO injected');
          await fh.datasync();
        },
      },
    });
    await storage.append(ents(1, 3, 1));
    fail = true;
    await expect(storage.append([ent(4, 1)])).rejects.toThrow(/EIO/);
    await expect(storage.setHardState({ term: 2, vote: 1, commit: 0 })).rejects.toThrow(/failed earlier/);
    await storage.close();
    const reopened = await DiskStorage.open(dir, quiet);
    expect(reopened.storage.lastIndex()).toBeGreaterThanOrEqual(3);
    await reopened.storage.close();
  });
});

describe('WAL framing', () => {
  it('scans what it encodes and reports a torn tail', () => {
    const a = encodeRecord({ type: 'hardState', hardState: { term: 3, vote: 1, commit: 2 } });
    const b = encodeRecord({ type: 'entries', entries: [ent(1, 3), { ...ent(2, 3), type: 'confChange' }] });
    const s = scanWal(Buffer.concat([a, b]));
    expect(s.records).toHaveLength(2);
    expect(s.records[1]).toEqual({
      type: 'entries',
      entries: [ent(1, 3), { ...ent(2, 3), type: 'confChange' }],
    });
    const torn = scanWal(Buffer.concat([a, b.subarray(0, 12)]));
    expect(torn).toMatchObject({ validBytes: a.length, tornBytes: 12 });
  });
});

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
