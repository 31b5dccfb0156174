/**
 * Package inventory of an unpacked root filesystem: OS detection, OS package databases (dpkg, apk,
 * rpm) and language packages (npm, Python, Go binaries, Java archives). See README.md here.
 */
import { readFile } from 'node:fs/promises';
import type { InstalledPackage, OsInfo, PackageInventory } from '@palisade/protocol';
import { APK_PATHS, analyzeApk } from './apk.js';
import { analyzeDpkg, DPKG_PATHS } from './dpkg.js';
import {
  FileTooLargeError,
  inScope,
  openFileSource,
  resolveScopes,
  type WalkedFile,
  type WalkScope,
  walkScopes,
} from './fsroot.js';
import { goPackages, parseModinfo, readGoBuildInfoStrings } from './golang.js';
import { isJavaArchive, mavenPackage, readJar } from './java.js';
import {
  isInstalledPackageJson,
  isLockfile,
  npmPackage,
  parseInstalledPackageJson,
  parsePackageLock,
} from './npm.js';
import { detectOs, OS_PATHS } from './os.js';
import { isPythonMetadata, parsePythonMetadata, pythonPackage } from './python.js';
import { analyzeRpm, RPM_PATHS } from './rpm.js';
import { type AnalyzerContext, errorMessage } from './types.js';

export { detectOs } from './os.js';

export interface AnalyzeOptions {
  /** Files larger than this are skipped with a warning (default 256 MiB). */
  maxFileBytes?: number;
  /** Directory entries visited by the language-package walk (default 1,000,000). */
  maxWalkEntries?: number;
  /** Time budget of the language-package walk in milliseconds (default 120 s). */
  walkTimeoutMs?: number;
}

export interface AnalyzeResult {
  inventory: PackageInventory;
  warnings: string[];
}

const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;
const MAX_PACKAGES = 100_000;
const MAX_LOCATIONS = 64;

interface LanguageSpec {
  id: 'npm' | 'python' | 'go' | 'java';
  scopes: WalkScope[];
  /** Glob-like patterns for inventoryPaths(), derived from the scopes. */
  patterns: (s: WalkScope) => string[];
  /** Path test, before the file is stat'ed. */
  nameMatch: (rel: string) => boolean;
  /** Test on the stat'ed file (default: accept). */
  statMatch?: (f: WalkedFile) => boolean;
}

const s = (dir: string, depth: number): WalkScope => ({ dir, depth });
const APP_DIRS = [
  'app',
  'apps',
  'application',
  'code',
  'src',
  'srv',
  'opt',
  'home',
  'root',
  'workspace',
  'var/www',
];
const glob = (sc: WalkScope, tail: string) => (sc.dir === '' ? `/${tail}` : `/${sc.dir}/${tail}`);

const SPECS: LanguageSpec[] = [
  {
    id: 'npm',
    scopes: [
      s('usr/lib/node_modules', 40),
      s('usr/local/lib/node_modules', 40),
      s('usr/src', 40),
      ...APP_DIRS.map((d) => s(d, 40)),
    ],
    patterns: (sc) => [
      glob(sc, '**/package-lock.json'),
      glob(sc, '**/npm-shrinkwrap.json'),
      glob(sc, '**/node_modules/**/package.json'),
      ...(sc.dir.endsWith('node_modules') ? [glob(sc, '**/package.json')] : []),
    ],
    nameMatch: (rel) => isLockfile(rel) || isInstalledPackageJson(rel),
  },
  {
    id: 'python',
    scopes: [s('usr/lib', 4), s('usr/lib64', 4), s('usr/local/lib', 4), ...APP_DIRS.map((d) => s(d, 10))],
    patterns: (sc) => [
      glob(sc, '**/{site,dist}-packages/*.dist-info/METADATA'),
      glob(sc, '**/{site,dist}-packages/*.egg-info/PKG-INFO'),
      glob(sc, '**/{site,dist}-packages/*.egg-info'),
    ],
    nameMatch: isPythonMetadata,
  },
  {
    id: 'go',
    scopes: [
      s('', 0),
      ...[
        'bin',
        'sbin',
        'usr/bin',
        'usr/sbin',
        'usr/local/bin',
        'usr/local/sbin',
        'usr/local/go/bin',
        'go/bin',
      ].map((d) => s(d, 0)),
      s('usr/libexec', 3),
      s('usr/local/libexec', 3),
      s('ko-app', 2),
      ...APP_DIRS.map((d) => s(d, 6)),
    ],
    patterns: (sc) => [glob(sc, sc.depth === 0 ? '*' : '**')],
    nameMatch: () => true,
    statMatch: (f) => (f.mode & 0o111) !== 0 && f.size >= 1024,
  },
  {
    id: 'java',
    scopes: [
      s('usr/share', 6),
      s('usr/lib', 6),
      s('usr/local', 10),
      s('var/lib', 6),
      ...APP_DIRS.map((d) => s(d, 12)),
    ],
    patterns: (sc) => [glob(sc, '**/*.{jar,war,ear,hpi,jpi}')],
    nameMatch: isJavaArchive,
  },
];

