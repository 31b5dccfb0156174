/**
 * Go binaries: the build information the Go linker embeds (Go 1.13+ with modules).
 *
 * Format facts (as read by `go version -m`): a 32-byte header aligned to 16 bytes, at the start of
 * the ELF section .go.buildinfo (else found by scanning the writable data segment):
 *   "\xff Go buildinf:" (14 bytes), pointer size (1 byte), flags (1 byte).
 *   flags & 2 (Go 1.18+): the Go version and the module info follow the header inline, each a
 *     uvarint length + bytes. Otherwise: two pointers at offset 16 and 16+ptrsize to Go string
 *     headers {data pointer, length} in the binary's byte order (flags & 1 = big endian).
 * The module info is framed by 16-byte sentinels (stripped when the byte 17 from the end is '\n'),
 * then tab-separated lines: path, mod (main module), dep, "=>" (replaces the dep above it), build.
 */
import type { InstalledPackage } from '@palisade/protocol';
import type { ByteSource } from './fsroot.js';
import { purl } from './purl.js';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
  replace?: GoModule;
}

export interface GoBuildInfo {
  goVersion: string;
  path?: string;
  main?: GoModule;
  deps: GoModule[];
  settings: Array<[string, string]>;
}

export class GoBuildInfoError extends Error {}

interface Elf {
  le: boolean;
  is64: boolean;
  sections: Array<{ name: string; addr: number; offset: number; size: number; type: number }>;
  loads: Array<{ vaddr: number; offset: number; filesz: number; flags: number }>;
}

const MAX_HEADERS = 4096;

/** Minimal ELF reader: section and program headers only. Returns null for non-ELF input. */
export function readElf(src: ByteSource): Elf | null {
  const id = src.read(0, 64);
  if (id.length < 52 || id.readUInt32BE(0) !== 0x7f454c46) return null;
  const is64 = id[4] === 2;
  const le = id[5] !== 2;
  if (is64 && id.length < 64) return null;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  const word = (b: Buffer, o: number) => (is64 ? u64(b, o) : u32(b, o));
  const phoff = word(id, is64 ? 32 : 28);
  const shoff = word(id, is64 ? 40 : 32);
  const phentsize = u16(id, is64 ? 54 : 42);
  const phnum = Math.min(u16(id, is64 ? 56 : 44), MAX_HEADERS);
  const shentsize = u16(id, is64 ? 58 : 46);
  const shnum = Math.min(u16(id, is64 ? 60 : 48), MAX_HEADERS);
  const shstrndx = u16(id, is64 ? 62 : 50);
  const elf: Elf = { le, is64, sections: [], loads: [] };
  if (phoff > 0 && phentsize >= (is64 ? 56 : 32)) {
    const ph = src.read(phoff, phentsize * phnum);
    for (let i = 0; i < phnum && (i + 1) * phentsize <= ph.length; i++) {
      const o = i * phentsize;
      if (u32(ph, o) !== 1) continue; // PT_LOAD
      elf.loads.push(
        is64
          ? { offset: u64(ph, o + 8), vaddr: u64(ph, o + 16), filesz: u64(ph, o + 32), flags: u32(ph, o + 4) }
          : {
              offset: u32(ph, o + 4),
              vaddr: u32(ph, o + 8),
              filesz: u32(ph, o + 16),
              flags: u32(ph, o + 24),
            },
      );
    }
  }
  if (shoff > 0 && shentsize >= (is64 ? 64 : 40) && shnum > 0) {
    const sh = src.read(shoff, shentsize * shnum);
    const raw: Array<{ nameOff: number; type: number; addr: number; offset: number; size: number }> = [];
    for (let i = 0; i < shnum && (i + 1) * shentsize <= sh.length; i++) {
      const o = i * shentsize;
      raw.push(
        is64
          ? {
              nameOff: u32(sh, o),
              type: u32(sh, o + 4),
              addr: u64(sh, o + 16),
              offset: u64(sh, o + 24),
              size: u64(sh, o + 32),
            }
          : {
              nameOff: u32(sh, o),
              type: u32(sh, o + 4),
              addr: u32(sh, o + 12),
              offset: u32(sh, o + 16),
              size: u32(sh, o + 20),
            },
      );
    }
    const strtab = raw[shstrndx];
    const names = strtab ? src.read(strtab.offset, Math.min(strtab.size, 1 << 20)) : Buffer.alloc(0);
    for (const s of raw) {
      const end = names.indexOf(0, s.nameOff);
      const name =
        s.nameOff < names.length ? names.toString('latin1', s.nameOff, end < 0 ? names.length : end) : '';
      elf.sections.push({ name, addr: s.addr, offset: s.offset, size: s.size, type: s.type });
    }
  }
  return elf;
}

