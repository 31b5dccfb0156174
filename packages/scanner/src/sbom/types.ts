/**
 * Inputs of the SBOM writers. `PackageInventory` comes from `@palisade/protocol`; the rest is
 * local for now (the lead will unify `Finding` with the matcher's own type).
 */

/** The image an SBOM describes. `os`/`architecture` come from the image config (linux, amd64). */
export interface ImageRef {
  /** As the user named it: `debian:12`, `ghcr.io/acme/api:1.4@sha256:…`. */
  reference: string;
  /** Manifest digest, `sha256:<64 hex>`. */
  digest: string;
  os?: string;
  architecture?: string;
}

/** The program that wrote the SBOM (SPDX `creators`, CycloneDX `metadata.tools`). */
export interface SbomTool {
  name: string;
  version: string;
}

export type FindingSeverity = 'critical' | 'high' | 'medium' | 'low' | 'negligible' | 'unknown';

/** One vulnerability matched against one installed package. */
export interface Finding {
  vulnerabilityId: string;
  aliases: string[];
  package: { name: string; version: string; ecosystem: string; purl: string };
  fixedVersion: string | null;
  severity: FindingSeverity;
  cvss?: { vector: string; score: number } | null;
  /** Where the advisory came from (debian, osv, nvd, …); becomes the CycloneDX `source.name`. */
  source: string;
}
