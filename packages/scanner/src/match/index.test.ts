import type { Ecosystem, InstalledPackage, OsInfo, PackageInventory } from '@palisade/protocol';
import { sharedPath } from '@palisade/testdata';
import { beforeAll, describe, expect, test } from 'vitest';
import { buildDb, deserializeDb, serializeDb } from '../vulndb/build.js';
import type { VulnDb } from '../vulndb/model.js';
import { type Finding, matchInventory } from './index.js';

// Inventories are written by hand from package names and versions that appear in the shared feeds.

let db: VulnDb;
beforeAll(async () => {
  // Through the serialized form, as a scanner loads it.
  db = deserializeDb(serializeDb(await buildDb(sharedPath('vulndata'))));
}, 120_000);

const PURL_TYPE: Record<Ecosystem, string> = {
  Debian: 'deb',
  Alpine: 'apk',
  'Red Hat': 'rpm',
  npm: 'npm',
  PyPI: 'pypi',
  Maven: 'maven',
  Go: 'golang',
  'crates.io': 'cargo',
};

function pkg(
  ecosystem: Ecosystem,
  name: string,
  version: string,
  source?: { name: string; version?: string },
): InstalledPackage {
  const p: InstalledPackage = {
    name,
    version,
    ecosystem,
    purl: `pkg:${PURL_TYPE[ecosystem]}/${name}@${version}`,
    locations: ['/hand-written'],
  };
  if (source) {
    p.sourceName = source.name;
    p.sourceVersion = source.version ?? version;
  }
  return p;
}

const DEBIAN = (versionId: string): OsInfo => ({
  id: 'debian',
  versionId,
  name: 'Debian GNU/Linux',
  family: 'debian',
});
const ALPINE = (versionId: string): OsInfo => ({
  id: 'alpine',
  versionId,
  name: 'Alpine Linux',
  family: 'alpine',
});
const inv = (os: OsInfo | null, ...packages: InstalledPackage[]): PackageInventory => ({ os, packages });
const ids = (fs: Finding[]): string[] => fs.map((f) => f.vulnerabilityId);
const only = (fs: Finding[], id: string): Finding => {
  const hits = fs.filter((f) => f.vulnerabilityId === id);
  expect(hits, id).toHaveLength(1);
  return hits[0] as Finding;
};

