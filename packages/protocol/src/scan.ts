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
