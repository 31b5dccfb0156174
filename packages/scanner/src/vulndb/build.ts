import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type Ecosystem, Ecosystem as EcosystemSchema } from '@palisade/protocol';
import { comparatorFor } from './compare.js';
import { severityFromScore } from './cvss.js';
import { parseAlpineSecdb } from './feeds/alpine.js';
import { FeedCollector, isCve } from './feeds/common.js';
import { parseDebianList } from './feeds/debian.js';
import { parseOsvText } from './feeds/osv.js';
import { parseRustsecAdvisory } from './feeds/rustsec.js';
import type {
  Advisory,
  Cvss,
  DbManifest,
  DbSection,
  FeedParseResult,
  FeedRecord,
  SourceManifest,
  VulnDb,
} from './model.js';
import { sectionKey } from './model.js';
import { normalizePackageName } from './names.js';

/** Licences as recorded in shared/SOURCES.md (the feeds' own repositories). */
const LICENCES: Record<string, string> = {
  'alpine-secdb': 'unknown: no licence file in alpinelinux/alpine-secdb',
  'debian-dsa': 'unknown: no licence file in the security-tracker copy (CVEDB/security-tracker)',
  'debian-dla': 'unknown: no licence file in the security-tracker copy (CVEDB/security-tracker)',
  'osv-pypi': 'CC-BY-4.0',
  'osv-go': 'CC-BY-4.0',
  rustsec: 'CC0-1.0 (advisories imported from GitHub Security Advisories: CC-BY-4.0)',
};

interface FeedSpec {
  name: string;
  /** Path relative to the vulndata folder. */
  path: string;
  read: (dir: string) => Promise<FeedParseResult>;
}

async function listFiles(dir: string, suffix: string, recursive = false): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Reads files with bounded parallelism, in sorted order of results. */
async function readAll(files: string[], limit = 64): Promise<string[]> {
  const out = new Array<string>(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      out[i] = await readFile(files[i] as string, 'utf8');
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, files.length) }, worker));
  return out;
}

const FEEDS: FeedSpec[] = [
  {
    name: 'alpine-secdb',
    path: 'alpine-secdb',
    read: async (dir) => {
      const out = new FeedCollector();
      const releases = (await readdir(dir)).filter((d) => /^v\d+\.\d+$/.test(d)).sort();
      for (const rel of releases) {
        for (const repo of ['main.yaml', 'community.yaml']) {
          const file = join(dir, rel, repo);
          if (!existsSync(file)) continue;
          out.merge(parseAlpineSecdb(await readFile(file, 'utf8'), `${rel}/${repo}`, rel));
        }
      }
      return out.result();
    },
  },
  {
    name: 'debian-dsa',
    path: 'debian-security-tracker/DSA.list',
    read: async (file) => parseDebianList(await readFile(file, 'utf8'), 'debian-dsa', 'DSA.list'),
  },
  {
    name: 'debian-dla',
    path: 'debian-security-tracker/DLA.list',
    read: async (file) => parseDebianList(await readFile(file, 'utf8'), 'debian-dla', 'DLA.list'),
  },
  {
    name: 'osv-pypi',
    path: 'osv/PyPI',
    read: async (dir) => readOsvDir(dir, '.yaml', 'osv-pypi'),
  },
  {
    name: 'osv-go',
    path: 'osv/Go',
    read: async (dir) => readOsvDir(dir, '.json', 'osv-go'),
  },
  {
    name: 'rustsec',
    path: 'osv/crates.io',
    read: async (dir) => {
      const files = await listFiles(dir, '.md', true);
      const texts = await readAll(files);
      const out = new FeedCollector();
      const compare = comparatorFor('crates.io');
      files.forEach((f, i) => {
        parseRustsecAdvisory(texts[i] as string, relative(dir, f), compare, out);
      });
      return out.result();
    },
  },
];

async function readOsvDir(dir: string, ext: '.json' | '.yaml', source: string): Promise<FeedParseResult> {
  const files = await listFiles(dir, ext);
  const texts = await readAll(files);
  const out = new FeedCollector();
  const compareFor = (e: Ecosystem) => comparatorFor(e);
  files.forEach((f, i) => {
    parseOsvText(
      texts[i] as string,
      ext === '.json' ? 'json' : 'yaml',
      relative(dir, f),
      { source, compareFor },
      out,
    );
  });
  return out.result();
}

export interface BuildOptions {
  now?: Date;
  /** Only these feeds (by manifest name); all by default. */
  feeds?: string[];
}

/**
 * Builds the DB from the raw feeds under `vulndataDir` (the shared `vulndata/` folder). A missing feed
 * is recorded in the manifest with 0 units and a reason, not fatal; a malformed record is skipped and counted.
 */
