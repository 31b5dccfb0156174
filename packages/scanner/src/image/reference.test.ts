import fs from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatReference, parseImageSource, parseReference } from './index.js';
import { ociArchitecture, platformMatches } from './reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  test.each([
    ['alpine', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'latest', undefined],
    ['alpine:3.11', 'docker.io', 'registry-1.docker.io', 'library/alpine', '3.11', undefined],
    ['bitnami/redis', 'docker.io', 'registry-1.docker.io', 'bitnami/redis', 'latest', undefined],
    ['docker.io/alpine', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'latest', undefined],
    [
      'index.docker.io/library/alpine:edge',
      'docker.io',
      'registry-1.docker.io',
      'library/alpine',
      'edge',
      undefined,
    ],
    ['ghcr.io/org/team/app:v1.2.3', 'ghcr.io', 'ghcr.io', 'org/team/app', 'v1.2.3', undefined],
    ['localhost/app', 'localhost', 'localhost', 'app', 'latest', undefined],
    ['127.0.0.1:5000/alpine:3.11', '127.0.0.1:5000', '127.0.0.1:5000', 'alpine', '3.11', undefined],
    [`quay.io/x/y@${D}`, 'quay.io', 'quay.io', 'x/y', undefined, D],
    [`quay.io/x/y:1@${D}`, 'quay.io', 'quay.io', 'x/y', '1', D],
    ['[::1]:5000/a_b__c-d.e', '[::1]:5000', '[::1]:5000', 'a_b__c-d.e', 'latest', undefined],
  ])('%s', (input, registry, apiHost, repository, tag, digest) => {
    const ref = parseReference(input);
    expect(ref).toEqual({
      registry,
      apiHost,
      repository,
      ...(tag ? { tag } : {}),
      ...(digest ? { digest } : {}),
    });
  });

  test.each([
    ['', /empty/],
    ['Alpine', /not a valid repository name/],
    ['alpine:bad tag', /not a valid tag/],
    ['alpine@sha256:1234', /not a sha256\/sha512 digest/],
    ['alpine@md5:d41d8cd98f00b204e9800998ecf8427e', /not a sha256\/sha512 digest/],
    ['host:99999999/x', /not a valid registry host/],
    ['a//b', /not a valid repository name/],
  ])('refuses %j', (input, message) => {
    expect(() => parseReference(input)).toThrow(message);
  });

  test('format', () => {
    expect(formatReference(parseReference('alpine'))).toBe('docker.io/library/alpine:latest');
    expect(formatReference(parseReference(`r.io/a@${D}`))).toBe(`r.io/a@${D}`);
  });
});

describe('parseImageSource', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(join(os.tmpdir(), 'palisade-source-test-'));
    await fs.mkdir(join(dir, 'layout'));
    await fs.writeFile(join(dir, 'layout', 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await fs.mkdir(join(dir, 'plain'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  test('explicit prefixes', () => {
    expect(parseImageSource('oci:/some/dir')).toEqual({ kind: 'oci-layout', path: '/some/dir' });
    expect(parseImageSource('oci:/some/dir:v1')).toEqual({
      kind: 'oci-layout',
      path: '/some/dir',
      tag: 'v1',
    });
    expect(parseImageSource(`oci:${dir}/layout`)).toEqual({ kind: 'oci-layout', path: `${dir}/layout` });
    expect(parseImageSource('docker-archive:/x/y.img')).toEqual({ kind: 'docker-archive', path: '/x/y.img' });
    expect(parseImageSource('docker://alpine:3.11')).toEqual({ kind: 'registry', reference: 'alpine:3.11' });
  });

  test('by shape', () => {
    expect(parseImageSource('./img.tar')).toEqual({ kind: 'docker-archive', path: './img.tar' });
    expect(parseImageSource('/tmp/img.tar.gz')).toEqual({ kind: 'docker-archive', path: '/tmp/img.tar.gz' });
    expect(parseImageSource(join(dir, 'layout'))).toEqual({ kind: 'oci-layout', path: join(dir, 'layout') });
    expect(parseImageSource('alpine:3.11')).toEqual({ kind: 'registry', reference: 'alpine:3.11' });
    expect(parseImageSource(`127.0.0.1:5000/busybox@${D}`)).toEqual({
      kind: 'registry',
      reference: `127.0.0.1:5000/busybox@${D}`,
    });
  });

  test('clear errors', () => {
    expect(() => parseImageSource(join(dir, 'plain'))).toThrow(/directory without an oci-layout file/);
    expect(() => parseImageSource('Not A Reference!')).toThrow(/is not an image source/);
    expect(() => parseImageSource('oci:')).toThrow(/missing the OCI layout directory/);
    expect(() => parseImageSource('')).toThrow(/empty image source/);
  });
});

describe('platforms', () => {
  test('Node arch names map to OCI names', () => {
    expect(ociArchitecture('x64')).toBe('amd64');
    expect(ociArchitecture('arm64')).toBe('arm64');
    expect(ociArchitecture('ia32')).toBe('386');
    expect(ociArchitecture('ppc64')).toBe('ppc64le');
  });
  test('default variants: arm64 = v8, arm = v7', () => {
    expect(
      platformMatches(
        { os: 'linux', architecture: 'arm64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ),
    ).toBe(true);
    expect(
      platformMatches(
        { os: 'linux', architecture: 'arm', variant: 'v6' },
        { os: 'linux', architecture: 'arm' },
      ),
    ).toBe(false);
    expect(
      platformMatches({ os: 'windows', architecture: 'amd64' }, { os: 'linux', architecture: 'amd64' }),
    ).toBe(false);
  });
});
