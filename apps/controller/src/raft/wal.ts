// Write-ahead log framing and replay for the Raft storage (see README.md in this folder).
//
// Frame: length u32 LE (payload bytes) | crc u32 LE | type u8 | payload.
// The CRC-32 covers the length field, the type byte and the payload, so a flipped length is caught too.
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { ConfState, Entry, EntryType, HardState, SnapshotMetadata } from '@palisade/raft';

export const HEADER_SIZE = 9;
/** Upper bound on one record's payload; larger length fields are treated as garbage. */
export const MAX_RECORD_SIZE = 256 * 1024 * 1024;

export class CorruptWalError extends Error {
  override name = 'CorruptWalError';
}

export const RecordType = {
  /** First record of a rewritten segment: snapshot metadata plus the log offset (dummy index/term). */
  base: 1,
  entries: 2,
  hardState: 3,
  /** A snapshot received from the leader replaced the whole log (file snap-<index>.snap holds it). */
  snapshotApply: 4,
  /** The application recorded a snapshot at an index of the log; entries are kept. */
  snapshotCreate: 5,
  /** Entries up to and including `index` were discarded. */
  compact: 6,
} as const;
export type RecordTypeCode = (typeof RecordType)[keyof typeof RecordType];

export type WalRecord =
  | { type: 'base'; snapshot: SnapshotMetadata; offsetIndex: number; offsetTerm: number }
  | { type: 'entries'; entries: Entry[] }
  | { type: 'hardState'; hardState: HardState }
  | { type: 'snapshotApply'; snapshot: SnapshotMetadata }
  | { type: 'snapshotCreate'; snapshot: SnapshotMetadata }
  | { type: 'compact'; index: number };

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'confChange'];
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function frameCrc(buf: Uint8Array, offset: number, len: number): number {
  const c = crc32(buf.subarray(offset, offset + 4));
  return crc32(buf.subarray(offset + 8, offset + HEADER_SIZE + len), c);
}

function json(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

/**
 * Entries payload: u32 header length | JSON header [[index, term, typeCode, dataLength], ...] | the
 * entries' data bytes, concatenated in order. Returned as parts (see encodeRecords).
 */
function entriesParts(entries: readonly Entry[]): Uint8Array[] {
  const header = json(entries.map((e) => [e.index, e.term, ENTRY_TYPES.indexOf(e.type), e.data.byteLength]));
  const hlen = Buffer.alloc(4);
  hlen.writeUInt32LE(header.byteLength, 0);
  const parts: Uint8Array[] = [hlen, header];
  for (const e of entries) parts.push(e.data);
  return parts;
}

function decodeEntries(p: Buffer): Entry[] {
  const hlen = p.readUInt32LE(0);
  const header = JSON.parse(dec.decode(p.subarray(4, 4 + hlen))) as unknown;
  if (!Array.isArray(header)) throw new Error('entries header is not an array');
  let at = 4 + hlen;
  const out: Entry[] = [];
  for (const h of header as unknown[]) {
    if (!Array.isArray(h) || h.length !== 4 || !h.every((x) => Number.isSafeInteger(x) && x >= 0))
      throw new Error('bad entry header');
    const [index, term, typeCode, len] = h as [number, number, number, number];
    const type = ENTRY_TYPES[typeCode];
    if (type === undefined || at + len > p.length) throw new Error('bad entry');
    // Copy: the entry must not pin (or alias) the whole read buffer.
    out.push({ index, term, type, data: new Uint8Array(p.subarray(at, at + len)) });
    at += len;
  }
  if (at !== p.length) throw new Error('trailing bytes after entries');
  for (let i = 1; i < out.length; i++)
    if ((out[i] as Entry).index !== (out[i - 1] as Entry).index + 1)
      throw new Error('entries not contiguous');
  return out;
}

function metaJson(m: SnapshotMetadata) {
  return { index: m.index, term: m.term, voters: m.confState.voters, learners: m.confState.learners };
}

function isIdList(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((v) => Number.isSafeInteger(v) && v > 0);
}

function parseMeta(o: Record<string, unknown>): SnapshotMetadata {
  const { index, term, voters, learners } = o;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(term) || !isIdList(voters) || !isIdList(learners))
    throw new Error('bad snapshot metadata');
  const confState: ConfState = { voters, learners };
  return { index: index as number, term: term as number, confState };
}

