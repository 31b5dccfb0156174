import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackageInventory } from '@palisade/protocol';
import { sharedPath } from '@palisade/testdata';
import { afterAll, describe, expect, it } from 'vitest';
import { inScope, readFileInRoot, resolveInRoot, walkScopes } from './fsroot.js';
import { analyzeRootfs, analyzeRootfsWithWarnings, inventoryPaths } from './index.js';
import { purl } from './purl.js';
import { cleanupTempDirs, makeRoot, makeZip, parseTxtar, tempDir } from './testkit.js';

afterAll(cleanupTempDirs);

describe('root confinement', () => {
  it('symlinks resolve inside the root, absolute or relative, and cannot climb out', async () => {
    const outside = tempDir('outside');
    writeFileSync(join(outside, 'secret'), 'host secret');
    const root = makeRoot({ 'real/file': 'inside' });
    symlinkSync('/real/file', join(root, 'abs'));
    symlinkSync('../../../../../../../../real/file', join(root, 'climb'));
    symlinkSync(join(outside, 'secret'), join(root, 'host'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
    expect(await resolveInRoot(root, '/abs')).toBe(join(root, 'real/file'));
    expect(await resolveInRoot(root, 'climb')).toBe(join(root, 'real/file'));
    // The host path is re-rooted: <root>/<tmp>/outside-…/secret does not exist.
    expect(await resolveInRoot(root, 'host')).toBeNull();
    expect(await resolveInRoot(root, 'loop1')).toBeNull();
    expect(await readFileInRoot(root, `/../../..${outside}/secret`, 1000)).toBeNull();
  });

  it('the walk never follows symlinks (no escape, no double counting)', async () => {
    const outside = tempDir('outside');
    mkdirSync(join(outside, 'node_modules/evil'), { recursive: true });
    writeFileSync(
      join(outside, 'node_modules/evil/package.json'),
      JSON.stringify({ name: 'evil', version: '1.0.0' }),
    );
    const root = makeRoot({
      'app/node_modules/ok/package.json': JSON.stringify({ name: 'ok', version: '1.0.0' }),
    });
    symlinkSync(outside, join(root, 'app/escape'));
    symlinkSync('/app/node_modules', join(root, 'app/again'));
    const inv = await analyzeRootfs(root);
    expect(inv.packages.map((p) => p.name)).toEqual(['ok']);
  });

  it('files over maxFileBytes are skipped with a warning', async () => {
    const status = parseTxtar(readFileSync(sharedPath('testdata/pkgdb/trivy/dpkg/valid.txtar'), 'utf8')).get(
      'var/lib/dpkg/status',
    ) as string;
    const root = makeRoot({
      'var/lib/dpkg/status': status,
      'app/x.jar': makeZip([{ name: 'a', data: 'b' }]),
    });
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root, { maxFileBytes: 1000 });
    expect(inventory.packages).toEqual([]);
    expect(warnings).toEqual([
      `/var/lib/dpkg/status: ${Buffer.byteLength(status)} bytes exceeds the 1000-byte limit; skipped`,
    ]);
  });

  it('walk limits stop the walk and say so', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i++)
      files[`app/d${i}/node_modules/p${i}/package.json`] = JSON.stringify({
        name: `p${i}`,
        version: '1.0.0',
      });
    const root = makeRoot(files);
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root, { maxWalkEntries: 40 });
    expect(inventory.packages.length).toBeLessThan(50);
    expect(warnings).toEqual(['language package walk incomplete: walk stopped after 40 entries']);
    const seen: string[] = [];
    const r = await walkScopes(
      root,
      [{ dir: '/app', depth: 1 }],
      { maxEntries: 1e6, deadline: Date.now() + 1e4 },
      (f) => seen.push(f.rel),
    );
    expect(r.truncated).toBeNull();
    expect(seen).toEqual([]); // depth 1 reaches /app/dN/ but no files live there
  });

  it('scope depth', () => {
    expect(inScope('/usr/bin/x', { dir: 'usr/bin', depth: 0 })).toBe(true);
    expect(inScope('/usr/bin/a/x', { dir: 'usr/bin', depth: 0 })).toBe(false);
    expect(inScope('/x', { dir: '', depth: 0 })).toBe(true);
    expect(inScope('/a/x', { dir: '', depth: 0 })).toBe(false);
  });
});