describe('Debian', () => {
  test('binary libssl1.1 from source openssl (bullseye): the five CVEs of DSA-5343-1, fixed in 1.1.1n-0+deb11u4', () => {
    // 1.1.1n-0+deb11u3 is DSA-5169-1's fix (CVE-2022-2068); DSA-5343-1 fixed five more in +deb11u4.
    const found = matchInventory(
      inv(DEBIAN('11'), pkg('Debian', 'libssl1.1', '1.1.1n-0+deb11u3', { name: 'openssl' })),
      db,
    );
    expect(ids(found).sort()).toEqual([
      'CVE-2022-2097',
      'CVE-2022-4304',
      'CVE-2022-4450',
      'CVE-2023-0215',
      'CVE-2023-0286',
    ]);
    for (const f of found) {
      expect(f).toMatchObject({
        package: { name: 'libssl1.1', version: '1.1.1n-0+deb11u3', ecosystem: 'Debian' },
        fixedVersion: '1.1.1n-0+deb11u4',
        unfixed: false,
        source: 'debian-dsa',
        matchedBy: 'source',
      });
      expect(f.aliases).toContain('DSA-5343-1');
    }
    // The fixed version and anything newer: nothing.
    expect(
      matchInventory(
        inv(DEBIAN('11'), pkg('Debian', 'libssl1.1', '1.1.1n-0+deb11u4', { name: 'openssl' })),
        db,
      ),
    ).toEqual([]);
    expect(
      matchInventory(
        inv(DEBIAN('11'), pkg('Debian', 'libssl1.1', '1.1.1n-0+deb11u5', { name: 'openssl' })),
        db,
      ),
    ).toEqual([]);
    // Without the source name the binary name alone finds nothing (advisories name source packages).
    expect(matchInventory(inv(DEBIAN('11'), pkg('Debian', 'libssl1.1', '1.1.1n-0+deb11u3')), db)).toEqual([]);
  });

  test('the release matters: on buster (10) the buster lines apply (DSA-5169-1, then DLA-3325-1)', () => {
    // DSA-5169-1: [buster] - openssl 1.1.1n-0+deb10u3 {CVE-2022-2068}
    // DLA-3325-1: [buster] - openssl 1.1.1n-0+deb10u4 {the same five CVEs as DSA-5343-1}
    const found = matchInventory(
      inv(DEBIAN('10'), pkg('Debian', 'libssl1.1', '1.1.1n-0+deb10u2', { name: 'openssl' })),
      db,
    );
    expect(found.map((f) => [f.vulnerabilityId, f.fixedVersion, f.aliases.join(',')]).sort()).toEqual([
      ['CVE-2022-2068', '1.1.1n-0+deb10u3', 'DSA-5169-1'],
      ['CVE-2022-2097', '1.1.1n-0+deb10u4', 'DLA-3325-1'],
      ['CVE-2022-4304', '1.1.1n-0+deb10u4', 'DLA-3325-1'],
      ['CVE-2022-4450', '1.1.1n-0+deb10u4', 'DLA-3325-1'],
      ['CVE-2023-0215', '1.1.1n-0+deb10u4', 'DLA-3325-1'],
      ['CVE-2023-0286', '1.1.1n-0+deb10u4', 'DLA-3325-1'],
    ]);
  });

  test('DSA + DLA for one CVE: one finding, aliases united, highest fixed version', () => {
    // CVE-2020-1927 on buster apache2: DSA-4757-1 fixed 2.4.38-3+deb10u4, DLA-3351-1 fixed 2.4.38-3+deb10u9.
    const old = matchInventory(
      inv(DEBIAN('10'), pkg('Debian', 'apache2', '2.4.38-3+deb10u3', { name: 'apache2' })),
      db,
    );
    const f = only(old, 'CVE-2020-1927');
    expect(f.aliases).toEqual(['DLA-3351-1', 'DSA-4757-1']);
    expect(f.fixedVersion).toBe('2.4.38-3+deb10u9');
    expect(f.sources).toEqual(['debian-dla', 'debian-dsa']);
    // DSA-4757-1's fix alone does not clear it: DLA-3351-1 lists it again for +deb10u9.
    const mid = matchInventory(
      inv(DEBIAN('10'), pkg('Debian', 'apache2', '2.4.38-3+deb10u4', { name: 'apache2' })),
      db,
    );
    expect(only(mid, 'CVE-2020-1927')).toMatchObject({
      aliases: ['DLA-3351-1'],
      fixedVersion: '2.4.38-3+deb10u9',
    });
    const fixed = matchInventory(
      inv(DEBIAN('10'), pkg('Debian', 'apache2', '2.4.38-3+deb10u9', { name: 'apache2' })),
      db,
    );
    expect(ids(fixed)).not.toContain('CVE-2020-1927');
    // Distinct CVEs announced together stay distinct (the DSA id is not a link between them).
    expect(ids(old).filter((x) => x === 'CVE-2020-1934')).toHaveLength(1);
  });

  test('<end-of-life> / <unfixed> are reported as unfixed', () => {
    // [jessie] - virtualbox <end-of-life> (DSA-3699-1); 4.3.36-dfsg-1+deb8u1 was the last jessie fix.
    const eol = matchInventory(
      inv(DEBIAN('8'), pkg('Debian', 'virtualbox', '4.3.36-dfsg-1+deb8u1', { name: 'virtualbox' })),
      db,
    );
    expect(eol).toEqual([
      expect.objectContaining({
        vulnerabilityId: 'DSA-3699-1',
        fixedVersion: null,
        unfixed: true,
        severity: 'unknown',
      }),
    ]);
    // [woody] - phpmyadmin <unfixed> (DSA-880-1, four CVEs); woody is Debian 3.0. Any version is affected
    // (here the sarge fix's version string, to show the version plays no part).
    const unfixed = matchInventory(
      inv(DEBIAN('3.0'), pkg('Debian', 'phpmyadmin', '4:2.6.2-3sarge1', { name: 'phpmyadmin' })),
      db,
    );
    const cve = only(unfixed, 'CVE-2005-3300');
    expect(cve).toMatchObject({ fixedVersion: null, unfixed: true, aliases: ['DSA-880-1'] });
  });

  test('<not-affected> never matches', () => {
    // DSA-2275-1 CVE-2011-2685: [lenny] - openoffice.org <not-affected>; squeeze fixed in 1:3.2.1-11+squeeze3.
    const lenny = matchInventory(
      inv(DEBIAN('5'), pkg('Debian', 'openoffice.org', '1:2.4.1+dfsg-1+lenny3', { name: 'openoffice.org' })),
      db,
    );
    expect(ids(lenny)).not.toContain('CVE-2011-2685');
    expect(ids(lenny).length).toBeGreaterThan(0); // later lenny DSAs do apply to +lenny3
    const squeeze = matchInventory(
      inv(DEBIAN('6'), pkg('Debian', 'openoffice.org', '1:3.2.1-11+squeeze2', { name: 'openoffice.org' })),
      db,
    );
    expect(only(squeeze, 'CVE-2011-2685').fixedVersion).toBe('1:3.2.1-11+squeeze3');
  });

  test('OS gates distro matching: Ubuntu dpkg packages and unknown OS get no Debian advisories', () => {
    const p = pkg('Debian', 'libssl1.1', '1.1.1n-0+deb11u3', { name: 'openssl' });
    expect(
      matchInventory(inv({ id: 'ubuntu', versionId: '22.04', name: 'Ubuntu', family: 'debian' }, p), db),
    ).toEqual([]);
    expect(matchInventory(inv(null, p), db)).toEqual([]);
    // Debian by code name when VERSION_ID is missing.
    expect(matchInventory(inv({ ...DEBIAN(''), codename: 'bullseye' }, p), db)).toHaveLength(5);
    // A point release reported as "11.6" still means bullseye.
    expect(matchInventory(inv(DEBIAN('11.6'), p), db)).toHaveLength(5);
  });
});

