import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferSource } from './fsroot.js';
import { goPackages, goVersionToSemver, parseModinfo, readGoBuildInfoStrings } from './golang.js';
import { analyzeRootfsWithWarnings } from './index.js';
import { cleanupTempDirs, makeRoot } from './testkit.js';

afterAll(cleanupTempDirs);

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const SENTINEL = Buffer.alloc(16, 0xaa);
const MODINFO = [
  'path\texample.com/app',
  'mod\texample.com/app\t(devel)\t',
  'dep\tgithub.com/pkg/errors\tv0.9.1\th1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4=',
  'dep\tgolang.org/x/text\tv0.3.0\th1:abc=',
  '=>\tgolang.org/x/text\tv0.3.8\th1:def=',
  'dep\texample.com/local\tv1.0.0\t',
  '=>\t./local\t(devel)\t', // what go 1.19 writes for a directory replacement
  'dep\texample.com/old\tv0.0.1\t',
  '=>\t../old\t\t',
  'dep\texample.com/app/internal/sub\tv0.0.0-00010101000000-000000000000\t',
  '=>\t./internal/sub\t(devel)\t',
  'build\t-compiler=gc',
  'build\tCGO_ENABLED=0',
  '',
].join('\n');
const framed = (s: string) => Buffer.concat([SENTINEL, Buffer.from(s), SENTINEL]);

function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * A minimal little-endian ELF64 file: one writable PT_LOAD mapping the whole file at 0x400000,
 * `payload` at file offset 0x1000 and, optionally, a section table naming it .go.buildinfo.
 */
function makeElf(payload: Buffer, withSections: boolean): Buffer {
  const base = 0x400000;
  const dataOff = 0x1000;
  const shstr = Buffer.from('\0.shstrtab\0.go.buildinfo\0');
  const shstrOff = dataOff + payload.length + 16;
  const shOff = Math.ceil((shstrOff + shstr.length) / 8) * 8;
  const total = withSections ? shOff + 3 * 64 : shstrOff;
  const f = Buffer.alloc(total);
  f.writeUInt32BE(0x7f454c46, 0);
  f[4] = 2; // 64-bit
  f[5] = 1; // little endian
  f[6] = 1;
  f.writeUInt16LE(2, 16); // ET_EXEC
  f.writeUInt16LE(62, 18); // x86-64
  f.writeUInt32LE(1, 20);
  f.writeBigUInt64LE(BigInt(64), 32); // e_phoff
  f.writeBigUInt64LE(BigInt(withSections ? shOff : 0), 40); // e_shoff
  f.writeUInt16LE(64, 52);
  f.writeUInt16LE(56, 54);
  f.writeUInt16LE(1, 56);
  f.writeUInt16LE(64, 58);
  f.writeUInt16LE(withSections ? 3 : 0, 60);
  f.writeUInt16LE(withSections ? 1 : 0, 62);
  // PT_LOAD, RW
  f.writeUInt32LE(1, 64);
  f.writeUInt32LE(6, 68);
  f.writeBigUInt64LE(0n, 72);
  f.writeBigUInt64LE(BigInt(base), 80);
  f.writeBigUInt64LE(BigInt(base), 88);
  f.writeBigUInt64LE(BigInt(total), 96);
  f.writeBigUInt64LE(BigInt(total), 104);
  payload.copy(f, dataOff);
  if (withSections) {
    shstr.copy(f, shstrOff);
    const sh = (i: number, name: number, type: number, addr: number, off: number, size: number) => {
      const o = shOff + i * 64;
      f.writeUInt32LE(name, o);
      f.writeUInt32LE(type, o + 4);
      f.writeBigUInt64LE(BigInt(addr), o + 16);
      f.writeBigUInt64LE(BigInt(off), o + 24);
      f.writeBigUInt64LE(BigInt(size), o + 32);
    };
    sh(1, 1, 3, 0, shstrOff, shstr.length); // .shstrtab
    sh(2, 11, 1, base + dataOff, dataOff, payload.length); // .go.buildinfo
  }
  return f;
}

/** Go 1.18+ inline layout: header, then uvarint-prefixed version and module info. */
function inlinePayload(version: string, mod: Buffer): Buffer {
  const h = Buffer.alloc(32);
  MAGIC.copy(h);
  h[14] = 8;
  h[15] = 2;
  const v = Buffer.from(version);
  return Buffer.concat([h, uvarint(v.length), v, uvarint(mod.length), mod]);
}

/** Pre-1.18 layout: two pointers to Go string headers {ptr, len}, all at vaddr 0x400000 + offset. */
function pointerPayload(version: string, mod: Buffer): Buffer {
  const base = 0x400000 + 0x1000;
  const v = Buffer.from(version);
  const p = Buffer.alloc(96 + v.length + mod.length);
  MAGIC.copy(p);
  p[14] = 8;
  p[15] = 0; // little endian, pointer format
  p.writeBigUInt64LE(BigInt(base + 32), 16);
  p.writeBigUInt64LE(BigInt(base + 48), 24);
  p.writeBigUInt64LE(BigInt(base + 96), 32);
  p.writeBigUInt64LE(BigInt(v.length), 40);
  p.writeBigUInt64LE(BigInt(base + 96 + v.length), 48);
  p.writeBigUInt64LE(BigInt(mod.length), 56);
  v.copy(p, 96);
  mod.copy(p, 96 + v.length);
  return p;
}

