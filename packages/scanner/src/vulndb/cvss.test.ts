import { readFileSync } from 'node:fs';
import { sharedPath } from '@palisade/testdata';
import { describe, expect, test } from 'vitest';
import { CvssError, parseCvss, roundUp, severityFromScore } from './cvss.js';

const score = (v: string): number | null => parseCvss(v).score;

describe('CVSS base scores', () => {
  test('NVD / FIRST examples with published base scores', () => {
    // The brief's three, then examples from FIRST's "CVSS v3.1 Examples" document.
    const cases: [string, number][] = [
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1], // CVE-2013-1937 phpMyAdmin XSS
      ['AV:N/AC:L/Au:N/C:P/I:P/A:P', 7.5],
      ['CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N', 6.4], // CVE-2013-0375 MySQL
      ['CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N', 3.1], // CVE-2014-3566 POODLE
      ['CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H', 9.9], // CVE-2012-1516 VMware
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N', 7.5], // CVE-2014-0160 Heartbleed
      ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N', 6.8], // CVE-2008-1447 DNS cache poisoning
      ['CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 6.8], // CVE-2014-2005 Sophos
      ['CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L', 4.2], // CVE-2009-0783 Tomcat
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N', 5.8], // CVE-2010-0467 Joomla
      ['CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N', 6.8], // CVE-2016-0128 Badlock
      ['(AV:N/AC:M/Au:N/C:P/I:N/A:N)', 4.3],
      ['AV:L/AC:L/Au:N/C:C/I:C/A:C', 7.2],
      ['CVSS:2.0/AV:N/AC:L/Au:S/C:N/I:P/A:N', 4.0],
    ];
    for (const [v, s] of cases) expect(score(v), v).toBe(s);
  });

  test('a dozen real vectors from the feeds (the feeds carry vectors only, no scores)', () => {
    // Expected values: the CVSS formulas as NVD publishes them; every distinct vector in the PyPI and
    // RustSec feeds (100) and all 5,184 v3.0/v3.1 and 729 v2 base-metric combinations were also
    // checked against an independent implementation during development (see README).
    const cases: [string, string, string, number][] = [
      ['osv/PyPI/PYSEC-2019-241.yaml', 'CVE-2019-17545', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
      ['osv/PyPI/PYSEC-2021-877.yaml', 'CVE-2021-31292', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', 7.5],
      ['osv/PyPI/PYSEC-2017-107.yaml', 'CVE-2017-3151', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1],
      [
        'osv/PyPI/PYSEC-2022-43064.yaml',
        'CVE-2022-30331',
        'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H',
        8.8,
      ],
      ['osv/PyPI/PYSEC-2023-129.yaml', 'CVE-2023-37901', 'CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N', 5.4],
      ['osv/PyPI/PYSEC-2023-133.yaml', 'CVE-2023-37902', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:N', 5.3],
      ['osv/PyPI/PYSEC-2023-200.yaml', 'CVE-2023-41881', 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N', 4.3],
      ['osv/PyPI/PYSEC-2024-83.yaml', 'CVE-2024-45853', 'CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.5],
      [
        'osv/PyPI/PYSEC-2022-43057.yaml',
        'CVE-2022-34529',
        'CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H',
        5.5,
      ],
      ['osv/PyPI/PYSEC-2023-166.yaml', 'CVE-2023-20897', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L', 5.3],
      ['osv/PyPI/PYSEC-2024-5.yaml', 'CVE-2024-22194', 'CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:L/I:N/A:N', 2.8],
      ['osv/PyPI/PYSEC-2023-242.yaml', 'CVE-2023-48052', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N', 7.4],
      ['osv/PyPI/PYSEC-2017-112.yaml', 'CVE', 'CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H', 6.5],
      [
        'osv/crates.io/arrayfire/RUSTSEC-2018-0011.md',
        'RUSTSEC',
        'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
        9.8,
      ],
      [
        'osv/crates.io/futures-task/RUSTSEC-2020-0060.md',
        'RUSTSEC',
        'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H',
        7.8,
      ],
    ];
    for (const [file, id, vector, expected] of cases) {
      const text = readFileSync(sharedPath('vulndata', ...file.split('/')), 'utf8');
      expect(text, file).toContain(vector);
      expect(text, file).toContain(id);
      expect(score(vector), `${file} ${vector}`).toBe(expected);
    }
  });

  test('rating bands', () => {
    expect(severityFromScore(9.8, '3.1')).toBe('critical');
    expect(severityFromScore(9.0, '3.1')).toBe('critical');
    expect(severityFromScore(8.9, '3.1')).toBe('high');
    expect(severityFromScore(7.0, '3.0')).toBe('high');
    expect(severityFromScore(6.9, '3.1')).toBe('medium');
    expect(severityFromScore(4.0, '3.1')).toBe('medium');
    expect(severityFromScore(3.9, '3.1')).toBe('low');
    expect(severityFromScore(0.1, '3.1')).toBe('low');
    expect(severityFromScore(0, '3.1')).toBe('negligible');
    // v2 (NVD): Low 0–3.9, Medium 4–6.9, High 7–10; no Critical.
    expect(severityFromScore(10, '2.0')).toBe('high');
    expect(severityFromScore(4.3, '2.0')).toBe('medium');
    expect(severityFromScore(null, '4.0')).toBe('unknown');
    expect(score('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N')).toBe(0);
  });

  test('v3.1 Roundup avoids floating-point artefacts', () => {
    expect(roundUp(4.02)).toBe(4.1);
    expect(roundUp(4.0)).toBe(4.0);
    expect(roundUp(4.000001)).toBe(4.0); // within the spec's 1e-5 tolerance
    expect(roundUp(7.52)).toBe(7.6);
  });

  test('temporal/environmental metrics are accepted and do not change the base score', () => {
    expect(score('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C/CR:H/MAV:L')).toBe(9.8);
    expect(score('AV:N/AC:L/Au:N/C:P/I:P/A:P/E:POC/RL:OF/RC:C')).toBe(7.5);
  });

  test('v4.0: validated, not scored', () => {
    const c = parseCvss('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N');
    expect(c).toEqual({
      vector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N',
      version: '4.0',
      score: null,
    });
    expect(() => parseCvss('CVSS:4.0/AV:N/AC:L')).toThrow(CvssError);
  });

  test('malformed vectors throw CvssError', () => {
    for (const bad of [
      '',
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H', // missing A
      'CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', // bad value
      'CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', // duplicate
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1', // unknown metric
      'CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
      'AV:N/AC:L/Au:N/C:P/I:P', // v2 missing A
      'hello',
    ]) {
      expect(() => parseCvss(bad), bad).toThrow(CvssError);
    }
  });
});
