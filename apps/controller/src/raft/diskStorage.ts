// DiskStorage: durable Raft storage for @palisade/raft — a WAL (wal.ts) plus atomic snapshot files.
// See README.md in this folder for the file layout and the durability rules.
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  type ConfState,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  type Entry,
  errCompacted,
  errSnapOutOfDate,
  errUnavailable,
  type HardState,
  invariant,
  limitSize,
  type Snapshot,
  type SnapshotMetadata,
  type Storage,
} from '@palisade/raft';
import {
  CorruptWalError,
  encodeRecords,
  scanWal,
  type WalHooks,
  type WalRecord,
  WalWriter,
  writeAll,
} from './wal.js';

export { CorruptWalError } from './wal.js';

const WAL_FILE = 'wal.log';
const EMPTY = new Uint8Array(0);
/** Entries per WAL record in a rewritten segment are capped at about this many bytes. */
const REWRITE_CHUNK_BYTES = 4 * 1024 * 1024;

export interface DiskStorageOptions {
  /** Warnings (a torn tail dropped on open). */
  log?: (msg: string) => void;
  /** compact() rewrites the WAL once it holds at least this many bytes. Default 8 MiB; 0 = always. */
  rewriteThreshold?: number;
  /** Test hooks around write/fdatasync of the WAL. */
  hooks?: WalHooks;
}

/** The part of a Ready that persist() needs (a RawNode Ready fits). */
export interface PersistBatch {
  readonly snapshot?: Snapshot | undefined;
  readonly entries?: readonly Entry[];
  readonly hardState?: HardState | undefined;
  readonly mustSync: boolean;
}

export interface Opened {
  storage: DiskStorage;
  hardState: HardState;
  confState: ConfState;
  snapshot: Snapshot;
}

function emptySnapshot(): Snapshot {
  return { metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE }, data: EMPTY };
}

/**
 * LogState is the in-memory image of the storage, with MemoryStorage's semantics: the log is the
 * suffix after a dummy position (offsetIndex/offsetTerm); the snapshot is held separately.
 */
class LogState {
  hardState: HardState = EMPTY_HARD_STATE;
  snap: Snapshot = emptySnapshot();
  offsetIndex = 0;
  offsetTerm = 0;
  ents: Entry[] = [];

  lastIndex(): number {
    return this.offsetIndex + this.ents.length;
  }

  term(index: number): number {
    if (index < this.offsetIndex) throw errCompacted();
    if (index === this.offsetIndex) return this.offsetTerm;
    const e = this.ents[index - this.offsetIndex - 1];
    if (e === undefined) throw errUnavailable();
    return e.term;
  }

