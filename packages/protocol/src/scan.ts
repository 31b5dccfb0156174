import { z } from 'zod';

/** Ecosystem names as OSV spells them; the scanner's comparators and matchers are keyed by these. */
export const Ecosystem = z.enum(['Debian', 'Alpine', 'Red Hat', 'npm', 'PyPI', 'Maven', 'Go', 'crates.io']);
export type Ecosystem = z.infer<typeof Ecosystem>;

const text = z.string().max(512);

export const OsInfo = z.object({
  /** os-release ID (debian, alpine, rhel, centos, ...). */
  id: text,
  /** os-release VERSION_ID (12, 3.11.6, 8.9, ...). */
  versionId: text,
  name: text,
  family: z.enum(['debian', 'alpine', 'redhat', 'unknown']),
  codename: text.optional(),
});
export type OsInfo = z.infer<typeof OsInfo>;

/** One installed package, as an analyzer found it. */
export const InstalledPackage = z.object({
  name: text.min(1),
  version: text.min(1),
  ecosystem: Ecosystem,
  /** The source package it was built from (dpkg Source, rpm source rpm, apk origin); advisories use it. */
  sourceName: text.optional(),
  sourceVersion: text.optional(),
  arch: text.optional(),
  /** Package URL (purl spec). */
  purl: z.string().max(2048),
  licenses: z.array(text).max(64).optional(),
  /** Where in the image it was found (the database or manifest file). */
  locations: z.array(z.string().max(4096)).max(64),
});
export type InstalledPackage = z.infer<typeof InstalledPackage>;

export const PackageInventory = z.object({
  os: OsInfo.nullable(),
  packages: z.array(InstalledPackage).max(100_000),
});
export type PackageInventory = z.infer<typeof PackageInventory>;

export const Severity = z.enum(['critical', 'high', 'medium', 'low', 'negligible', 'unknown']);
export type Severity = z.infer<typeof Severity>;

export const Platform = z.object({
  os: z.string().max(32),
  architecture: z.string().max(32),
  variant: z.string().max(32).optional(),
});

/** Console/CLI → scanners, request/reply: scan an image in a registry. */
export const RegistryScanRequest = z.object({
  v: z.literal(1),
  /** Who asked, for the audit trail. */
  actor: z.object({ userId: z.string().max(64), username: z.string().max(64) }),
  reference: z.string().min(1).max(1024),
  /** The cluster the scan is filed under (scoping who may read it); null for hub-wide scans. */
  cluster: z.string().max(40).nullable(),
  platform: Platform.optional(),
  /** Plain HTTP and unverified TLS, for local registries. */
  insecure: z.boolean().default(false),
});
export type RegistryScanRequest = z.infer<typeof RegistryScanRequest>;

export const ScanSummary = z.object({
  reportId: z.string(),
  imageRef: z.string(),
  imageDigest: z.string().nullable(),
  packageCount: z.number().int().nonnegative(),
  counts: z.record(Severity, z.number().int().nonnegative()),
  fixable: z.number().int().nonnegative(),
  scanMillis: z.number().int().nonnegative(),
});
export type ScanSummary = z.infer<typeof ScanSummary>;

export const ScanReply = z.union([
  z.object({ ok: z.literal(true), summary: ScanSummary }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string().max(2000) }) }),
]);
export type ScanReply = z.infer<typeof ScanReply>;

/**
 * Agent → scanners (JetStream work queue): the package inventory of a running container, extracted on
 * the node, so edge nodes never need the vulnerability DB.
 */
export const InventoryScanRequest = z.object({
  v: z.literal(1),
  credential: z.string().max(4096),
  sentAt: z.iso.datetime({ offset: true }),
  workload: z.object({
    containerId: z.string().min(1).max(128),
    image: z.string().max(1024),
    imageDigest: z.string().max(128).optional(),
  }),
  inventory: PackageInventory,
});
export type InventoryScanRequest = z.infer<typeof InventoryScanRequest>;
