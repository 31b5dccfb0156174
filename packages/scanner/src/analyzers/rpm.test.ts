import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { sharedPath } from '@palisade/testdata';
import { afterAll, describe, expect, it } from 'vitest';
import { BdbError, readBdbHash } from './bdb.js';
import { analyzeRootfsWithWarnings } from './index.js';
import { readBdbRpmdbBlobs } from './rpm.js';
import { parseSourceRpm, RpmHeaderError, rpmEvr, rpmRecordFromHeader } from './rpmheader.js';
import { cleanupTempDirs, makeRoot, run, tempDir, which } from './testkit.js';

afterAll(cleanupTempDirs);

const QF = '%{NAME}|%{EVR}|%{ARCH}|%{SOURCERPM}|%{LICENSE}\\n';

/** `rpm -qa` over a copy of a Packages file (Debian's rpm reads Berkeley DB through bdb_ro). */
function rpmQa(packagesFile: string): string[] | null {
  if (!which('rpm')) return null;
  const dir = tempDir('rpmqa');
  copyFileSync(packagesFile, join(dir, 'Packages'));
  return run('rpm', ['--dbpath', dir, '-qa', '--qf', QF]).split('\n').filter(Boolean).sort();
}

const ours = (file: string) =>
  readBdbRpmdbBlobs(readFileSync(file))
    .map(({ blob }) => {
      const r = rpmRecordFromHeader(blob);
      return `${r.name}|${rpmEvr(r)}|${r.arch}|${r.sourceRpm}|${r.license}`;
    })
    .sort();

describe('Berkeley DB rpmdb (real files)', () => {
  // Expected lines verified on 2026-11-23 with rpm 4.18.0 (Debian 12):
  //   rpm --dbpath <copy> -qa --qf '%{NAME}|%{EVR}|%{ARCH}|%{SOURCERPM}|%{LICENSE}\n'
  // The test re-runs rpm when it is installed.
  it('grype centos image: dive 0.9.2-1', () => {
    const file = sharedPath('testdata/pkgdb/grype/image-centos-match-coverage/var/lib/rpm/Packages');
    expect(ours(file)).toEqual(['dive|0.9.2-1|x86_64|dive-0.9.2-1.src.rpm|MIT']);
    const real = rpmQa(file);
    if (real) expect(ours(file)).toEqual(real);
  });

  it('osv-scalibr Packages_epoch: hello 1:0.0.1-rls', () => {
    const file = sharedPath('testdata/pkgdb/osv-scalibr/rpm/Packages_epoch');
    expect(ours(file)).toEqual(['hello|1:0.0.1-rls|x86_64|hello-0.0.1-rls.src.rpm|GPL']);
    const real = rpmQa(file);
    if (real) expect(ours(file)).toEqual(real);
  });

  it('analyzeRootfs on the grype centos image', async () => {
    const { inventory, warnings } = await analyzeRootfsWithWarnings(
      sharedPath('testdata/pkgdb/grype/image-centos-match-coverage'),
    );
    expect(warnings).toEqual([]);
    expect(inventory.packages).toEqual([
      {
        name: 'dive',
        version: '0.9.2-1',
        ecosystem: 'Red Hat',
        sourceName: 'dive',
        sourceVersion: '0.9.2-1',
        arch: 'x86_64',
        licenses: ['MIT'],
        purl: 'pkg:rpm/centos/dive@0.9.2-1?arch=x86_64&distro=centos-8',
        locations: ['/var/lib/rpm/Packages'],
      },
    ]);
  });

  it('epoch goes to the version and the purl qualifier', async () => {
    const root = makeRoot({ 'etc/os-release': 'ID=rhel\nVERSION_ID=8.9\n' });
    mkdirSync(join(root, 'var/lib/rpm'), { recursive: true });
    copyFileSync(
      sharedPath('testdata/pkgdb/osv-scalibr/rpm/Packages_epoch'),
      join(root, 'var/lib/rpm/Packages'),
    );
    const { inventory } = await analyzeRootfsWithWarnings(root);
    expect(inventory.packages[0]).toMatchObject({
      name: 'hello',
      version: '1:0.0.1-rls',
      sourceName: 'hello',
      sourceVersion: '1:0.0.1-rls',
      purl: 'pkg:rpm/rhel/hello@0.0.1-rls?arch=x86_64&distro=rhel-8.9&epoch=1',
    });
  });
});