export async function buildDb(vulndataDir: string, opts: BuildOptions = {}): Promise<VulnDb> {
  const sources: SourceManifest[] = [];
  const all: FeedRecord[] = [];
  for (const feed of FEEDS) {
    if (opts.feeds && !opts.feeds.includes(feed.name)) continue;
    const path = join(vulndataDir, feed.path);
    const manifest: SourceManifest = {
      name: feed.name,
      path: feed.path,
      licence: LICENCES[feed.name] ?? 'unknown',
      units: 0,
      records: 0,
      skipped: 0,
      ignored: 0,
      skippedReasons: [],
    };
    if (!existsSync(path)) {
      manifest.skippedReasons.push(`${feed.path}: not found`);
      sources.push(manifest);
      continue;
    }
    const result = await feed.read(path);
    Object.assign(manifest, {
      units: result.units,
      records: result.records.length,
      skipped: result.skipped,
      ignored: result.ignored,
      skippedReasons: result.skippedReasons,
    });
    sources.push(manifest);
    for (const r of result.records) all.push(r);
  }
  return assembleDb(all, sources, opts.now ?? new Date());
}

/** Advisory CVSS borrowed from another record naming the same CVE (distro feeds carry no scores). */
function enrichCvss(records: FeedRecord[]): void {
  const byCve = new Map<string, { cvss: Cvss; from: string }>();
  for (const { advisory: a } of records) {
    if (!a.cvss || a.cvss.score === null) continue;
    for (const id of [a.id, ...a.aliases]) {
      if (!isCve(id)) continue;
      const have = byCve.get(id);
      if (!have || (have.cvss.version < a.cvss.version && a.cvss.version !== '4.0'))
        byCve.set(id, { cvss: a.cvss, from: a.id });
    }
  }
  for (const { advisory: a } of records) {
    if (a.cvss) continue;
    const hit = [a.id, ...a.aliases].map((id) => byCve.get(id)).find((x) => x !== undefined);
    if (!hit) continue;
    a.cvss = hit.cvss;
    a.cvssFrom = hit.from;
    a.severity = severityFromScore(hit.cvss.score, hit.cvss.version);
  }
}

function advisoryOrder(a: Advisory, b: Advisory): number {
  return (
    a.id.localeCompare(b.id) || a.source.localeCompare(b.source) || (a.ref ?? '').localeCompare(b.ref ?? '')
  );
}

/** Groups normalized records into sections (exact duplicate records dropped) and writes the manifest counts. */
export function assembleDb(records: FeedRecord[], sources: SourceManifest[], now: Date): VulnDb {
  enrichCvss(records);
  const sections = new Map<string, DbSection>();
  const seen = new Set<string>();
  for (const r of records) {
    const key = sectionKey(r.ecosystem, r.release);
    let section = sections.get(key);
    if (!section) {
      section = { ecosystem: r.ecosystem, release: r.release, packages: new Map() };
      sections.set(key, section);
    }
    const name = normalizePackageName(r.ecosystem, r.package);
    const dedupKey = `${key}\u0000${name}\u0000${JSON.stringify(r.advisory)}`;
    if (seen.has(dedupKey)) continue;
    seen.add(dedupKey);
    const list = section.packages.get(name);
    if (list) list.push(r.advisory);
    else section.packages.set(name, [r.advisory]);
  }
  // Deterministic order: sections by key, packages by name, advisories by id/source/ref.
  const sorted = new Map(
    [...sections.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, s]) => {
        const pkgs = new Map(
          [...s.packages.entries()]
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([n, l]) => [n, l.sort(advisoryOrder)]),
        );
        return [k, { ...s, packages: pkgs }] as const;
      }),
  );
  return { manifest: manifestFor(sorted, sources, now.toISOString()), sections: sorted };
}

function manifestFor(
  sections: Map<string, DbSection>,
  sources: SourceManifest[],
  builtAt: string,
): DbManifest {
  let packages = 0;
  let advisories = 0;
  const byEcosystem: Partial<Record<Ecosystem, number>> = {};
  for (const s of sections.values()) {
    packages += s.packages.size;
    for (const list of s.packages.values()) {
      advisories += list.length;
      byEcosystem[s.ecosystem] = (byEcosystem[s.ecosystem] ?? 0) + list.length;
    }
  }
  return {
    format: 'palisade-vulndb',
    formatVersion: 1,
    builtAt,
    sources,
    counts: { sections: sections.size, packages, advisories, byEcosystem },
  };
}

// ---------------------------------------------------------------------------------------------
// Serialized form:
//   magic "PVULNDB1" (8 bytes) | header length (uint32 BE) | header JSON (UTF-8) |
//   section blobs (each gzip(JSON)) | SHA-256 of everything before it (32 bytes)
// header = { format, formatVersion, manifest, sections: [{ ecosystem, release, offset, length, sha256 }] }
// offsets are relative to the first byte after the header. A section blob is
//   { ecosystem, release, packages: [[name, Advisory[]], ...] }.
// ---------------------------------------------------------------------------------------------

