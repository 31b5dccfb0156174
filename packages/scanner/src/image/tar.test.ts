import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { indexTarFile, parseNumber, parsePax, readTar } from './tar.js';
import { makeTar } from './test-helpers.js';

async function* chunks(data: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function list(data: Buffer, chunkSize?: number) {
  const out: { name: string; type: string; linkname: string; mode: number; content: string }[] = [];
  for await (const e of readTar(chunks(data, chunkSize))) {
    const parts: Buffer[] = [];
    for await (const c of e.body()) parts.push(c);
    out.push({
      name: e.name,
      type: e.type,
      linkname: e.linkname,
      mode: e.mode,
      content: Buffer.concat(parts).toString(),
    });
  }
  return out;
}

describe('tar reader', () => {
  test('reads files, dirs, links, pax and GNU long names, in odd chunk sizes', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
    const tar = makeTar([
      { name: 'etc/', type: 'dir' },
      { name: 'etc/hostname', content: 'box\n', mode: 0o4755 },
      { name: 'link', type: 'symlink', linkname: '/etc/hostname' },
      { name: 'hard', type: 'hardlink', linkname: 'etc/hostname' },
      { name: long, content: 'pax', pax: true },
      { name: `gnu/${long}`, content: 'gnu', gnuLongName: true },
      { name: 'fifo', type: 'fifo' },
    ]);
    for (const size of [1, 7, 512, 100_000]) {
      const entries = await list(tar, size);
      expect(entries.map((e) => [e.name, e.type])).toEqual([
        ['etc/', 'directory'],
        ['etc/hostname', 'file'],
        ['link', 'symlink'],
        ['hard', 'hardlink'],
        [long, 'file'],
        [`gnu/${long}`, 'file'],
        ['fifo', 'fifo'],
      ]);
      expect(entries[1]).toMatchObject({ content: 'box\n', mode: 0o4755 });
      expect(entries[2]?.linkname).toBe('/etc/hostname');
      expect(entries[4]?.content).toBe('pax');
      expect(entries[5]?.content).toBe('gnu');
    }
  });

  test('skips unread bodies and reads what GNU tar writes (pax + long names + dirs)', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'palisade-tar-test-'));
    try {
      const deep = join(dir, 'src', 'a'.repeat(90), 'b'.repeat(90));
      await fs.mkdir(deep, { recursive: true });
      writeFileSync(join(deep, `${'c'.repeat(120)}.txt`), 'x'.repeat(5000));
      await fs.symlink(`${'../'.repeat(3)}target`, join(dir, 'src', 'sym'));
      for (const format of ['gnu', 'posix']) {
        const out = join(dir, `${format}.tar`);
        const r = spawnSync('tar', ['-C', join(dir, 'src'), `--format=${format}`, '-cf', out, '.']);
        expect(r.status).toBe(0);
        const data = await fs.readFile(out);
        const names: string[] = [];
        for await (const e of readTar(chunks(data, 4096))) names.push(`${e.type}:${e.name}`);
        expect(names).toContain(`file:./${'a'.repeat(90)}/${'b'.repeat(90)}/${'c'.repeat(120)}.txt`);
        expect(names).toContain('symlink:./sym');
        const handle = await fs.open(out, 'r');
        const indexed = await indexTarFile(handle, data.length);
        await handle.close();
        const file = indexed.find((e) => e.name.endsWith('.txt'));
        expect(file?.size).toBe(5000);
        expect(data.subarray(file?.offset, (file?.offset ?? 0) + 5000).toString()).toBe('x'.repeat(5000));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an empty input is an empty archive', async () => {
    expect(await list(Buffer.alloc(0))).toEqual([]);
  });

  test('truncation is an error: inside a body, inside a header, and without the end marker', async () => {
    const tar = makeTar([
      { name: 'a', content: 'y'.repeat(2000) },
      { name: 'b', content: 'z' },
    ]);
    await expect(list(tar.subarray(0, 1000))).rejects.toThrow(/truncated \(inside the content of a\)/);
    await expect(list(tar.subarray(0, 512 * 5 + 100))).rejects.toThrow(/truncated/);
    await expect(list(makeTar([{ name: 'a', content: 'x' }], { end: false }))).rejects.toThrow(
      /ends without the end-of-archive marker/,
    );
  });

  test('garbage is refused by the header checksum', async () => {
    const tar = makeTar([{ name: 'a', content: 'x' }]);
    tar[10] = 0x41;
    await expect(list(tar)).rejects.toThrow(/checksum mismatch/);
    await expect(list(Buffer.alloc(1024, 0x61))).rejects.toThrow(/checksum mismatch|invalid/);
  });

  test('number fields: octal, space/NUL padding, base-256', () => {
    expect(parseNumber(Buffer.from('0000644\0'), 'mode')).toBe(0o644);
    expect(parseNumber(Buffer.from(' 755 \0'), 'mode')).toBe(0o755);
    expect(parseNumber(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]), 'size')).toBe(2 * 65536);
    expect(() => parseNumber(Buffer.from('12x\0'), 'size')).toThrow(/invalid size/);
  });

  test('pax records', () => {
    const rec = (k: string, v: string) => {
      const body = ` ${k}=${v}\n`;
      const len = String(body.length + 2).length === 2 ? body.length + 2 : body.length + 3;
      return `${len}${body}`;
    };
    const m = parsePax(Buffer.from(rec('path', 'a/b=c') + rec('linkpath', 'x')));
    expect(m.get('path')).toBe('a/b=c');
    expect(m.get('linkpath')).toBe('x');
    expect(() => parsePax(Buffer.from('99 path=x\n'))).toThrow(/malformed/);
  });
});
