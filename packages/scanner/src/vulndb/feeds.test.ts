import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '@palisade/testdata';
import { describe, expect, test } from 'vitest';
import { affects } from '../match/index.js';
import { satisfies } from '../versions/index.js';
import { comparatorFor } from './compare.js';
import { parseAlpineSecdb, parseSecfixItem } from './feeds/alpine.js';
import { FeedCollector } from './feeds/common.js';
import { parseDebianList } from './feeds/debian.js';
import { eventsToRanges, parseOsvText } from './feeds/osv.js';
import {
  affectedRanges,
  comparatorInterval,
  parseRustsecAdvisory,
  semverSuccessor,
} from './feeds/rustsec.js';
import { parseToml } from './feeds/toml.js';
import type { FeedParseResult, FeedRecord } from './model.js';

const vulndata = (...p: string[]): string => sharedPath('vulndata', ...p);
const read = (...p: string[]): string => readFileSync(vulndata(...p), 'utf8');

function find(result: FeedParseResult, pred: (r: FeedRecord) => boolean): FeedRecord[] {
  return result.records.filter(pred);
}
function one(result: FeedParseResult, pred: (r: FeedRecord) => boolean): FeedRecord {
  const hits = find(result, pred);
  expect(hits).toHaveLength(1);
  return hits[0] as FeedRecord;
}
function report(name: string, r: FeedParseResult): void {
  console.log(
    `${name}: units=${r.units} records=${r.records.length} skipped=${r.skipped} ignored=${r.ignored}` +
      (r.skippedReasons.length ? `\n  skipped: ${r.skippedReasons.join('\n  skipped: ')}` : ''),
  );
}