/** A record's payload, as byte parts laid out one after another. */
function payloadParts(r: WalRecord): Uint8Array[] {
  switch (r.type) {
    case 'base':
      return [json({ ...metaJson(r.snapshot), offsetIndex: r.offsetIndex, offsetTerm: r.offsetTerm })];
    case 'entries':
      return entriesParts(r.entries);
    case 'hardState':
      return [json({ term: r.hardState.term, vote: r.hardState.vote, commit: r.hardState.commit })];
    case 'snapshotApply':
    case 'snapshotCreate':
      return [json(metaJson(r.snapshot))];
    case 'compact':
      return [json({ index: r.index })];
  }
}

/**
 * encodeRecords frames records into one buffer, writing every byte once: a large batch of entries
 * costs one fresh allocation, not one per encoding step (first-touch page faults of fresh memory are
 * what makes a multi-megabyte batch slow, several times the cost of the copy itself).
 */
export function encodeRecords(recs: readonly WalRecord[]): Buffer {
  const payloads = recs.map(payloadParts);
  let size = 0;
  for (const parts of payloads) {
    size += HEADER_SIZE;
    for (const b of parts) size += b.byteLength;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [i, parts] of payloads.entries()) {
    const start = at;
    at += HEADER_SIZE;
    for (const b of parts) {
      buf.set(b, at);
      at += b.byteLength;
    }
    const len = at - start - HEADER_SIZE;
    buf.writeUInt32LE(len, start);
    buf.writeUInt8(RecordType[(recs[i] as WalRecord).type], start + 8);
    buf.writeUInt32LE(frameCrc(buf, start, len), start + 4);
  }
  return buf;
}

export function encodeRecord(r: WalRecord): Buffer {
  return encodeRecords([r]);
}

function decodePayload(type: number, p: Buffer): WalRecord {
  if (type === RecordType.entries) return { type: 'entries', entries: decodeEntries(p) };
  const o = JSON.parse(dec.decode(p)) as Record<string, unknown>;
  if (typeof o !== 'object' || o === null) throw new Error('payload is not an object');
  switch (type) {
    case RecordType.base: {
      const { offsetIndex, offsetTerm } = o;
      if (!Number.isSafeInteger(offsetIndex) || !Number.isSafeInteger(offsetTerm))
        throw new Error('bad base');
      return {
        type: 'base',
        snapshot: parseMeta(o),
        offsetIndex: offsetIndex as number,
        offsetTerm: offsetTerm as number,
      };
    }
    case RecordType.hardState: {
      const { term, vote, commit } = o;
      if (![term, vote, commit].every((x) => Number.isSafeInteger(x) && (x as number) >= 0))
        throw new Error('bad hard state');
      return {
        type: 'hardState',
        hardState: { term: term as number, vote: vote as number, commit: commit as number },
      };
    }
    case RecordType.snapshotApply:
      return { type: 'snapshotApply', snapshot: parseMeta(o) };
    case RecordType.snapshotCreate:
      return { type: 'snapshotCreate', snapshot: parseMeta(o) };
    case RecordType.compact:
      if (!Number.isSafeInteger(o.index)) throw new Error('bad compact');
      return { type: 'compact', index: o.index as number };
    default:
      throw new Error(`unknown record type ${type}`);
  }
}

/** tryDecodeAt decodes the frame at `offset`, or returns undefined if there is no valid frame there. */
function tryDecodeAt(buf: Buffer, offset: number): { record: WalRecord; end: number } | undefined {
  if (offset + HEADER_SIZE > buf.length) return undefined;
  const len = buf.readUInt32LE(offset);
  if (len > MAX_RECORD_SIZE || offset + HEADER_SIZE + len > buf.length) return undefined;
  if (frameCrc(buf, offset, len) !== buf.readUInt32LE(offset + 4)) return undefined;
  try {
    const record = decodePayload(
      buf.readUInt8(offset + 8),
      buf.subarray(offset + HEADER_SIZE, offset + HEADER_SIZE + len),
    );
    return { record, end: offset + HEADER_SIZE + len };
  } catch {
    return undefined;
  }
}

