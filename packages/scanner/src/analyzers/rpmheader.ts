/**
 * The RPM header structure as stored in an rpmdb (no lead, no 8-byte header magic):
 *   il: u32 BE (index entry count), dl: u32 BE (data store size),
 *   il × { tag u32, type u32, offset i32, count u32 } (BE), then dl bytes of data.
 */

export const RPMTAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  LICENSE: 1014,
  ARCH: 1022,
  SOURCERPM: 1044,
} as const;

const TYPE_INT8 = 2;
const TYPE_INT16 = 3;
const TYPE_INT32 = 4;
const TYPE_INT64 = 5;
const TYPE_STRING = 6;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;

const MAX_TAGS = 0xffff;
const MAX_DATA = 256 * 1024 * 1024;

export type RpmTagValue = string | string[] | number[];

export class RpmHeaderError extends Error {}

function readCString(data: Buffer, off: number): { s: string; next: number } {
  const end = data.indexOf(0, off);
  if (end < 0) throw new RpmHeaderError(`unterminated string at data offset ${off}`);
  return { s: data.toString('utf8', off, end), next: end + 1 };
}

/**
 * Parses a header blob, returning the values of the wanted tags (all tags when `wanted` is omitted;
 * tags of other types are skipped). The first occurrence of a tag wins.
 */
export function parseRpmHeader(blob: Uint8Array, wanted?: Set<number>): Map<number, RpmTagValue> {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < 8) throw new RpmHeaderError(`header blob too short (${b.length} bytes)`);
  const il = b.readUInt32BE(0);
  const dl = b.readUInt32BE(4);
  if (il < 1 || il > MAX_TAGS) throw new RpmHeaderError(`implausible index count ${il}`);
  if (dl > MAX_DATA) throw new RpmHeaderError(`implausible data size ${dl}`);
  const dataStart = 8 + il * 16;
  if (dataStart + dl > b.length) {
    throw new RpmHeaderError(`header needs ${dataStart + dl} bytes, blob has ${b.length}`);
  }
  const data = b.subarray(dataStart, dataStart + dl);
  const out = new Map<number, RpmTagValue>();
  for (let i = 0; i < il; i++) {
    const e = 8 + i * 16;
    const tag = b.readUInt32BE(e);
    const type = b.readUInt32BE(e + 4);
    const offset = b.readInt32BE(e + 8);
    const count = b.readUInt32BE(e + 12);
    if (wanted && !wanted.has(tag)) continue;
    if (out.has(tag)) continue;
    if (offset < 0 || offset >= dl)
      throw new RpmHeaderError(`tag ${tag}: offset ${offset} outside data (${dl})`);
    switch (type) {
      case TYPE_STRING:
        out.set(tag, readCString(data, offset).s);
        break;
      case TYPE_STRING_ARRAY:
      case TYPE_I18NSTRING: {
        const arr: string[] = [];
        let p = offset;
        for (let k = 0; k < count && k < 100_000; k++) {
          const r = readCString(data, p);
          arr.push(r.s);
          p = r.next;
        }
        out.set(tag, type === TYPE_I18NSTRING ? (arr[0] ?? '') : arr);
        break;
      }
      case TYPE_INT8:
      case TYPE_INT16:
      case TYPE_INT32:
      case TYPE_INT64: {
        const size = type === TYPE_INT8 ? 1 : type === TYPE_INT16 ? 2 : type === TYPE_INT32 ? 4 : 8;
        if (offset + size * count > dl) throw new RpmHeaderError(`tag ${tag}: integer array past data end`);
        const nums: number[] = [];
        for (let k = 0; k < count && k < 100_000; k++) {
          const p = offset + k * size;
          nums.push(
            size === 1
              ? data.readUInt8(p)
              : size === 2
                ? data.readUInt16BE(p)
                : size === 4
                  ? data.readUInt32BE(p)
                  : Number(data.readBigUInt64BE(p)),
          );
        }
        out.set(tag, nums);
        break;
      }
      default:
        break;
    }
  }
  return out;
}

export interface RpmRecord {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  arch?: string;
  sourceRpm?: string;
  license?: string;
}

const WANTED = new Set<number>(Object.values(RPMTAG));

function str(v: RpmTagValue | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

/** The package fields of a header blob; throws RpmHeaderError when it is not a package header. */
export function rpmRecordFromHeader(blob: Uint8Array): RpmRecord {
  const h = parseRpmHeader(blob, WANTED);
  const name = str(h.get(RPMTAG.NAME));
  const version = str(h.get(RPMTAG.VERSION));
  const release = str(h.get(RPMTAG.RELEASE));
  if (!name || version === undefined || release === undefined) {
    throw new RpmHeaderError('header has no NAME/VERSION/RELEASE');
  }
  const rec: RpmRecord = { name, version, release };
  const epoch = h.get(RPMTAG.EPOCH);
  if (Array.isArray(epoch) && typeof epoch[0] === 'number') rec.epoch = epoch[0];
  const arch = str(h.get(RPMTAG.ARCH));
  if (arch) rec.arch = arch;
  const src = str(h.get(RPMTAG.SOURCERPM));
  if (src) rec.sourceRpm = src;
  const lic = str(h.get(RPMTAG.LICENSE));
  if (lic) rec.license = lic;
  return rec;
}

/** "[epoch:]version-release", as rpm's %{EVR} prints it (epoch shown whenever the tag exists). */
export function rpmEvr(r: { epoch?: number; version: string; release: string }): string {
  return `${r.epoch !== undefined ? `${r.epoch}:` : ''}${r.version}-${r.release}`;
}

/** "dive-0.9.2-1.src.rpm" → { name: dive, version: 0.9.2, release: 1 }. */
export function parseSourceRpm(s: string): { name: string; version: string; release: string } | null {
  const base = s.replace(/\.(no)?src\.rpm$/, '');
  const r = base.lastIndexOf('-');
  if (r <= 0) return null;
  const v = base.lastIndexOf('-', r - 1);
  if (v <= 0) return null;
  return { name: base.slice(0, v), version: base.slice(v + 1, r), release: base.slice(r + 1) };
}
