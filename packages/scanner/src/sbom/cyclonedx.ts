import type { InstalledPackage, OsInfo, PackageInventory } from '@palisade/protocol';
import { utcSeconds, uuid } from './ids.js';
import { imageName, imagePurl, parseReference } from './image.js';
import { analyseLicenses, formatLicenseExpression, type LicenseNode } from './license.js';
import { compareText, sortPackages } from './order.js';
import type { Finding, FindingSeverity, ImageRef, SbomTool } from './types.js';

export interface CdxProperty {
  name: string;
  value: string;
}

export type CdxLicenseChoice = { license: { id: string } | { name: string } }[] | [{ expression: string }];

export interface CdxComponent {
  type: 'container' | 'operating-system' | 'library';
  'bom-ref': string;
  name: string;
  version?: string;
  description?: string;
  purl?: string;
  licenses?: CdxLicenseChoice;
  evidence?: { occurrences: { location: string }[] };
  properties?: CdxProperty[];
}

export interface CdxSource {
  name: string;
  url?: string;
}

export interface CdxRating {
  source: CdxSource;
  score?: number;
  severity: 'critical' | 'high' | 'medium' | 'low' | 'info' | 'none' | 'unknown';
  method?: 'CVSSv2' | 'CVSSv3' | 'CVSSv31' | 'CVSSv4' | 'other';
  vector?: string;
}

export interface CdxVulnerability {
  id: string;
  source: CdxSource;
  references?: { id: string; source: CdxSource }[];
  ratings: CdxRating[];
  recommendation?: string;
  affects: { ref: string; versions: { version: string; status: 'affected' }[] }[];
}

export interface CycloneDxBom {
  $schema: string;
  bomFormat: 'CycloneDX';
  specVersion: '1.5' | '1.6';
  serialNumber: string;
  version: 1;
  metadata: {
    timestamp: string;
    tools: { components: { type: 'application'; name: string; version: string }[] };
    component: CdxComponent;
  };
  components: CdxComponent[];
  dependencies: { ref: string; dependsOn: string[] }[];
  vulnerabilities?: CdxVulnerability[];
}

export interface ToCycloneDxInput {
  image: ImageRef;
  inventory: PackageInventory;
  findings?: Finding[];
  tool: SbomTool;
  /** Defaults to now. */
  created?: Date;
  specVersion: '1.5' | '1.6';
  /** `urn:uuid:…`; a random one when absent. */
  serialNumber?: string;
}

const PROPERTY_PREFIX = 'palisade';

/**
 * CycloneDX `licenses` for one package, never empty (an empty array matches both branches of the
 * schema's `oneOf`). Plain listed ids become `license.id`; a valid compound becomes the single allowed
 * `expression`; when any entry is not a valid expression every entry is listed on its own, by `id`
 * where it is a plain listed id and by `name` (the raw text) otherwise.
 */
function cdxLicenses(licenses: readonly string[] | undefined): CdxLicenseChoice | undefined {
  const declared = analyseLicenses(licenses);
  if (declared.raw.length === 0) return undefined;
  const plainId = (node: LicenseNode | null) => (node?.kind === 'license' && !node.plus ? node.id : null);
  if (declared.expression) {
    const ids = declared.parsed.map(plainId);
    if (ids.every((id) => id !== null)) {
      return [...new Set(ids as string[])].map((id) => ({ license: { id } }));
    }
    return [{ expression: formatLicenseExpression(declared.expression) }];
  }
  const seen = new Set<string>();
  const choice: { license: { id: string } | { name: string } }[] = [];
  declared.raw.forEach((text, i) => {
    const id = plainId(declared.parsed[i] ?? null);
    const key = id ? `id:${id}` : `name:${text}`;
    if (seen.has(key)) return;
    seen.add(key);
    choice.push({ license: id ? { id } : { name: text } });
  });
  return choice;
}

function properties(entries: [string, string | undefined][]): CdxProperty[] | undefined {
  const list = entries
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    .map(([name, value]) => ({ name: `${PROPERTY_PREFIX}:${name}`, value }));
  return list.length > 0 ? list : undefined;
}

function imageComponent(image: ImageRef): CdxComponent {
  const purl = imagePurl(image);
  const ref = parseReference(image.reference);
  return {
    type: 'container',
    'bom-ref': purl,
    name: imageName(image),
    ...(image.digest ? { version: image.digest } : {}),
    purl,
    properties: properties([
      ['image:reference', image.reference],
      ['image:tag', ref.tag],
      ['image:os', image.os],
      ['image:architecture', image.architecture],
    ]),
  };
}