/**
 * Glob-like patterns ('*' one path segment, '**' any depth, '{a,b}' alternatives; absolute from the
 * image root) of every file the analyzers may read. Go binaries are the executable ELF files among
 * the '*'/'**' matches of their directories; symlinks in these paths must be copied as symlinks.
 */
export function inventoryPaths(): string[] {
  const out = [...OS_PATHS, ...DPKG_PATHS, ...APK_PATHS, ...RPM_PATHS];
  for (const spec of SPECS) for (const sc of spec.scopes) out.push(...spec.patterns(sc));
  return [...new Set(out)];
}

function mergeInto(map: Map<string, InstalledPackage>, pkgs: InstalledPackage[]): void {
  for (const p of pkgs) {
    const key = `${p.ecosystem}\u0000${p.purl}`;
    const prev = map.get(key);
    if (!prev) {
      map.set(key, { ...p, locations: [...p.locations] });
      continue;
    }
    for (const l of p.locations) {
      if (prev.locations.length >= MAX_LOCATIONS) break;
      if (!prev.locations.includes(l)) prev.locations.push(l);
    }
  }
}

async function readSmall(f: WalkedFile, max: number): Promise<Buffer> {
  if (f.size > max) throw new FileTooLargeError(f.rel, f.size, max);
  return readFile(f.host);
}

async function analyzeLanguageFile(
  spec: LanguageSpec['id'],
  f: WalkedFile,
  ctx: AnalyzerContext,
): Promise<InstalledPackage[]> {
  switch (spec) {
    case 'npm': {
      const doc = JSON.parse((await readSmall(f, ctx.maxFileBytes)).toString('utf8')) as unknown;
      if (isLockfile(f.rel)) return parsePackageLock(doc).map((r) => npmPackage(r, f.rel));
      const rec = parseInstalledPackageJson(doc);
      return rec ? [npmPackage(rec, f.rel)] : [];
    }
    case 'python': {
      const rec = parsePythonMetadata((await readSmall(f, ctx.maxFileBytes)).toString('utf8'));
      if (!rec) {
        ctx.warn(`${f.rel}: no Name/Version in metadata`);
        return [];
      }
      return [pythonPackage(rec, f.rel)];
    }
    case 'go': {
      if (f.size > ctx.maxFileBytes) throw new FileTooLargeError(f.rel, f.size, ctx.maxFileBytes);
      const src = openFileSource(f.host);
      try {
        const bi = readGoBuildInfoStrings(src, {
          maxScanBytes: Math.min(ctx.maxFileBytes, 64 * 1024 * 1024),
        });
        if (!bi) return [];
        return goPackages(parseModinfo(bi.version, bi.modinfo), f.rel);
      } finally {
        src.close();
      }
    }
    case 'java': {
      if (f.size > ctx.maxFileBytes) throw new FileTooLargeError(f.rel, f.size, ctx.maxFileBytes);
      const src = openFileSource(f.host);
      try {
        const r = readJar(src, f.rel, { maxEntryBytes: Math.min(ctx.maxFileBytes, 512 * 1024 * 1024) });
        for (const w of r.warnings) ctx.warn(w);
        return r.records.map(({ rec, location }) => mavenPackage(rec, location));
      } finally {
        src.close();
      }
    }
  }
}