function readUvarint(b: Buffer, pos: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  for (let i = pos; i < b.length && i < pos + 10; i++) {
    const byte = b[i] as number;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
    shift += 7;
  }
  throw new GoBuildInfoError('bad varint in build info');
}

function vaddrToOffset(elf: Elf, addr: number): number | null {
  for (const l of elf.loads) {
    if (addr >= l.vaddr && addr < l.vaddr + l.filesz) return l.offset + (addr - l.vaddr);
  }
  for (const s of elf.sections) {
    if (s.type !== 8 && s.addr !== 0 && addr >= s.addr && addr < s.addr + s.size)
      return s.offset + (addr - s.addr);
  }
  return null;
}

/** Locates the 32-byte build info header: file offset or null. */
function findHeader(src: ByteSource, elf: Elf, maxScanBytes: number): number | null {
  const sec = elf.sections.find((s) => s.name === '.go.buildinfo');
  if (sec) {
    const h = src.read(sec.offset, 32);
    if (h.length === 32 && h.subarray(0, 14).equals(MAGIC)) return sec.offset;
  }
  // Only without a section table (stripped by a packer or by hand) is the data segment scanned:
  // an ELF with sections but no .go.buildinfo is not a Go 1.13+ binary.
  if (elf.sections.length > 0) return null;
  let budget = maxScanBytes;
  const segs = elf.loads.filter((l) => (l.flags & 2) !== 0);
  for (const seg of segs.length > 0 ? segs : elf.loads) {
    const chunk = 1 << 20;
    for (let o = 0; o < seg.filesz && budget > 0; o += chunk) {
      const len = Math.min(chunk + 32, seg.filesz - o, budget + 32);
      const b = src.read(seg.offset + o, len);
      budget -= chunk;
      let i = b.indexOf(MAGIC);
      while (i >= 0) {
        if ((seg.offset + o + i) % 16 === 0 && i + 32 <= b.length) return seg.offset + o + i;
        i = b.indexOf(MAGIC, i + 1);
      }
    }
  }
  return null;
}

/** Reads the Go version and module info strings, or null when the file is not a Go binary. */
export function readGoBuildInfoStrings(
  src: ByteSource,
  opts: { maxScanBytes?: number } = {},
): { version: string; modinfo: string } | null {
  const elf = readElf(src);
  if (!elf) return null;
  const at = findHeader(src, elf, opts.maxScanBytes ?? 64 * 1024 * 1024);
  if (at === null) return null;
  const h = src.read(at, 32);
  const ptrSize = h[14] as number;
  const flags = h[15] as number;
  let version: string;
  let mod: string;
  if ((flags & 2) !== 0) {
    const body = src.read(at + 32, 1 << 20);
    const v = readUvarint(body, 0);
    if (v.next + v.value > body.length) throw new GoBuildInfoError('truncated Go version');
    version = body.toString('utf8', v.next, v.next + v.value);
    const m = readUvarint(body, v.next + v.value);
    if (m.value > 16 * 1024 * 1024) throw new GoBuildInfoError(`implausible module info length ${m.value}`);
    const modBytes =
      m.next + m.value <= body.length
        ? body.subarray(m.next, m.next + m.value)
        : src.read(at + 32 + m.next, m.value);
    mod = modBytes.toString('utf8');
  } else {
    if (ptrSize !== 4 && ptrSize !== 8) throw new GoBuildInfoError(`bad pointer size ${ptrSize}`);
    const be = (flags & 1) !== 0;
    const readPtr = (b: Buffer, o: number) =>
      ptrSize === 4
        ? be
          ? b.readUInt32BE(o)
          : b.readUInt32LE(o)
        : Number(be ? b.readBigUInt64BE(o) : b.readBigUInt64LE(o));
    const readGoString = (addr: number): string => {
      const off = vaddrToOffset(elf, addr);
      if (off === null) throw new GoBuildInfoError(`string header address 0x${addr.toString(16)} not mapped`);
      const hdr = src.read(off, ptrSize * 2);
      if (hdr.length < ptrSize * 2) throw new GoBuildInfoError('truncated string header');
      const dataAddr = readPtr(hdr, 0);
      const len = readPtr(hdr, ptrSize);
      if (len === 0) return '';
      if (len > 16 * 1024 * 1024) throw new GoBuildInfoError(`implausible string length ${len}`);
      const dOff = vaddrToOffset(elf, dataAddr);
      if (dOff === null)
        throw new GoBuildInfoError(`string data address 0x${dataAddr.toString(16)} not mapped`);
      return src.read(dOff, len).toString('utf8');
    };
    version = readGoString(readPtr(h, 16));
    mod = readGoString(readPtr(h, 16 + ptrSize));
  }
  if (!version) return null;
  if (mod.length >= 33 && mod[mod.length - 17] === '\n') mod = mod.slice(16, -16);
  else mod = '';
  return { version, modinfo: mod };
}