describe('corrupt and unsupported rpm databases', () => {
  it('empty and invalid sqlite files give warnings, not failures', async () => {
    for (const f of ['empty.sqlite', 'invalid']) {
      const root = makeRoot({});
      mkdirSync(join(root, 'var/lib/rpm'), { recursive: true });
      copyFileSync(sharedPath('testdata/pkgdb/osv-scalibr/rpm', f), join(root, 'var/lib/rpm/rpmdb.sqlite'));
      const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
      expect(inventory.packages).toEqual([]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^\/var\/lib\/rpm\/rpmdb\.sqlite: not a readable rpm sqlite database/);
    }
  });

  it('a truncated Berkeley DB is reported', async () => {
    const good = readFileSync(sharedPath('testdata/pkgdb/osv-scalibr/rpm/Packages_epoch'));
    expect(() => readBdbHash(good.subarray(0, 100))).toThrow(BdbError);
    const root = makeRoot({ 'var/lib/rpm/Packages': good.subarray(0, 8192) });
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(inventory.packages).toEqual([]);
    expect(warnings.join('\n')).toMatch(/\/var\/lib\/rpm\/Packages: /);
  });

  it('ndb Packages.db is named as unsupported', async () => {
    const root = makeRoot({ 'usr/lib/sysimage/rpm/Packages.db': 'RpmP' });
    const { warnings } = await analyzeRootfsWithWarnings(root);
    expect(warnings).toEqual([
      '/usr/lib/sysimage/rpm/Packages.db: rpm ndb databases are not supported; packages not listed',
    ]);
  });

  it('header blob validation', () => {
    expect(() => rpmRecordFromHeader(Buffer.alloc(4))).toThrow(RpmHeaderError);
    const b = Buffer.alloc(24);
    b.writeUInt32BE(1, 0);
    b.writeUInt32BE(100, 4); // claims 100 data bytes that are not there
    expect(() => rpmRecordFromHeader(b)).toThrow(/needs/);
  });

  it('source rpm names', () => {
    expect(parseSourceRpm('glibc-2.28-225.el8.src.rpm')).toEqual({
      name: 'glibc',
      version: '2.28',
      release: '225.el8',
    });
    expect(parseSourceRpm('python3-pip-21.3.1-1.fc36.nosrc.rpm')).toEqual({
      name: 'python3-pip',
      version: '21.3.1',
      release: '1.fc36',
    });
    expect(parseSourceRpm('weird.src.rpm')).toBeNull();
  });
});

it('reads rows that are still only in the write-ahead log, without touching the image', async () => {
  // A real header (from the Berkeley DB test file) written into a WAL-mode database in rpm's schema;
  // the files are copied while the writer still holds them, so the row lives only in rpmdb.sqlite-wal.
  const [hello] = readBdbRpmdbBlobs(
    readFileSync(sharedPath('testdata/pkgdb/osv-scalibr/rpm/Packages_epoch')),
  );
  const dir = tempDir('wal');
  const db = new DatabaseSync(join(dir, 'rpmdb.sqlite'));
  db.exec('PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;');
  db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)');
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.prepare('INSERT INTO Packages (blob) VALUES (?)').run(hello?.blob as Uint8Array);
  const root = makeRoot({});
  mkdirSync(join(root, 'var/lib/rpm'), { recursive: true });
  for (const n of ['rpmdb.sqlite', 'rpmdb.sqlite-wal'])
    copyFileSync(join(dir, n), join(root, 'var/lib/rpm', n));
  db.close();
  const before = readdirSync(join(root, 'var/lib/rpm')).map((n) => [
    n,
    readFileSync(join(root, 'var/lib/rpm', n)),
  ]);
  const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
  expect(warnings).toEqual([]);
  expect(inventory.packages.map((p) => `${p.name} ${p.version}`)).toEqual(['hello 1:0.0.1-rls']);
  const after = readdirSync(join(root, 'var/lib/rpm')).map((n) => [
    n,
    readFileSync(join(root, 'var/lib/rpm', n)),
  ]);
  expect(after).toEqual(before);
});
