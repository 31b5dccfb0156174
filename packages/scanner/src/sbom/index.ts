/**
 * SBOM output: SPDX 2.3 JSON and CycloneDX 1.5 / 1.6 JSON for a scanned image. Pure functions: no I/O,
 * deterministic output given `created`, `namespaceSeed` / `serialNumber`.
 */
export {
  type CdxComponent,
  type CdxRating,
  type CdxVulnerability,
  type CycloneDxBom,
  cvssMethod,
  type ToCycloneDxInput,
  toCycloneDx,
} from './cyclonedx.js';
export { imagePurl, type ParsedReference, parseReference } from './image.js';
export {
  analyseLicenses,
  formatLicenseExpression,
  LICENSE_EXCEPTION_IDS,
  LICENSE_IDS,
  type LicenseNode,
  parseLicenseExpression,
} from './license.js';
export {
  type SpdxDocument,
  type SpdxPackage,
  type SpdxRelationship,
  type ToSpdxInput,
  toSpdx,
} from './spdx.js';
export type { Finding, FindingSeverity, ImageRef, SbomTool } from './types.js';