describe('Alpine secdb', () => {
  const all = new FeedCollector();
  for (const rel of readdirSync(vulndata('alpine-secdb')).sort()) {
    for (const repo of ['main.yaml', 'community.yaml']) {
      all.merge(parseAlpineSecdb(read('alpine-secdb', rel, repo), `${rel}/${repo}`, rel));
    }
  }
  const feed = all.result();

  test('whole feed: counts', () => {
    report('alpine-secdb', feed);
    // Independent counts from the raw text: 1652 "  - pkg:" entries, 12028 secfixes list items.
    expect(feed.units).toBe(1652);
    expect(feed.records.length + feed.skipped - 1).toBe(12028); // -1: the heimdal entry is not an item
    expect(feed.records).toHaveLength(12028);
    // The one malformed entry: v3.6 heimdal "7.4.0-r0:" with no list under it.
    expect(feed.skipped).toBe(1);
    expect(feed.skippedReasons[0]).toMatch(
      /v3\.6\/main\.yaml#\d+ heimdal 7\.4\.0-r0: secfixes value is empty/,
    );
    expect(new Set(feed.records.map((r) => r.release))).toEqual(
      new Set(['3.3', '3.4', '3.5', '3.6', '3.7', '3.8', '3.9', '3.10', '3.11']),
    );
  });

  test('v3.11 main openssl: CVE-2019-1551 fixed in 1.1.1d-r3, three CVEs in 1.1.1d-r1', () => {
    // v3.11/main.yaml:  name: openssl / secfixes: 1.1.1d-r3: [CVE-2019-1551]; 1.1.1d-r1: [CVE-2019-1547, -1549, -1563]
    const r = one(
      feed,
      (x) => x.release === '3.11' && x.package === 'openssl' && x.advisory.id === 'CVE-2019-1551',
    );
    expect(r.ecosystem).toBe('Alpine');
    expect(r.advisory).toEqual({
      id: 'CVE-2019-1551',
      aliases: [],
      ranges: [{ fixed: '1.1.1d-r3' }],
      fixedVersion: '1.1.1d-r3',
      unfixed: false,
      severity: 'unknown',
      source: 'alpine-secdb',
      ref: 'v3.11/main',
    });
    const r1 = find(
      feed,
      (x) => x.release === '3.11' && x.package === 'openssl' && x.advisory.fixedVersion === '1.1.1d-r1',
    );
    expect(r1.map((x) => x.advisory.id).sort()).toEqual(['CVE-2019-1547', 'CVE-2019-1549', 'CVE-2019-1563']);
    expect(find(feed, (x) => x.release === '3.11' && x.package === 'openssl')).toHaveLength(7);
  });

  test('irregular items: "CVE XSA", "XSA" alone, "(note)", "-1" suffix, typos', () => {
    const xen = one(
      feed,
      (x) => x.release === '3.11' && x.package === 'xen' && x.advisory.id === 'CVE-2016-6258',
    );
    expect(xen.advisory.aliases).toEqual(['XSA-182']);
    expect(xen.advisory.fixedVersion).toBe('4.7.0-r0');
    const xsa = one(feed, (x) => x.release === '3.11' && x.package === 'xen' && x.advisory.id === 'XSA-207');
    expect(xsa.advisory.fixedVersion).toBe('4.7.1-r5');
    const tcpdump = one(
      feed,
      (x) => x.release === '3.11' && x.package === 'tcpdump' && x.advisory.id === 'CVE-2019-15167',
    );
    expect(tcpdump.advisory.aliases).toEqual([]);
    // rsync 3.1.2-r7 lists CVE-2017-17434-1 and CVE-2017-17434-2: both read as CVE-2017-17434.
    expect(
      find(feed, (x) => x.release === '3.11' && x.package === 'rsync' && x.advisory.id === 'CVE-2017-17434'),
    ).toHaveLength(2);
    // v3.9 ansible 2.7.3-r0 "CVE 2018-16859"; openjdk7 "CVE_2019-2426"; wireshark "wnpa-sec-2017-18".
    expect(
      find(feed, (x) => x.release === '3.9' && x.package === 'ansible' && x.advisory.id === 'CVE-2018-16859'),
    ).toHaveLength(1);
    expect(
      find(feed, (x) => x.package === 'openjdk7' && x.advisory.id === 'CVE-2019-2426').length,
    ).toBeGreaterThan(0);
    expect(
      find(
        feed,
        (x) => x.release === '3.5' && x.package === 'wireshark' && x.advisory.id === 'wnpa-sec-2017-18',
      ),
    ).toHaveLength(1);
  });

  test('item parsing rules', () => {
    expect(parseSecfixItem('CVE-2017-8904 XSA-214')).toEqual({ id: 'CVE-2017-8904', aliases: ['XSA-214'] });
    expect(parseSecfixItem('CVE-????-?????  XSA-295')).toEqual({ id: 'XSA-295', aliases: [] });
    expect(parseSecfixItem('CVE-2018-14879 (tcpdump -V)')).toEqual({ id: 'CVE-2018-14879', aliases: [] });
    expect(parseSecfixItem('CVE-2017-14450 TALOS-2017-0499')).toEqual({
      id: 'CVE-2017-14450',
      aliases: ['TALOS-2017-0499'],
    });
    expect(parseSecfixItem('see upstream')).toBeUndefined();
  });

  test('fixed version "0" = never affected in this release; malformed entries are skipped, not fatal', () => {
    const text = [
      'distroversion: v3.12',
      'reponame: main',
      'packages:',
      '  - pkg:',
      '      name: curl',
      '      secfixes:',
      '        0:',
      '          - CVE-2020-8169',
      '        7.69.1-r1:',
      '          - CVE-2020-8177',
      '  - pkg:',
      '      secfixes: {}',
      '  - pkg:',
      '      name: zlib',
      '      secfixes: oops',
      '  - pkg:',
      '      name: musl',
      '      secfixes:',
      '        1.10-r0:',
      '          - CVE-2020-28928',
    ].join('\n');
    const r = parseAlpineSecdb(text, 'synthetic.yaml');
    expect(r.units).toBe(4);
    expect(r.skipped).toBe(2);
    expect(
      r.records.map((x) => [x.package, x.advisory.id, x.advisory.fixedVersion, x.advisory.notAffected]),
    ).toEqual([
      ['curl', 'CVE-2020-8169', undefined, 'alpine-secfix-0'],
      ['curl', 'CVE-2020-8177', '7.69.1-r1', undefined],
      // failsafe YAML: "1.10-r0" and even a bare 1.10 stay strings
      ['musl', 'CVE-2020-28928', '1.10-r0', undefined],
    ]);
    expect(r.records[0]?.advisory.ranges).toEqual([]);
    expect(r.records[0]?.release).toBe('3.12');
    expect(parseAlpineSecdb('packages: [\n', 'broken.yaml').skipped).toBe(1);
  });
});

