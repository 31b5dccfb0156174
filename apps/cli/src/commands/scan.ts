import { readFile } from 'node:fs/promises';
import { verifyBundle } from '@palisade/bundle';
import {
  deserializeDb,
  exceedsThreshold,
  type FailOn,
  formatJson,
  formatSarif,
  formatTable,
  parseImageSource,
  scanImage,
  toCycloneDx,
  toSpdx,
  VulnDbStore,
} from '@palisade/scanner';
import { UsageError } from '../args.js';
import { trustedKeys } from './vulndb.js';

export const SCAN_FORMATS = ['table', 'json', 'sarif', 'spdx', 'cyclonedx'] as const;
export type ScanFormat = (typeof SCAN_FORMATS)[number];
const FAIL_ON = ['critical', 'high', 'medium', 'low'] as const;
const TOOL = { name: 'palisade', version: '0.1.0' };

export interface ScanOptions {
  format?: string | undefined;
  failOn?: string | undefined;
  dbDir: string;
  /** A vulnerability DB bundle file to use instead of the installed one. */
  dbFile?: string | undefined;
  trust?: string[] | undefined;
  platform?: string | undefined;
  insecure?: boolean | undefined;
}

function parsePlatform(text: string) {
  const [os, architecture, variant] = text.split('/');
  if (!os || !architecture)
    throw new UsageError(`--platform must look like linux/amd64 or linux/arm64/v8, not "${text}"`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/**
 * `palisade scan image`: scans locally (no hub needed) and returns the exit code CI pipelines use:
 * 0 below the --fail-on threshold, 1 at or above it. Errors throw (the caller exits 2).
 */
export async function scanImageCommand(target: string | undefined, options: ScanOptions): Promise<number> {
  if (!target) throw new UsageError('scan image needs an image reference or a path');
  const format = (options.format ?? 'table') as ScanFormat;
  if (!SCAN_FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${SCAN_FORMATS.join(', ')}`);
  const failOn = options.failOn as FailOn | undefined;
  if (failOn !== undefined && !FAIL_ON.includes(failOn))
    throw new UsageError(`--fail-on must be one of ${FAIL_ON.join(', ')}`);

  const keys = await trustedKeys(options.trust);
  const loaded = options.dbFile
    ? await verifyBundle(await readFile(options.dbFile), { trustedKeys: keys, expectKind: 'vulndb' })
    : await new VulnDbStore(options.dbDir, keys).load();
  if (!loaded) {
    throw new Error(
      `no vulnerability DB installed in ${options.dbDir}: run "palisade db import <bundle>" or pass --db FILE`,
    );
  }
  const db = deserializeDb(loaded.content);
  const dbInfo = {
    sequence: loaded.manifest.sequence,
    builtAt: String(loaded.manifest.meta.builtAt ?? loaded.manifest.createdAt),
  };

  let source = parseImageSource(target);
  if (source.kind === 'registry' && options.insecure) source = { ...source, insecure: true };
  if (options.platform) source = { ...source, platform: parsePlatform(options.platform) };
  const result = await scanImage(source, { db });
  const view = {
    image: { reference: result.image.reference, digest: result.image.digest },
    inventory: result.inventory,
    findings: result.findings,
    db: dbInfo,
  };
  const imageRef = {
    reference: result.image.reference,
    digest: result.image.digest,
    os: result.image.os,
    architecture: result.image.architecture,
  };
  switch (format) {
    case 'table':
      process.stdout.write(formatTable(view));
      break;
    case 'json':
      process.stdout.write(formatJson(view));
      break;
    case 'sarif':
      process.stdout.write(formatSarif(view, TOOL));
      break;
    case 'spdx':
      process.stdout.write(
        `${JSON.stringify(toSpdx({ image: imageRef, inventory: result.inventory, tool: TOOL }), null, 2)}\n`,
      );
      break;
    case 'cyclonedx':
      process.stdout.write(
        `${JSON.stringify(
          toCycloneDx({
            image: imageRef,
            inventory: result.inventory,
            findings: result.findings,
            tool: TOOL,
            specVersion: '1.6',
          }),
          null,
          2,
        )}\n`,
      );
      break;
  }
  if (failOn && exceedsThreshold(result.findings, failOn)) {
    console.error(`palisade: vulnerabilities at or above "${failOn}" found: failing (exit 1)`);
    return 1;
  }
  return 0;
}