  reset(snap: Snapshot, offsetIndex: number, offsetTerm: number): void {
    this.snap = snap;
    this.offsetIndex = offsetIndex;
    this.offsetTerm = offsetTerm;
    this.ents = [];
  }

  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index) throw errSnapOutOfDate();
    this.reset(snap, snap.metadata.index, snap.metadata.term);
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw errSnapOutOfDate();
    invariant(index <= this.lastIndex(), `snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  compact(index: number): void {
    if (index <= this.offsetIndex) throw errCompacted();
    invariant(index <= this.lastIndex(), `compact ${index} is out of bound lastindex(${this.lastIndex()})`);
    const term = this.term(index);
    this.ents = this.ents.slice(index - this.offsetIndex);
    this.offsetIndex = index;
    this.offsetTerm = term;
  }

  /** Returns the entries actually stored (after dropping already-compacted ones), or [] if none. */
  append(entries: readonly Entry[]): readonly Entry[] {
    if (entries.length === 0) return entries;
    const first = this.offsetIndex + 1;
    const last = (entries[entries.length - 1] as Entry).index;
    if (last < first) return [];
    let ents = entries;
    const head = (ents[0] as Entry).index;
    if (first > head) ents = ents.slice(first - head);
    const at = (ents[0] as Entry).index - first;
    invariant(
      at <= this.ents.length,
      `missing log entry [last: ${this.lastIndex()}, append at: ${(ents[0] as Entry).index}]`,
    );
    this.ents = this.ents.slice(0, at).concat(ents);
    return ents;
  }

  /** replay applies one WAL record (snapshot data is attached later). */
  replay(r: WalRecord, first: boolean): void {
    switch (r.type) {
      case 'base':
        invariant(first, 'base record in the middle of the WAL');
        this.reset({ metadata: r.snapshot, data: EMPTY }, r.offsetIndex, r.offsetTerm);
        return;
      case 'entries':
        this.append(r.entries);
        return;
      case 'hardState':
        this.hardState = r.hardState;
        return;
      case 'snapshotApply':
        this.applySnapshot({ metadata: r.snapshot, data: EMPTY });
        return;
      case 'snapshotCreate': {
        const s = this.createSnapshot(r.snapshot.index, r.snapshot.confState, EMPTY);
        invariant(s.metadata.term === r.snapshot.term, `snapshot ${r.snapshot.index} term mismatch`);
        return;
      }
      case 'compact':
        this.compact(r.index);
        return;
    }
  }
}

function snapFileName(index: number): string {
  return `snap-${index.toString(16).padStart(16, '0')}.snap`;
}

/** The CRC of a snapshot's data is computed in pieces of this size, yielding to the event loop between. */
const CRC_PIECE_BYTES = 4 * 1024 * 1024;

/** crc32 of `data` continuing from `crc`; a large buffer in pieces with the event loop running in between. */
async function crc32Sliced(data: Uint8Array, crc: number): Promise<number> {
  for (let off = 0; off < data.byteLength; off += CRC_PIECE_BYTES) {
    if (off > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    crc = crc32(data.subarray(off, off + CRC_PIECE_BYTES), crc);
  }
  return crc;
}

/**
 * Snapshot file: crc u32 (over the rest) | meta length u32 | meta JSON | data. Returned as a header and
 * the data itself, so a large snapshot is never copied into one more buffer (the copy stalls the loop).
 * The checksum of a 50 MB snapshot takes ~10 ms of CPU (several times that on a busy machine), so it
 * is computed in slices.
 */
async function encodeSnapshotFile(s: Snapshot): Promise<Uint8Array[]> {
  const meta = Buffer.from(
    JSON.stringify({
      index: s.metadata.index,
      term: s.metadata.term,
      voters: s.metadata.confState.voters,
      learners: s.metadata.confState.learners,
    }),
  );
  const head = Buffer.alloc(8 + meta.length);
  head.writeUInt32LE(meta.length, 4);
  head.set(meta, 8);
  head.writeUInt32LE(await crc32Sliced(s.data, crc32(head.subarray(4))), 0);
  return [head, s.data];
}

function decodeSnapshotFile(buf: Buffer, want: SnapshotMetadata, path: string): Snapshot {
  const bad = (why: string) => new CorruptWalError(`snapshot file ${path}: ${why}; refusing to open`);
  if (buf.length < 8 || crc32(buf.subarray(4)) !== buf.readUInt32LE(0)) throw bad('checksum mismatch');
  const mlen = buf.readUInt32LE(4);
  if (8 + mlen > buf.length) throw bad('truncated');
  const m = JSON.parse(buf.subarray(8, 8 + mlen).toString('utf8')) as Record<string, unknown>;
  if (m.index !== want.index || m.term !== want.term)
    throw bad(`metadata does not match the WAL (index ${want.index})`);
  return { metadata: want, data: new Uint8Array(buf.subarray(8 + mlen)) };
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** writeFileAtomic: temp file, fsync, rename over `name`, fsync the directory. */
async function writeFileAtomic(dir: string, name: string, data: Uint8Array | Uint8Array[]): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    for (const part of Array.isArray(data) ? data : [data]) await writeAll(fh, part);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await fsyncDir(dir);
}

/**
 * DiskStorage implements @palisade/raft's Storage from an in-memory image that mirrors the files.
 * Write methods update the image at once (so reads see them) and resolve once the change is durable;
 * per the Ready/Advance contract, call RawNode.advance() (and send messages) only after they resolve.
 * Calls are applied to the WAL in call order.
 */
export class DiskStorage implements Storage {
  private walBytes: number;

  private constructor(
    private readonly dir: string,
    private readonly state: LogState,
    private readonly writer: WalWriter,
    walBytes: number,
    private readonly opts: DiskStorageOptions,
  ) {
    this.walBytes = walBytes;
  }

  static async open(dir: string, opts: DiskStorageOptions = {}): Promise<Opened> {
    const log = opts.log ?? ((msg: string) => console.warn(msg));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const walPath = join(dir, WAL_FILE);
    const content = await readFile(walPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    const scanned = scanWal(content ?? Buffer.alloc(0), walPath);
    const state = new LogState();
    for (const [i, r] of scanned.records.entries()) {
      try {
        state.replay(r, i === 0);
      } catch (err) {
        throw new CorruptWalError(
          `${walPath}: record ${i + 1} (${r.type}) cannot be replayed: ${(err as Error).message}`,
        );
      }
    }
    const snapIndex = state.snap.metadata.index;
    const keep = snapIndex > 0 ? snapFileName(snapIndex) : undefined;
    if (keep !== undefined) {
      const path = join(dir, keep);
      const buf = await readFile(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT')
          throw new CorruptWalError(`snapshot file ${path} named by the WAL is missing; refusing to open`);
        throw err;
      });
      state.snap = decodeSnapshotFile(buf, state.snap.metadata, path);
    }
    // Leftovers: temp files of interrupted atomic writes, snapshots superseded or never recorded.
    for (const name of await readdir(dir)) {
      if (name.endsWith('.tmp') || (name.startsWith('snap-') && name.endsWith('.snap') && name !== keep))
        await rm(join(dir, name), { force: true });
    }
    const fh = await open(walPath, 'a', 0o600);
    if (scanned.tornBytes > 0) {
      log(
        `raft WAL ${walPath}: dropping a torn last record (${scanned.tornBytes} bytes at byte ${scanned.validBytes})`,
      );
      await fh.truncate(scanned.validBytes);
      await fh.datasync();
    }
    if (content === undefined) await fsyncDir(dir);
    const storage = new DiskStorage(dir, state, new WalWriter(fh, opts.hooks), scanned.validBytes, opts);
    return {
      storage,
      hardState: state.hardState,
      confState: state.snap.metadata.confState,
      snapshot: state.snap,
    };
  }

  // ---- Storage (read side) ----

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.state.hardState, confState: this.state.snap.metadata.confState };
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const s = this.state;
    if (lo <= s.offsetIndex) throw errCompacted();
    if (hi > s.lastIndex() + 1)
      throw errUnavailable(`entries' hi(${hi}) is out of bound lastIndex(${s.lastIndex()})`);
    if (lo >= hi) return [];
    return limitSize(s.ents.slice(lo - s.offsetIndex - 1, hi - s.offsetIndex - 1), maxSize);
  }

  term(index: number): number {
    return this.state.term(index);
  }

  firstIndex(): number {
    return this.state.offsetIndex + 1;
  }

  lastIndex(): number {
    return this.state.lastIndex();
  }

  snapshot(): Snapshot {
    return this.state.snap;
  }

  hardStateNow(): HardState {
    return this.state.hardState;
  }

  /** allEntries returns the stored log suffix (tests and tooling). */
  allEntries(): Entry[] {
    return this.state.ents.slice();
  }

  /** Bytes in the current WAL segment (valid records only). */
  get walSize(): number {
    return this.walBytes;
  }

  // ---- write side ----

  /**
   * persist performs step 1 of the Ready/Advance contract: the snapshot (file first, atomically),
   * then entries, then the hard state, as one WAL write, fdatasynced when `mustSync`. Concurrent
   * calls share writes and fsyncs. Resolves once durable (or written, when !mustSync).
   */
  persist(rd: PersistBatch): Promise<void> {
    try {
      this.check();
      const recs: WalRecord[] = [];
      let snapWrite: Promise<void> | undefined;
      if (rd.snapshot !== undefined && rd.snapshot.metadata.index > 0) {
        this.state.applySnapshot(rd.snapshot);
        snapWrite = this.queueSnapshotFile(rd.snapshot);
        recs.push({ type: 'snapshotApply', snapshot: rd.snapshot.metadata });
      }
      if (rd.entries !== undefined && rd.entries.length > 0) {
        const stored = this.state.append(rd.entries);
        if (stored.length > 0) recs.push({ type: 'entries', entries: stored.slice() });
      }
      if (rd.hardState !== undefined) {
        this.state.hardState = rd.hardState;
        recs.push({ type: 'hardState', hardState: rd.hardState });
      }
      const written = this.queueRecords(recs, rd.mustSync || snapWrite !== undefined);
      return snapWrite ? Promise.all([snapWrite, written]).then(() => {}) : written;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  setHardState(hs: HardState): Promise<void> {
    return this.persist({ hardState: hs, mustSync: true });
  }

  /** append adds entries, discarding stored entries at or after the first new index. */
  append(entries: readonly Entry[]): Promise<void> {
    return this.persist({ entries, mustSync: true });
  }

  /** applySnapshot replaces the whole storage with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): Promise<void> {
    if (snap.metadata.index <= this.state.snap.metadata.index) return Promise.reject(errSnapOutOfDate());
    return this.persist({ snapshot: snap, mustSync: true });
  }

  /**
   * createSnapshot records an application snapshot at `index` (≤ the applied index, present in the
   * log); entries are kept (call compact()). The snapshot file is durable before the WAL names it.
   */
  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    this.check();
    const snap = this.state.createSnapshot(index, confState, data);
    const fileWrite = this.queueSnapshotFile(snap);
    await Promise.all([
      fileWrite,
      this.queueRecords([{ type: 'snapshotCreate', snapshot: snap.metadata }], true),
    ]);
    return snap;
  }

  /**
   * compact discards entries up to and including `compactIndex`, and rewrites the WAL as a single
   * new segment once it has reached `rewriteThreshold` bytes.
   */
  async compact(compactIndex: number): Promise<void> {
    this.check();
    this.state.compact(compactIndex);
    const threshold = this.opts.rewriteThreshold ?? 8 * 1024 * 1024;
    if (this.walBytes >= threshold) await this.rewrite();
    else await this.queueRecords([{ type: 'compact', index: compactIndex }], true);
  }

  /**
   * rewrite replaces the WAL with the current image (base record, hard state, entries): written to a
   * temp file, fsynced, renamed over the old one, directory fsynced. The image is taken now, so
   * writes issued later are appended to the new segment.
   */
  async rewrite(): Promise<void> {
    this.check();
    const image = this.image();
    const snapIndex = this.state.snap.metadata.index;
    await this.writer.task(async () => {
      await writeFileAtomic(this.dir, WAL_FILE, image);
      const old = this.writer.fh;
      this.writer.fh = await open(join(this.dir, WAL_FILE), 'a', 0o600);
      await old.close();
      this.walBytes = image.length;
      const keep = snapIndex > 0 ? snapFileName(snapIndex) : undefined;
      for (const name of await readdir(this.dir)) {
        if (name.startsWith('snap-') && name.endsWith('.snap') && name !== keep)
          await rm(join(this.dir, name), { force: true });
      }
    });
  }

  /** close waits for queued writes, then closes the WAL. */
  async close(): Promise<void> {
    await this.writer.idle().catch(() => {});
    await this.writer.fh.close();
  }

  private image(): Buffer {
    const s = this.state;
    const recs: WalRecord[] = [
      { type: 'base', snapshot: s.snap.metadata, offsetIndex: s.offsetIndex, offsetTerm: s.offsetTerm },
      { type: 'hardState', hardState: s.hardState },
    ];
    let chunk: Entry[] = [];
    let bytes = 0;
    for (const e of s.ents) {
      chunk.push(e);
      bytes += e.data.byteLength + 32;
      if (bytes >= REWRITE_CHUNK_BYTES) {
        recs.push({ type: 'entries', entries: chunk });
        chunk = [];
        bytes = 0;
      }
    }
    if (chunk.length > 0) recs.push({ type: 'entries', entries: chunk });
    return encodeRecords(recs);
  }

  private queueRecords(recs: WalRecord[], sync: boolean): Promise<void> {
    if (recs.length === 0) return sync ? this.writer.append(Buffer.alloc(0), true) : Promise.resolve();
    const data = encodeRecords(recs);
    this.walBytes += data.length;
    return this.writer.append(data, sync);
  }

  private queueSnapshotFile(snap: Snapshot): Promise<void> {
    const name = snapFileName(snap.metadata.index);
    // Snapshot data is never modified once created, so the checksum can be computed in the task.
    return this.writer.task(async () => writeFileAtomic(this.dir, name, await encodeSnapshotFile(snap)));
  }

  private check(): void {
    const err = this.writer.error;
    if (err) throw new Error(`raft storage failed earlier: ${err.message}`, { cause: err });
  }
}
