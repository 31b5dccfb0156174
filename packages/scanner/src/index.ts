/**
 * @palisade/scanner: image sources, package analyzers, version comparators, the vulnerability DB,
 * matching, SBOMs and reports. Pure library: no NATS, HTTP server or database here.
 */
export {
  analyzeRootfs,
  analyzeRootfsWithWarnings,
  detectOs,
  inventoryPaths,
} from './analyzers/index.js';
export {
  ImageError,
  type ImageMetadata,
  type ImageSource,
  parseImageSource,
  type UnpackedImage,
  unpackImage,
} from './image/index.js';
export { type Finding, matchInventory } from './match/index.js';
export {
  exceedsThreshold,
  type FailOn,
  formatJson,
  formatSarif,
  formatTable,
  SEVERITY_ORDER,
  severityCounts,
} from './report/index.js';
export { toCycloneDx, toSpdx } from './sbom/index.js';
export {
  ANALYZER_VERSION,
  type ImageScanResult,
  InventoryCache,
  type ScanImageOptions,
  scanImage,
} from './scan.js';
export { VulnDbStore } from './store/dbStore.js';
export { compareVersions, InvalidVersionError, isValidVersion, satisfies } from './versions/index.js';
export {
  buildDb,
  type DbManifest,
  deserializeDb,
  parseCvss,
  serializeDb,
  type VulnDb,
  VulnDbFormatError,
} from './vulndb/index.js';
