import type { InstalledPackage, OsInfo } from '@palisade/protocol';

export interface AnalyzerContext {
  rootDir: string;
  os: OsInfo | null;
  maxFileBytes: number;
  deadline: number;
  /** Collects a warning ("<location>: <what happened>"); analysis goes on. */
  warn(message: string): void;
}

/** The purl distro qualifier, e.g. "debian-12", or undefined without OS info. */
export function distroQualifier(os: OsInfo | null): string | undefined {
  if (!os?.id) return undefined;
  return os.versionId ? `${os.id}-${os.versionId}` : os.id;
}

export type { InstalledPackage, OsInfo };

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
