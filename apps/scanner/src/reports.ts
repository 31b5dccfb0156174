import type { DbClient } from '@palisade/db';
import type { PackageInventory, ScanSummary, Severity } from '@palisade/protocol';
import type { Finding } from '@palisade/scanner';

export interface ReportInput {
  origin: 'registry' | 'agent';
  cluster: string | null;
  nodeId?: string;
  containerId?: string;
  imageRef: string;
  imageDigest: string | null;
  inventory: PackageInventory;
  findings: Finding[];
  db: { sequence: number; builtAt: string };
  scanMillis: number;
}

const SEVERITIES: Severity[] = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];

export function countBySeverity(findings: Finding[]): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** Stores a report and its findings in one transaction: a failed write leaves nothing half-stored. */
export async function storeReport(db: DbClient, input: ReportInput): Promise<ScanSummary> {
  const counts = countBySeverity(input.findings);
  const fixable = input.findings.filter((f) => f.fixedVersion).length;
  const report = await db.$transaction(async (tx) => {
    const created = await tx.scanReport.create({
      data: {
        origin: input.origin,
        cluster: input.cluster,
        nodeId: input.nodeId ?? null,
        containerId: input.containerId ?? null,
        imageRef: input.imageRef,
        imageDigest: input.imageDigest,
        osId: input.inventory.os?.id ?? null,
        osVersion: input.inventory.os?.versionId ?? null,
        packageCount: input.inventory.packages.length,
        ...counts,
        fixable,
        dbSequence: input.db.sequence,
        dbBuiltAt: new Date(input.db.builtAt),
        inventory: input.inventory as object,
        scanMillis: Math.round(input.scanMillis),
      },
    });
    if (input.findings.length > 0) {
      await tx.finding.createMany({
        data: input.findings.map((f) => ({
          reportId: created.id,
          vulnerabilityId: f.vulnerabilityId,
          aliases: f.aliases,
          packageName: f.package.name,
          packageVersion: f.package.version,
          ecosystem: f.package.ecosystem,
          purl: f.package.purl,
          fixedVersion: f.fixedVersion,
          severity: f.severity,
          cvssScore: f.cvss?.score ?? null,
          cvssVector: f.cvss?.vector ?? null,
          source: f.source,
        })),
      });
    }
    return created;
  });
  return {
    reportId: report.id,
    imageRef: input.imageRef,
    imageDigest: input.imageDigest,
    packageCount: input.inventory.packages.length,
    counts,
    fixable,
    scanMillis: Math.round(input.scanMillis),
  };
}
