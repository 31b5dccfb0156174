/**
 * unpackImage on local sources: the real `docker save` alpine 3.11 archive from the shared test data,
 * OCI layouts and docker archives built here (legacy and OCI-in-tar), compression detection, platform
 * and tag selection, and digest verification of every blob.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { sharedPath } from '@palisade/testdata';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ImageError, type ImageSource, type UnpackedImage, unpackImage } from './index.js';
import { addImage, addIndexEntry, listTree, makeTar, putBlob, sha256 } from './test-helpers.js';

let base: string;
let n = 0;
const opened: UnpackedImage[] = [];

beforeAll(async () => {
  base = await fs.realpath(await fs.mkdtemp(join(os.tmpdir(), 'palisade-unpack-test-')));
});

afterAll(async () => {
  for (const img of opened) await img.cleanup();
  // Every unpack (successful and failed) is gone from the work dir after cleanup.
  expect(await fs.readdir(join(base, 'work')).catch(() => [])).toEqual([]);
  await fs.rm(base, { recursive: true, force: true });
});

function fresh(name: string): string {
  return join(base, `${name}-${n++}`);
}

async function unpack(source: ImageSource, options = {}) {
  const img = await unpackImage(source, { workDir: join(base, 'work'), ...options });
  opened.push(img);
  return img;
}

async function refused(source: ImageSource, code: string, message: RegExp) {
  const err = await unpack(source).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected the unpack to fail').toBeInstanceOf(ImageError);
  expect((err as Error).message).toMatch(message);
  expect((err as ImageError).code).toBe(code);
}

const ALPINE_CONFIG = 'sha256:a187dde48cd289ac374ad8539930628314bc581a481cdb41409c9289419ddb72';

describe('docker save archive: real alpine 3.11', () => {
  const archive = sharedPath('testdata', 'images', 'alpine-311.tar.gz');

  async function check(img: UnpackedImage) {
    expect(img.metadata.os).toBe('linux');
    expect(img.metadata.architecture).toBe('amd64');
    expect(img.metadata.reference).toBe('alpine:3.11');
    expect(img.metadata.configDigest).toBe(ALPINE_CONFIG);
    expect(img.metadata.digest).toBe(ALPINE_CONFIG); // legacy archive: no manifest, the image ID
    expect(img.metadata.layers).toEqual([
      {
        digest: (img.metadata.config.rootfs?.diff_ids ?? [])[0],
        size: 5861888,
        mediaType: 'application/vnd.docker.image.rootfs.diff.tar',
      },
    ]);
    expect(await fs.readFile(join(img.rootDir, 'etc/alpine-release'), 'utf8')).toMatch(/^3\.11\.\d+\n$/);
    const installed = await fs.readFile(join(img.rootDir, 'lib/apk/db/installed'), 'utf8');
    expect(installed.match(/^P:/gm)).toHaveLength(14);
    expect(await fs.readlink(join(img.rootDir, 'bin/sh'))).toBe('/bin/busybox');
    expect(img.rootDir.startsWith(join(base, 'work'))).toBe(true);
  }

  test('gzip-compressed archive', async () => {
    const t = performance.now();
    await check(await unpack({ kind: 'docker-archive', path: archive }));
    expect(performance.now() - t).toBeLessThan(10_000);
  });

  test('the same archive uncompressed, read in place', async () => {
    const tar = fresh('alpine.tar');
    await fs.writeFile(tar, gunzipSync(await fs.readFile(archive)));
    await check(await unpack({ kind: 'docker-archive', path: tar }));
  });

  test('cleanup removes the scan directory and may be called twice', async () => {
    const img = await unpackImage({ kind: 'docker-archive', path: archive }, { workDir: fresh('w') });
    await img.cleanup();
    await img.cleanup();
    await expect(fs.stat(img.rootDir)).rejects.toThrow(/ENOENT/);
  });
});

/** A legacy `docker save` archive (manifest.json + <id>.json + <dir>/layer.tar) built from layer tars. */
function legacyArchive(layers: Buffer[], tamper: { config?: boolean; diffId?: boolean } = {}): Buffer {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'arm64',
      os: 'linux',
      variant: 'v8',
      rootfs: {
        type: 'layers',
        diff_ids: layers.map((l) => (tamper.diffId ? sha256(`${l.length}`) : sha256(l))),
      },
    }),
  );
  const configName = `${sha256(config).slice(7)}.json`;
  const manifest = [
    { Config: configName, RepoTags: ['example/app:1'], Layers: layers.map((_, i) => `layer${i}/layer.tar`) },
  ];
  return makeTar([
    ...layers.map((l, i) => ({ name: `layer${i}/layer.tar`, content: l })),
    { name: configName, content: tamper.config ? Buffer.concat([config, Buffer.from(' ')]) : config },
    { name: 'manifest.json', content: JSON.stringify(manifest) },
  ]);
}

