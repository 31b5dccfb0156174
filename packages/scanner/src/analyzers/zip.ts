/**
 * Minimal zip reader for jar/war/ear files: the central directory (with zip64 and prepended data,
 * e.g. a launch script in front of a Spring Boot jar) and stored or deflated entries.
 *
 * Format facts (PKWARE APPNOTE): end of central directory record "PK\5\6" (22 bytes + comment):
 * total entries u16 @10, directory size u32 @12, directory offset u32 @16. Zip64 locator "PK\6\7"
 * 20 bytes before it, zip64 record offset u64 @8; zip64 record "PK\6\6": entries u64 @32,
 * size u64 @40, offset u64 @48. Central header "PK\1\2" (46 bytes): flags @8, method @10,
 * compressed size @20, size @24, name length @28, extra length @30, comment length @32,
 * local header offset @42. Local header "PK\3\4" (30 bytes): name length @26, extra length @28.
 */
import { inflateRawSync } from 'node:zlib';
import type { ByteSource } from './fsroot.js';

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  /** Absolute file offset of the local header (prepended-data shift applied). */
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;
const MAX_ENTRIES = 1_000_000;

export function readZipDirectory(src: ByteSource): ZipEntry[] {
  if (src.size < 22) throw new ZipError('too short for a zip file');
  const tailLen = Math.min(src.size, 22 + 0xffff);
  const tailStart = src.size - tailLen;
  const tail = src.read(tailStart, tailLen);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIG && i + 22 + tail.readUInt16LE(i + 20) <= tail.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipError('no end of central directory record (not a zip file)');
  let total = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  let recordPos = tailStart + eocd;
  if (total === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locPos = tailStart + eocd - 20;
    const loc = src.read(locPos, 20);
    if (loc.length === 20 && loc.readUInt32LE(0) === ZIP64_LOCATOR_SIG) {
      const z64Pos = Number(loc.readBigUInt64LE(8));
      let z = src.read(z64Pos, 56);
      let shift = 0;
      if (z.length < 56 || z.readUInt32LE(0) !== ZIP64_EOCD_SIG) {
        // Prepended data: the record sits right before the locator.
        z = src.read(locPos - 56, 56);
        shift = locPos - 56 - z64Pos;
        if (z.length < 56 || z.readUInt32LE(0) !== ZIP64_EOCD_SIG) throw new ZipError('bad zip64 end record');
      }
      total = Number(z.readBigUInt64LE(32));
      cdSize = Number(z.readBigUInt64LE(40));
      cdOffset = Number(z.readBigUInt64LE(48));
      recordPos = z64Pos + shift;
    }
  }
  if (total > MAX_ENTRIES) throw new ZipError(`too many entries (${total})`);
  // Bytes in front of the archive (offsets in the directory do not count them).
  const base = recordPos - (cdOffset + cdSize);
  if (base < 0) throw new ZipError('central directory offset points past its end');
  const cd = src.read(cdOffset + base, cdSize);
  if (cd.length < cdSize) throw new ZipError('truncated central directory');
  const out: ZipEntry[] = [];
  let p = 0;
  for (let n = 0; n < total; n++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CEN_SIG)
      throw new ZipError(`bad central directory entry #${n}`);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    let compressedSize = cd.readUInt32LE(p + 20);
    let size = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let offset = cd.readUInt32LE(p + 42);
    const name = cd.toString((flags & 0x800) !== 0 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLen);
    // zip64 extended information extra field (id 1): present values in a fixed order.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd && e + 4 <= cd.length) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (id === 1) {
        let q = e + 4;
        if (size === 0xffffffff && q + 8 <= e + 4 + len) {
          size = Number(cd.readBigUInt64LE(q));
          q += 8;
        }
        if (compressedSize === 0xffffffff && q + 8 <= e + 4 + len) {
          compressedSize = Number(cd.readBigUInt64LE(q));
          q += 8;
        }
        if (offset === 0xffffffff && q + 8 <= e + 4 + len) offset = Number(cd.readBigUInt64LE(q));
      }
      e += 4 + len;
    }
    out.push({ name, method, flags, compressedSize, size, localHeaderOffset: offset + base });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** The uncompressed bytes of an entry (stored or deflated), refusing more than `maxBytes`. */
export function readZipEntry(src: ByteSource, entry: ZipEntry, maxBytes: number): Buffer {
  if ((entry.flags & 1) !== 0) throw new ZipError(`${entry.name}: encrypted entry`);
  if (entry.size > maxBytes) throw new ZipError(`${entry.name}: ${entry.size} bytes exceeds the limit`);
  const loc = src.read(entry.localHeaderOffset, 30);
  if (loc.length < 30 || loc.readUInt32LE(0) !== LOC_SIG)
    throw new ZipError(`${entry.name}: bad local header`);
  const dataStart = entry.localHeaderOffset + 30 + loc.readUInt16LE(26) + loc.readUInt16LE(28);
  const data = src.read(dataStart, entry.compressedSize);
  if (data.length < entry.compressedSize) throw new ZipError(`${entry.name}: truncated data`);
  if (entry.method === 0) return Buffer.from(data);
  if (entry.method === 8) {
    try {
      return inflateRawSync(data, { maxOutputLength: Math.max(1, maxBytes) });
    } catch (e) {
      throw new ZipError(`${entry.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new ZipError(`${entry.name}: unsupported compression method ${entry.method}`);
}
