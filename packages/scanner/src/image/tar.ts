/**
 * A small tar reader (POSIX ustar + pax extended headers + GNU long names / base-256 numbers), written
 * from the POSIX pax / ustar format description. Two drivers share the header parser:
 * `readTar` streams entries from an async byte source; `indexTarFile` lists the entries of a tar file
 * with their offsets, for random access.
 */
import type { FileHandle } from 'node:fs/promises';
import { ImageError } from './types.js';

export const BLOCK = 512;
/** Limit on pax / GNU long-name meta entries (their content is held in memory). */
const MAX_META_BYTES = 1024 * 1024;

export type TarEntryType =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'char-device'
  | 'block-device'
  | 'directory'
  | 'fifo'
  | 'other';

export interface TarHeader {
  /** Path as stored (pax `path` / GNU long name / ustar prefix+name), not normalised. */
  name: string;
  type: TarEntryType;
  /** The raw type flag character. */
  typeflag: string;
  mode: number;
  size: number;
  linkname: string;
  uid: number;
  gid: number;
  mtime: number;
}

interface RawHeader extends TarHeader {
  /** Bytes of content that follow this header in the archive (0 for header-only types). */
  dataSize: number;
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

/** Octal ASCII (space/NUL terminated) or GNU base-256 (high bit of the first byte set). */
export function parseNumber(field: Buffer, what: string): number {
  const first = field[0] ?? 0;
  if (first & 0x80) {
    if (first & 0x40) throw new ImageError('malformed-tar', `tar header: negative ${what}`);
    let value = first & 0x3f;
    for (let i = 1; i < field.length; i++) {
      value = value * 256 + (field[i] ?? 0);
      if (value > Number.MAX_SAFE_INTEGER)
        throw new ImageError('malformed-tar', `tar header: ${what} too large`);
    }
    return value;
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/g, '')
    .replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new ImageError('malformed-tar', `tar header: invalid ${what} "${text}"`);
  return Number.parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = parseNumber(block.subarray(148, 156), 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char-device';
    case '4':
      return 'block-device';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

/** Types whose size field does not announce content (as in Go's archive/tar and GNU tar). */
const HEADER_ONLY = new Set<TarEntryType>([
  'hardlink',
  'symlink',
  'char-device',
  'block-device',
  'directory',
  'fifo',
]);

export function parseHeaderBlock(block: Buffer): RawHeader {
  if (!checksumOk(block)) {
    throw new ImageError('malformed-tar', 'tar header checksum mismatch (not a tar archive, or corrupted)');
  }
  const magic = block.subarray(257, 263).toString('latin1');
  const ustar = magic === 'ustar\0';
  let name = cString(block, 0, 100);
  if (ustar) {
    const prefix = cString(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  const typeflag = String.fromCharCode(block[156] ?? 0);
  let type = entryType(typeflag);
  // Pre-POSIX archives mark directories with a trailing slash on a regular-file entry.
  if (type === 'file' && typeflag !== '7' && name.endsWith('/')) type = 'directory';
  const size = parseNumber(block.subarray(124, 136), 'size');
  return {
    name,
    type,
    typeflag,
    mode: parseNumber(block.subarray(100, 108), 'mode') & 0o7777,
    size,
    dataSize: HEADER_ONLY.has(type) ? 0 : size,
    linkname: cString(block, 157, 100),
    uid: parseNumber(block.subarray(108, 116), 'uid'),
    gid: parseNumber(block.subarray(116, 124), 'gid'),
    mtime: parseNumber(block.subarray(136, 148), 'mtime'),
  };
}

/** Parses pax extended header records: `<length> <key>=<value>\n`. */
export function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad with NULs
    const space = data.indexOf(0x20, pos);
    if (space < 0) throw new ImageError('malformed-tar', 'malformed pax header record');
    const length = Number.parseInt(data.subarray(pos, space).toString('latin1'), 10);
    if (!Number.isSafeInteger(length) || length <= space - pos + 1 || pos + length > data.length) {
      throw new ImageError('malformed-tar', 'malformed pax header record length');
    }
    const record = data.subarray(space + 1, pos + length);
    if (record[record.length - 1] !== 0x0a)
      throw new ImageError('malformed-tar', 'pax record not newline-terminated');
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw new ImageError('malformed-tar', 'pax record without "="');
    out.set(
      record.subarray(0, eq).toString('utf8'),
      record.subarray(eq + 1, record.length - 1).toString('utf8'),
    );
    pos += length;
  }
  return out;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Applies pending pax / GNU meta data to a header (the meta entries themselves are not returned). */
class MetaState {
  pax = new Map<string, string>();
  longName: string | undefined;
  longLink: string | undefined;

  isMeta(h: RawHeader): 'pax' | 'global' | 'longname' | 'longlink' | undefined {
    if (h.typeflag === 'x') return 'pax';
    if (h.typeflag === 'g') return 'global';
    if (h.typeflag === 'L') return 'longname';
    if (h.typeflag === 'K') return 'longlink';
    return undefined;
  }

  absorb(kind: 'pax' | 'global' | 'longname' | 'longlink', data: Buffer): void {
    if (kind === 'pax') for (const [k, v] of parsePax(data)) this.pax.set(k, v);
    else if (kind === 'longname') this.longName = cString(data, 0, data.length);
    else if (kind === 'longlink') this.longLink = cString(data, 0, data.length);
    // Global headers (type g) carry archive-wide defaults such as comments; they are ignored.
  }

  apply(h: RawHeader): RawHeader {
    const out = { ...h };
    if (this.longName !== undefined) out.name = this.longName;
    if (this.longLink !== undefined) out.linkname = this.longLink;
    const path = this.pax.get('path');
    if (path !== undefined) out.name = path;
    const linkpath = this.pax.get('linkpath');
    if (linkpath !== undefined) out.linkname = linkpath;
    const size = this.pax.get('size');
    if (size !== undefined) {
      if (!/^[0-9]+$/.test(size) || !Number.isSafeInteger(Number(size))) {
        throw new ImageError('malformed-tar', `pax header: invalid size "${size}"`);
      }
      out.size = Number(size);
      out.dataSize = HEADER_ONLY.has(out.type) ? 0 : out.size;
    }
    if (out.type === 'file' && out.typeflag !== '7' && out.name.endsWith('/')) {
      out.type = 'directory';
      out.dataSize = 0;
    }
    this.pax = new Map();
    this.longName = undefined;
    this.longLink = undefined;
    return out;
  }
}

/** Pull-based reader over an async byte source. */
class ByteReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private ended = false;
  /** Total bytes handed out so far (the archive offset). */
  offset = 0;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.ended) {
      const next = await this.it.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      if (chunk.length === 0) continue;
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
    return this.length >= n;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.length -= n;
    this.offset += n;
    return out;
  }

  /** Exactly n bytes; null at a clean end of input (no byte available); throws when cut short. */
  async read(n: number, what: string): Promise<Buffer | null> {
    if (await this.fill(n)) return this.take(n);
    if (this.length === 0) return null;
    throw new ImageError('truncated', `tar archive is truncated (inside ${what})`);
  }

  /** Up to n bytes in chunks as they come; throws when the input ends first. */
  async *stream(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.length === 0 && !(await this.fill(1))) {
        throw new ImageError('truncated', `tar archive is truncated (inside ${what})`);
      }
      const take = Math.min(left, this.chunks[0]?.length ?? 0);
      left -= take;
      yield this.take(take);
    }
  }

