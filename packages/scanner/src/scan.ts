import type { PackageInventory } from '@palisade/protocol';
import { analyzeRootfsWithWarnings, isInventoryPath } from './analyzers/index.js';
import { type ImageMetadata, type ImageSource, type UnpackOptions, unpackImage } from './image/index.js';
import { type Finding, matchInventory } from './match/index.js';
import type { VulnDb } from './vulndb/index.js';

/**
 * Bumped whenever an analyzer changes what it finds, so cached inventories from an older analyzer
 * are not reused.
 */
export const ANALYZER_VERSION = '2026-11-23.1';

/**
 * Inventories by image config digest. The config lists every layer's diff_id, so one config digest
 * always means the same filesystem and the same inventory; a cache hit skips fetching and unpacking
 * layers. Bounded (least recently used out).
 */
export class InventoryCache {
  private readonly entries = new Map<string, { inventory: PackageInventory; warnings: string[] }>();
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries = 500) {}

  private key(configDigest: string): string {
    return `${ANALYZER_VERSION}|${configDigest}`;
  }

  has(configDigest: string): boolean {
    return this.entries.has(this.key(configDigest));
  }

  get(configDigest: string) {
    const k = this.key(configDigest);
    const entry = this.entries.get(k);
    if (entry) {
      this.entries.delete(k);
      this.entries.set(k, entry);
    }
    return entry;
  }

  set(configDigest: string, value: { inventory: PackageInventory; warnings: string[] }): void {
    const k = this.key(configDigest);
    this.entries.delete(k);
    this.entries.set(k, value);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

export interface ScanImageOptions extends Omit<UnpackOptions, 'select' | 'skipLayers'> {
  db: VulnDb;
  /** Reuse inventories of images scanned before (by config digest). */
  cache?: InventoryCache;
  /** Unpack every file, not only those the analyzers read (slower; for debugging). */
  fullRootfs?: boolean;
}

export interface ImageScanResult {
  image: ImageMetadata;
  inventory: PackageInventory;
  findings: Finding[];
  /** Analyzer warnings (a damaged package database, an oversized file, ...). */
  warnings: string[];
  /** True when the inventory came from the cache (no layer was fetched or unpacked). */
  cached: boolean;
  millis: number;
  timings: { unpackMillis: number; analyzeMillis: number; matchMillis: number };
}

/**
 * Scans one image: reads and verifies its manifest and config, unpacks the files the analyzers read
 * into a private temporary directory (removed afterwards, also on failure), reads the OS and package
 * databases, and matches them against the vulnerability DB. Matching always uses the DB given, so a
 * cached inventory still gets today's vulnerabilities.
 */
export async function scanImage(source: ImageSource, options: ScanImageOptions): Promise<ImageScanResult> {
  const { db, cache, fullRootfs, ...unpackOptions } = options;
  const t0 = performance.now();
  const unpacked = await unpackImage(source, {
    ...unpackOptions,
    ...(fullRootfs ? {} : { select: (path, entry) => isInventoryPath(path, entry.mode, entry.size) }),
    ...(cache ? { skipLayers: (configDigest: string) => cache.has(configDigest) } : {}),
  });
  try {
    const t1 = performance.now();
    const configDigest = unpacked.metadata.configDigest;
    let analyzed = unpacked.layersApplied ? undefined : cache?.get(configDigest);
    if (!unpacked.layersApplied && !analyzed) {
      // Evicted by a concurrent scan since the check: scan it for real.
      return await scanImage(source, { ...options, cache: undefined });
    }
    if (!analyzed) {
      analyzed = await analyzeRootfsWithWarnings(unpacked.rootDir);
      cache?.set(configDigest, analyzed);
      if (cache) cache.misses++;
    } else if (cache) {
      cache.hits++;
    }
    const t2 = performance.now();
    const findings = matchInventory(analyzed.inventory, db);
    const t3 = performance.now();
    return {
      image: unpacked.metadata,
      inventory: analyzed.inventory,
      findings,
      warnings: analyzed.warnings,
      cached: !unpacked.layersApplied,
      millis: t3 - t0,
      timings: { unpackMillis: t1 - t0, analyzeMillis: t2 - t1, matchMillis: t3 - t2 },
    };
  } finally {
    await unpacked.cleanup();
  }
}