const MAGIC = Buffer.from('PVULNDB1', 'ascii');
const HASH_LEN = 32;

export class VulnDbFormatError extends Error {
  override name = 'VulnDbFormatError';
}

interface SectionIndex {
  ecosystem: Ecosystem;
  release: string;
  offset: number;
  length: number;
  sha256: string;
}

export function serializeDb(db: VulnDb): Buffer {
  const blobs: Buffer[] = [];
  const index: SectionIndex[] = [];
  let offset = 0;
  for (const s of db.sections.values()) {
    const json = JSON.stringify({
      ecosystem: s.ecosystem,
      release: s.release,
      packages: [...s.packages.entries()],
    });
    const blob = gzipSync(Buffer.from(json, 'utf8'), { level: 9 });
    index.push({
      ecosystem: s.ecosystem,
      release: s.release,
      offset,
      length: blob.length,
      sha256: createHash('sha256').update(blob).digest('hex'),
    });
    blobs.push(blob);
    offset += blob.length;
  }
  const header = Buffer.from(
    JSON.stringify({ format: 'palisade-vulndb', formatVersion: 1, manifest: db.manifest, sections: index }),
    'utf8',
  );
  const len = Buffer.alloc(4);
  len.writeUInt32BE(header.length);
  const body = Buffer.concat([MAGIC, len, header, ...blobs]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

function fail(msg: string): never {
  throw new VulnDbFormatError(`vulnerability DB is corrupt or not a Palisade DB: ${msg}`);
}

export function deserializeDb(buf: Uint8Array): VulnDb {
  const data = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (data.length < MAGIC.length + 4 + HASH_LEN) fail(`only ${data.length} bytes`);
  if (!data.subarray(0, MAGIC.length).equals(MAGIC)) fail('bad magic (expected "PVULNDB1")');
  const body = data.subarray(0, data.length - HASH_LEN);
  const digest = createHash('sha256').update(body).digest();
  if (!digest.equals(data.subarray(data.length - HASH_LEN)))
    fail('checksum mismatch (truncated or modified)');
  const headerLen = data.readUInt32BE(MAGIC.length);
  const headerStart = MAGIC.length + 4;
  const blobsStart = headerStart + headerLen;
  if (blobsStart > body.length) fail('header length beyond end of data');
  let header: { format?: unknown; formatVersion?: unknown; manifest?: DbManifest; sections?: SectionIndex[] };
  try {
    header = JSON.parse(body.subarray(headerStart, blobsStart).toString('utf8'));
  } catch (err) {
    return fail(`header is not JSON (${(err as Error).message})`);
  }
  if (header.format !== 'palisade-vulndb') fail(`format ${JSON.stringify(header.format)}`);
  if (header.formatVersion !== 1) fail(`unsupported format version ${JSON.stringify(header.formatVersion)}`);
  if (!header.manifest || !Array.isArray(header.sections)) fail('header without manifest or sections');
  const sections = new Map<string, DbSection>();
  for (const idx of header.sections) {
    if (!EcosystemSchema.safeParse(idx.ecosystem).success)
      fail(`unknown ecosystem ${JSON.stringify(idx.ecosystem)}`);
    const start = blobsStart + idx.offset;
    const end = start + idx.length;
    if (!Number.isInteger(idx.offset) || !Number.isInteger(idx.length) || idx.offset < 0 || end > body.length)
      fail(`section ${idx.ecosystem}/${idx.release} out of bounds`);
    const blob = body.subarray(start, end);
    if (createHash('sha256').update(blob).digest('hex') !== idx.sha256)
      fail(`section ${idx.ecosystem}/${idx.release} checksum mismatch`);
    let parsed: { packages?: [string, Advisory[]][] };
    try {
      parsed = JSON.parse(gunzipSync(blob).toString('utf8'));
    } catch (err) {
      return fail(`section ${idx.ecosystem}/${idx.release}: ${(err as Error).message}`);
    }
    if (!Array.isArray(parsed.packages)) fail(`section ${idx.ecosystem}/${idx.release} without packages`);
    for (const entry of parsed.packages) {
      // Shape only (the content is covered by the checksums and, in a bundle, the signature).
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1]))
        fail(`section ${idx.ecosystem}/${idx.release}: malformed package entry`);
      for (const a of entry[1] as Advisory[])
        if (typeof a?.id !== 'string' || !Array.isArray(a.ranges) || typeof a.source !== 'string')
          fail(`section ${idx.ecosystem}/${idx.release}: malformed advisory for ${entry[0]}`);
    }
    sections.set(sectionKey(idx.ecosystem, idx.release), {
      ecosystem: idx.ecosystem,
      release: idx.release,
      packages: new Map(parsed.packages),
    });
  }
  return { manifest: header.manifest as DbManifest, sections };
}
