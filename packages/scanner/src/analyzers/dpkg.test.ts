import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '@palisade/testdata';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDpkgStatus } from './dpkg.js';
import { analyzeRootfsWithWarnings } from './index.js';
import { cleanupTempDirs, makeRoot, parseTxtar, run, tempDir, which } from './testkit.js';

afterAll(cleanupTempDirs);

const trivy = (name: string) => {
  const files = parseTxtar(readFileSync(sharedPath('testdata/pkgdb/trivy/dpkg', name), 'utf8'));
  return files.get('var/lib/dpkg/status') as string;
};
const scalibr = (name: string) =>
  readFileSync(sharedPath('testdata/pkgdb/osv-scalibr/dpkg/dpkg', name), 'utf8');

type Tuple = [name: string, version: string, arch: string, sourceName: string, sourceVersion: string];

/**
 * What the real dpkg says: `dpkg-query --admindir=<dir> -W` over the same status file, keeping
 * the entries whose status abbreviation is "ii"/"hi" (installed). Null when dpkg-query is absent.
 */
function dpkgQuery(status: string): Tuple[] | null {
  if (!which('dpkg-query')) return null;
  const dir = tempDir('dpkgq');
  mkdirSync(join(dir, 'updates'));
  mkdirSync(join(dir, 'info'));
  writeFileSync(join(dir, 'status'), status);
  const out = run('dpkg-query', [
    `--admindir=${dir}`,
    '-W',
    '-f',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${Field} format, not a template
    '${db:Status-Abbrev}|${Package}|${Version}|${Architecture}|${source:Package}|${source:Version}\\n',
  ]);
  return out
    .split('\n')
    .filter((l) => /^[ih]i /.test(l))
    .map((l) => l.split('|').slice(1) as Tuple);
}

const tuples = (status: string, statusOptional = false): Tuple[] =>
  parseDpkgStatus(status, { statusOptional }).map((r) => [
    r.name,
    r.version,
    r.arch ?? '',
    r.sourceName,
    r.sourceVersion,
  ]);
const sorted = (t: Tuple[]) => [...t].sort((a, b) => a.join('|').localeCompare(b.join('|')));

