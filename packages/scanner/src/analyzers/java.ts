/**
 * Java archives (.jar/.war/.ear and Jenkins .hpi/.jpi): Maven coordinates from
 * META-INF/maven/<groupId>/<artifactId>/pom.properties (one package per file, so shaded jars list
 * what they bundle), else the main section of META-INF/MANIFEST.MF. Archives nested one level deep
 * (WEB-INF/lib/*.jar, BOOT-INF/lib/*.jar, ...) are read too; their location is "<outer>!/<inner>".
 */
import type { InstalledPackage } from '@palisade/protocol';
import { type ByteSource, bufferSource } from './fsroot.js';
import { purl } from './purl.js';
import { readZipDirectory, readZipEntry, type ZipEntry } from './zip.js';

export interface MavenRecord {
  groupId?: string;
  artifactId: string;
  version: string;
}

/** java.util.Properties-style "key=value" / "key: value" lines (comments #/!, continuations not needed here). */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m) out.set(m[1] as string, (m[2] as string).trim());
  }
  return out;
}

/** The main section of a manifest: "Name: value" with 1-space continuation lines. */
export function parseManifest(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let last: string | null = null;
  for (const raw of text.split(/\r\n|\n|\r/)) {
    if (raw === '') break;
    if (raw.startsWith(' ') && last !== null) {
      out.set(last, `${out.get(last)}${raw.slice(1)}`);
      continue;
    }
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    last = raw.slice(0, colon).trim();
    out.set(last, raw.slice(colon + 1).replace(/^ /, ''));
  }
  for (const [k, v] of out) out.set(k, v.trim());
  return out;
}

const POM_PROPS = /^META-INF\/maven\/([^/]+)\/([^/]+)\/pom\.properties$/;
const ARCHIVE = /\.(jar|war|ear|hpi|jpi)$/i;

export function isJavaArchive(rel: string): boolean {
  return ARCHIVE.test(rel);
}

export interface JarResult {
  records: Array<{ rec: MavenRecord; location: string }>;
  warnings: string[];
}

export interface JarOptions {
  /** Largest entry (manifest, properties, nested archive) inflated into memory. */
  maxEntryBytes: number;
  /** How many archive levels below this one to open (1 = nested jars, not jars in those). */
  nestedDepth?: number;
}

export function readJar(src: ByteSource, location: string, opts: JarOptions): JarResult {
  const result: JarResult = { records: [], warnings: [] };
  const entries = readZipDirectory(src);
  const text = (e: ZipEntry) =>
    readZipEntry(src, e, Math.min(opts.maxEntryBytes, 4 * 1024 * 1024)).toString('utf8');
  const seen = new Set<string>();
  for (const e of entries) {
    const m = POM_PROPS.exec(e.name);
    if (!m) continue;
    let props: Map<string, string>;
    try {
      props = parseProperties(text(e));
    } catch (err) {
      result.warnings.push(`${location}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    const groupId = props.get('groupId') || (m[1] as string);
    const artifactId = props.get('artifactId') || (m[2] as string);
    const version = props.get('version');
    if (!version) continue;
    const key = `${groupId}:${artifactId}@${version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.records.push({ rec: { groupId, artifactId, version }, location });
  }
  if (result.records.length === 0) {
    const mf = entries.find((e) => e.name === 'META-INF/MANIFEST.MF');
    if (mf) {
      try {
        const h = parseManifest(text(mf));
        const title = h.get('Implementation-Title');
        const version = h.get('Implementation-Version');
        if (title && version) {
          const vendorId = h.get('Implementation-Vendor-Id');
          const rec: MavenRecord = { artifactId: title, version };
          if (vendorId && !/\s/.test(title) && !/\s/.test(vendorId)) rec.groupId = vendorId;
          result.records.push({ rec, location });
        }
      } catch (err) {
        result.warnings.push(`${location}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  const depth = opts.nestedDepth ?? 1;
  if (depth > 0) {
    for (const e of entries) {
      if (!ARCHIVE.test(e.name) || e.name.endsWith('/')) continue;
      const inner = `${location}!/${e.name}`;
      try {
        const buf = readZipEntry(src, e, opts.maxEntryBytes);
        const r = readJar(bufferSource(buf), inner, { ...opts, nestedDepth: depth - 1 });
        result.records.push(...r.records);
        result.warnings.push(...r.warnings);
      } catch (err) {
        result.warnings.push(`${inner}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  return result;
}

export function mavenPackage(rec: MavenRecord, location: string): InstalledPackage {
  const name = rec.groupId ? `${rec.groupId}:${rec.artifactId}` : rec.artifactId;
  return {
    name,
    version: rec.version,
    ecosystem: 'Maven',
    purl: purl('maven', rec.groupId, rec.artifactId, rec.version),
    locations: [location],
  };
}
