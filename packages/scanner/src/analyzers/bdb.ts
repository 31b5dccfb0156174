/**
 * Read-only access to the values of a Berkeley DB *hash* database (the format of rpm's legacy
 * var/lib/rpm/Packages). Only what rpm uses: hash pages with key/data pairs, data either inline
 * (H_KEYDATA) or in a chain of overflow pages (H_OFFPAGE). Pages are scanned in file order.
 *
 * Layout facts used (Berkeley DB 4.x–6.x, db_page.h):
 *   metadata page 0: magic u32 @12 (0x061561 for hash), version u32 @16, pagesize u32 @20,
 *                    type u8 @25 (8 = hash metadata), last_pgno u32 @32; byte order = the magic's.
 *   page header (26 bytes): pgno @8, prev @12, next_pgno @16, entries u16 @20, hf_offset u16 @22,
 *                    level u8 @24, type u8 @25; item offsets (u16) follow from byte 26.
 *   page types: 2 = hash (unsorted), 13 = hash, 7 = overflow (payload at 26, length hf_offset).
 *   hash items: byte 0 type: 1 = keydata (bytes follow), 2 = duplicates, 3 = offpage
 *                    {pgno u32 @4, total length u32 @8}, 4 = offpage duplicates.
 *   an item's length is the distance to the previous item (items fill the page from its end).
 */

export class BdbError extends Error {}

const HASH_MAGIC = 0x061561;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;
const PAGE_HEADER = 26;

export interface BdbEntry {
  key: Buffer;
  value: Buffer;
}

/** All key/value pairs; `littleEndian` is the file's byte order (rpm stores its integer keys in it). */
export function readBdbHash(
  file: Uint8Array,
  opts: { maxValueBytes?: number } = {},
): { littleEndian: boolean; entries: BdbEntry[] } {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (b.length < 512) throw new BdbError(`too short for a Berkeley DB file (${b.length} bytes)`);
  let le: boolean;
  if (b.readUInt32LE(12) === HASH_MAGIC) le = true;
  else if (b.readUInt32BE(12) === HASH_MAGIC) le = false;
  else throw new BdbError('not a Berkeley DB hash database (bad magic)');
  const u32 = (buf: Buffer, off: number) => (le ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  const u16 = (buf: Buffer, off: number) => (le ? buf.readUInt16LE(off) : buf.readUInt16BE(off));
  const pageSize = u32(b, 20);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new BdbError(`implausible page size ${pageSize}`);
  }
  if (b[25] !== P_HASHMETA) throw new BdbError(`page 0 is not hash metadata (type ${b[25]})`);
  const pageCount = Math.floor(b.length / pageSize);
  const lastPgno = Math.min(u32(b, 32), pageCount - 1);
  const maxValue = opts.maxValueBytes ?? 64 * 1024 * 1024;
  const page = (n: number) => b.subarray(n * pageSize, (n + 1) * pageSize);

  const readOverflow = (start: number, total: number): Buffer => {
    if (total > maxValue) throw new BdbError(`overflow item of ${total} bytes exceeds the limit`);
    const out = Buffer.alloc(total);
    let got = 0;
    let pg = start;
    const seen = new Set<number>();
    while (got < total) {
      if (pg === 0 || pg > lastPgno || seen.has(pg))
        throw new BdbError(`broken overflow chain at page ${pg}`);
      seen.add(pg);
      const p = page(pg);
      if (p[25] !== P_OVERFLOW) throw new BdbError(`page ${pg} is not an overflow page (type ${p[25]})`);
      const len = u16(p, 22);
      if (PAGE_HEADER + len > pageSize) throw new BdbError(`overflow page ${pg} length ${len} too large`);
      const n = Math.min(len, total - got);
      p.copy(out, got, PAGE_HEADER, PAGE_HEADER + n);
      got += n;
      pg = u32(p, 16);
    }
    return out;
  };

  const item = (p: Buffer, idx: number, entries: number): Buffer => {
    const off = u16(p, PAGE_HEADER + idx * 2);
    const end = idx === 0 ? pageSize : u16(p, PAGE_HEADER + (idx - 1) * 2);
    if (off < PAGE_HEADER + entries * 2 || end > pageSize || off >= end) {
      throw new BdbError(`bad item offset ${off} on hash page`);
    }
    const t = p[off];
    if (t === H_KEYDATA) return Buffer.from(p.subarray(off + 1, end));
    if (t === H_OFFPAGE) {
      if (off + 12 > pageSize) throw new BdbError('truncated off-page item');
      return readOverflow(u32(p, off + 4), u32(p, off + 8));
    }
    throw new BdbError(`unsupported hash item type ${t}`);
  };

  const out: BdbEntry[] = [];
  for (let n = 1; n <= lastPgno; n++) {
    const p = page(n);
    const type = p[25];
    if (type !== P_HASH && type !== P_HASH_UNSORTED) continue;
    const entries = u16(p, 20);
    if (PAGE_HEADER + entries * 2 > pageSize) throw new BdbError(`page ${n}: ${entries} entries do not fit`);
    for (let i = 0; i + 1 < entries; i += 2) {
      out.push({ key: item(p, i, entries), value: item(p, i + 1, entries) });
    }
  }
  return { littleEndian: le, entries: out };
}
