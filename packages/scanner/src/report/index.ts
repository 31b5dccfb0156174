import type { PackageInventory, Severity } from '@palisade/protocol';
import type { Finding } from '../match/index.js';

/** Most severe first; `--fail-on X` fails at X or anything above it. */
export const SEVERITY_ORDER: Severity[] = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];
export type FailOn = 'critical' | 'high' | 'medium' | 'low';

/**
 * True when any finding is at or above the threshold. A finding whose severity is unknown (many distro
 * advisories carry no score) trips only the strictest gate, `low`: ignoring it everywhere would let
 * unscored vulnerabilities through silently; failing every gate on it would make gates useless.
 */
export function exceedsThreshold(findings: Finding[], failOn: FailOn): boolean {
  const limit = SEVERITY_ORDER.indexOf(failOn);
  return findings.some((f) =>
    f.severity === 'unknown' ? failOn === 'low' : SEVERITY_ORDER.indexOf(f.severity) <= limit,
  );
}

export interface ScanReportView {
  image: { reference: string; digest: string | null };
  inventory: PackageInventory;
  findings: Finding[];
  db: { sequence: number; builtAt: string };
}

export function severityCounts(findings: Finding[]): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITY_ORDER.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) counts[f.severity]++;
  return counts;
}

function pad(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The human-readable report the CLI prints by default. */
export function formatTable(view: ScanReportView): string {
  const counts = severityCounts(view.findings);
  const os = view.inventory.os
    ? `${view.inventory.os.name} (${view.inventory.os.id} ${view.inventory.os.versionId})`
    : 'unknown OS';
  const header = [
    `${view.image.reference}${view.image.digest ? ` @ ${view.image.digest}` : ''}`,
    `${os}, ${view.inventory.packages.length} packages, vulnerability DB #${view.db.sequence} built ${view.db.builtAt}`,
    `${view.findings.length} vulnerabilities: ${SEVERITY_ORDER.map((s) => `${counts[s]} ${s}`).join(', ')}`,
  ];
  if (view.findings.length === 0) return `${header.join('\n')}\n`;
  const rows = [
    ['SEVERITY', 'VULNERABILITY', 'PACKAGE', 'INSTALLED', 'FIXED IN', 'CVSS'],
    ...view.findings.map((f) => [
      f.severity.toUpperCase(),
      f.vulnerabilityId,
      f.package.name,
      f.package.version,
      f.fixedVersion ?? '(unfixed)',
      f.cvss ? f.cvss.score.toFixed(1) : '-',
    ]),
  ];
  return `${header.join('\n')}\n\n${pad(rows)}\n`;
}

export function formatJson(view: ScanReportView): string {
  return `${JSON.stringify(
    {
      image: view.image,
      os: view.inventory.os,
      db: view.db,
      summary: severityCounts(view.findings),
      packages: view.inventory.packages,
      vulnerabilities: view.findings,
    },
    null,
    2,
  )}\n`;
}

const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note' | 'none'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  negligible: 'note',
  unknown: 'none',
};
/** GitHub code scanning reads `security-severity` (0-10) to rank results. */
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '2.0',
  negligible: '0.5',
  unknown: '0.0',
};

function helpUri(id: string): string | undefined {
  if (/^CVE-\d{4}-\d+$/.test(id)) return `https://nvd.nist.gov/vuln/detail/${id}`;
  if (/^(GHSA|PYSEC|GO|RUSTSEC)-/.test(id)) return `https://osv.dev/vulnerability/${id}`;
  return undefined;
}

/** SARIF 2.1.0: one rule per vulnerability, one result per affected package. */
export function formatSarif(view: ScanReportView, tool: { name: string; version: string }): string {
  const rules = new Map<string, object>();
  const results = view.findings.map((f) => {
    if (!rules.has(f.vulnerabilityId)) {
      const uri = helpUri(f.vulnerabilityId);
      rules.set(f.vulnerabilityId, {
        id: f.vulnerabilityId,
        name: f.vulnerabilityId,
        shortDescription: { text: `${f.vulnerabilityId} (${f.severity})` },
        ...(uri ? { helpUri: uri } : {}),
        properties: {
          tags: ['security', 'vulnerability'],
          'security-severity': f.cvss ? f.cvss.score.toFixed(1) : SECURITY_SEVERITY[f.severity],
        },
      });
    }
    const location = f.package.purl;
    return {
      ruleId: f.vulnerabilityId,
      level: SARIF_LEVEL[f.severity],
      message: {
        text: `${f.package.name} ${f.package.version} is affected by ${f.vulnerabilityId}${
          f.fixedVersion ? `; fixed in ${f.fixedVersion}` : '; no fix is available'
        } (image ${view.image.reference})`,
      },
      locations: [
        {
          physicalLocation: { artifactLocation: { uri: view.image.reference } },
          logicalLocations: [{ name: location, kind: 'package' }],
        },
      ],
      partialFingerprints: { packageVulnerability: `${f.package.purl}|${f.vulnerabilityId}` },
    };
  });
  return `${JSON.stringify(
    {
      $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
      version: '2.1.0',
      runs: [
        {
          tool: {
            driver: {
              name: tool.name,
              version: tool.version,
              rules: [...rules.values()],
            },
          },
          results,
        },
      ],
    },
    null,
    2,
  )}\n`;
}
