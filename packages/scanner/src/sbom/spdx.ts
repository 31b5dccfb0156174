import type { InstalledPackage, OsInfo, PackageInventory } from '@palisade/protocol';
import { SpdxIdAllocator, utcSeconds, uuid } from './ids.js';
import { imageName, imagePurl } from './image.js';
import { analyseLicenses, formatLicenseExpression } from './license.js';
import { isOsEcosystem, sortPackages } from './order.js';
import type { ImageRef, SbomTool } from './types.js';

export interface SpdxExternalRef {
  referenceCategory: 'PACKAGE-MANAGER' | 'SECURITY' | 'PERSISTENT-ID' | 'OTHER';
  referenceType: string;
  referenceLocator: string;
}

export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  downloadLocation: 'NOASSERTION';
  filesAnalyzed: false;
  licenseConcluded: string;
  licenseDeclared: string;
  licenseComments?: string;
  copyrightText: 'NOASSERTION';
  sourceInfo?: string;
  description?: string;
  comment?: string;
  externalRefs?: SpdxExternalRef[];
  /** SPDX 2.3 JSON spells the purposes with `_` (OPERATING_SYSTEM), tag-value with `-`. */
  primaryPackagePurpose: 'CONTAINER' | 'OPERATING_SYSTEM' | 'LIBRARY' | 'INSTALL';
}

export interface SpdxRelationship {
  spdxElementId: string;
  relationshipType: 'DESCRIBES' | 'CONTAINS';
  relatedSpdxElement: string;
}

export interface SpdxDocument {
  spdxVersion: 'SPDX-2.3';
  dataLicense: 'CC0-1.0';
  SPDXID: 'SPDXRef-DOCUMENT';
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[]; comment?: string };
  packages: SpdxPackage[];
  relationships: SpdxRelationship[];
}

export interface ToSpdxInput {
  image: ImageRef;
  inventory: PackageInventory;
  tool: SbomTool;
  /** Defaults to now. */
  created?: Date;
  /** Makes the document namespace (and nothing else random) reproducible. */
  namespaceSeed?: string;
  /**
   * Base URI of `documentNamespace`; it only has to be unique, never resolvable. The default uses the
   * reserved `.invalid` TLD so that it can never point at somebody else's site.
   */
  namespaceBase?: string;
}

const DEFAULT_NAMESPACE_BASE = 'https://palisade.invalid/spdx';

/** Licence fields for one package: a valid expression, or NOASSERTION plus the raw text as a comment. */
function licenseFields(licenses: readonly string[] | undefined) {
  const declared = analyseLicenses(licenses);
  if (declared.expression) {
    return { licenseDeclared: formatLicenseExpression(declared.expression) };
  }
  if (declared.raw.length === 0) return { licenseDeclared: 'NOASSERTION' };
  const quoted = declared.raw.map((text) => JSON.stringify(text)).join(', ');
  return {
    licenseDeclared: 'NOASSERTION',
    licenseComments: `Declared licences, not all valid SPDX license expressions: ${quoted}`,
  };
}

function osPackage(os: OsInfo, ids: SpdxIdAllocator): SpdxPackage {
  return {
    SPDXID: ids.allocate('OperatingSystem', os.id, os.versionId),
    name: os.id,
    versionInfo: os.versionId,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    description: os.codename ? `${os.name} (${os.codename})` : os.name,
    primaryPackagePurpose: 'OPERATING_SYSTEM',
  };
}

function installedPackage(pkg: InstalledPackage, ids: SpdxIdAllocator): SpdxPackage {
  const source =
    pkg.sourceName &&
    (pkg.sourceName !== pkg.name || (pkg.sourceVersion && pkg.sourceVersion !== pkg.version))
      ? `built from source package ${pkg.sourceName}${pkg.sourceVersion ? ` ${pkg.sourceVersion}` : ''}`
      : undefined;
  return {
    SPDXID: ids.allocate('Package', pkg.ecosystem, pkg.name, pkg.version),
    name: pkg.name,
    versionInfo: pkg.version,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    ...licenseFields(pkg.licenses),
    copyrightText: 'NOASSERTION',
    ...(source ? { sourceInfo: source } : {}),
    ...(pkg.purl
      ? {
          externalRefs: [
            { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: pkg.purl },
          ],
        }
      : {}),
    primaryPackagePurpose: isOsEcosystem(pkg.ecosystem) ? 'INSTALL' : 'LIBRARY',
  };
}

/**
 * An SPDX 2.3 JSON document for an image: the image (CONTAINER), its operating system
 * (OPERATING_SYSTEM) and every installed package, the document DESCRIBES the image and the image
 * CONTAINS the rest. Output order is deterministic; only `documentNamespace` (without a seed) and
 * `created` (without a date) vary between runs.
 */
export function toSpdx(input: ToSpdxInput): SpdxDocument {
  const { image, inventory, tool } = input;
  const ids = new SpdxIdAllocator();
  ids.allocate('DOCUMENT');
  const name = imageName(image);
  const details = [
    image.os && `os ${image.os}`,
    image.architecture && `architecture ${image.architecture}`,
    `reference ${image.reference}`,
  ].filter(Boolean);

  const imagePackage: SpdxPackage = {
    SPDXID: ids.allocate('Image', name),
    name,
    ...(image.digest ? { versionInfo: image.digest } : {}),
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    comment: `Container image: ${details.join(', ')}`,
    externalRefs: [
      { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: imagePurl(image) },
    ],
    primaryPackagePurpose: 'CONTAINER',
  };
  const contents: SpdxPackage[] = [];
  if (inventory.os) contents.push(osPackage(inventory.os, ids));
  for (const pkg of sortPackages(inventory.packages)) contents.push(installedPackage(pkg, ids));

  const base = (input.namespaceBase ?? DEFAULT_NAMESPACE_BASE).replace(/\/+$/, '');
  const slug = name.replace(/[^A-Za-z0-9._-]+/g, '-');
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: image.reference,
    documentNamespace: `${base}/${slug}-${uuid(input.namespaceSeed)}`,
    creationInfo: {
      created: utcSeconds(input.created ?? new Date()),
      creators: [`Tool: ${tool.name}-${tool.version}`],
    },
    packages: [imagePackage, ...contents],
    relationships: [
      {
        spdxElementId: 'SPDXRef-DOCUMENT',
        relationshipType: 'DESCRIBES',
        relatedSpdxElement: imagePackage.SPDXID,
      },
      ...contents.map((pkg) => ({
        spdxElementId: imagePackage.SPDXID,
        relationshipType: 'CONTAINS' as const,
        relatedSpdxElement: pkg.SPDXID,
      })),
    ],
  };
}