function osComponent(os: OsInfo, taken: Set<string>): CdxComponent {
  return {
    type: 'operating-system',
    'bom-ref': uniqueRef(`os:${os.id}@${os.versionId}`, taken),
    name: os.id,
    version: os.versionId,
    description: os.name,
    properties: properties([
      ['os:family', os.family],
      ['os:codename', os.codename],
    ]),
  };
}

/** `base`, or `base#2`, `base#3`… when the same package (same purl) was found more than once. */
function uniqueRef(base: string, taken: Set<string>): string {
  let ref = base;
  for (let n = 2; taken.has(ref); n++) ref = `${base}#${n}`;
  taken.add(ref);
  return ref;
}

function packageComponent(pkg: InstalledPackage, taken: Set<string>): CdxComponent {
  const licenses = cdxLicenses(pkg.licenses);
  const props = properties([
    ['package:ecosystem', pkg.ecosystem],
    ['package:sourceName', pkg.sourceName],
    ['package:sourceVersion', pkg.sourceVersion],
    ['package:arch', pkg.arch],
  ]);
  return {
    type: 'library',
    'bom-ref': uniqueRef(pkg.purl || `${pkg.ecosystem}:${pkg.name}@${pkg.version}`, taken),
    name: pkg.name,
    version: pkg.version,
    ...(pkg.purl ? { purl: pkg.purl } : {}),
    ...(licenses ? { licenses } : {}),
    ...(pkg.locations.length > 0
      ? { evidence: { occurrences: pkg.locations.map((location) => ({ location })) } }
      : {}),
    ...(props ? { properties: props } : {}),
  };
}

const SEVERITY: Record<FindingSeverity, CdxRating['severity']> = {
  critical: 'critical',
  high: 'high',
  medium: 'medium',
  low: 'low',
  // Debian "unimportant" / "negligible": a real issue not worth acting on, which CycloneDX calls info.
  negligible: 'info',
  unknown: 'unknown',
};

