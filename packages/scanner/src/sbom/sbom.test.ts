import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InstalledPackage, PackageInventory } from '@palisade/protocol';
import { sharedPath } from '@palisade/testdata';
import { Ajv, type AnySchemaObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CycloneDxBom,
  type Finding,
  type ImageRef,
  type SpdxDocument,
  toCycloneDx,
  toSpdx,
} from './index.js';

// ---------------------------------------------------------------------------------------------------
// Validators over the official schemas in ../shared/schemas.

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));
const schema = (...segments: string[]) => readJson(sharedPath('schemas', ...segments)) as AnySchemaObject;

/**
 * Ajv-formats has no `iri-reference` or `idn-email` (both used by CycloneDX). IRIs are URIs that may
 * also carry non-ASCII characters, so the check only refuses what no IRI reference may contain
 * (whitespace, controls, `<>"{}|\^` and backtick); the e-mail check only wants one `@` with text around it.
 */
function addCycloneDxFormats(ajv: Ajv): void {
  addFormats.default(ajv);
  ajv.addFormat('iri-reference', {
    type: 'string',
    validate: (value: string) =>
      !/[\s<>"{}|\\^`]/u.test(value) && ![...value].some((c) => c.charCodeAt(0) < 0x20),
  });
  ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+$/u);
}

function errorsOf(validate: ValidateFunction): string {
  return JSON.stringify(validate.errors?.slice(0, 5), null, 2);
}

let spdx231: ValidateFunction; // support/2.3.1 schema, draft 2019-09
let spdx23Tag: ValidateFunction; // as released at tag v2.3, draft-07
const cdx: Record<'1.5' | '1.6', ValidateFunction> = {} as never;

beforeAll(() => {
  // Strict mode is off because the official schemas use keywords Ajv does not know (meta:enum, …);
  // it changes nothing about what validates.
  const a2019 = new Ajv2019({ strict: false, allErrors: true });
  addFormats.default(a2019);
  spdx231 = a2019.compile(schema('spdx', 'spdx-schema.json'));
  const a07 = new Ajv({ strict: false, allErrors: true });
  addFormats.default(a07);
  spdx23Tag = a07.compile(schema('spdx', 'spdx-schema.v2.3-tag.json'));

  for (const version of ['1.5', '1.6'] as const) {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addCycloneDxFormats(ajv);
    // bom-*.schema.json reference these two by relative name; their $ids resolve those references.
    ajv.addSchema(schema('cyclonedx', 'spdx.schema.json'));
    ajv.addSchema(schema('cyclonedx', 'jsf-0.82.schema.json'));
    cdx[version] = ajv.compile(schema('cyclonedx', `bom-${version}.schema.json`));
  }
});