describe('Debian DSA/DLA lists', () => {
  const dsa = parseDebianList(read('debian-security-tracker', 'DSA.list'), 'debian-dsa', 'DSA.list');
  const dla = parseDebianList(read('debian-security-tracker', 'DLA.list'), 'debian-dla', 'DLA.list');

  test('whole feeds: counts', () => {
    report('debian-dsa', dsa);
    report('debian-dla', dla);
    // Units = "[date] DSA-…" header lines in the raw files.
    expect(dsa.units).toBe(5406);
    expect(dla.units).toBe(3534);
    expect(dsa.records).toHaveLength(23470);
    expect(dla.records).toHaveLength(11311);
    // DSA-423 names the package twice instead of giving a version: skipped.
    expect(dsa.skipped).toBe(1);
    expect(dsa.skippedReasons[0]).toContain('DSA-423');
    expect(dla.skipped).toBe(0);
    // Announcements without package lines (e.g. "DSA-4205-1 jessie end-of-life").
    expect(dsa.ignored).toBe(23);
    expect(dla.ignored).toBe(4);
    expect(new Set(dsa.records.map((r) => r.release))).toEqual(
      new Set(['3.0', '3.1', '4', '5', '6', '7', '8', '9', '10', '11']),
    );
  });

  test('DSA-5343-1 openssl on bullseye (11): five CVEs fixed in 1.1.1n-0+deb11u4', () => {
    // [07 Feb 2023] DSA-5343-1 openssl - security update
    // 	{CVE-2022-2097 CVE-2022-4304 CVE-2022-4450 CVE-2023-0215 CVE-2023-0286}
    // 	[bullseye] - openssl 1.1.1n-0+deb11u4
    const recs = find(dsa, (r) => r.advisory.ref === 'DSA-5343-1');
    expect(recs.map((r) => r.advisory.id)).toEqual([
      'CVE-2022-2097',
      'CVE-2022-4304',
      'CVE-2022-4450',
      'CVE-2023-0215',
      'CVE-2023-0286',
    ]);
    for (const r of recs) {
      expect(r.ecosystem).toBe('Debian');
      expect(r.release).toBe('11');
      expect(r.package).toBe('openssl');
    }
    expect(recs[4]?.advisory).toEqual({
      id: 'CVE-2023-0286',
      aliases: ['DSA-5343-1'],
      ranges: [{ fixed: '1.1.1n-0+deb11u4' }],
      fixedVersion: '1.1.1n-0+deb11u4',
      unfixed: false,
      severity: 'unknown',
      source: 'debian-dsa',
      ref: 'DSA-5343-1',
      summary: 'openssl - security update',
      published: '2023-02-07',
    });
  });

  test('DSA-2275-1: squeeze fixed, lenny <not-affected> (with its note)', () => {
    const recs = find(dsa, (r) => r.advisory.ref === 'DSA-2275-1');
    expect(
      recs.map((r) => [
        r.release,
        r.package,
        r.advisory.fixedVersion,
        r.advisory.notAffected,
        r.advisory.note,
      ]),
    ).toEqual([
      ['6', 'openoffice.org', '1:3.2.1-11+squeeze3', undefined, undefined],
      ['5', 'openoffice.org', undefined, 'distro-not-affected', 'Vulnerable code not present'],
    ]);
  });

  test('<unfixed> and <end-of-life>; an entry without CVEs uses its own id', () => {
    // [02 Nov 2005] DSA-880-1 phpmyadmin: [woody] - phpmyadmin <unfixed>; [sarge] - phpmyadmin 4:2.6.2-3sarge1
    const woody = find(dsa, (r) => r.advisory.ref === 'DSA-880-1' && r.release === '3.0');
    expect(woody).toHaveLength(4);
    expect(woody[0]?.advisory).toMatchObject({ unfixed: true, ranges: [{}] });
    expect(woody[0]?.advisory.fixedVersion).toBeUndefined();
    const sarge = find(dsa, (r) => r.advisory.ref === 'DSA-880-1' && r.release === '3.1');
    expect(sarge.map((r) => r.advisory.fixedVersion)).toEqual(Array(4).fill('4:2.6.2-3sarge1'));
    // [25 Oct 2016] DSA-3699-1 virtualbox - end of life / [jessie] - virtualbox <end-of-life>
    const eol = one(dsa, (r) => r.advisory.ref === 'DSA-3699-1');
    expect(eol).toMatchObject({ release: '8', package: 'virtualbox' });
    expect(eol.advisory).toMatchObject({ id: 'DSA-3699-1', aliases: [], unfixed: true, note: 'end-of-life' });
    // "(high)" urgency after a version is a note, not part of the version.
    const urgent = find(dsa, (r) => r.advisory.ref === 'DSA-746-1' && r.release === '3.1');
    expect(urgent[0]?.advisory).toMatchObject({ fixedVersion: '0.9.16.005-3.sarge0', note: 'high' });
  });

  test('DLA-3351-1 apache2 on buster (10)', () => {
    const recs = find(dla, (r) => r.advisory.ref === 'DLA-3351-1');
    expect(recs.map((r) => r.advisory.id)).toEqual([
      'CVE-2006-20001',
      'CVE-2019-0215',
      'CVE-2020-1927',
      'CVE-2021-33193',
      'CVE-2022-36760',
      'CVE-2022-37436',
    ]);
    expect(recs[0]).toMatchObject({ release: '10', package: 'apache2' });
    expect(recs[0]?.advisory).toMatchObject({
      fixedVersion: '2.4.38-3+deb10u9',
      source: 'debian-dla',
      aliases: ['DLA-3351-1'],
      published: '2023-03-03',
    });
  });

  test('malformed lines are skipped and counted; the rest of the list survives', () => {
    const text = [
      '[01 Jan 2023] DSA-9999-1 foo - security update',
      '\t{CVE-2023-0001 not-an-id}',
      '\t[bullseye] - foo 1.0-1+deb11u1',
      'garbage at top level',
      '[02 Jan 2023] DSA-9998-1 bar - security update',
      '\t{CVE-2023-0002}',
      '\t[bullseye] - bar 2.0-1+deb11u1',
      '\t[bullseye] - bar <weird-marker>',
      '\t[nosuchrelease] - bar 2.0-1',
      '\tsomething odd',
    ].join('\n');
    const r = parseDebianList(text, 'debian-dsa', 'synthetic');
    expect(r.skipped).toBe(5);
    expect(r.records.map((x) => [x.advisory.id, x.package, x.advisory.fixedVersion])).toEqual([
      ['CVE-2023-0002', 'bar', '2.0-1+deb11u1'],
    ]);
  });
});

