export {
  assembleDb,
  type BuildOptions,
  buildDb,
  deserializeDb,
  serializeDb,
  VulnDbFormatError,
} from './build.js';
export { comparatorFor, normalizeVersion } from './compare.js';
export { CvssError, parseCvss, severityFromScore, tryParseCvss } from './cvss.js';
export type {
  Advisory,
  AffectedRange,
  Cvss,
  CvssVersion,
  DbManifest,
  DbSection,
  FeedParseResult,
  FeedRecord,
  NotAffectedReason,
  Severity,
  SourceManifest,
  VulnDb,
} from './model.js';
export { SEVERITY_RANK, sectionKey } from './model.js';
export { normalizePackageName } from './names.js';
export { DEBIAN_RELEASES, debianReleaseNumber, osReleaseKey } from './releases.js';