describe('Go build info', () => {
  it('reads the inline (Go 1.18+) layout from the .go.buildinfo section', () => {
    const bi = readGoBuildInfoStrings(
      bufferSource(makeElf(inlinePayload('go1.21.5', framed(MODINFO)), true)),
    );
    expect(bi).toEqual({ version: 'go1.21.5', modinfo: MODINFO });
  });

  it('finds the header by scanning the writable segment when there is no section table', () => {
    const bi = readGoBuildInfoStrings(bufferSource(makeElf(inlinePayload('go1.20', framed(MODINFO)), false)));
    expect(bi?.version).toBe('go1.20');
  });

  it('reads the pointer (pre-1.18) layout through the program headers', () => {
    const bi = readGoBuildInfoStrings(
      bufferSource(makeElf(pointerPayload('go1.16.15', framed(MODINFO)), true)),
    );
    expect(bi).toEqual({ version: 'go1.16.15', modinfo: MODINFO });
  });

  it('module info without sentinels is dropped (GOPATH builds)', () => {
    const bi = readGoBuildInfoStrings(
      bufferSource(makeElf(inlinePayload('go1.19.8', Buffer.from('path\tx\n')), true)),
    );
    expect(bi).toEqual({ version: 'go1.19.8', modinfo: '' });
  });

  it('non-Go and non-ELF files give null', () => {
    expect(readGoBuildInfoStrings(bufferSource(Buffer.from('#!/bin/sh\necho hi\n')))).toBeNull();
    expect(readGoBuildInfoStrings(bufferSource(makeElf(Buffer.alloc(64), true)))).toBeNull();
  });

  it('parses modules, applies versioned replacements, keeps local replacements at the original', () => {
    const info = parseModinfo('go1.21.5', MODINFO);
    expect(info.path).toBe('example.com/app');
    expect(info.main).toEqual({ path: 'example.com/app', version: '(devel)' });
    expect(info.deps).toHaveLength(5);
    expect(info.settings).toContainEqual(['CGO_ENABLED', '0']);
    expect(goPackages(info, '/app/server').map((p) => [p.name, p.version, p.purl])).toEqual([
      ['github.com/pkg/errors', 'v0.9.1', 'pkg:golang/github.com/pkg/errors@v0.9.1'],
      ['golang.org/x/text', 'v0.3.8', 'pkg:golang/golang.org/x/text@v0.3.8'],
      ['example.com/local', 'v1.0.0', 'pkg:golang/example.com/local@v1.0.0'],
      ['example.com/old', 'v0.0.1', 'pkg:golang/example.com/old@v0.0.1'],
      ['stdlib', 'v1.21.5', 'pkg:golang/stdlib@v1.21.5'],
    ]);
  });

  it('a stamped main module version is reported', () => {
    const info = parseModinfo('go1.24.0', 'path\tgithub.com/x/y/cmd/z\nmod\tgithub.com/x/y\tv1.4.2\th1:x=\n');
    expect(goPackages(info, '/z').map((p) => `${p.name}@${p.version}`)).toEqual([
      'github.com/x/y@v1.4.2',
      'stdlib@v1.24.0',
    ]);
  });

  it('Go toolchain versions as semver', () => {
    expect(goVersionToSemver('go1.19.8')).toBe('v1.19.8');
    expect(goVersionToSemver('go1.21')).toBe('v1.21.0');
    expect(goVersionToSemver('go1.21rc2')).toBe('v1.21.0-rc.2');
    expect(goVersionToSemver('go1.22.1 X:boringcrypto')).toBe('v1.22.1');
    expect(goVersionToSemver('devel go1.23-abcdef')).toBeNull();
  });

  it('analyzeRootfs finds executables in bin directories and at the root', async () => {
    const elf = makeElf(inlinePayload('go1.21.5', framed(MODINFO)), true);
    const root = makeRoot({ 'usr/local/bin/server': elf, manager: elf, 'usr/share/doc/server': elf });
    for (const p of ['usr/local/bin/server', 'manager', 'usr/share/doc/server'])
      chmodSync(join(root, p), 0o755);
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(warnings).toEqual([]);
    expect(inventory.packages.find((p) => p.name === 'stdlib')).toEqual({
      name: 'stdlib',
      version: 'v1.21.5',
      ecosystem: 'Go',
      purl: 'pkg:golang/stdlib@v1.21.5',
      locations: ['/manager', '/usr/local/bin/server'],
    });
    expect(inventory.packages).toHaveLength(5);
  });
});