/** Parses the module info text (what `go version -m` prints after the first line). */
export function parseModinfo(goVersion: string, modinfo: string): GoBuildInfo {
  const info: GoBuildInfo = { goVersion, deps: [], settings: [] };
  let last: GoModule | undefined;
  for (const line of modinfo.split('\n')) {
    const f = line.split('\t');
    const kind = f[0];
    if (kind === 'path') info.path = f[1];
    else if (kind === 'mod' || kind === 'dep') {
      const m: GoModule = { path: f[1] ?? '', version: f[2] ?? '' };
      if (f[3]) m.sum = f[3];
      if (kind === 'mod') info.main = m;
      else info.deps.push(m);
      last = m;
    } else if (kind === '=>') {
      if (last) {
        const r: GoModule = { path: f[1] ?? '', version: f[2] ?? '' };
        if (f[3]) r.sum = f[3];
        last.replace = r;
      }
    } else if (kind === 'build') {
      const kv = f.slice(1).join('\t');
      const eq = kv.indexOf('=');
      info.settings.push(eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)]);
    }
  }
  return info;
}

/**
 * "go1.21.5" → "v1.21.5", "go1.21" → "v1.21.0", "go1.21rc2" → "v1.21.0-rc.2",
 * "go1.22.1 X:boringcrypto" → "v1.22.1"; null for devel builds.
 */
export function goVersionToSemver(v: string): string | null {
  const tok = v.trim().split(/\s+/)[0] ?? '';
  const m = /^go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(rc|beta|alpha)(\d+))?$/.exec(tok);
  if (!m) return null;
  const base = `v${m[1]}.${m[2] ?? '0'}.${m[3] ?? '0'}`;
  return m[4] ? `${base}-${m[4]}.${m[5]}` : base;
}

/** The placeholder version `go mod` gives a required module that only exists as a local replacement. */
const ZERO_PSEUDO_VERSION = 'v0.0.0-00010101000000-000000000000';

function goPurl(path: string, version: string): string {
  const i = path.lastIndexOf('/');
  return i > 0
    ? purl('golang', path.slice(0, i), path.slice(i + 1), version)
    : purl('golang', undefined, path, version);
}

/**
 * Packages of a Go binary: the main module (unless "(devel)"), every dependency (a "=>" replacement
 * with a version stands in for the module it replaces; a local-directory replacement, whose version
 * is "(devel)", keeps the original path and version, unless that version is the zero pseudo-version
 * of a module that exists only locally), and the standard library as module "stdlib".
 * Versions keep Go's "v" prefix.
 */
export function goPackages(info: GoBuildInfo, location: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  const add = (path: string, version: string) => {
    if (!path || !version) return;
    out.push({ name: path, version, ecosystem: 'Go', purl: goPurl(path, version), locations: [location] });
  };
  if (info.main?.version && info.main.version !== '(devel)') add(info.main.path, info.main.version);
  for (const d of info.deps) {
    const r = d.replace;
    // A local-directory replacement carries "(devel)" (or nothing) instead of a version.
    if (r?.version && r.version !== '(devel)') add(r.path, r.version);
    else if (r && d.version === ZERO_PSEUDO_VERSION)
      continue; // the project's own nested module
    else add(d.path, d.version);
  }
  const std = goVersionToSemver(info.goVersion);
  if (std) add('stdlib', std);
  return out;
}