describe('Alpine', () => {
  test('origin matching: libssl1.1 (origin openssl) on 3.11', () => {
    // v3.11/main.yaml openssl: 1.1.1d-r3 fixes CVE-2019-1551; 1.1.1d-r1 fixes CVE-2019-1547/1549/1563.
    const found = matchInventory(
      inv(ALPINE('3.11.5'), pkg('Alpine', 'libssl1.1', '1.1.1d-r1', { name: 'openssl' })),
      db,
    );
    expect(found).toEqual([
      {
        vulnerabilityId: 'CVE-2019-1551',
        aliases: [],
        package: {
          name: 'libssl1.1',
          version: '1.1.1d-r1',
          ecosystem: 'Alpine',
          purl: 'pkg:apk/libssl1.1@1.1.1d-r1',
        },
        fixedVersion: '1.1.1d-r3',
        unfixed: false,
        severity: 'unknown',
        cvss: null,
        source: 'alpine-secdb',
        sources: ['alpine-secdb'],
        matchedBy: 'source',
      },
    ]);
    const older = matchInventory(
      inv(ALPINE('3.11.5'), pkg('Alpine', 'libssl1.1', '1.1.1b-r1', { name: 'openssl' })),
      db,
    );
    expect(ids(older)).toEqual(['CVE-2019-1547', 'CVE-2019-1549', 'CVE-2019-1551', 'CVE-2019-1563']);
    expect(only(older, 'CVE-2019-1547').fixedVersion).toBe('1.1.1d-r1');
    expect(
      matchInventory(inv(ALPINE('3.11.5'), pkg('Alpine', 'libssl1.1', '1.1.1d-r3', { name: 'openssl' })), db),
    ).toEqual([]);
    // The package named by its own name (origin = name).
    const byName = matchInventory(
      inv(ALPINE('3.11.5'), pkg('Alpine', 'musl', '1.1.23-r1', { name: 'musl' })),
      db,
    );
    expect(ids(byName)).toEqual(['CVE-2019-14697']);
    // Another release's secdb is not consulted: 3.3 has no 1.1.1d entries for openssl.
    expect(
      ids(
        matchInventory(
          inv(ALPINE('3.3.3'), pkg('Alpine', 'libssl1.1', '1.1.1d-r1', { name: 'openssl' })),
          db,
        ),
      ),
    ).not.toContain('CVE-2019-1551');
  });

  test('one CVE under two fixed versions (busybox CVE-2019-5747): one finding, the higher fix', () => {
    // v3.11 busybox: 1.30.1-r2: [CVE-2019-5747]; 1.29.3-r10: [CVE-2018-20679, CVE-2019-5747]
    const found = matchInventory(
      inv(ALPINE('3.11'), pkg('Alpine', 'busybox', '1.29.3-r9', { name: 'busybox' })),
      db,
    );
    expect(only(found, 'CVE-2019-5747').fixedVersion).toBe('1.30.1-r2');
    expect(only(found, 'CVE-2018-20679').fixedVersion).toBe('1.29.3-r10');
  });
});