describe('docker save archives built here', () => {
  const l1 = makeTar([
    { name: 'etc/os-release', content: 'ID=test\n' },
    { name: 'old', content: 'x' },
  ]);
  const l2 = makeTar([{ name: '.wh.old' }, { name: 'app/run', content: '#!/bin/sh\n', mode: 0o755 }]);

  test('legacy layout, two layers, .tar.gz detected by magic bytes, diff_ids verified', async () => {
    const path = fresh('legacy.tar.gz');
    await fs.writeFile(path, gzipSync(legacyArchive([l1, l2])));
    const img = await unpack({ kind: 'docker-archive', path });
    expect(await listTree(img.rootDir)).toEqual(['app', 'app/run', 'etc', 'etc/os-release']);
    expect(img.metadata).toMatchObject({
      reference: 'example/app:1',
      os: 'linux',
      architecture: 'arm64',
      variant: 'v8',
    });
    expect(img.metadata.layers.map((l) => l.digest)).toEqual([sha256(l1), sha256(l2)]);
  });

  test('legacy layout: a config that does not match its name, or a layer that does not match its diff_id, is refused', async () => {
    const badConfig = fresh('bad-config.tar');
    await fs.writeFile(badConfig, legacyArchive([l1], { config: true }));
    await refused(
      { kind: 'docker-archive', path: badConfig },
      'digest-mismatch',
      /digest mismatch for .*config/,
    );
    const badLayer = fresh('bad-layer.tar');
    await fs.writeFile(badLayer, legacyArchive([l1], { diffId: true }));
    await refused({ kind: 'docker-archive', path: badLayer }, 'digest-mismatch', /layer 1\/1.*diff_id/);
  });

  test('OCI layout inside the tar (docker 25+ save), manifest digest reported', async () => {
    const dir = fresh('oci-in-tar');
    const built = await addImage(
      dir,
      [
        { blob: l1 },
        { blob: gzipSync(l2), tar: l2, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
      ],
      {
        skipIndex: true,
      },
    );
    await addIndexEntry(dir, {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: built.manifestDigest,
      size: built.manifest.length,
      annotations: {
        'io.containerd.image.name': 'docker.io/library/app:2',
        'org.opencontainers.image.ref.name': '2',
      },
    });
    const members = [];
    for (const name of await listTree(dir)) {
      const st = await fs.stat(join(dir, name));
      members.push(
        st.isDirectory()
          ? { name: `${name}/`, type: 'dir' as const }
          : { name, content: await fs.readFile(join(dir, name)) },
      );
    }
    members.push({
      name: 'manifest.json',
      content: Buffer.from(
        JSON.stringify([
          { Config: `blobs/sha256/${built.configDigest.slice(7)}`, RepoTags: ['app:2'], Layers: [] },
        ]),
      ),
    });
    const path = fresh('oci-in.tar');
    await fs.writeFile(path, makeTar(members));
    const img = await unpack({ kind: 'docker-archive', path });
    expect(img.metadata.digest).toBe(built.manifestDigest);
    expect(img.metadata.reference).toBe('docker.io/library/app:2');
    expect(await listTree(img.rootDir)).toEqual(['app', 'app/run', 'etc', 'etc/os-release']);
  });

  test('not an archive, or no manifest', async () => {
    const junk = fresh('junk.tar');
    await fs.writeFile(junk, 'hello');
    await refused({ kind: 'docker-archive', path: junk }, 'truncated', /docker archive .*truncated/);
    const empty = fresh('nomanifest.tar');
    await fs.writeFile(empty, makeTar([{ name: 'x', content: 'y' }]));
    await refused({ kind: 'docker-archive', path: empty }, 'invalid-source', /not a docker save archive/);
    await refused({ kind: 'docker-archive', path: fresh('missing.tar') }, 'invalid-source', /cannot open/);
  });
});

describe('OCI layout', () => {
  const plain = makeTar([{ name: 'a', content: 'plain' }]);
  const gz = makeTar([{ name: 'b', content: 'gzip' }]);
  const zs = makeTar([{ name: 'c', content: 'zstd' }]);

  test('gzip, zstd and uncompressed layers, detected by magic bytes', async () => {
    const dir = fresh('layout');
    const built = await addImage(
      dir,
      [
        { blob: plain },
        { blob: gzipSync(gz), tar: gz, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
        { blob: zstdCompressSync(zs), tar: zs, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' },
      ],
      { tag: 'v1' },
    );
    const img = await unpack({ kind: 'oci-layout', path: dir });
    expect(await listTree(img.rootDir)).toEqual(['a', 'b', 'c']);
    expect(await fs.readFile(join(img.rootDir, 'c'), 'utf8')).toBe('zstd');
    expect(img.metadata.digest).toBe(built.manifestDigest);
    expect(img.metadata.reference).toBe(`oci:${dir}:v1`);
    expect(img.metadata.layers.map((l) => l.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar',
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.oci.image.layer.v1.tar+zstd',
    ]);
  });

  test('every digest is verified: layer, config, manifest, diff_id, and sizes', async () => {
    const flip = async (dir: string, digest: string) => {
      const p = join(dir, 'blobs', 'sha256', digest.slice(7));
      const data = await fs.readFile(p);
      data[data.length - 600] = (data[data.length - 600] ?? 0) ^ 0xff; // same size, other content
      await fs.writeFile(p, data);
    };
    const big = makeTar([{ name: 'f', content: Buffer.alloc(4000, 7) }]);

    const d1 = fresh('bad-layer');
    await addImage(d1, [{ blob: big }]);
    await flip(d1, sha256(big));
    await refused(
      { kind: 'oci-layout', path: d1 },
      'digest-mismatch',
      new RegExp(`digest mismatch for layer 1/1 \\(${sha256(big)}\\)`),
    );

    const d2 = fresh('bad-config');
    const b2 = await addImage(d2, [{ blob: big }]);
    await fs.writeFile(
      join(d2, 'blobs', 'sha256', b2.configDigest.slice(7)),
      Buffer.from(b2.config.toString().replace('amd64', 'arm64')),
    );
    await refused({ kind: 'oci-layout', path: d2 }, 'digest-mismatch', /digest mismatch for .*config/);

    const d3 = fresh('bad-manifest');
    const b3 = await addImage(d3, [{ blob: big }]);
    await fs.writeFile(
      join(d3, 'blobs', 'sha256', b3.manifestDigest.slice(7)),
      Buffer.from(`${b3.manifest.toString()}\n`),
    );
    await refused(
      { kind: 'oci-layout', path: d3 },
      'size-mismatch',
      /manifest sha256:\w+ is larger than its stated size/,
    );
    await fs.writeFile(
      join(d3, 'blobs', 'sha256', b3.manifestDigest.slice(7)),
      Buffer.from(b3.manifest.toString().replace('layers', 'layerz')),
    );
    await refused(
      { kind: 'oci-layout', path: d3 },
      'digest-mismatch',
      /digest mismatch for .* manifest sha256:/,
    );

    const d4 = fresh('bad-diffid');
    await addImage(d4, [{ blob: gzipSync(big), tar: big }], { diffIds: [sha256('other')] });
    await refused({ kind: 'oci-layout', path: d4 }, 'digest-mismatch', /uncompressed, config diff_id/);

    const d5 = fresh('missing-blob');
    await addImage(d5, [{ blob: big }]);
    await fs.rm(join(d5, 'blobs', 'sha256', sha256(big).slice(7)));
    await refused({ kind: 'oci-layout', path: d5 }, 'not-found', /blob sha256:[0-9a-f]+ is missing/);

    const d6 = fresh('diffid-count');
    await addImage(d6, [{ blob: big }], { diffIds: [] });
    await refused(
      { kind: 'oci-layout', path: d6 },
      'invalid-manifest',
      /lists 0 diff_ids but the manifest has 1 layers/,
    );
  });

  test('multi-platform index: chosen by platform, nested, with clear errors', async () => {
    const dir = fresh('multi');
    const amd = await addImage(dir, [{ blob: makeTar([{ name: 'arch', content: 'amd64' }]) }], {
      skipIndex: true,
    });
    const arm = await addImage(dir, [{ blob: makeTar([{ name: 'arch', content: 'arm64' }]) }], {
      skipIndex: true,
      architecture: 'arm64',
      variant: 'v8',
    });
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: amd.manifestDigest,
            size: amd.manifest.length,
            platform: { os: 'linux', architecture: 'amd64' },
          },
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: arm.manifestDigest,
            size: arm.manifest.length,
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          },
        ],
      }),
    );
    const idx = await putBlob(dir, index);
    await addIndexEntry(dir, {
      mediaType: 'application/vnd.oci.image.index.v1+json',
      ...idx,
      annotations: { 'org.opencontainers.image.ref.name': 'multi' },
    });

    const armImg = await unpack({
      kind: 'oci-layout',
      path: dir,
      tag: 'multi',
      platform: { os: 'linux', architecture: 'arm64' },
    });
    expect(await fs.readFile(join(armImg.rootDir, 'arch'), 'utf8')).toBe('arm64');
    expect(armImg.metadata).toMatchObject({
      digest: arm.manifestDigest,
      architecture: 'arm64',
      variant: 'v8',
    });
    const amdImg = await unpack({
      kind: 'oci-layout',
      path: dir,
      platform: { os: 'linux', architecture: 'amd64' },
    });
    expect(await fs.readFile(join(amdImg.rootDir, 'arch'), 'utf8')).toBe('amd64');
    await refused(
      { kind: 'oci-layout', path: dir, platform: { os: 'linux', architecture: 's390x' } },
      'platform',
      /no image for platform linux\/s390x \(it offers: linux\/amd64, linux\/arm64\/v8\)/,
    );
    await refused(
      { kind: 'oci-layout', path: dir, tag: 'nope' },
      'not-found',
      /no image tagged "nope" \(tags: multi\)/,
    );
  });

  test('an index with one foreign-platform image plus an attestation: used unless a platform is asked for', async () => {
    const dir = fresh('foreign');
    const img = await addImage(dir, [{ blob: makeTar([{ name: 'arch', content: 's390x' }]) }], {
      skipIndex: true,
      architecture: 's390x',
    });
    const attestation = await putBlob(dir, Buffer.from('{"schemaVersion":2}'));
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: img.manifestDigest,
            size: img.manifest.length,
            platform: { os: 'linux', architecture: 's390x' },
          },
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...attestation,
            platform: { os: 'unknown', architecture: 'unknown' },
          },
        ],
      }),
    );
    await addIndexEntry(dir, {
      mediaType: 'application/vnd.oci.image.index.v1+json',
      ...(await putBlob(dir, index)),
    });
    const unpacked = await unpack({ kind: 'oci-layout', path: dir });
    expect(unpacked.metadata.architecture).toBe('s390x');
    await refused(
      { kind: 'oci-layout', path: dir, platform: { os: 'linux', architecture: 'amd64' } },
      'platform',
      /no image for platform linux\/amd64 \(it offers: linux\/s390x\)/,
    );
  });

  test('a single-platform image of another platform than the one asked for is refused', async () => {
    const dir = fresh('single');
    await addImage(dir, [{ blob: plain }], { architecture: 'arm64' });
    await refused(
      { kind: 'oci-layout', path: dir, platform: { os: 'linux', architecture: 'amd64' } },
      'platform',
      /is for linux\/arm64, not the requested linux\/amd64/,
    );
    // Without an explicit platform, whatever the image is gets unpacked.
    const img = await unpack({ kind: 'oci-layout', path: dir });
    expect(img.metadata.architecture).toBe('arm64');
  });

  test('several tags: choose by tag; without a tag, "latest" or an error', async () => {
    const dir = fresh('tags');
    await addImage(dir, [{ blob: makeTar([{ name: 'v', content: '1' }]) }], { tag: 'v1' });
    await addImage(dir, [{ blob: makeTar([{ name: 'v', content: '2' }]) }], { tag: 'v2' });
    await refused(
      { kind: 'oci-layout', path: dir },
      'invalid-source',
      /several images; choose one by tag \(tags: v1, v2\)/,
    );
    const v2 = await unpack({ kind: 'oci-layout', path: dir, tag: 'v2' });
    expect(await fs.readFile(join(v2.rootDir, 'v'), 'utf8')).toBe('2');
    await addImage(dir, [{ blob: makeTar([{ name: 'v', content: 'latest' }]) }], { tag: 'latest' });
    const latest = await unpack({ kind: 'oci-layout', path: dir });
    expect(await fs.readFile(join(latest.rootDir, 'v'), 'utf8')).toBe('latest');
  });

  test('artifacts that are not container images, and bad layouts, are refused', async () => {
    const dir = fresh('artifact');
    const cfg = await putBlob(dir, Buffer.from('{}'));
    const layer = await putBlob(dir, Buffer.from('chart'));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', ...cfg },
        layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', ...layer }],
      }),
    );
    await addIndexEntry(dir, {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...(await putBlob(dir, manifest)),
    });
    await fs.writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await refused(
      { kind: 'oci-layout', path: dir },
      'unsupported',
      /not a container image \(config media type "application\/vnd.cncf.helm.config.v1\+json"\)/,
    );
    await fs.writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    await refused({ kind: 'oci-layout', path: dir }, 'unsupported', /unsupported imageLayoutVersion "2.0.0"/);
    await refused({ kind: 'oci-layout', path: fresh('nothing') }, 'invalid-source', /not a directory/);
  });

  test('an aborted signal stops the unpack', async () => {
    const dir = fresh('abort');
    await addImage(dir, [{ blob: plain }]);
    const ctl = new AbortController();
    ctl.abort();
    await expect(
      unpackImage({ kind: 'oci-layout', path: dir }, { workDir: join(base, 'work'), signal: ctl.signal }),
    ).rejects.toMatchObject({ code: 'aborted' });
    // Aborting while layers are being applied.
    const many = makeTar(Array.from({ length: 2000 }, (_, i) => ({ name: `f${i}`, content: 'x' })));
    const dir2 = fresh('abort2');
    await addImage(dir2, [{ blob: many }]);
    const ctl2 = new AbortController();
    const pending = unpackImage(
      { kind: 'oci-layout', path: dir2 },
      { workDir: join(base, 'work'), signal: ctl2.signal },
    );
    setTimeout(() => ctl2.abort(), 5);
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
  });
});