describe('validator setup (proved on the official examples before it is trusted)', () => {
  const example = () =>
    readJson(sharedPath('schemas', 'spdx', 'SPDXJSONExample-v2.3.spdx.json')) as Record<string, unknown>;

  it('accepts the official SPDX 2.3 JSON example under both SPDX schemas', () => {
    expect(spdx231(example()), errorsOf(spdx231)).toBe(true);
    expect(spdx23Tag(example()), errorsOf(spdx23Tag)).toBe(true);
  });

  it('rejects the SPDX example once it is broken', () => {
    const noNamespace = example();
    delete noNamespace.documentNamespace; // required in the 2.3.1 schema only
    expect(spdx231(noNamespace)).toBe(false);

    const packages = () => (example().packages as Record<string, unknown>[]).map((p) => ({ ...p }));
    const badPurpose = { ...example(), packages: packages() };
    (badPurpose.packages[0] as Record<string, unknown>).primaryPackagePurpose = 'OPERATING-SYSTEM';
    expect(spdx231(badPurpose)).toBe(false);
    expect(spdx23Tag(badPurpose)).toBe(false);

    const noId = { ...example(), packages: packages() };
    delete (noId.packages[0] as Record<string, unknown>).SPDXID;
    expect(spdx231(noId)).toBe(false);
    expect(spdx23Tag(noId)).toBe(false);
  });

  for (const version of ['1.5', '1.6'] as const) {
    const dir = () => sharedPath('schemas', 'cyclonedx', 'conformance', version);
    const cases = (prefix: string) =>
      readdirSync(dir())
        .filter((name) => name.startsWith(prefix) && name.endsWith('.json'))
        .sort();

    it(`CycloneDX ${version}: accepts every valid-* conformance file`, () => {
      const files = cases('valid-');
      expect(files.length).toBeGreaterThan(30);
      const refused = files.filter((file) => !cdx[version](readJson(join(dir(), file))));
      expect(refused).toEqual([]);
    });

    it(`CycloneDX ${version}: rejects every invalid-* conformance file`, () => {
      const files = cases('invalid-');
      expect(files.length).toBeGreaterThan(20);
      const accepted = files.filter((file) => cdx[version](readJson(join(dir(), file))));
      expect(accepted).toEqual([]);
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// A realistic image: Debian 12 with a Node app, a Go binary and a Java library.

const image: ImageRef = {
  reference: 'ghcr.io/acme/storefront:2.4.1',
  digest: 'sha256:5b0f1a6b9d4e8c3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f',
  os: 'linux',
  architecture: 'amd64',
};
const tool = { name: 'palisade-scanner', version: '0.1.0' };
const created = new Date('2025-03-14T09:26:53.589Z');

const dpkg = ['/var/lib/dpkg/status'];
const deb = (
  name: string,
  version: string,
  licenses: string[],
  source?: [string, string],
): InstalledPackage => ({
  name,
  version,
  ecosystem: 'Debian',
  ...(source ? { sourceName: source[0], sourceVersion: source[1] } : {}),
  arch: 'amd64',
  purl: `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=amd64&distro=debian-12`,
  licenses,
  locations: dpkg,
});

const packages: InstalledPackage[] = [
  deb('bash', '5.2.15-2+b2', ['GPL-3+'], ['bash', '5.2.15-2']),
  deb('libc6', '2.36-9+deb12u4', ['GPL-2', 'LGPL-2.1', 'public-domain'], ['glibc', '2.36-9+deb12u4']),
  deb('libgcc-s1', '12.2.0-14', ['GPL-3.0-or-later WITH GCC-exception-3.1'], ['gcc-12', '12.2.0-14']),
  deb('libssl3', '3.0.11-1~deb12u2', ['Apache-2.0'], ['openssl', '3.0.11-1~deb12u2']),
  deb('openssl', '3.0.11-1~deb12u2', ['Apache-2.0']),
  deb('zlib1g', '1:1.2.13.dfsg-1', ['Zlib'], ['zlib', '1:1.2.13.dfsg-1']),
  {
    name: 'express',
    version: '4.18.2',
    ecosystem: 'npm',
    purl: 'pkg:npm/express@4.18.2',
    licenses: ['MIT'],
    locations: ['/app/node_modules/express/package.json'],
  },
  {
    name: '@babel/runtime',
    version: '7.23.2',
    ecosystem: 'npm',
    purl: 'pkg:npm/%40babel/runtime@7.23.2',
    licenses: ['MIT'],
    locations: ['/app/node_modules/@babel/runtime/package.json'],
  },
  {
    name: 'jszip',
    version: '3.10.1',
    ecosystem: 'npm',
    purl: 'pkg:npm/jszip@3.10.1',
    licenses: ['(MIT OR GPL-3.0-or-later)'],
    locations: ['/app/node_modules/jszip/package.json'],
  },
  {
    name: 'lodash',
    version: '4.17.20',
    ecosystem: 'npm',
    purl: 'pkg:npm/lodash@4.17.20',
    licenses: ['MIT'],
    locations: ['/app/node_modules/lodash/package.json'],
  },
  // The same lodash a second time, nested under another package.
  {
    name: 'lodash',
    version: '4.17.20',
    ecosystem: 'npm',
    purl: 'pkg:npm/lodash@4.17.20',
    licenses: ['MIT'],
    locations: ['/app/node_modules/request-promise/node_modules/lodash/package.json'],
  },
  {
    name: '@acme/internal-sdk',
    version: '2.1.0',
    ecosystem: 'npm',
    purl: 'pkg:npm/%40acme/internal-sdk@2.1.0',
    licenses: ['SEE LICENSE IN LICENSE.md'],
    locations: ['/app/node_modules/@acme/internal-sdk/package.json'],
  },
  {
    name: 'golang.org/x/net',
    version: 'v0.15.0',
    ecosystem: 'Go',
    purl: 'pkg:golang/golang.org/x/net@v0.15.0',
    licenses: ['BSD-3-Clause'],
    locations: ['/usr/local/bin/healthcheck'],
  },
  {
    name: 'github.com/sirupsen/logrus',
    version: 'v1.9.3',
    ecosystem: 'Go',
    purl: 'pkg:golang/github.com/sirupsen/logrus@v1.9.3',
    licenses: ['MIT'],
    locations: ['/usr/local/bin/healthcheck'],
  },
  {
    name: 'org.apache.logging.log4j:log4j-core',
    version: '2.14.1',
    ecosystem: 'Maven',
    purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
    licenses: ['Apache License, Version 2.0'],
    locations: ['/opt/reports/lib/log4j-core-2.14.1.jar'],
  },
  {
    name: 'com.fasterxml.jackson.core:jackson-databind',
    version: '2.13.4',
    ecosystem: 'Maven',
    purl: 'pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.13.4',
    licenses: ['Apache-2.0'],
    locations: ['/opt/reports/lib/jackson-databind-2.13.4.jar'],
  },
];

const inventory: PackageInventory = {
  os: { id: 'debian', versionId: '12', name: 'Debian GNU/Linux', family: 'debian', codename: 'bookworm' },
  packages,
};

const pkgRef = (p: InstalledPackage) => ({
  name: p.name,
  version: p.version,
  ecosystem: p.ecosystem,
  purl: p.purl,
});
const find = (name: string) => {
  const p = packages.find((candidate) => candidate.name === name);
  if (!p) throw new Error(name);
  return pkgRef(p);
};

const findings: Finding[] = [
  {
    vulnerabilityId: 'CVE-2021-44228',
    aliases: ['CVE-2021-44228', 'GHSA-jfh8-c2jp-5v3q'],
    package: find('org.apache.logging.log4j:log4j-core'),
    fixedVersion: '2.15.0',
    severity: 'critical',
    cvss: { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', score: 10 },
    source: 'osv',
  },
  {
    vulnerabilityId: 'CVE-2022-42003',
    aliases: ['GHSA-jjjh-jjxp-wpff'],
    package: find('com.fasterxml.jackson.core:jackson-databind'),
    fixedVersion: '2.13.4.2',
    severity: 'high',
    cvss: { vector: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', score: 7.5 },
    source: 'osv',
  },
  // One finding per installed copy of lodash.
  ...[0, 1].map(
    (): Finding => ({
      vulnerabilityId: 'GHSA-35jh-r3h4-6jhm',
      aliases: ['CVE-2021-23337'],
      package: find('lodash'),
      fixedVersion: '4.17.21',
      severity: 'high',
      cvss: { vector: 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H', score: 7.2 },
      source: 'osv',
    }),
  ),
  {
    vulnerabilityId: 'GO-2023-2102',
    aliases: ['CVE-2023-39325', 'GHSA-4374-p667-p6c8'],
    package: find('golang.org/x/net'),
    fixedVersion: 'v0.17.0',
    severity: 'high',
    cvss: { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', score: 7.5 },
    source: 'osv',
  },
  // CVSS 2.0 only, unfixed, reported against both binaries built from openssl.
  ...['openssl', 'libssl3'].map(
    (name): Finding => ({
      vulnerabilityId: 'CVE-2007-6755',
      aliases: [],
      package: find(name),
      fixedVersion: null,
      severity: 'low',
      cvss: { vector: 'AV:N/AC:M/Au:N/C:P/I:P/A:N', score: 5.8 },
      source: 'debian',
    }),
  ),
  {
    vulnerabilityId: 'CVE-2023-45853',
    aliases: [],
    package: find('zlib1g'),
    fixedVersion: null,
    severity: 'negligible',
    cvss: { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8 },
    source: 'debian',
  },
  {
    vulnerabilityId: 'CVE-2024-29041',
    aliases: ['GHSA-rv95-896h-c2vc'],
    package: find('express'),
    fixedVersion: '4.19.2',
    severity: 'medium',
    source: 'osv',
  },
];

/** A deterministic shuffle, to show that input order does not leak into the output. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  let seed = 42;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

describe('toSpdx', () => {
  const make = (extra: Partial<Parameters<typeof toSpdx>[0]> = {}): SpdxDocument =>
    toSpdx({ image, inventory, tool, created, namespaceSeed: 'storefront-test', ...extra });
  const byName = (doc: SpdxDocument, name: string) => doc.packages.filter((p) => p.name === name);

  it('validates against the SPDX 2.3 schemas (2.3.1 and the v2.3 tag)', () => {
    const doc = make();
    expect(spdx231(doc), errorsOf(spdx231)).toBe(true);
    expect(spdx23Tag(doc), errorsOf(spdx23Tag)).toBe(true);
    const bare = toSpdx({
      image: { reference: 'alpine', digest: '' },
      inventory: { os: null, packages: [] },
      tool,
    });
    expect(spdx231(bare), errorsOf(spdx231)).toBe(true);
  });

  it('has the document fields SPDX requires', () => {
    const doc = make();
    expect(doc).toMatchObject({
      spdxVersion: 'SPDX-2.3',
      dataLicense: 'CC0-1.0',
      SPDXID: 'SPDXRef-DOCUMENT',
      name: image.reference,
      creationInfo: { created: '2025-03-14T09:26:53Z', creators: ['Tool: palisade-scanner-0.1.0'] },
    });
    expect(doc.documentNamespace).toMatch(
      /^https:\/\/[^#\s]+-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('seeds the namespace reproducibly and keeps it unique otherwise', () => {
    expect(make()).toEqual(make());
    expect(make({ namespaceSeed: 'other' }).documentNamespace).not.toBe(make().documentNamespace);
    const a = toSpdx({ image, inventory, tool, created });
    const b = toSpdx({ image, inventory, tool, created });
    expect(a.documentNamespace).not.toBe(b.documentNamespace);
  });

  it('gives every element a unique, well-formed SPDXID', () => {
    const doc = make();
    const ids = [doc.SPDXID, ...doc.packages.map((p) => p.SPDXID)];
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^SPDXRef-[A-Za-z0-9.-]+$/);
    // The two lodash copies sanitise to the same id; the second gets a suffix.
    expect(byName(doc, 'lodash').map((p) => p.SPDXID)).toEqual([
      'SPDXRef-Package-npm-lodash-4.17.20',
      'SPDXRef-Package-npm-lodash-4.17.20-2',
    ]);
  });

  it('describes the image as a container that contains the OS and every package', () => {
    const doc = make();
    expect(doc.packages).toHaveLength(1 + 1 + packages.length);
    const [img, os] = doc.packages;
    expect(img).toMatchObject({
      name: 'ghcr.io/acme/storefront',
      versionInfo: image.digest,
      primaryPackagePurpose: 'CONTAINER',
      downloadLocation: 'NOASSERTION',
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: `pkg:oci/storefront@sha256%3A${image.digest.slice(7)}?arch=amd64&repository_url=ghcr.io/acme/storefront&tag=2.4.1`,
        },
      ],
    });
    expect(os).toMatchObject({
      name: 'debian',
      versionInfo: '12',
      primaryPackagePurpose: 'OPERATING_SYSTEM',
    });

    const describes = doc.relationships.filter((r) => r.relationshipType === 'DESCRIBES');
    const contains = doc.relationships.filter((r) => r.relationshipType === 'CONTAINS');
    expect(describes).toEqual([
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: img?.SPDXID },
    ]);
    expect(contains).toHaveLength(packages.length + 1);
    expect(doc.relationships).toHaveLength(packages.length + 2);
    expect(new Set(contains.map((r) => r.relatedSpdxElement))).toEqual(
      new Set(doc.packages.slice(1).map((p) => p.SPDXID)),
    );
    for (const r of contains) expect(r.spdxElementId).toBe(img?.SPDXID);
  });

  it('gives every installed package its purl as a PACKAGE-MANAGER reference', () => {
    const doc = make();
    const purls = doc.packages
      .slice(2)
      .map((p) => p.externalRefs?.find((r) => r.referenceCategory === 'PACKAGE-MANAGER')?.referenceLocator);
    expect(purls.sort()).toEqual(packages.map((p) => p.purl).sort());
    for (const p of doc.packages.slice(2)) {
      expect(p.downloadLocation).toBe('NOASSERTION');
      expect(p.primaryPackagePurpose).toBe(
        p.externalRefs?.[0]?.referenceLocator.startsWith('pkg:deb/') ? 'INSTALL' : 'LIBRARY',
      );
    }
  });

  it('declares licences only as valid expressions, otherwise NOASSERTION with the text in a comment', () => {
    const doc = make();
    const one = (name: string) => byName(doc, name)[0];
    expect(one('express')?.licenseDeclared).toBe('MIT');
    expect(one('bash')?.licenseDeclared).toBe('GPL-3.0-or-later');
    expect(one('jszip')?.licenseDeclared).toBe('MIT OR GPL-3.0-or-later');
    expect(one('libgcc-s1')?.licenseDeclared).toBe('GPL-3.0-or-later WITH GCC-exception-3.1');
    for (const name of ['org.apache.logging.log4j:log4j-core', '@acme/internal-sdk', 'libc6']) {
      expect(one(name)?.licenseDeclared).toBe('NOASSERTION');
    }
    expect(one('org.apache.logging.log4j:log4j-core')?.licenseComments).toContain(
      '"Apache License, Version 2.0"',
    );
    expect(one('libc6')?.licenseComments).toContain('"public-domain"');
    expect(one('express')?.licenseComments).toBeUndefined();
    for (const p of doc.packages) expect(p.licenseConcluded).toBe('NOASSERTION');
  });

  it('records the source package of a binary package', () => {
    expect(byName(make(), 'libssl3')[0]?.sourceInfo).toBe(
      'built from source package openssl 3.0.11-1~deb12u2',
    );
    expect(byName(make(), 'openssl')[0]?.sourceInfo).toBeUndefined();
  });

  it('does not depend on the order of the inventory', () => {
    const reordered = toSpdx({
      image,
      inventory: { ...inventory, packages: shuffled(packages) },
      tool,
      created,
      namespaceSeed: 'storefront-test',
    });
    expect(reordered).toEqual(make());
  });
});

describe.each(['1.5', '1.6'] as const)('toCycloneDx %s', (specVersion) => {
  const serialNumber = 'urn:uuid:0b4c3e3e-8e6f-4b8a-9c1d-2f0e5a7b6c9d';
  const make = (extra: Partial<Parameters<typeof toCycloneDx>[0]> = {}): CycloneDxBom =>
    toCycloneDx({ image, inventory, findings, tool, created, specVersion, serialNumber, ...extra });
  const component = (bom: CycloneDxBom, name: string) => bom.components.find((c) => c.name === name);

  it('validates against the official schema', () => {
    const bom = make();
    expect(cdx[specVersion](bom), errorsOf(cdx[specVersion])).toBe(true);
    const bare = toCycloneDx({
      image: { reference: 'alpine', digest: '' },
      inventory: { os: null, packages: [] },
      tool,
      specVersion,
    });
    expect(cdx[specVersion](bare), errorsOf(cdx[specVersion])).toBe(true);
  });

  it('the schema catches a licence id that is not on the SPDX list (so licences are really checked)', () => {
    const bom = structuredClone(make()) as unknown as { components: { licenses?: unknown }[] };
    const target = bom.components.find((c) => c.licenses);
    if (target) target.licenses = [{ license: { id: 'Apache-2' } }];
    expect(cdx[specVersion](bom)).toBe(false);
  });

  it('has the header fields and the image as a container', () => {
    const bom = make();
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion, serialNumber, version: 1 });
    expect(bom.metadata.timestamp).toBe('2025-03-14T09:26:53Z');
    expect(bom.metadata.tools.components).toEqual([
      { type: 'application', name: 'palisade-scanner', version: '0.1.0' },
    ]);
    expect(bom.metadata.component).toMatchObject({
      type: 'container',
      name: 'ghcr.io/acme/storefront',
      version: image.digest,
    });
    expect(bom.metadata.component.purl).toMatch(/^pkg:oci\/storefront@sha256%3A/);
    expect(make({ serialNumber: undefined }).serialNumber).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    expect(() => make({ serialNumber: 'urn:uuid:NOT-A-UUID' })).toThrow(/serialNumber/);
  });

  it('lists the OS and every package with a purl and a unique bom-ref', () => {
    const bom = make();
    expect(bom.components).toHaveLength(packages.length + 1);
    expect(bom.components[0]).toMatchObject({ type: 'operating-system', name: 'debian', version: '12' });
    const libraries = bom.components.filter((c) => c.type === 'library');
    expect(libraries).toHaveLength(packages.length);
    expect(libraries.map((c) => c.purl).sort()).toEqual(packages.map((p) => p.purl).sort());
    const refs = [bom.metadata.component['bom-ref'], ...bom.components.map((c) => c['bom-ref'])];
    expect(new Set(refs).size).toBe(refs.length);
    expect(bom.components.filter((c) => c.name === 'lodash').map((c) => c['bom-ref'])).toEqual([
      'pkg:npm/lodash@4.17.20',
      'pkg:npm/lodash@4.17.20#2',
    ]);
    expect(component(bom, 'libssl3')?.evidence).toEqual({
      occurrences: [{ location: '/var/lib/dpkg/status' }],
    });
    expect(component(bom, 'libssl3')?.properties).toContainEqual({
      name: 'palisade:package:sourceName',
      value: 'openssl',
    });
  });

  it('uses licence ids, one expression, or names, as the schema allows', () => {
    const bom = make();
    expect(component(bom, 'express')?.licenses).toEqual([{ license: { id: 'MIT' } }]);
    expect(component(bom, 'jszip')?.licenses).toEqual([{ expression: 'MIT OR GPL-3.0-or-later' }]);
    expect(component(bom, 'bash')?.licenses).toEqual([{ license: { id: 'GPL-3.0-or-later' } }]);
    expect(component(bom, 'org.apache.logging.log4j:log4j-core')?.licenses).toEqual([
      { license: { name: 'Apache License, Version 2.0' } },
    ]);
    expect(component(bom, 'libc6')?.licenses).toEqual([
      { license: { id: 'GPL-2.0-only' } },
      { license: { id: 'LGPL-2.1-only' } },
      { license: { name: 'public-domain' } },
    ]);
  });

  it('makes the image depend on everything in it', () => {
    const bom = make();
    const all = bom.components.map((c) => c['bom-ref']);
    expect(bom.dependencies).toEqual([{ ref: bom.metadata.component['bom-ref'], dependsOn: all }]);
  });

  it('turns findings into vulnerabilities whose affects resolve to components', () => {
    const bom = make();
    const vulns = bom.vulnerabilities ?? [];
    const refs = new Set(bom.components.map((c) => c['bom-ref']));
    expect(vulns.map((v) => v.id)).toEqual([
      'CVE-2007-6755',
      'CVE-2021-44228',
      'CVE-2022-42003',
      'CVE-2023-45853',
      'CVE-2024-29041',
      'GHSA-35jh-r3h4-6jhm',
      'GO-2023-2102',
    ]);
    for (const v of vulns) {
      expect(v.affects.length).toBeGreaterThan(0);
      for (const a of v.affects) expect(refs.has(a.ref), a.ref).toBe(true);
    }
    const vuln = (id: string) => vulns.find((v) => v.id === id);

    expect(vuln('CVE-2021-44228')).toEqual({
      id: 'CVE-2021-44228',
      source: { name: 'osv' },
      references: [
        {
          id: 'GHSA-jfh8-c2jp-5v3q',
          source: { name: 'GitHub Advisories', url: 'https://github.com/advisories/GHSA-jfh8-c2jp-5v3q' },
        },
      ],
      ratings: [
        {
          source: { name: 'osv' },
          score: 10,
          severity: 'critical',
          method: 'CVSSv31',
          vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H',
        },
      ],
      recommendation: 'Upgrade to 2.15.0',
      affects: [
        {
          ref: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
          versions: [{ version: '2.14.1', status: 'affected' }],
        },
      ],
    });
    expect(vuln('CVE-2022-42003')?.ratings[0]?.method).toBe('CVSSv3');

    // CVSS 2.0, no fix, both openssl binaries in one entry.
    const dualEc = vuln('CVE-2007-6755');
    expect(dualEc?.ratings).toEqual([
      {
        source: { name: 'debian' },
        score: 5.8,
        severity: 'low',
        method: 'CVSSv2',
        vector: 'AV:N/AC:M/Au:N/C:P/I:P/A:N',
      },
    ]);
    expect(dualEc?.recommendation).toBeUndefined();
    expect(dualEc?.affects.map((a) => a.ref)).toEqual([
      component(bom, 'libssl3')?.['bom-ref'],
      component(bom, 'openssl')?.['bom-ref'],
    ]);

    expect(vuln('CVE-2023-45853')?.ratings[0]?.severity).toBe('info');
    expect(vuln('CVE-2023-45853')?.recommendation).toBeUndefined();
    expect(vuln('CVE-2024-29041')?.ratings).toEqual([{ source: { name: 'osv' }, severity: 'medium' }]);

    // Both lodash copies are affected; the duplicate findings collapse into one entry.
    expect(vuln('GHSA-35jh-r3h4-6jhm')?.affects.map((a) => a.ref)).toEqual([
      'pkg:npm/lodash@4.17.20',
      'pkg:npm/lodash@4.17.20#2',
    ]);
    expect(vuln('GHSA-35jh-r3h4-6jhm')?.references).toEqual([
      {
        id: 'CVE-2021-23337',
        source: { name: 'NVD', url: 'https://nvd.nist.gov/vuln/detail/CVE-2021-23337' },
      },
    ]);
    expect(vuln('GO-2023-2102')?.recommendation).toBe('Upgrade to v0.17.0');
  });

  it('omits vulnerabilities when there are no findings', () => {
    expect(make({ findings: [] })).not.toHaveProperty('vulnerabilities');
    expect(make({ findings: undefined })).not.toHaveProperty('vulnerabilities');
  });

  it('refuses a finding for a package that is not in the inventory', () => {
    const stray: Finding = {
      ...(findings[0] as Finding),
      package: { name: 'left-pad', version: '1.3.0', ecosystem: 'npm', purl: 'pkg:npm/left-pad@1.3.0' },
    };
    expect(() => make({ findings: [stray] })).toThrow(/not in the inventory/);
  });

  it('does not depend on the order of inventory or findings', () => {
    const reordered = make({
      inventory: { ...inventory, packages: shuffled(packages) },
      findings: shuffled(findings),
    });
    expect(JSON.stringify(reordered)).toBe(JSON.stringify(make()));
  });
});