describe('language ecosystems', () => {
  test('PyPI: introduced/fixed boundaries of PYSEC-2023-131 (vyper: introduced 0.3.1, fixed 0.3.8)', () => {
    const at = (v: string): Finding[] =>
      matchInventory(inv(null, pkg('PyPI', 'vyper', v)), db).filter(
        (f) => f.vulnerabilityId === 'PYSEC-2023-131',
      );
    expect(at('0.3.0')).toEqual([]);
    expect(at('0.3.1')).toHaveLength(1);
    expect(at('0.3.7')[0]).toMatchObject({
      fixedVersion: '0.3.8',
      severity: 'high',
      cvss: { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N', score: 7.5 },
      aliases: ['CVE-2023-30629', 'GHSA-w9g2-3w7p-72g9'],
      source: 'osv-pypi',
    });
    expect(at('0.3.8')).toEqual([]);
  });

  test('PyPI: several intervals pick the right fix (PYSEC-2023-219 wagtail), names normalized', () => {
    const fix = (v: string): (string | null)[] =>
      matchInventory(inv(null, pkg('PyPI', 'Wagtail', v)), db)
        .filter((f) => f.vulnerabilityId === 'PYSEC-2023-219')
        .map((f) => f.fixedVersion);
    expect(fix('4.1.8')).toEqual(['4.1.9']);
    expect(fix('4.1.9')).toEqual([]);
    expect(fix('4.2')).toEqual(['5.0.5']);
    expect(fix('5.0.4')).toEqual(['5.0.5']);
    expect(fix('5.0.5')).toEqual([]);
    expect(fix('5.1')).toEqual(['5.1.3']);
    expect(fix('5.1.3')).toEqual([]);
  });

  test('PyPI: last_affected is inclusive (PYSEC-2022-42969 py ≤ 1.11.0); no fixed version known', () => {
    const at = (v: string): Finding[] =>
      matchInventory(inv(null, pkg('PyPI', 'py', v)), db).filter(
        (f) => f.vulnerabilityId === 'PYSEC-2022-42969',
      );
    expect(at('1.11.0')).toEqual([expect.objectContaining({ fixedVersion: null, unfixed: false })]);
    expect(at('1.4.7.dev3')).toHaveLength(1);
    // 1.11.1 is not in the feed: a version just above the bound, to test the boundary.
    expect(at('1.11.1')).toEqual([]);
  });

  test('Go: stdlib and module ranges (GO-2023-1571), "v"/"go" prefixes', () => {
    const at = (name: string, v: string): (string | null)[] =>
      matchInventory(inv(null, pkg('Go', name, v)), db)
        .filter((f) => f.vulnerabilityId === 'GO-2023-1571')
        .map((f) => f.fixedVersion);
    expect(at('stdlib', 'go1.19.5')).toEqual(['1.19.6']);
    expect(at('stdlib', '1.19.6')).toEqual([]);
    expect(at('stdlib', '1.20.0')).toEqual(['1.20.1']);
    expect(at('stdlib', 'v1.20.1')).toEqual([]);
    expect(at('golang.org/x/net', 'v0.6.0')).toEqual(['0.7.0']);
    expect(at('golang.org/x/net', 'v0.7.0')).toEqual([]);
    const f = matchInventory(inv(null, pkg('Go', 'golang.org/x/net', 'v0.6.0')), db).find(
      (x) => x.vulnerabilityId === 'GO-2023-1571',
    );
    expect(f).toMatchObject({
      aliases: ['CVE-2022-41723', 'GHSA-vvpx-j8f3-3w6h'],
      severity: 'unknown',
      cvss: null,
    });
  });

  test('crates.io: RustSec ranges, exclusive lower bound, informational advisories off by default', () => {
    const at = (name: string, v: string, id: string, includeInformational = false): Finding[] =>
      matchInventory(inv(null, pkg('crates.io', name, v)), db, { includeInformational }).filter(
        (f) => f.vulnerabilityId === id,
      );
    // RUSTSEC-2019-0008 simd-json: patched >= 0.1.15, unaffected <= 0.1.13
    expect(at('simd-json', '0.1.13', 'RUSTSEC-2019-0008')).toEqual([]);
    expect(at('simd-json', '0.1.14', 'RUSTSEC-2019-0008')[0]).toMatchObject({
      fixedVersion: '0.1.15',
      severity: 'high',
    });
    expect(at('simd-json', '0.1.15', 'RUSTSEC-2019-0008')).toEqual([]);
    // abi_stable, by its underscore name.
    expect(at('abi_stable', '0.9.0', 'RUSTSEC-2020-0105')[0]?.fixedVersion).toBe('0.9.1');
    // RUSTSEC-2021-0066 evm-core: 0.22.x has no patch line → fixed in 0.23.1
    expect(at('evm-core', '0.22.0', 'RUSTSEC-2021-0066')[0]?.fixedVersion).toBe('0.23.1');
    expect(at('evm-core', '0.25.1', 'RUSTSEC-2021-0066')).toEqual([]);
    // RUSTSEC-2023-0015 ascii (informational = "unsound"): only on request.
    expect(at('ascii', '0.9.2', 'RUSTSEC-2023-0015')).toEqual([]);
    expect(at('ascii', '0.9.2', 'RUSTSEC-2023-0015', true)).toHaveLength(1);
    expect(at('ascii', '0.6.0', 'RUSTSEC-2023-0015', true)).toEqual([]);
  });

  test('a version the comparator cannot read is reported, not fatal', () => {
    const warnings: string[] = [];
    const found = matchInventory(inv(null, pkg('Go', 'golang.org/x/net', 'not-a-version')), db, {
      onWarning: (m) => warnings.push(m),
    });
    expect(found).toEqual([]);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0]).toMatch(/golang\.org\/x\/net not-a-version vs GO-/);
  });
});

