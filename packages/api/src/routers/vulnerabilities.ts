import { Prisma } from '@palisade/db';
import { ClusterName, PackageInventory, Severity } from '@palisade/protocol';
import { toCycloneDx, toSpdx } from '@palisade/scanner';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { AuthedContext } from '../trpc.js';
import { actorOf, audit, clusterOrHubProcedure, router, scopedListProcedure } from '../trpc.js';

const SEVERITY_RANK = Prisma.sql`CASE f.severity WHEN 'critical' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3
  WHEN 'low' THEN 2 WHEN 'negligible' THEN 1 ELSE 0 END`;
const RANKED: Severity[] = ['unknown', 'negligible', 'low', 'medium', 'high', 'critical'];

const page = {
  limit: z.number().int().min(1).max(500).default(100),
  cursor: z.number().int().min(0).default(0),
};

/** SQL restricting scan_reports (alias r) to what the caller may see, and to one cluster if asked. */
function scopeSql(visible: 'all' | string[], cluster?: string | null): Prisma.Sql {
  const parts: Prisma.Sql[] = [];
  if (visible !== 'all')
    parts.push(visible.length ? Prisma.sql`r.cluster IN (${Prisma.join(visible)})` : Prisma.sql`false`);
  if (cluster) parts.push(Prisma.sql`r.cluster = ${cluster}`);
  return parts.length ? Prisma.sql`WHERE ${Prisma.join(parts, ' AND ')}` : Prisma.empty;
}

/**
 * The current reports: the newest per scanned thing (an image in a cluster, or a workload on a node).
 * Older reports stay for history; aggregates count only these.
 */
function latestReports(where: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`SELECT DISTINCT ON (coalesce(r.cluster, ''), r.image_ref, coalesce(r.node_id, ''), coalesce(r.container_id, ''))
      r.id, r.cluster, r.image_ref, r.image_digest, r.node_id, r.container_id, r.created_at
    FROM scan_reports r ${where}
    ORDER BY coalesce(r.cluster, ''), r.image_ref, coalesce(r.node_id, ''), coalesce(r.container_id, ''), r.created_at DESC`;
}

async function clusterOfReport(input: { reportId: string }, ctx: AuthedContext): Promise<string | null> {
  const report = await ctx.db.scanReport.findUnique({
    where: { id: input.reportId },
    select: { cluster: true },
  });
  if (!report)
    throw new TRPCError({ code: 'NOT_FOUND', message: `scan report ${input.reportId} does not exist` });
  return report.cluster;
}

