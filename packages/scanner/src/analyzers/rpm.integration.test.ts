/**
 * Real rpm databases built by Debian's rpm 4.18 (apt `rpm`): three tiny packages built with rpmbuild,
 * installed with `rpm -i --justdb` into a fresh sqlite rpmdb; the same headers are then loaded into a
 * Berkeley DB hash file with db5.3_load (apt `db5.3-util`), which rpm reads through bdb_ro.
 * Every expectation is what `rpm -qa` prints for the same database.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeRootfsWithWarnings } from './index.js';
import { cleanupTempDirs, requireTool, run, tempDir } from './testkit.js';

afterAll(cleanupTempDirs);

const QF = '%{NAME}|%{EVR}|%{ARCH}|%{SOURCERPM}|%{LICENSE}\\n';

const SPECS: Array<{ name: string; body: string }> = [
  {
    name: 'palisade-alpha',
    body: 'Version: 1.0.0\nRelease: 1\nLicense: MIT\n',
  },
  {
    name: 'palisade-beta',
    body: 'Epoch: 2\nVersion: 3.4\nRelease: 5.el9\nLicense: GPL-2.0-or-later AND MIT\n',
  },
  {
    // 400 files make a header of tens of KB: several overflow pages in the Berkeley DB file.
    name: 'palisade-gamma',
    body: 'Version: 0.1~rc1\nRelease: 0.2\nLicense: Apache-2.0\n',
  },
];

function spec(name: string, body: string): string {
  const many = name === 'palisade-gamma';
  return [
    `Name: ${name}`,
    body.trimEnd(),
    'Summary: Palisade analyzer test package',
    'BuildArch: noarch',
    '%description',
    'Test package.',
    '%install',
    many
      ? `mkdir -p %{buildroot}/usr/share/${name} && for i in $(seq 1 400); do echo $i > %{buildroot}/usr/share/${name}/file-with-a-longish-name-$i.txt; done`
      : '',
    '%files',
    many ? `/usr/share/${name}` : '',
    '',
  ].join('\n');
}

let work: string;
let rpms: string[];
let sqliteDb: string;

beforeAll(() => {
  requireTool('rpmbuild', 'rpm');
  requireTool('rpm', 'rpm');
  work = tempDir('rpm-it');
  for (const s of SPECS) {
    const f = join(work, `${s.name}.spec`);
    writeFileSync(f, spec(s.name, s.body));
    run('rpmbuild', ['--quiet', '--define', `_topdir ${join(work, 'top')}`, '-bb', f]);
  }
  const out = join(work, 'top/RPMS/noarch');
  rpms = readdirSync(out).map((n) => join(out, n));
  expect(rpms).toHaveLength(3);
  sqliteDb = join(work, 'db');
  mkdirSync(sqliteDb);
  run('rpm', ['--initdb', '--dbpath', sqliteDb]);
  run('rpm', ['-i', '--justdb', '--nodeps', '--dbpath', sqliteDb, ...rpms]);
}, 120_000);

const rpmQa = (dbpath: string) =>
  run('rpm', ['--dbpath', dbpath, '-qa', '--qf', QF]).split('\n').filter(Boolean).sort();

const ours = (
  pkgs: Array<{ name: string; version: string; arch?: string; sourceName?: string; licenses?: string[] }>,
) =>
  pkgs
    .map((p) => {
      // SOURCERPM is "<name>-<version>-<release>.src.rpm"; ours splits it into sourceName/sourceVersion.
      const src = `${p.sourceName}-${p.version.replace(/^\d+:/, '')}.src.rpm`;
      return `${p.name}|${p.version}|${p.arch}|${src}|${p.licenses?.[0]}`;
    })
    .sort();

function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .sort()
    .map((n) => {
      const st = statSync(join(dir, n));
      return `${n} ${st.size} ${st.mtimeMs}`;
    });
}

describe('rpm sqlite database (rpm 4.18 default backend)', () => {
  it('the default backend is sqlite', () => {
    expect(run('rpm', ['--eval', '%_db_backend']).trim()).toBe('sqlite');
  });

  it('matches rpm -qa exactly and leaves the image untouched', async () => {
    const root = tempDir('rpm-root');
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/os-release'), 'ID="rocky"\nVERSION_ID="9.3"\nNAME="Rocky Linux"\n');
    mkdirSync(join(root, 'var/lib/rpm'), { recursive: true });
    for (const n of readdirSync(sqliteDb)) copyFileSync(join(sqliteDb, n), join(root, 'var/lib/rpm', n));
    const before = snapshot(root);
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(warnings).toEqual([]);
    const real = rpmQa(sqliteDb);
    expect(real).toEqual([
      'palisade-alpha|1.0.0-1|noarch|palisade-alpha-1.0.0-1.src.rpm|MIT',
      'palisade-beta|2:3.4-5.el9|noarch|palisade-beta-3.4-5.el9.src.rpm|GPL-2.0-or-later AND MIT',
      'palisade-gamma|0.1~rc1-0.2|noarch|palisade-gamma-0.1~rc1-0.2.src.rpm|Apache-2.0',
    ]);
    expect(ours(inventory.packages)).toEqual(real);
    expect(inventory.packages.find((p) => p.name === 'palisade-beta')).toEqual({
      name: 'palisade-beta',
      version: '2:3.4-5.el9',
      ecosystem: 'Red Hat',
      sourceName: 'palisade-beta',
      sourceVersion: '2:3.4-5.el9',
      arch: 'noarch',
      licenses: ['GPL-2.0-or-later AND MIT'],
      purl: 'pkg:rpm/rocky/palisade-beta@3.4-5.el9?arch=noarch&distro=rocky-9.3&epoch=2',
      locations: ['/var/lib/rpm/rpmdb.sqlite'],
    });
    expect(snapshot(root)).toEqual(before);
  });

  it('reads /usr/lib/sysimage/rpm through a /var/lib/rpm symlink once', async () => {
    const root = tempDir('rpm-root2');
    mkdirSync(join(root, 'usr/lib/sysimage/rpm'), { recursive: true });
    for (const n of readdirSync(sqliteDb))
      copyFileSync(join(sqliteDb, n), join(root, 'usr/lib/sysimage/rpm', n));
    mkdirSync(join(root, 'var/lib'), { recursive: true });
    const { symlinkSync } = await import('node:fs');
    symlinkSync('../../usr/lib/sysimage/rpm', join(root, 'var/lib/rpm'));
    const { inventory } = await analyzeRootfsWithWarnings(root);
    expect(ours(inventory.packages)).toEqual(rpmQa(sqliteDb));
    expect(inventory.packages[0]?.locations).toEqual(['/usr/lib/sysimage/rpm/rpmdb.sqlite']);
  });
});

describe('rpm Berkeley DB (hash) database', () => {
  it('headers loaded with db5.3_load read the same as rpm -qa (bdb_ro) reads them', async () => {
    requireTool('db5.3_load', 'db5.3-util');
    // The header blobs as rpm stored them, keyed by instance number (native byte order, as rpm does).
    const db = new DatabaseSync(join(sqliteDb, 'rpmdb.sqlite'), { readOnly: true });
    const rows = db.prepare('SELECT hnum, blob FROM Packages').all() as Array<{
      hnum: number;
      blob: Uint8Array;
    }>;
    db.close();
    expect(rows).toHaveLength(3);
    const lines = ['VERSION=3', 'format=bytevalue', 'type=hash', 'db_pagesize=4096', 'HEADER=END'];
    for (const r of rows) {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(Number(r.hnum));
      lines.push(` ${key.toString('hex')}`, ` ${Buffer.from(r.blob).toString('hex')}`);
    }
    lines.push('DATA=END', '');
    const bdbDir = tempDir('rpm-bdb');
    writeFileSync(join(bdbDir, 'dump.txt'), lines.join('\n'));
    run('db5.3_load', ['-f', join(bdbDir, 'dump.txt'), join(bdbDir, 'Packages')]);
    const biggest = Math.max(...rows.map((r) => r.blob.byteLength));
    expect(biggest).toBeGreaterThan(3 * 4096); // spans several overflow pages

    const root = tempDir('rpm-bdb-root');
    mkdirSync(join(root, 'var/lib/rpm'), { recursive: true });
    copyFileSync(join(bdbDir, 'Packages'), join(root, 'var/lib/rpm/Packages'));
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(warnings).toEqual([]);
    const real = rpmQa(bdbDir);
    expect(real).toEqual(rpmQa(sqliteDb));
    expect(ours(inventory.packages)).toEqual(real);
    expect(
      readFileSync(join(root, 'var/lib/rpm/Packages')).equals(readFileSync(join(bdbDir, 'Packages'))),
    ).toBe(true);
  });
});