describe('analyzeRootfs', () => {
  it('an empty directory gives no OS and no packages', async () => {
    expect(await analyzeRootfsWithWarnings(tempDir('empty'))).toEqual({
      inventory: { os: null, packages: [] },
      warnings: [],
    });
  });

  it('a mixed image validates against the protocol schema', async () => {
    const status = parseTxtar(readFileSync(sharedPath('testdata/pkgdb/trivy/dpkg/valid.txtar'), 'utf8')).get(
      'var/lib/dpkg/status',
    ) as string;
    const root = makeRoot({
      'etc/os-release': 'ID=debian\nVERSION_ID="10"\nNAME="Debian GNU/Linux"\nVERSION_CODENAME=buster\n',
      'var/lib/dpkg/status': status,
      'usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA':
        'Name: six\nVersion: 1.16.0\nLicense: MIT\n',
      'app/package-lock.json': JSON.stringify({
        lockfileVersion: 3,
        packages: { 'node_modules/a': { version: '1.0.0' } },
      }),
      'app/lib/a.jar': makeZip([
        { name: 'META-INF/maven/g/a/pom.properties', data: 'groupId=g\nartifactId=a\nversion=1\n' },
      ]),
    });
    const inv = await analyzeRootfs(root);
    expect(PackageInventory.parse(inv)).toEqual(inv);
    const count = (eco: string) => inv.packages.filter((p) => p.ecosystem === eco).length;
    expect([count('Debian'), count('PyPI'), count('npm'), count('Maven')]).toEqual([90, 1, 1, 1]);
    expect(inv.packages.find((p) => p.name === 'tar')?.purl).toBe(
      'pkg:deb/debian/tar@1.29b-2?arch=amd64&distro=debian-10',
    );
  });

  it('inventoryPaths names the databases and the language patterns', () => {
    const paths = inventoryPaths();
    for (const p of [
      '/etc/os-release',
      '/usr/lib/os-release',
      '/var/lib/dpkg/status',
      '/var/lib/dpkg/status.d/*',
      '/lib/apk/db/installed',
      '/var/lib/rpm/rpmdb.sqlite',
      '/var/lib/rpm/rpmdb.sqlite-wal',
      '/var/lib/rpm/Packages',
      '/usr/lib/sysimage/rpm/rpmdb.sqlite',
      '/usr/lib/node_modules/**/package.json',
      '/app/**/package-lock.json',
      '/usr/lib/**/{site,dist}-packages/*.dist-info/METADATA',
      '/usr/bin/*',
      '/*',
      '/opt/**/*.{jar,war,ear,hpi,jpi}',
    ]) {
      expect(paths).toContain(p);
    }
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths.every((p) => p.startsWith('/'))).toBe(true);
  });
});

describe('purl', () => {
  it('encodes per the purl spec (colon kept, @ and + encoded, qualifiers sorted)', () => {
    expect(purl('deb', 'debian', 'libc6', '2.36-9+deb12u4', { distro: 'debian-12', arch: 'amd64' })).toBe(
      'pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12',
    );
    expect(purl('deb', 'debian', 'attr', '1:2.5.1-4')).toBe('pkg:deb/debian/attr@1:2.5.1-4');
    expect(purl('npm', '@babel', 'core', '7.0.0')).toBe('pkg:npm/%40babel/core@7.0.0');
    expect(purl('golang', 'github.com/pkg', 'errors', 'v0.9.1')).toBe(
      'pkg:golang/github.com/pkg/errors@v0.9.1',
    );
  });
});