/** The CVSS version from a vector string (`CVSS:3.1/…`, `CVSS:3.0/…`, `CVSS:4.0/…`, bare v2). */
export function cvssMethod(vector: string): NonNullable<CdxRating['method']> {
  if (vector.startsWith('CVSS:3.1/')) return 'CVSSv31';
  if (vector.startsWith('CVSS:3.0/')) return 'CVSSv3';
  if (vector.startsWith('CVSS:4.0/')) return 'CVSSv4';
  if (/^\(?(CVSS:2\.0\/)?AV:[LAN]\/AC:[HML]\/Au:[MSN]\//.test(vector)) return 'CVSSv2';
  return 'other';
}

/** Where an alias id is published, from its prefix. */
function aliasSource(id: string): CdxSource {
  if (id.startsWith('CVE-')) return { name: 'NVD', url: `https://nvd.nist.gov/vuln/detail/${id}` };
  if (id.startsWith('GHSA-'))
    return { name: 'GitHub Advisories', url: `https://github.com/advisories/${id}` };
  if (id.startsWith('GO-'))
    return { name: 'Go Vulnerability Database', url: `https://pkg.go.dev/vuln/${id}` };
  return { name: id.includes('-') ? id.slice(0, id.indexOf('-')) : id };
}

function ratingKey(rating: CdxRating): string {
  return [
    rating.source.name,
    rating.method ?? '',
    rating.score ?? '',
    rating.severity,
    rating.vector ?? '',
  ].join('\u0000');
}

/**
 * One CycloneDX vulnerability per (id, source), affecting every component it was found in. Throws
 * when a finding names a package that is not in the inventory: the refs must resolve, and findings
 * come from the same inventory, so a miss is a bug upstream rather than something to paper over.
 */
function vulnerabilities(
  findings: readonly Finding[],
  packages: readonly { pkg: InstalledPackage; ref: string }[],
): CdxVulnerability[] {
  const byPurl = new Map<string, string[]>();
  const byCoordinates = new Map<string, string[]>();
  const push = (map: Map<string, string[]>, key: string, ref: string) =>
    map.set(key, [...(map.get(key) ?? []), ref]);
  for (const { pkg, ref } of packages) {
    if (pkg.purl) push(byPurl, pkg.purl, ref);
    push(byCoordinates, [pkg.ecosystem, pkg.name, pkg.version].join('\u0000'), ref);
  }

  const groups = new Map<string, Finding[]>();
  for (const finding of findings) {
    const key = `${finding.vulnerabilityId}\u0000${finding.source}`;
    groups.set(key, [...(groups.get(key) ?? []), finding]);
  }

  const result: CdxVulnerability[] = [];
  for (const group of groups.values()) {
    const first = group[0];
    if (!first) continue;
    const affects = new Map<string, { name: string; version: string; fixed: string | null }>();
    const ratings = new Map<string, CdxRating>();
    const aliases = new Set<string>();
    for (const finding of group) {
      const { name, version, ecosystem, purl } = finding.package;
      const refs =
        (purl ? byPurl.get(purl) : undefined) ?? byCoordinates.get([ecosystem, name, version].join('\u0000'));
      if (!refs) {
        throw new Error(
          `finding ${finding.vulnerabilityId} names a package not in the inventory: ${purl || `${ecosystem}:${name}@${version}`}`,
        );
      }
      for (const ref of refs) affects.set(ref, { name, version, fixed: finding.fixedVersion });
      const rating: CdxRating = {
        source: { name: finding.source },
        ...(finding.cvss && Number.isFinite(finding.cvss.score) ? { score: finding.cvss.score } : {}),
        severity: SEVERITY[finding.severity],
        ...(finding.cvss ? { method: cvssMethod(finding.cvss.vector), vector: finding.cvss.vector } : {}),
      };
      ratings.set(ratingKey(rating), rating);
      for (const alias of finding.aliases) if (alias !== finding.vulnerabilityId) aliases.add(alias);
    }

    const affected = [...affects.entries()].sort(([a], [b]) => compareText(a, b));
    const fixes = affected.filter(([, a]) => a.fixed !== null);
    const distinctFixes = new Set(fixes.map(([, a]) => a.fixed));
    let recommendation: string | undefined;
    if (fixes.length > 0 && fixes.length === affected.length && distinctFixes.size === 1) {
      recommendation = `Upgrade to ${fixes[0]?.[1].fixed}`;
    } else if (fixes.length > 0) {
      const names = new Map(fixes.map(([, a]) => [a.name, a.fixed]));
      recommendation = [...names].map(([name, fixed]) => `Upgrade ${name} to ${fixed}`).join('; ');
    }

    result.push({
      id: first.vulnerabilityId,
      source: { name: first.source },
      ...(aliases.size > 0
        ? {
            references: [...aliases].sort(compareText).map((id) => ({ id, source: aliasSource(id) })),
          }
        : {}),
      ratings: [...ratings.entries()].sort(([a], [b]) => compareText(a, b)).map(([, rating]) => rating),
      ...(recommendation ? { recommendation } : {}),
      affects: affected.map(([ref, a]) => ({
        ref,
        versions: [{ version: a.version, status: 'affected' as const }],
      })),
    });
  }
  return result.sort((a, b) => compareText(a.id, b.id) || compareText(a.source.name, b.source.name));
}

/**
 * A CycloneDX 1.5 or 1.6 JSON BOM for an image: the image as `metadata.component` (container), its
 * operating system and installed packages as components, a dependency graph in which the image depends
 * on everything in it, and the findings as `vulnerabilities`. Deterministic apart from `serialNumber`
 * (when not given) and `timestamp` (when no date is given).
 */
export function toCycloneDx(input: ToCycloneDxInput): CycloneDxBom {
  const { image, inventory, tool, specVersion } = input;
  const root = imageComponent(image);
  const taken = new Set<string>([root['bom-ref']]);
  const components: CdxComponent[] = [];
  if (inventory.os) components.push(osComponent(inventory.os, taken));
  const packages = sortPackages(inventory.packages).map((pkg) => {
    const component = packageComponent(pkg, taken);
    components.push(component);
    return { pkg, ref: component['bom-ref'] };
  });

  const serialNumber = input.serialNumber ?? `urn:uuid:${uuid()}`;
  if (!/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(serialNumber)) {
    throw new Error(`serialNumber must be a lower-case urn:uuid, got ${serialNumber}`);
  }
  const vulns = input.findings && input.findings.length > 0 ? vulnerabilities(input.findings, packages) : [];
  return {
    $schema: `http://cyclonedx.org/schema/bom-${specVersion}.schema.json`,
    bomFormat: 'CycloneDX',
    specVersion,
    serialNumber,
    version: 1,
    metadata: {
      timestamp: utcSeconds(input.created ?? new Date()),
      tools: { components: [{ type: 'application', name: tool.name, version: tool.version }] },
      component: root,
    },
    components,
    dependencies: [{ ref: root['bom-ref'], dependsOn: components.map((c) => c['bom-ref']) }],
    ...(vulns.length > 0 ? { vulnerabilities: vulns } : {}),
  };
}
