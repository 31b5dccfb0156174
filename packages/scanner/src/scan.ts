import type { PackageInventory } from '@palisade/protocol';
import { analyzeRootfsWithWarnings } from './analyzers/index.js';
import { type ImageMetadata, type ImageSource, type UnpackOptions, unpackImage } from './image/index.js';
import { type Finding, matchInventory } from './match/index.js';
import type { VulnDb } from './vulndb/index.js';

export interface ScanImageOptions extends UnpackOptions {
  db: VulnDb;
}

export interface ImageScanResult {
  image: ImageMetadata;
  inventory: PackageInventory;
  findings: Finding[];
  /** Analyzer warnings (a damaged package database, an oversized file, ...). */
  warnings: string[];
  millis: number;
  timings: { unpackMillis: number; analyzeMillis: number; matchMillis: number };
}

/**
 * Scans one image: unpacks it into a private temporary directory (removed afterwards, also on
 * failure), reads its OS and package databases, and matches them against the vulnerability DB.
 */
export async function scanImage(source: ImageSource, options: ScanImageOptions): Promise<ImageScanResult> {
  const { db, ...unpackOptions } = options;
  const t0 = performance.now();
  const unpacked = await unpackImage(source, unpackOptions);
  try {
    const t1 = performance.now();
    const { inventory, warnings } = await analyzeRootfsWithWarnings(unpacked.rootDir);
    const t2 = performance.now();
    const findings = matchInventory(inventory, db);
    const t3 = performance.now();
    return {
      image: unpacked.metadata,
      inventory,
      findings,
      warnings,
      millis: t3 - t0,
      timings: { unpackMillis: t1 - t0, analyzeMillis: t2 - t1, matchMillis: t3 - t2 },
    };
  } finally {
    await unpacked.cleanup();
  }
}
