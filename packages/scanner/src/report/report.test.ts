import { describe, expect, it } from 'vitest';
import type { Finding } from '../match/index.js';
import { exceedsThreshold, formatSarif, formatTable, severityCounts } from './index.js';

function finding(id: string, severity: Finding['severity'], fixedVersion: string | null = '1.2'): Finding {
  return {
    vulnerabilityId: id,
    aliases: [],
    package: { name: 'libfoo', version: '1.0', ecosystem: 'Debian', purl: 'pkg:deb/debian/libfoo@1.0' },
    fixedVersion,
    unfixed: fixedVersion === null,
    severity,
    cvss:
      severity === 'critical' ? { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8 } : null,
    source: 'debian-dsa',
    sources: ['debian-dsa'],
    matchedBy: 'source',
  };
}

describe('--fail-on gate', () => {
  it('fails at or above the threshold only', () => {
    const medium = [finding('CVE-1', 'medium')];
    expect(exceedsThreshold(medium, 'low')).toBe(true);
    expect(exceedsThreshold(medium, 'medium')).toBe(true);
    expect(exceedsThreshold(medium, 'high')).toBe(false);
    expect(exceedsThreshold([], 'low')).toBe(false);
    expect(exceedsThreshold([finding('CVE-2', 'negligible')], 'low')).toBe(false);
  });

  it('lets unknown severities trip only the strictest gate', () => {
    const unknown = [finding('CVE-3', 'unknown')];
    expect(exceedsThreshold(unknown, 'low')).toBe(true);
    expect(exceedsThreshold(unknown, 'medium')).toBe(false);
    expect(exceedsThreshold(unknown, 'critical')).toBe(false);
  });
});

describe('report formats', () => {
  const view = {
    image: { reference: 'debian:11', digest: 'sha256:abc' },
    inventory: {
      os: { id: 'debian', versionId: '11', name: 'Debian 11', family: 'debian' as const },
      packages: [],
    },
    findings: [finding('CVE-2023-0286', 'critical'), finding('CVE-2022-9999', 'unknown', null)],
    db: { sequence: 7, builtAt: '2026-11-23T00:00:00.000Z' },
  };

  it('counts severities and prints a table with unfixed marked', () => {
    expect(severityCounts(view.findings)).toMatchObject({ critical: 1, unknown: 1, high: 0 });
    const table = formatTable(view);
    expect(table).toContain('2 vulnerabilities: 1 critical');
    expect(table).toMatch(/CVE-2022-9999\s+libfoo\s+1\.0\s+\(unfixed\)/);
  });

  it('writes SARIF 2.1.0 with one rule per vulnerability and security severities', () => {
    const sarif = JSON.parse(formatSarif(view, { name: 'palisade', version: '0.1.0' }));
    expect(sarif.version).toBe('2.1.0');
    const run = sarif.runs[0];
    expect(run.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual([
      'CVE-2023-0286',
      'CVE-2022-9999',
    ]);
    expect(run.tool.driver.rules[0].properties['security-severity']).toBe('9.8');
    expect(run.tool.driver.rules[0].helpUri).toBe('https://nvd.nist.gov/vuln/detail/CVE-2023-0286');
    expect(run.results.map((r: { level: string }) => r.level)).toEqual(['error', 'none']);
    expect(run.results[1].message.text).toContain('no fix is available');
  });
});