describe('dpkg status parsing against real databases', () => {
  // Counts verified with dpkg-query 1.21 (Debian 12) on 2026-11-23, as in dpkgQuery() above.
  const cases: Array<[label: string, text: () => string, count: number, samples: Tuple[]]> = [
    [
      'trivy valid.txtar',
      () => trivy('valid.txtar'),
      90, // 91 paragraphs; git is "deinstall ok config-files" (rc)
      [
        ['fdisk', '2.31.1-0.4ubuntu3.1', 'amd64', 'util-linux', '2.31.1-0.4ubuntu3.1'],
        ['libgcc1', '1:8-20180414-1ubuntu2', 'amd64', 'gcc-8', '8-20180414-1ubuntu2'],
        ['libpam-runtime', '1.1.8-3.6ubuntu2', 'all', 'pam', '1.1.8-3.6ubuntu2'],
        ['tar', '1.29b-2', 'amd64', 'tar', '1.29b-2'],
        ['libss2', '1.44.1-1', 'amd64', 'e2fsprogs', '1.44.1-1'],
      ],
    ],
    [
      'trivy corrupsed.txtar',
      () => trivy('corrupsed.txtar'),
      4,
      [
        ['libgcc1', '1:5.1.1-12ubuntu1', 'amd64', 'gcc-5', '5.1.1-12ubuntu1'],
        ['makedev', '2.3.1-93ubuntu1', 'all', 'makedev', '2.3.1-93ubuntu1'],
      ],
    ],
    ['trivy third-party.txtar', () => trivy('third-party.txtar'), 2, []],
    ['trivy only-apt.txtar', () => trivy('only-apt.txtar'), 1, []],
    ['trivy md5sums.txtar', () => trivy('md5sums.txtar'), 1, []],
    ['trivy digest.txtar', () => trivy('digest.txtar'), 2, []],
    [
      'grype debian',
      () =>
        readFileSync(
          sharedPath('testdata/pkgdb/grype/image-debian-match-coverage/var/lib/dpkg/status'),
          'utf8',
        ),
      1,
      [['apt', '1.8.2', 'amd64', 'apt-dev', '1.8.2']],
    ],
    [
      'scalibr valid',
      () => scalibr('valid'),
      7,
      [
        ['attr', '1:2.5.1-4', 'amd64', 'attr', '1:2.5.1-4'],
        ['libacl1', '2.3.1-3', 'amd64', 'acl', '2.3.1-3'],
        ['util-linux-extra', '2.38.1-5+b1', 'amd64', 'util-linux', '2.38.1-5'],
      ],
    ],
    [
      'scalibr statusfield',
      () => scalibr('statusfield'),
      1,
      [['wantinstall_installed', '1.0', '', 'wantinstall_installed', '1.0']],
    ],
    [
      'scalibr transitional',
      () => scalibr('transitional'),
      1,
      [['iceweasel', '78.13.0esr-1~deb10u1', 'all', 'firefox-esr', '78.13.0esr-1~deb10u1']],
    ],
    [
      'scalibr trailingnewlines',
      () => scalibr('trailingnewlines'),
      1,
      [['acl', '2.3.1-3', 'amd64', 'acl', '2.3.1-3']],
    ],
    ['scalibr empty', () => scalibr('empty'), 0, []],
  ];
  for (const [label, text, count, samples] of cases) {
    it(label, () => {
      const status = text();
      const got = tuples(status);
      expect(got).toHaveLength(count);
      for (const s of samples) expect(got).toContainEqual(s);
      const real = dpkgQuery(status);
      if (real) expect(sorted(got)).toEqual(sorted(real));
    });
  }

  it('skips paragraphs without Package/Version and reports them (dpkg-query refuses these files outright)', () => {
    const warnings: string[] = [];
    // foo 1.0, acl (no Version), bar 2.0
    const names = parseDpkgStatus(scalibr('noversion'), { warn: (m) => warnings.push(m) }).map((r) => r.name);
    expect(names).toEqual(['foo', 'bar']);
    expect(warnings.join()).toMatch(/without Version/);
    warnings.length = 0;
    parseDpkgStatus(scalibr('invalid'), { warn: (m) => warnings.push(m) });
    expect(warnings.join()).toMatch(/malformed/);
  });

  it('treats distroless status.d entries (no Status field) as installed', () => {
    expect(tuples(scalibr('status.d/foo'), true)).toEqual([['foo', '1.2.3', 'amd64', 'foo', '1.2.3']]);
    expect(tuples(scalibr('status.d/foo'), false)).toEqual([]);
  });

  it('accepts hold ok installed, rejects half-installed and config-files', () => {
    const text = [
      'Package: a\nStatus: hold ok installed\nVersion: 1',
      'Package: b\nStatus: install reinstreq half-installed\nVersion: 1',
      'Package: c\nStatus: deinstall ok config-files\nVersion: 1',
    ].join('\n\n');
    expect(tuples(text).map((t) => t[0])).toEqual(['a']);
  });
});

describe('dpkg analyzer on a root filesystem', () => {
  it('reads status and status.d, builds purls with the OS, records locations', async () => {
    const root = makeRoot({
      'etc/os-release': 'ID=ubuntu\nVERSION_ID="18.04"\nNAME="Ubuntu"\nVERSION_CODENAME=bionic\n',
      'var/lib/dpkg/status': trivy('corrupsed.txtar'),
      'var/lib/dpkg/status.d/foo': scalibr('status.d/foo'),
      'var/lib/dpkg/status.d/foo.md5sums': 'd41d8cd98f00b204e9800998ecf8427e  usr/bin/foo\n',
    });
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(inventory.os).toMatchObject({
      id: 'ubuntu',
      versionId: '18.04',
      family: 'debian',
      codename: 'bionic',
    });
    expect(inventory.packages).toHaveLength(5);
    const gcc = inventory.packages.find((p) => p.name === 'libgcc1');
    expect(gcc).toEqual({
      name: 'libgcc1',
      version: '1:5.1.1-12ubuntu1',
      ecosystem: 'Debian',
      sourceName: 'gcc-5',
      sourceVersion: '5.1.1-12ubuntu1',
      arch: 'amd64',
      purl: 'pkg:deb/ubuntu/libgcc1@1:5.1.1-12ubuntu1?arch=amd64&distro=ubuntu-18.04',
      locations: ['/var/lib/dpkg/status'],
    });
    expect(inventory.packages.find((p) => p.name === 'foo')?.locations).toEqual([
      '/var/lib/dpkg/status.d/foo',
    ]);
    expect(warnings.some((w) => w.includes('brokenPackageWithNoVersionThatShouldGetThrownOut'))).toBe(true);
  });
});