describe('OSV PyPI (YAML) and Go (JSON)', () => {
  const pypiFiles = readdirSync(vulndata('osv', 'PyPI')).sort();
  const pypi = new FeedCollector();
  for (const f of pypiFiles)
    parseOsvText(read('osv', 'PyPI', f), 'yaml', f, { source: 'osv-pypi', compareFor: comparatorFor }, pypi);
  const goFiles = readdirSync(vulndata('osv', 'Go')).sort();
  const go = new FeedCollector();
  for (const f of goFiles)
    parseOsvText(read('osv', 'Go', f), 'json', f, { source: 'osv-go', compareFor: comparatorFor }, go);

  test('whole feeds: counts', () => {
    report('osv-pypi', pypi.result());
    report('osv-go', go.result());
    expect(pypi.units).toBe(2661);
    expect(pypi.ignored).toBe(10); // withdrawn
    expect(pypi.skipped).toBe(0);
    expect(pypi.records).toHaveLength(2651);
    expect(go.units).toBe(4291);
    expect(go.ignored).toBe(17); // withdrawn
    expect(go.skipped).toBe(0);
    expect(go.records).toHaveLength(6106);
    // 202 files carry a CVSS_V3 vector; 3 of them are withdrawn.
    expect(pypi.records.filter((r) => r.advisory.cvss).length).toBe(202 - 3);
  });

  test('PYSEC-2023-219 wagtail: three ECOSYSTEM intervals, GIT range ignored, CVSS 2.7 low', () => {
    const r = one(pypi.result(), (x) => x.advisory.id === 'PYSEC-2023-219');
    expect(r).toMatchObject({ ecosystem: 'PyPI', release: '', package: 'wagtail' });
    expect(r.advisory.aliases).toEqual(['CVE-2023-45809', 'GHSA-fc75-58r8-rm3h']);
    expect(r.advisory.ranges).toEqual([
      { fixed: '4.1.9' },
      { introduced: '4.2', fixed: '5.0.5' },
      { introduced: '5.1', fixed: '5.1.3' },
    ]);
    expect(r.advisory.versions).toContain('4.1.8');
    expect(r.advisory.versions).toContain('1.10'); // quoted "1.10" in YAML stays a string
    expect(r.advisory.cvss).toEqual({
      vector: 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:L/I:N/A:N',
      version: '3.1',
      score: 2.7,
    });
    expect(r.advisory.severity).toBe('low');
    expect(r.advisory.unfixed).toBe(false);
    expect(r.advisory.published).toBe('2023-10-19T19:15:00Z');
    expect(r.advisory.summary).toMatch(/^Wagtail is an open source content management system/);
  });

  test('PYSEC-2023-131 vyper: introduced 0.3.1, fixed 0.3.8, CVSS 7.5 high', () => {
    const r = one(pypi.result(), (x) => x.advisory.id === 'PYSEC-2023-131');
    expect(r.package).toBe('vyper');
    expect(r.advisory).toMatchObject({
      aliases: ['CVE-2023-30629', 'GHSA-w9g2-3w7p-72g9'],
      ranges: [{ introduced: '0.3.1', fixed: '0.3.8' }],
      versions: ['0.3.1', '0.3.2', '0.3.3', '0.3.4', '0.3.5', '0.3.6', '0.3.7'],
      fixedVersion: '0.3.8',
      severity: 'high',
      cvss: { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N', score: 7.5 },
    });
  });

  test('PYSEC-2022-42969 py: last_affected 1.11.0 (the only last_affected in the feed)', () => {
    const r = one(pypi.result(), (x) => x.advisory.id === 'PYSEC-2022-42969');
    expect(r.package).toBe('py');
    expect(r.advisory.ranges).toEqual([{ lastAffected: '1.11.0' }]);
    expect(r.advisory.unfixed).toBe(false);
    expect(r.advisory.fixedVersion).toBeUndefined();
    expect(find(pypi.result(), (x) => x.advisory.ranges.some((g) => g.lastAffected))).toHaveLength(1);
  });

  test('GO-2023-1571: one record per affected package (stdlib, golang.org/x/net)', () => {
    const recs = find(go.result(), (x) => x.advisory.id === 'GO-2023-1571');
    expect(recs.map((r) => r.package)).toEqual(['stdlib', 'golang.org/x/net']);
    expect(recs[0]?.advisory).toMatchObject({
      aliases: ['CVE-2022-41723', 'GHSA-vvpx-j8f3-3w6h'],
      ranges: [{ fixed: '1.19.6' }, { introduced: '1.20.0-0', fixed: '1.20.1' }],
      summary: 'Denial of service via crafted HTTP/2 stream in net/http and golang.org/x/net',
      severity: 'unknown',
      source: 'osv-go',
    });
    expect(recs[0]?.advisory.cvss).toBeUndefined();
    expect(recs[1]?.advisory.ranges).toEqual([{ fixed: '0.7.0' }]);
  });

  test('a malformed record is skipped, not fatal', () => {
    const out = new FeedCollector();
    parseOsvText('{"id": "GO-X", "affected": [', 'json', 'bad.json', { source: 's' }, out);
    parseOsvText('{"id": "GO-Y"}', 'json', 'noaff.json', { source: 's' }, out);
    parseOsvText(
      JSON.stringify({
        id: 'GO-Z',
        affected: [
          {
            package: { ecosystem: 'Hackage', name: 'x' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }],
          },
          {
            package: { ecosystem: 'Go', name: 'y' },
            ranges: [{ type: 'SEMVER', events: [{ fixed: '1.0.0' }] }],
          },
          {
            package: { ecosystem: 'Go', name: 'z' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }],
          },
        ],
      }),
      'json',
      'mixed.json',
      { source: 's' },
      out,
    );
    expect(out.units).toBe(3);
    expect(out.skipped).toBe(4);
    expect(out.records.map((r) => [r.package, r.advisory.unfixed])).toEqual([['z', true]]);
  });

  test('event lists: (introduced, end) pairs in any pair order; other shapes are sorted', () => {
    // PYSEC-2022-42972 apache-iotdb lists its pairs out of order and touching at 0.13.0:
    //   introduced 0.13.0, fixed 0.14.0rc1, introduced 0.12.2, fixed 0.13.0
    const iotdb = one(pypi.result(), (x) => x.advisory.id === 'PYSEC-2022-42972');
    expect(iotdb.advisory.ranges).toEqual([
      { introduced: '0.13.0', fixed: '0.14.0rc1' },
      { introduced: '0.12.2', fixed: '0.13.0' },
    ]);
    // PYSEC-2021-114 wagtail: overlapping pairs [2.11, 2.11.7) and [0, 2.11.6) — the union is kept
    // (sorting every event first would lose 2.11.6 ≤ v < 2.11.7).
    const wagtail = one(pypi.result(), (x) => x.advisory.id === 'PYSEC-2021-114');
    expect(wagtail.advisory.ranges).toEqual([
      { introduced: '2.11', fixed: '2.11.7' },
      { fixed: '2.11.6' },
      { introduced: '2.12', fixed: '2.12.4' },
    ]);
    expect(wagtail.advisory.fixedVersion).toBe('2.12.4'); // highest fixed, with the PEP 440 comparator
    // Not pair-shaped: sorted with the ecosystem comparator, ends before introduced at equal versions.
    const shuffled = [
      { fixed: '1.20.1' },
      { introduced: '0' },
      { introduced: '1.20.0-0' },
      { fixed: '1.19.6' },
    ];
    expect(eventsToRanges(shuffled, comparatorFor('Go'))).toEqual([
      { fixed: '1.19.6' },
      { introduced: '1.20.0-0', fixed: '1.20.1' },
    ]);
    expect(eventsToRanges(shuffled)).toMatch(/not \(introduced, end\) pairs/);
    expect(eventsToRanges([{ fixed: '1.0.0' }], comparatorFor('Go'))).toMatch(/before any introduced/);
    expect(
      eventsToRanges([{ introduced: '0' }, { introduced: '1.0.0' }, { fixed: '2.0.0' }], comparatorFor('Go')),
    ).toEqual([{ fixed: '2.0.0' }]);
  });
});