  async skip(n: number, what: string): Promise<void> {
    for await (const _ of this.stream(n, what)) {
      // discard
    }
  }

  /** Reads and discards everything that is left (so that upstream digests see every byte). */
  async drain(): Promise<void> {
    this.chunks = [];
    this.length = 0;
    while (!(await this.it.next()).done) {
      // discard
    }
    this.ended = true;
  }
}

export interface TarEntry extends TarHeader {
  /** The entry's content; may be read at most once, before advancing to the next entry. */
  body(): AsyncGenerator<Buffer>;
}

/**
 * Streams the entries of a tar archive. Content not read by the consumer is skipped. An archive must
 * end with an end-of-archive (zero) block; input that stops before one is reported as truncated, except
 * a completely empty input, which is an empty archive. Bytes after the end marker are read and
 * discarded, so that hashing layers of the source see the whole stream.
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const iterator = source[Symbol.asyncIterator]();
  const reader = new ByteReader(iterator);
  const meta = new MetaState();
  let entries = 0;
  let completed = false;
  try {
    for (;;) {
      const block = await reader.read(BLOCK, 'a header');
      if (block === null) {
        if (entries === 0 && reader.offset === 0) break; // empty input = empty archive
        throw new ImageError(
          'truncated',
          'tar archive is truncated (ends without the end-of-archive marker)',
        );
      }
      if (isZeroBlock(block)) {
        await reader.drain();
        break;
      }
      const raw = parseHeaderBlock(block);
      const metaKind = meta.isMeta(raw);
      if (metaKind) {
        if (raw.size > MAX_META_BYTES)
          throw new ImageError('malformed-tar', `tar ${metaKind} header too large`);
        const data = raw.size === 0 ? Buffer.alloc(0) : await reader.read(raw.size, `a ${metaKind} header`);
        if (data === null)
          throw new ImageError('truncated', 'tar archive is truncated (inside a meta header)');
        await reader.skip(padding(raw.size), 'padding');
        meta.absorb(metaKind, data);
        continue;
      }
      const h = meta.apply(raw);
      entries++;
      let consumed = false;
      let bodyDone = h.dataSize === 0;
      const entryName = h.name;
      const entry: TarEntry = {
        name: h.name,
        type: h.type,
        typeflag: h.typeflag,
        mode: h.mode,
        size: h.size,
        linkname: h.linkname,
        uid: h.uid,
        gid: h.gid,
        mtime: h.mtime,
        body: async function* () {
          if (consumed) throw new Error(`tar entry ${entryName}: body already read`);
          consumed = true;
          if (h.dataSize === 0) return;
          yield* reader.stream(h.dataSize, `the content of ${entryName}`);
          bodyDone = true;
        },
      };
      const before = reader.offset;
      yield entry;
      // Skip what the consumer did not read, then the padding to the next block.
      if (!bodyDone) {
        const read = reader.offset - before;
        await reader.skip(h.dataSize - read, `the content of ${entryName}`);
      }
      await reader.skip(padding(h.dataSize), 'padding');
    }
    completed = true;
  } finally {
    if (!completed) await iterator.return?.();
  }
}

export interface IndexedTarEntry extends TarHeader {
  /** Offset of the entry's content in the file. */
  offset: number;
}