export interface Scanned {
  records: WalRecord[];
  /** Byte length of the valid prefix. */
  validBytes: number;
  /** Bytes after the valid prefix that hold no valid record: a torn last write, to truncate. */
  tornBytes: number;
}

/**
 * scanWal decodes every record. An invalid record with no valid record anywhere after it is a torn
 * tail (reported in `tornBytes`); an invalid record followed by any valid one is corruption and
 * throws CorruptWalError: the log of a node that may have voted or acknowledged entries must never
 * be silently shortened. (Searching every later byte offset, rather than trusting the bad record's
 * length field, means a corrupted length cannot disguise mid-log damage as a torn tail.)
 */
export function scanWal(buf: Buffer, name = 'WAL'): Scanned {
  const records: WalRecord[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const r = tryDecodeAt(buf, offset);
    if (r === undefined) {
      for (let at = offset + 1; at + HEADER_SIZE <= buf.length; at++) {
        if (tryDecodeAt(buf, at) !== undefined)
          throw new CorruptWalError(
            `${name}: record ${records.length + 1} at byte ${offset} is corrupt but a valid record follows at byte ${at}; ` +
              'refusing to open (restore the data directory, or remove this member and re-add it empty so it catches up from the leader)',
          );
      }
      return { records, validBytes: offset, tornBytes: buf.length - offset };
    }
    records.push(r.record);
    offset = r.end;
  }
  return { records, validBytes: offset, tornBytes: 0 };
}

/** Hooks for tests: wrap or fail the durable operations. */
export interface WalHooks {
  write?: (fh: FileHandle, data: Buffer) => Promise<void>;
  datasync?: (fh: FileHandle) => Promise<void>;
}

interface QueuedWrite {
  kind: 'write';
  data: Buffer;
  sync: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface QueuedTask {
  kind: 'task';
  run: () => Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * WalWriter appends framed records to an open file with group commit: every write queued while a
 * write is in flight goes out in the next single write(), with one fdatasync if any of them asked for
 * it. Tasks (snapshot files, segment rewrites) run in queue order between writes. After any I/O error
 * the writer is failed: every pending and later operation rejects (the node must stop).
 */
export class WalWriter {
  private queue: (QueuedWrite | QueuedTask)[] = [];
  private flushing = false;
  private failed: Error | undefined;

  constructor(
    public fh: FileHandle,
    private readonly hooks: WalHooks = {},
  ) {}

  /** append queues `data`; resolves once written (and fdatasynced when `sync`). */
  append(data: Buffer, sync: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'write', data, sync, resolve, reject });
      void this.flush();
    });
  }

  /** task queues `run` to execute after everything queued before it is written. */
  task(run: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'task', run, resolve, reject });
      void this.flush();
    });
  }

  get error(): Error | undefined {
    return this.failed;
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        if (this.failed) {
          for (const q of this.queue.splice(0)) q.reject(this.failed);
          return;
        }
        const head = this.queue[0] as QueuedWrite | QueuedTask;
        if (head.kind === 'task') {
          this.queue.shift();
          try {
            await head.run();
            head.resolve();
          } catch (err) {
            this.failed = err as Error;
            head.reject(err as Error);
          }
          continue;
        }
        const batch: QueuedWrite[] = [];
        while (this.queue.length > 0 && (this.queue[0] as QueuedWrite | QueuedTask).kind === 'write')
          batch.push(this.queue.shift() as QueuedWrite);
        try {
          const data =
            batch.length === 1 ? (batch[0] as QueuedWrite).data : Buffer.concat(batch.map((b) => b.data));
          if (this.hooks.write) await this.hooks.write(this.fh, data);
          else await writeAll(this.fh, data);
          if (batch.some((b) => b.sync)) {
            if (this.hooks.datasync) await this.hooks.datasync(this.fh);
            else await this.fh.datasync();
          }
        } catch (err) {
          this.failed = err as Error;
          for (const b of batch) b.reject(err as Error);
          continue;
        }
        for (const b of batch) b.resolve();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** idle resolves once everything queued so far has been handled. */
  idle(): Promise<void> {
    return this.task(async () => {});
  }
}

export async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.byteLength) {
    const { bytesWritten } = await fh.write(data, off, data.byteLength - off);
    off += bytesWritten;
  }
}