describe('RustSec', () => {
  const root = vulndata('osv', 'crates.io');
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .sort();
  const compare = comparatorFor('crates.io');
  const out = new FeedCollector();
  for (const f of files) parseRustsecAdvisory(readFileSync(join(root, f), 'utf8'), f, compare, out);
  const feed = out.result();

  test('whole feed: counts', () => {
    report('rustsec', feed);
    expect(files).toHaveLength(714);
    expect(feed.units).toBe(714);
    expect(feed.ignored).toBe(9); // withdrawn
    expect(feed.skipped).toBe(0);
    expect(feed.records).toHaveLength(705);
    expect(feed.records.filter((r) => r.advisory.informational).length).toBe(270); // 145 unmaintained, 120 unsound, 5 notice
  });

  test('RUSTSEC-2020-0105 abi_stable: patched >= 0.9.1, CVSS 7.5 high', () => {
    const r = one(feed, (x) => x.advisory.id === 'RUSTSEC-2020-0105');
    expect(r).toMatchObject({ ecosystem: 'crates.io', release: '', package: 'abi_stable' });
    expect(r.advisory).toEqual({
      id: 'RUSTSEC-2020-0105',
      aliases: ['CVE-2020-36212', 'CVE-2020-36213', 'GHSA-vq23-5h4f-vwpv', 'GHSA-wqxc-qrq4-w5v4'],
      ranges: [{ fixed: '0.9.1' }],
      fixedVersion: '0.9.1',
      unfixed: false,
      severity: 'high',
      cvss: { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', version: '3.1', score: 7.5 },
      summary: 'Update unsound DrainFilter and RString::retain',
      published: '2020-12-21',
      source: 'rustsec',
      ref: 'abi_stable/RUSTSEC-2020-0105.md',
    });
  });

  test('RUSTSEC-2019-0008 simd-json: unaffected <= 0.1.13 becomes an exclusive lower bound', () => {
    const r = one(feed, (x) => x.advisory.id === 'RUSTSEC-2019-0008');
    expect(r.advisory.ranges).toEqual([{ introduced: '0.1.14-0', fixed: '0.1.15' }]);
    expect(r.advisory.severity).toBe('high'); // CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H = 7.5
  });

  test('RUSTSEC-2021-0066 evm-core: caret "patched" list → one interval per unpatched line', () => {
    // patched = [">= 0.26.1", "0.25.1", "0.24.1", "0.23.1", "0.21.1"]
    const r = one(feed, (x) => x.advisory.id === 'RUSTSEC-2021-0066');
    expect(r.advisory.ranges).toEqual([
      { fixed: '0.21.1' },
      { introduced: '0.22.0-0', fixed: '0.23.1' },
      { introduced: '0.24.0-0', fixed: '0.24.1' },
      { introduced: '0.25.0-0', fixed: '0.25.1' },
      { introduced: '0.26.0-0', fixed: '0.26.1' },
    ]);
    expect(r.advisory.fixedVersion).toBe('0.26.1');
  });

  test('RUSTSEC-2023-0015 ascii: informational (unsound) is kept and flagged', () => {
    const r = one(feed, (x) => x.advisory.id === 'RUSTSEC-2023-0015');
    expect(r.advisory.informational).toBe('unsound');
    expect(r.advisory.ranges).toEqual([{ introduced: '0.6.1-0', fixed: '0.9.3' }]);
  });

  test('every converted advisory agrees with the shared Cargo requirement matcher (versions/semver)', () => {
    // Oracle: affected ⇔ no `patched` and no `unaffected` requirement is satisfied (RustSec's rule),
    // evaluated by satisfies(…, { syntax: 'cargo' }) on release versions around every bound.
    let checked = 0;
    const disagreements: string[] = [];
    for (const f of files) {
      const text = readFileSync(join(root, f), 'utf8');
      const toml = parseToml((/```toml\r?\n([\s\S]*?)\r?\n```/.exec(text) as RegExpExecArray)[1] as string);
      const adv = toml.advisory as { id: string; withdrawn?: string };
      if (adv.withdrawn) continue;
      const versions = (toml.versions ?? {}) as { patched?: string[]; unaffected?: string[] };
      const reqs = [...(versions.patched ?? []), ...(versions.unaffected ?? [])];
      const rec = feed.records.find((r) => r.advisory.id === adv.id);
      expect(rec, adv.id).toBeDefined();
      const candidates = new Set<string>(['0.0.0', '0.0.1', '0.1.0', '1.0.0', '99.0.0']);
      for (const m of reqs.join(' ').matchAll(/(\d+)(?:\.(\d+))?(?:\.(\d+))?/g)) {
        const [x, y, z] = [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
        for (const v of [
          [x, y, z],
          [x, y, z + 1],
          [x, y, Math.max(z - 1, 0)],
          [x, y + 1, 0],
          [x, Math.max(y - 1, 0), 99],
          [x + 1, 0, 0],
          [Math.max(x - 1, 0), 99, 0],
        ])
          candidates.add(v.join('.'));
      }
      for (const v of candidates) {
        const expected = !reqs.some((r) => satisfies(v, r, { syntax: 'cargo' }));
        const got = affects((rec as FeedRecord).advisory, v, compare) !== null;
        checked++;
        if (got !== expected) disagreements.push(`${adv.id} ${v}: converted=${got} cargo=${expected}`);
      }
    }
    console.log(`rustsec conversion: ${checked} (advisory, version) pairs checked`);
    expect(disagreements).toEqual([]);
    expect(checked).toBeGreaterThan(5000);
  });

  test('requirement → interval rules (Cargo semantics)', () => {
    expect(comparatorInterval('^1.2.3')).toEqual({
      lo: { v: '1.2.3', incl: true },
      hi: { v: '2.0.0-0', incl: false },
    });
    expect(comparatorInterval('^ 0.2.3')).toEqual({
      lo: { v: '0.2.3', incl: true },
      hi: { v: '0.3.0-0', incl: false },
    });
    expect(comparatorInterval('0.0.3')).toEqual({
      lo: { v: '0.0.3', incl: true },
      hi: { v: '0.0.4-0', incl: false },
    });
    expect(comparatorInterval('~1.2')).toEqual({
      lo: { v: '1.2.0', incl: true },
      hi: { v: '1.3.0-0', incl: false },
    });
    expect(comparatorInterval('=1.2.3')).toEqual({
      lo: { v: '1.2.3', incl: true },
      hi: { v: '1.2.3', incl: true },
    });
    expect(comparatorInterval('> 0.4.0')).toEqual({ lo: { v: '0.4.0', incl: false } });
    expect(comparatorInterval('>0.8')).toEqual({ lo: { v: '0.9.0', incl: true } });
    expect(comparatorInterval('>= 0.25.0-alpha.5')).toEqual({ lo: { v: '0.25.0-alpha.5', incl: true } });
    expect(comparatorInterval('<= 3.5')).toEqual({ hi: { v: '3.6.0-0', incl: false } });
    expect(comparatorInterval('1.*')).toEqual({
      lo: { v: '1.0.0', incl: true },
      hi: { v: '2.0.0-0', incl: false },
    });
    expect(comparatorInterval('*')).toEqual({});
    expect(() => comparatorInterval('>= banana')).toThrow(/bad requirement/);
    expect(semverSuccessor('1.2.3')).toBe('1.2.4-0');
    expect(semverSuccessor('1.2.3-rc.1')).toBe('1.2.3-rc.1.0');
    // "> X" patched → last_affected X; "=X" patched → a one-version hole
    expect(affectedRanges(['> 1.10.3'], compare)).toEqual([{ lastAffected: '1.10.3' }]);
    expect(affectedRanges(['>= 2.0.0', '=1.5.2'], compare)).toEqual([
      { fixed: '1.5.2' },
      { introduced: '1.5.3-0', fixed: '2.0.0' },
    ]);
    expect(affectedRanges(['>= 1.0.0, < 1.2.0', '>= 1.1.0'], compare)).toEqual([{ fixed: '1.0.0' }]);
    expect(affectedRanges([], compare)).toEqual([{}]);
    expect(affectedRanges(['*'], compare)).toEqual([]);
  });

  test('malformed advisories are skipped', () => {
    const o = new FeedCollector();
    parseRustsecAdvisory('# no front matter', 'a.md', compare, o);
    parseRustsecAdvisory(
      '```toml\n[advisory]\nid = "RUSTSEC-2020-0001"\npackage = \n```\n',
      'b.md',
      compare,
      o,
    );
    parseRustsecAdvisory(
      '```toml\n[advisory]\nid = "RUSTSEC-2020-0002"\npackage = "x"\n[versions]\npatched = ["??"]\n```\n',
      'c.md',
      compare,
      o,
    );
    parseRustsecAdvisory(
      '```toml\n[advisory]\nid = "RUSTSEC-2020-0003"\npackage = "x"\n[versions]\npatched = [">= 1.0.0"]\n```\n# ok\n',
      'd.md',
      compare,
      o,
    );
    expect(o.units).toBe(4);
    expect(o.skipped).toBe(3);
    expect(o.records.map((r) => r.advisory.id)).toEqual(['RUSTSEC-2020-0003']);
  });

  test('TOML subset', () => {
    expect(
      parseToml(
        [
          '# c',
          '[advisory]',
          'id = "X" # trailing',
          "lit = 'C:\\path'",
          'aliases\t= ["a", "b",]',
          'n = 1_000',
          'f = 1.5',
          'b = true',
          'd = 2021-01-02',
          '[affected.functions]',
          '"a::b" = [',
          '  "< 1.0", # c',
          ']',
          '[versions]',
          'patched = []',
          'inline = { "x" = ["1"], y = "z" }',
          'esc = "tab\\tq\\"u\\u00e9"',
          'multi = """',
          'line"""',
        ].join('\n'),
      ),
    ).toEqual({
      advisory: { id: 'X', lit: 'C:\\path', aliases: ['a', 'b'], n: 1000, f: 1.5, b: true, d: '2021-01-02' },
      affected: { functions: { 'a::b': ['< 1.0'] } },
      versions: { patched: [], inline: { x: ['1'], y: 'z' }, esc: 'tab\tq"ué', multi: 'line' },
    });
    expect(() => parseToml('a = 1\na = 2')).toThrow(/duplicate key/);
    expect(() => parseToml('a = "unterminated')).toThrow(/line 1/);
    expect(() => parseToml('[t]\n[t]')).toThrow(/defined twice/);
  });
});
