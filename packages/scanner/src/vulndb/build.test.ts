import { createHash } from 'node:crypto';
import { sharedPath } from '@palisade/testdata';
import { beforeAll, describe, expect, test } from 'vitest';
import { buildDb, deserializeDb, serializeDb, VulnDbFormatError } from './build.js';
import type { VulnDb } from './model.js';

let db: VulnDb;
let buf: Buffer;

beforeAll(async () => {
  const t0 = performance.now();
  db = await buildDb(sharedPath('vulndata'), { now: new Date('2026-11-23T00:00:00Z') });
  const t1 = performance.now();
  buf = serializeDb(db);
  const t2 = performance.now();
  console.log(
    `build ${Math.round(t1 - t0)} ms, serialize ${Math.round(t2 - t1)} ms, ` +
      `${buf.length} bytes (${(buf.length / 1048576).toFixed(2)} MiB), counts ${JSON.stringify(db.manifest.counts)}`,
  );
}, 120_000);

describe('buildDb on the shared feeds', () => {
  test('manifest: every source with licence and counts', () => {
    const m = db.manifest;
    expect(m.format).toBe('palisade-vulndb');
    expect(m.builtAt).toBe('2026-11-23T00:00:00.000Z');
    const rows = m.sources.map((s) => [s.name, s.path, s.units, s.records, s.skipped, s.ignored]);
    console.table(rows);
    expect(rows).toEqual([
      ['alpine-secdb', 'alpine-secdb', 1652, 12028, 1, 0],
      ['debian-dsa', 'debian-security-tracker/DSA.list', 5406, 23470, 1, 23],
      ['debian-dla', 'debian-security-tracker/DLA.list', 3534, 11311, 0, 4],
      ['osv-pypi', 'osv/PyPI', 2661, 2651, 0, 10],
      ['osv-go', 'osv/Go', 4291, 6106, 0, 17],
      ['rustsec', 'osv/crates.io', 714, 705, 0, 9],
    ]);
    expect(m.sources.find((s) => s.name === 'osv-go')?.licence).toBe('CC-BY-4.0');
    expect(m.sources.find((s) => s.name === 'rustsec')?.licence).toMatch(/^CC0-1.0/);
    expect(m.sources.find((s) => s.name === 'alpine-secdb')?.licence).toMatch(/^unknown/);
    // Exact duplicates (same record twice in one release, e.g. rsync CVE-2017-17434-1/-2) are dropped.
    const total = m.sources.reduce((n, s) => n + s.records, 0);
    expect(m.counts.advisories).toBeLessThan(total);
    expect(m.counts.advisories).toBeGreaterThan(total - 100);
    expect(Object.keys(m.counts.byEcosystem).sort()).toEqual(['Alpine', 'Debian', 'Go', 'PyPI', 'crates.io']);
    expect([...db.sections.keys()]).toEqual([
      'Alpine|3.10',
      'Alpine|3.11',
      'Alpine|3.3',
      'Alpine|3.4',
      'Alpine|3.5',
      'Alpine|3.6',
      'Alpine|3.7',
      'Alpine|3.8',
      'Alpine|3.9',
      'Debian|10',
      'Debian|11',
      'Debian|3.0',
      'Debian|3.1',
      'Debian|4',
      'Debian|5',
      'Debian|6',
      'Debian|7',
      'Debian|8',
      'Debian|9',
      'Go|',
      'PyPI|',
      'crates.io|',
    ]);
  });

  test('lookup keys: PyPI and crates.io names are normalized', () => {
    expect(db.sections.get('PyPI|')?.packages.has('wagtail')).toBe(true);
    expect(db.sections.get('crates.io|')?.packages.has('abi-stable')).toBe(true); // abi_stable
    expect(
      db.sections
        .get('Go|')
        ?.packages.get('stdlib')
        ?.some((a) => a.id === 'GO-2023-1571'),
    ).toBe(true);
    const openssl = db.sections.get('Alpine|3.11')?.packages.get('openssl') ?? [];
    expect(openssl.map((a) => a.id)).toEqual([
      'CVE-2018-0734',
      'CVE-2018-0735',
      'CVE-2019-1543',
      'CVE-2019-1547',
      'CVE-2019-1549',
      'CVE-2019-1551',
      'CVE-2019-1563',
    ]);
  });

  test('distro records borrow CVSS from another feed naming the same CVE', () => {
    // DLA-3129-1 gdal (buster) lists CVE-2019-17545; PYSEC-2019-241 (gdal on PyPI) carries its vector.
    const gdal = db.sections.get('Debian|10')?.packages.get('gdal') ?? [];
    const rec = gdal.find((a) => a.id === 'CVE-2019-17545' && a.ref === 'DLA-3129-1');
    expect(rec).toMatchObject({
      cvss: { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8 },
      cvssFrom: 'PYSEC-2019-241',
      severity: 'critical',
    });
  });
});

describe('serialized form', () => {
  test('round trip is equal; load time', () => {
    const times: number[] = [];
    let back: VulnDb | undefined;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      back = deserializeDb(buf);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(
      `deserialize (load) ${buf.length} bytes: min ${times[0]?.toFixed(0)} ms, median ${times[2]?.toFixed(0)} ms (5 runs)`,
    );
    expect(back?.manifest).toEqual(db.manifest);
    expect(back?.sections).toEqual(db.sections);
    // Deterministic: the same DB serializes to the same bytes.
    expect(serializeDb(back as VulnDb).equals(buf)).toBe(true);
    expect(times[2]).toBeLessThan(5000);
  });

  test('starts with a magic, ends with a SHA-256 of the rest', () => {
    expect(buf.subarray(0, 8).toString('ascii')).toBe('PVULNDB1');
  });

  test('corrupted buffers fail with a clear error', () => {
    const flip = Buffer.from(buf);
    const mid = Math.floor(flip.length / 2);
    flip[mid] = (flip[mid] as number) ^ 0xff;
    expect(() => deserializeDb(flip)).toThrow(VulnDbFormatError);
    expect(() => deserializeDb(flip)).toThrow(/checksum mismatch/);
    expect(() => deserializeDb(buf.subarray(0, buf.length - 1000))).toThrow(/checksum mismatch/);
    expect(() =>
      deserializeDb(Buffer.from(JSON.stringify({ not: 'a vulnerability db', padding: 'x'.repeat(64) }))),
    ).toThrow(/bad magic/);
    expect(() => deserializeDb(Buffer.alloc(10))).toThrow(/only 10 bytes/);
    expect(() => deserializeDb(new Uint8Array(0))).toThrow(/corrupt or not a Palisade DB/);
  });

  test('inner checks hold even when the outer checksum is recomputed', () => {
    const reseal = (body: Buffer): Buffer =>
      Buffer.concat([body, createHash('sha256').update(body).digest()]);
    const body = Buffer.from(buf.subarray(0, buf.length - 32));
    const headerLen = body.readUInt32BE(8);
    // A byte inside the last section blob.
    const blob = Buffer.from(body);
    blob[blob.length - 5] = (blob[blob.length - 5] as number) ^ 0x01;
    expect(() => deserializeDb(reseal(blob))).toThrow(/section crates\.io\/ checksum mismatch/);
    // A header that is not JSON.
    const header = Buffer.from(body);
    header[12] = 0x00;
    expect(() => deserializeDb(reseal(header))).toThrow(/header is not JSON/);
    // A header length pointing past the end.
    const len = Buffer.from(body);
    len.writeUInt32BE(body.length + headerLen, 8);
    expect(() => deserializeDb(reseal(len))).toThrow(/header length beyond end/);
  });
});