/** Lists the entries of a tar file with their content offsets (meta entries applied, not listed). */
export async function indexTarFile(handle: FileHandle, fileSize: number): Promise<IndexedTarEntry[]> {
  const out: IndexedTarEntry[] = [];
  const meta = new MetaState();
  const block = Buffer.alloc(BLOCK);
  let pos = 0;
  for (;;) {
    if (pos + BLOCK > fileSize) {
      if (pos === fileSize && pos === 0) return out;
      throw new ImageError('truncated', 'tar archive is truncated (ends without the end-of-archive marker)');
    }
    await handle.read(block, 0, BLOCK, pos);
    pos += BLOCK;
    if (isZeroBlock(block)) return out;
    const raw = parseHeaderBlock(block);
    if (pos + raw.dataSize > fileSize)
      throw new ImageError('truncated', `tar archive is truncated (inside ${raw.name})`);
    const metaKind = meta.isMeta(raw);
    if (metaKind) {
      if (raw.size > MAX_META_BYTES)
        throw new ImageError('malformed-tar', `tar ${metaKind} header too large`);
      const data = Buffer.alloc(raw.size);
      await handle.read(data, 0, raw.size, pos);
      meta.absorb(metaKind, data);
      pos += raw.size + padding(raw.size);
      continue;
    }
    const h = meta.apply(raw);
    if (pos + h.dataSize > fileSize)
      throw new ImageError('truncated', `tar archive is truncated (inside ${h.name})`);
    const { dataSize, ...header } = h;
    out.push({ ...header, offset: pos });
    pos += dataSize + padding(dataSize);
  }
}