export const vulnerabilitiesRouter = router({
  /** Scans a registry image on a hub scanner; filed under a cluster (or hub-wide when cluster is null). */
  scanImage: clusterOrHubProcedure(
    'image.scan',
    z.object({
      reference: z.string().min(1).max(1024),
      cluster: ClusterName.nullable().default(null),
      insecure: z.boolean().default(false),
    }),
    (input) => input.cluster,
  ).mutation(async ({ ctx, input }) => {
    const summary = await ctx.scanner.scan({ v: 1, actor: actorOf(ctx), ...input });
    await audit(ctx, {
      action: 'image.scan',
      ...(input.cluster ? { cluster: input.cluster } : {}),
      object: `image/${input.reference}`,
      result: 'ok',
      details: { reportId: summary.reportId },
    });
    return summary;
  }),

  /** Scan reports, newest first, filtered to the caller's scope. */
  reports: scopedListProcedure('vulnerability.read')
    .input(
      z.object({
        cluster: ClusterName.optional(),
        search: z.string().max(200).optional(),
        origin: z.enum(['registry', 'agent']).optional(),
        ...page,
      }),
    )
    .query(async ({ ctx, input }) => {
      const visible = ctx.visibleClusters();
      const where: Prisma.ScanReportWhereInput = {
        ...(visible === 'all' ? {} : { cluster: { in: visible } }),
        ...(input.cluster ? { cluster: input.cluster } : {}),
        ...(input.origin ? { origin: input.origin } : {}),
        ...(input.search ? { imageRef: { contains: input.search, mode: 'insensitive' } } : {}),
      };
      if (input.cluster && visible !== 'all' && !visible.includes(input.cluster)) {
        throw new TRPCError({
          code: 'FORBIDDEN',
          message: `you do not have permission vulnerability.read on cluster "${input.cluster}"`,
        });
      }
      const [total, items] = await Promise.all([
        ctx.db.scanReport.count({ where }),
        ctx.db.scanReport.findMany({
          where,
          orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
          skip: input.cursor,
          take: input.limit,
          omit: { inventory: true },
        }),
      ]);
      const next = input.cursor + items.length;
      return { total, items, nextCursor: next < total ? next : null };
    }),

  /** One report with its findings, most severe first. */
  report: clusterOrHubProcedure(
    'vulnerability.read',
    z.object({ reportId: z.uuid() }),
    clusterOfReport,
  ).query(async ({ ctx, input }) => {
    const report = await ctx.db.scanReport.findUniqueOrThrow({
      where: { id: input.reportId },
      omit: { inventory: true },
    });
    const findings = await ctx.db.finding.findMany({ where: { reportId: input.reportId }, take: 20_000 });
    findings.sort(
      (a, b) =>
        RANKED.indexOf(b.severity as Severity) - RANKED.indexOf(a.severity as Severity) ||
        a.vulnerabilityId.localeCompare(b.vulnerabilityId),
    );
    return { report, findings: findings.map((f) => ({ ...f, id: f.id.toString() })) };
  }),

  /** The SBOM of a scanned image or workload, from its stored inventory (and findings, for CycloneDX). */
  sbom: clusterOrHubProcedure(
    'vulnerability.read',
    z.object({ reportId: z.uuid(), format: z.enum(['spdx', 'cyclonedx']) }),
    clusterOfReport,
  ).query(async ({ ctx, input }) => {
    const report = await ctx.db.scanReport.findUniqueOrThrow({ where: { id: input.reportId } });
    const inventory = PackageInventory.parse(report.inventory);
    const image = { reference: report.imageRef, digest: report.imageDigest ?? '' };
    const tool = { name: 'palisade', version: '0.1.0' };
    if (input.format === 'spdx') {
      const document = toSpdx({ image, inventory, tool, created: report.createdAt });
      return { filename: `${report.id}.spdx.json`, json: JSON.stringify(document, null, 2) };
    }
    const rows = await ctx.db.finding.findMany({ where: { reportId: report.id }, take: 20_000 });
    const findings = rows.map((f) => ({
      vulnerabilityId: f.vulnerabilityId,
      aliases: f.aliases,
      package: { name: f.packageName, version: f.packageVersion, ecosystem: f.ecosystem, purl: f.purl },
      fixedVersion: f.fixedVersion,
      severity: f.severity as Severity,
      cvss: f.cvssScore !== null && f.cvssVector ? { vector: f.cvssVector, score: f.cvssScore } : null,
      source: f.source,
    }));
    const document = toCycloneDx({
      image,
      inventory,
      findings,
      tool,
      created: report.createdAt,
      specVersion: '1.6',
    });
    return { filename: `${report.id}.cdx.json`, json: JSON.stringify(document, null, 2) };
  }),

  /** Vulnerabilities across the current reports the caller may see, aggregated per CVE; server-side paging. */
  cves: scopedListProcedure('vulnerability.read')
    .input(
      z.object({
        cluster: ClusterName.optional(),
        severity: Severity.optional(),
        fixable: z.boolean().optional(),
        search: z.string().max(200).optional(),
        sort: z.enum(['severity', 'cvss', 'images', 'id']).default('severity'),
        ...page,
      }),
    )
    .query(async ({ ctx, input }) => {
      const filters: Prisma.Sql[] = [];
      if (input.severity) filters.push(Prisma.sql`f.severity = ${input.severity}`);
      if (input.search)
        filters.push(
          Prisma.sql`(f.vulnerability_id ILIKE ${`%${input.search}%`} OR f.package_name ILIKE ${`%${input.search}%`})`,
        );
      const findingWhere = filters.length ? Prisma.sql`WHERE ${Prisma.join(filters, ' AND ')}` : Prisma.empty;
      const having =
        input.fixable === undefined
          ? Prisma.empty
          : Prisma.sql`HAVING bool_or(f.fixed_version IS NOT NULL) = ${input.fixable}`;
      const order = {
        severity: Prisma.sql`max_rank DESC, max_cvss DESC NULLS LAST, id`,
        cvss: Prisma.sql`max_cvss DESC NULLS LAST, id`,
        images: Prisma.sql`images DESC, max_rank DESC, id`,
        id: Prisma.sql`id`,
      }[input.sort];
      const rows = await ctx.db.$queryRaw<
        {
          id: string;
          max_rank: number;
          max_cvss: number | null;
          images: bigint;
          workloads: bigint;
          packages: string[];
          clusters: (string | null)[];
          fixable: boolean;
          total: bigint;
        }[]
      >(Prisma.sql`
        WITH latest AS (${latestReports(scopeSql(ctx.visibleClusters(), input.cluster))})
        SELECT f.vulnerability_id AS id, max(${SEVERITY_RANK}) AS max_rank, max(f.cvss_score) AS max_cvss,
               count(DISTINCT l.image_ref) AS images,
               count(DISTINCT (l.node_id, l.container_id)) FILTER (WHERE l.container_id IS NOT NULL) AS workloads,
               array_agg(DISTINCT f.package_name) AS packages, array_agg(DISTINCT l.cluster) AS clusters,
               bool_or(f.fixed_version IS NOT NULL) AS fixable, count(*) OVER () AS total
        FROM findings f JOIN latest l ON l.id = f.report_id
        ${findingWhere}
        GROUP BY f.vulnerability_id ${having}
        ORDER BY ${order}
        LIMIT ${input.limit} OFFSET ${input.cursor}`);
      const total = Number(rows[0]?.total ?? 0);
      const next = input.cursor + rows.length;
      return {
        total,
        nextCursor: next < total ? next : null,
        items: rows.map((r) => ({
          id: r.id,
          severity: RANKED[r.max_rank] ?? 'unknown',
          cvss: r.max_cvss,
          images: Number(r.images),
          workloads: Number(r.workloads),
          packages: r.packages,
          clusters: r.clusters.map((c) => c ?? '(hub)'),
          fixable: r.fixable,
        })),
      };
    }),

  /** Everything the caller may see about one vulnerability: where it is, in which package, and the fix. */
  cve: scopedListProcedure('vulnerability.read')
    .input(z.object({ id: z.string().min(1).max(100) }))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.db.$queryRaw<
        {
          report_id: string;
          cluster: string | null;
          image_ref: string;
          image_digest: string | null;
          node_id: string | null;
          container_id: string | null;
          scanned_at: Date;
          package_name: string;
          package_version: string;
          ecosystem: string;
          purl: string;
          fixed_version: string | null;
          severity: string;
          cvss_score: number | null;
          cvss_vector: string | null;
          source: string;
          aliases: string[];
          workload_name: string | null;
        }[]
      >(Prisma.sql`
        WITH latest AS (${latestReports(scopeSql(ctx.visibleClusters()))})
        SELECT l.id AS report_id, l.cluster, l.image_ref, l.image_digest, l.node_id, l.container_id, l.created_at AS scanned_at,
               f.package_name, f.package_version, f.ecosystem, f.purl, f.fixed_version, f.severity, f.cvss_score,
               f.cvss_vector, f.source, f.aliases, w.name AS workload_name
        FROM findings f JOIN latest l ON l.id = f.report_id
        LEFT JOIN workloads w ON w.node_id = l.node_id AND w.container_id = l.container_id
        WHERE f.vulnerability_id = ${input.id}
        ORDER BY l.cluster NULLS FIRST, l.image_ref
        LIMIT 5000`);
      if (rows.length === 0) {
        throw new TRPCError({
          code: 'NOT_FOUND',
          message: `${input.id} is not found in any scan you can see`,
        });
      }
      const best = rows.reduce((a, b) => ((b.cvss_score ?? -1) > (a.cvss_score ?? -1) ? b : a));
      return {
        id: input.id,
        aliases: [...new Set(rows.flatMap((r) => r.aliases))].sort(),
        severity: RANKED[Math.max(...rows.map((r) => RANKED.indexOf(r.severity as Severity)))] ?? 'unknown',
        cvss: best.cvss_score === null ? null : { score: best.cvss_score, vector: best.cvss_vector },
        sources: [...new Set(rows.map((r) => r.source))],
        affected: rows.map((r) => ({
          reportId: r.report_id,
          cluster: r.cluster,
          imageRef: r.image_ref,
          imageDigest: r.image_digest,
          nodeId: r.node_id,
          containerId: r.container_id,
          workloadName: r.workload_name,
          scannedAt: r.scanned_at.toISOString(),
          packageName: r.package_name,
          packageVersion: r.package_version,
          ecosystem: r.ecosystem,
          purl: r.purl,
          fixedVersion: r.fixed_version,
        })),
      };
    }),

  /** The current report per image (registry scans) or workload (agent scans), with counts. */
  images: scopedListProcedure('vulnerability.read')
    .input(z.object({ cluster: ClusterName.optional(), search: z.string().max(200).optional(), ...page }))
    .query(async ({ ctx, input }) => {
      const search = input.search ? Prisma.sql`WHERE r.image_ref ILIKE ${`%${input.search}%`}` : Prisma.empty;
      const rows = await ctx.db.$queryRaw<
        {
          id: string;
          origin: string;
          cluster: string | null;
          node_id: string | null;
          container_id: string | null;
          image_ref: string;
          image_digest: string | null;
          created_at: Date;
          package_count: number;
          critical: number;
          high: number;
          medium: number;
          low: number;
          negligible: number;
          unknown: number;
          fixable: number;
          workload_name: string | null;
          total: bigint;
        }[]
      >(Prisma.sql`
        WITH latest AS (${latestReports(scopeSql(ctx.visibleClusters(), input.cluster))})
        SELECT r.id, r.origin, r.cluster, r.node_id, r.container_id, r.image_ref, r.image_digest, r.created_at,
               r.package_count, r.critical, r.high, r.medium, r.low, r.negligible, r.unknown, r.fixable,
               w.name AS workload_name, count(*) OVER () AS total
        FROM latest l JOIN scan_reports r ON r.id = l.id
        LEFT JOIN workloads w ON w.node_id = r.node_id AND w.container_id = r.container_id
        ${search}
        ORDER BY r.critical DESC, r.high DESC, r.created_at DESC
        LIMIT ${input.limit} OFFSET ${input.cursor}`);
      const total = Number(rows[0]?.total ?? 0);
      const next = input.cursor + rows.length;
      return {
        total,
        nextCursor: next < total ? next : null,
        items: rows.map((r) => ({
          id: r.id,
          origin: r.origin,
          cluster: r.cluster,
          nodeId: r.node_id,
          containerId: r.container_id,
          workloadName: r.workload_name,
          imageRef: r.image_ref,
          imageDigest: r.image_digest,
          scannedAt: r.created_at.toISOString(),
          packageCount: r.package_count,
          counts: {
            critical: r.critical,
            high: r.high,
            medium: r.medium,
            low: r.low,
            negligible: r.negligible,
            unknown: r.unknown,
          },
          fixable: r.fixable,
        })),
      };
    }),
});