const FIXED_PATHS = new Set([...OS_PATHS, ...APK_PATHS, ...RPM_PATHS, '/var/lib/dpkg/status']);

/**
 * Whether an analyzer may read the file at `path` (relative to the image root) with this mode and
 * size: the same rules the analyzers walk with, so an image can be unpacked selectively.
 */
export function isInventoryPath(path: string, mode: number, size: number): boolean {
  const rel = `/${path.replace(/^\/+/, '')}`;
  if (FIXED_PATHS.has(rel) || rel.startsWith('/var/lib/dpkg/status.d/')) return true;
  return SPECS.some(
    (spec) =>
      spec.nameMatch(rel) &&
      spec.scopes.some((sc) => inScope(rel, sc)) &&
      (!spec.statMatch || spec.statMatch({ rel, host: '', size, mode })),
  );
}

/** Inventory plus the warnings collected on the way (unreadable or oversized files, corrupt records). */
export async function analyzeRootfsWithWarnings(
  rootDir: string,
  options: AnalyzeOptions = {},
): Promise<AnalyzeResult> {
  const warnings: string[] = [];
  const os: OsInfo | null = await detectOs(rootDir);
  const ctx: AnalyzerContext = {
    rootDir,
    os,
    maxFileBytes: options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    deadline: Date.now() + (options.walkTimeoutMs ?? 120_000),
    warn: (m) => {
      if (warnings.length < 1000) warnings.push(m);
    },
  };
  const merged = new Map<string, InstalledPackage>();
  for (const analyzer of [analyzeDpkg, analyzeApk, analyzeRpm]) {
    try {
      mergeInto(merged, await analyzer(ctx));
    } catch (e) {
      ctx.warn(`${analyzer.name}: ${errorMessage(e)}`);
    }
  }

  // One bounded walk over the union of the language analyzers' scopes, then dispatch per file.
  const resolved = await Promise.all(
    SPECS.map(async (spec) => ({ spec, scopes: await resolveScopes(rootDir, spec.scopes) })),
  );
  const queues = new Map<LanguageSpec['id'], WalkedFile[]>(SPECS.map((sp) => [sp.id, []]));
  const wants = (rel: string) =>
    resolved.filter((r) => r.spec.nameMatch(rel) && r.scopes.some((sc) => inScope(rel, sc)));
  const { truncated } = await walkScopes(
    rootDir,
    resolved.flatMap((r) => r.scopes),
    { maxEntries: options.maxWalkEntries ?? 1_000_000, deadline: ctx.deadline },
    (f) => {
      for (const r of wants(f.rel))
        if (!r.spec.statMatch || r.spec.statMatch(f)) queues.get(r.spec.id)?.push(f);
    },
    (rel) => wants(rel).length > 0,
  );
  if (truncated) ctx.warn(`language package walk incomplete: ${truncated}`);
  for (const spec of SPECS) {
    for (const f of queues.get(spec.id) ?? []) {
      try {
        mergeInto(merged, await analyzeLanguageFile(spec.id, f, ctx));
      } catch (e) {
        ctx.warn(`${f.rel}: ${errorMessage(e)}`);
      }
    }
  }

  let packages = [...merged.values()];
  if (packages.length > MAX_PACKAGES) {
    ctx.warn(`${packages.length} packages found; only the first ${MAX_PACKAGES} are reported`);
    packages = packages.slice(0, MAX_PACKAGES);
  }
  return { inventory: { os, packages }, warnings };
}

export async function analyzeRootfs(
  rootDir: string,
  options: AnalyzeOptions = {},
): Promise<PackageInventory> {
  return (await analyzeRootfsWithWarnings(rootDir, options)).inventory;
}

export { parseApkInstalled } from './apk.js';
export { parseDpkgStatus } from './dpkg.js';
export { goPackages, parseModinfo, readGoBuildInfoStrings } from './golang.js';
export { readJar } from './java.js';
export { parsePackageLock } from './npm.js';
export { normalizePypiName, parsePythonMetadata } from './python.js';
export { rpmRecordFromHeader } from './rpmheader.js';