test('mixed inventory: stable order (severity, then id), no cross-ecosystem leaks', () => {
  const inventory = inv(
    DEBIAN('11'),
    pkg('PyPI', 'wagtail', '4.1.8'),
    pkg('Debian', 'libssl1.1', '1.1.1n-0+deb11u3', { name: 'openssl' }),
    pkg('PyPI', 'vyper', '0.3.7'),
    pkg('crates.io', 'simd-json', '0.1.14'),
    pkg('Alpine', 'libssl1.1', '1.1.1d-r1', { name: 'openssl' }), // an apk on a Debian image: not matched
  );
  const found = matchInventory(inventory, db);
  console.log(
    found
      .map(
        (f) =>
          `${f.severity.padEnd(8)} ${f.vulnerabilityId.padEnd(18)} ${f.package.name} ${f.package.version} → ${f.fixedVersion}`,
      )
      .join('\n'),
  );
  const again = matchInventory({ ...inventory, packages: [...inventory.packages].reverse() }, db);
  expect(again).toEqual(found);
  const rank = { critical: 5, high: 4, medium: 3, low: 2, negligible: 1, unknown: 0 };
  for (let i = 1; i < found.length; i++) {
    const a = found[i - 1] as Finding;
    const b = found[i] as Finding;
    expect(
      rank[a.severity] > rank[b.severity] ||
        (a.severity === b.severity && a.vulnerabilityId <= b.vulnerabilityId),
    ).toBe(true);
  }
  expect(found.some((f) => f.package.ecosystem === 'Alpine')).toBe(false);
  expect(found.map((f) => `${f.severity} ${f.vulnerabilityId} ${f.package.name}`)).toEqual([
    'critical PYSEC-2024-103 vyper',
    'high PYSEC-2023-131 vyper',
    'high PYSEC-2023-191 vyper',
    'high RUSTSEC-2019-0008 simd-json',
    'medium PYSEC-2023-133 vyper',
    'medium PYSEC-2023-142 vyper',
    'medium PYSEC-2023-167 vyper',
    'medium PYSEC-2023-168 vyper',
    'medium PYSEC-2024-86 wagtail',
    'low PYSEC-2023-219 wagtail',
    'unknown CVE-2022-2097 libssl1.1',
    'unknown CVE-2022-4304 libssl1.1',
    'unknown CVE-2022-4450 libssl1.1',
    'unknown CVE-2023-0215 libssl1.1',
    'unknown CVE-2023-0286 libssl1.1',
    'unknown PYSEC-2023-76 vyper',
    'unknown PYSEC-2023-77 vyper',
    'unknown PYSEC-2023-78 vyper',
    'unknown PYSEC-2023-79 vyper',
    'unknown PYSEC-2023-80 vyper',
  ]);
  // PYSEC-2023-142 (vyper): only "introduced: 0" — affected, no fix.
  expect(only(found, 'PYSEC-2023-142')).toMatchObject({ fixedVersion: null, unfixed: true });
});

test('throughput: every Debian 11 source package at version 0 (everything listed for it matches)', () => {
  const section = db.sections.get('Debian|11');
  const packages = [...(section?.packages.keys() ?? [])].map((name) => pkg('Debian', name, '0', { name }));
  const t0 = performance.now();
  const found = matchInventory(inv(DEBIAN('11'), ...packages), db);
  const ms = performance.now() - t0;
  console.log(`matched ${packages.length} packages → ${found.length} findings in ${ms.toFixed(0)} ms`);
  // Every not-affected-free record of the section is found once per (package, CVE).
  const expected = new Set<string>();
  for (const [name, list] of section?.packages ?? [])
    for (const a of list) if (!a.notAffected) expected.add(`${name} ${a.id}`);
  expect(found.length).toBe(expected.size);
  expect(ms).toBeLessThan(5000);
});
