/**
 * Pulls from a real registry: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, filesystem
 * storage in a temp dir, filled with `skopeo copy` (the shared alpine 3.11 docker-save image and
 * busybox images built with umoci, including a multi-platform OCI index).
 *
 * Bearer auth is exercised against a second, real docker-registry configured for token auth
 * (`auth.token`: realm / service / issuer / rootcertbundle). The token server is a few lines of Node
 * in this test: it checks Basic credentials and signs RS256 JWTs carrying the certificate in `x5c`;
 * the certificate (made with `openssl req -x509`) is the registry's rootcertbundle.
 *
 * Needs: apt packages docker-registry, skopeo, umoci, busybox-static, openssl.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { sharedPath } from '@palisade/testdata';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ImageError, type ImageSource, type UnpackedImage, unpackImage } from './index.js';

const run = promisify(execFile);
const TOOLS = [
  '/usr/bin/docker-registry',
  '/usr/bin/skopeo',
  '/usr/bin/umoci',
  '/bin/busybox',
  '/usr/bin/openssl',
];

let tmp: string;
let work: string;
const children: ChildProcess[] = [];
let tokenServer: http.Server | undefined;
const tokenRequests: { scope: string[]; user: string | undefined }[] = [];
let open: string; // 127.0.0.1:<port> of the registry without auth
let secured: string; // 127.0.0.1:<port> of the registry with token auth
const digests: Record<string, string> = {};
const opened: UnpackedImage[] = [];

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function startRegistry(name: string, extraConfig = ''): Promise<string> {
  const port = await freePort();
  const dir = join(tmp, name);
  await fs.mkdir(dir);
  const config = join(dir, 'config.yml');
  await fs.writeFile(
    config,
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'storage')}
http:
  addr: 127.0.0.1:${port}
${extraConfig}`,
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.status === 200 || r.status === 401,
      () => false,
    );
    if (ok) return `127.0.0.1:${port}`;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not start: ${stderr}`);
}

async function skopeo(...args: string[]) {
  return run('skopeo', args, { maxBuffer: 16 * 1024 * 1024 });
}

const umociRootless = process.getuid?.() === 0 ? [] : ['--rootless'];

/** A busybox image made with umoci: /bin/busybox (from busybox-static), sh symlink, a marker file. */
async function umociImage(layout: string, tag: string, architecture: string, marker: string): Promise<void> {
  if (!existsSync(join(layout, 'index.json'))) await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', `${layout}:${tag}`]);
  const bundle = join(tmp, `bundle-${tag}`);
  await run('umoci', ['unpack', ...umociRootless, '--image', `${layout}:${tag}`, bundle]);
  const rootfs = join(bundle, 'rootfs');
  await fs.mkdir(join(rootfs, 'bin'), { recursive: true });
  await fs.mkdir(join(rootfs, 'etc'), { recursive: true });
  await fs.copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  await fs.chmod(join(rootfs, 'bin', 'busybox'), 0o755);
  await fs.symlink('busybox', join(rootfs, 'bin', 'sh'));
  await fs.writeFile(join(rootfs, 'etc', 'platform'), marker);
  await run('umoci', ['repack', ...umociRootless, '--image', `${layout}:${tag}`, bundle]);
  await run('umoci', [
    'config',
    '--image',
    `${layout}:${tag}`,
    '--os',
    'linux',
    '--architecture',
    architecture,
  ]);
  await fs.rm(bundle, { recursive: true, force: true });
}

/** Adds an OCI index (tag `multi`) over two tags of an OCI layout, with their platforms. */
async function addMultiArchIndex(
  layout: string,
  entries: { tag: string; architecture: string; variant?: string }[],
) {
  const index = JSON.parse(await fs.readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; size: number; mediaType: string; annotations?: Record<string, string> }[];
  };
  const manifests = entries.map((e) => {
    const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === e.tag);
    if (!d) throw new Error(`no tag ${e.tag}`);
    return {
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      platform: { os: 'linux', architecture: e.architecture, ...(e.variant ? { variant: e.variant } : {}) },
    };
  });
  const blob = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }),
  );
  const digest = `sha256:${crypto.createHash('sha256').update(blob).digest('hex')}`;
  await fs.writeFile(join(layout, 'blobs', 'sha256', digest.slice(7)), blob);
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.index.v1+json',
    digest,
    size: blob.length,
    annotations: { 'org.opencontainers.image.ref.name': 'multi' },
  });
  await fs.writeFile(join(layout, 'index.json'), JSON.stringify(index));
}

const ISSUER = 'palisade-test-issuer';
const SERVICE = 'palisade-test-registry';
const USER = 'alice';
const PASSWORD = 's3cret-password';

/** The token server of the token-auth registry: Basic credentials in, RS256 JWT (x5c) out. */
async function startTokenServer(keyPem: string, certPem: string): Promise<string> {
  const key = crypto.createPrivateKey(keyPem);
  const certDer = new crypto.X509Certificate(certPem).raw.toString('base64');
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  tokenServer = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const auth = req.headers.authorization;
    const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    const scope = url.searchParams.getAll('scope');
    tokenRequests.push({
      scope,
      user: auth ? Buffer.from(auth.slice(6), 'base64').toString().split(':')[0] : undefined,
    });
    if (auth && auth !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"details":"invalid credentials"}');
      return;
    }
    const granted = auth === expected;
    const now = Math.floor(Date.now() / 1000);
    const header = b64({ typ: 'JWT', alg: 'RS256', x5c: [certDer] });
    const claims = b64({
      iss: ISSUER,
      sub: granted ? USER : '',
      aud: url.searchParams.get('service'),
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: crypto.randomUUID(),
      // Anonymous callers get a token without any access.
      access: scope.map((s) => {
        const [type, name, actions] = s.split(':');
        return { type, name, actions: granted ? (actions ?? '').split(',') : [] };
      }),
    });
    const signature = crypto.sign('sha256', Buffer.from(`${header}.${claims}`), key).toString('base64url');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `${header}.${claims}.${signature}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => tokenServer?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(tokenServer.address() as net.AddressInfo).port}/token`;
}

/** The storage path of a blob inside a docker-registry filesystem store. */
function blobPath(registryName: string, digest: string): string {
  const hex = digest.slice(7);
  return join(
    tmp,
    registryName,
    'storage',
    'docker',
    'registry',
    'v2',
    'blobs',
    'sha256',
    hex.slice(0, 2),
    hex,
    'data',
  );
}

async function flipByte(path: string, at: number) {
  const data = await fs.readFile(path);
  data[at] = (data[at] ?? 0) ^ 0x01;
  await fs.writeFile(path, data);
}

beforeAll(async () => {
  const missing = TOOLS.filter((t) => !existsSync(t));
  if (missing.length) {
    throw new Error(
      `missing tools ${missing.join(', ')}: apt-get install docker-registry skopeo umoci busybox-static openssl`,
    );
  }
  const t0 = performance.now();
  tmp = await fs.realpath(await fs.mkdtemp(join(os.tmpdir(), 'palisade-registry-it-')));
  work = join(tmp, 'work');
  await fs.mkdir(work);

  // Token auth: a self-signed certificate is the registry's root bundle and signs the tokens.
  const keyFile = join(tmp, 'token.key');
  const certFile = join(tmp, 'token.crt');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=palisade-test-token',
  ]);
  const realm = await startTokenServer(
    await fs.readFile(keyFile, 'utf8'),
    await fs.readFile(certFile, 'utf8'),
  );

  [open, secured] = await Promise.all([
    startRegistry('open'),
    startRegistry(
      'secured',
      `auth:
  token:
    realm: ${realm}
    service: ${SERVICE}
    issuer: ${ISSUER}
    rootcertbundle: ${certFile}
`,
    ),
  ]);

  // skopeo 1.9 cannot read a gzipped docker-archive: gunzip it first.
  const alpineTar = join(tmp, 'alpine-311.tar');
  await fs.writeFile(
    alpineTar,
    gunzipSync(await fs.readFile(sharedPath('testdata', 'images', 'alpine-311.tar.gz'))),
  );

  const layout = join(tmp, 'busybox-layout');
  await umociImage(layout, 'amd64', 'amd64', 'amd64\n');
  // The arm64 image carries the same (amd64) busybox binary: nothing here executes it; the platform
  // is what the index and config say, and the marker file tells the two apart.
  await umociImage(layout, 'arm64', 'arm64', 'arm64\n');
  await umociImage(layout, 'tamper', 'amd64', `unique ${crypto.randomUUID()}\n`);
  await addMultiArchIndex(layout, [
    { tag: 'amd64', architecture: 'amd64' },
    { tag: 'arm64', architecture: 'arm64', variant: 'v8' },
  ]);

  const dest = ['--dest-tls-verify=false'];
  await Promise.all([
    skopeo('copy', ...dest, `docker-archive:${alpineTar}`, `docker://${open}/alpine:3.11`),
    skopeo(
      'copy',
      ...dest,
      '--dest-creds',
      `${USER}:${PASSWORD}`,
      `docker-archive:${alpineTar}`,
      `docker://${secured}/private/alpine:3.11`,
    ),
    skopeo('copy', ...dest, `oci:${layout}:amd64`, `docker://${open}/busybox:1`),
    skopeo('copy', ...dest, '--all', `oci:${layout}:multi`, `docker://${open}/busybox:multi`),
    skopeo('copy', ...dest, `oci:${layout}:tamper`, `docker://${open}/tamper:1`),
    skopeo('copy', ...dest, `oci:${layout}:tamper`, `docker://${open}/tamper-manifest:1`),
  ]);
  for (const [name, ref] of [
    ['alpine', `${open}/alpine:3.11`],
    ['multi', `${open}/busybox:multi`],
    ['tamper-manifest', `${open}/tamper-manifest:1`],
  ] as const) {
    const { stdout } = await skopeo('inspect', '--tls-verify=false', '--raw', `docker://${ref}`);
    digests[name] = `sha256:${crypto.createHash('sha256').update(stdout).digest('hex')}`;
  }
  const { stdout: alpineInspect } = await skopeo(
    'inspect',
    '--tls-verify=false',
    `docker://${open}/alpine:3.11`,
  );
  digests.alpineInspect = (JSON.parse(alpineInspect) as { Digest: string }).Digest;
  console.log(`registry fixtures ready in ${Math.round(performance.now() - t0)} ms`);
}, 180_000);

afterAll(async () => {
  for (const img of opened) await img.cleanup();
  const left = work ? await fs.readdir(work).catch(() => []) : [];
  for (const child of children) {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
  await new Promise((resolve) => (tokenServer ? tokenServer.close(resolve) : resolve(undefined)));
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  expect(left, 'every unpack was cleaned up').toEqual([]);
}, 60_000);

async function pull(source: Omit<Extract<ImageSource, { kind: 'registry' }>, 'kind'>) {
  const img = await unpackImage({ kind: 'registry', ...source }, { workDir: work });
  opened.push(img);
  return img;
}

async function refused(
  source: Omit<Extract<ImageSource, { kind: 'registry' }>, 'kind'>,
  code: string,
  message: RegExp,
) {
  const before = await fs.readdir(work);
  const err = await pull(source).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected the pull to fail').toBeInstanceOf(ImageError);
  expect((err as Error).message).toMatch(message);
  expect((err as ImageError).code).toBe(code);
  expect(await fs.readdir(work)).toEqual(before);
}

async function expectAlpine(img: UnpackedImage) {
  expect(await fs.readFile(join(img.rootDir, 'etc/alpine-release'), 'utf8')).toMatch(/^3\.11\.\d+\n$/);
  expect((await fs.stat(join(img.rootDir, 'lib/apk/db/installed'))).isFile()).toBe(true);
  expect(img.metadata).toMatchObject({ os: 'linux', architecture: 'amd64' });
  expect(img.metadata.configDigest).toBe(
    'sha256:a187dde48cd289ac374ad8539930628314bc581a481cdb41409c9289419ddb72',
  );
  expect(img.metadata.layers).toHaveLength(1);
  expect(img.metadata.layers[0]?.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
}

describe('registry without auth', () => {
  test('pull by tag: docker v2 schema 2 manifest, digest as skopeo reports it', async () => {
    const t = performance.now();
    const img = await pull({ reference: `${open}/alpine:3.11` });
    console.log(`alpine pulled and unpacked in ${Math.round(performance.now() - t)} ms`);
    await expectAlpine(img);
    expect(img.metadata.digest).toBe(digests.alpine);
    expect(img.metadata.digest).toBe(digests.alpineInspect);
    expect(img.metadata.reference).toBe(`${open}/alpine:3.11`);
  });

  test('pull by digest (and via localhost)', async () => {
    const port = open.split(':')[1];
    const img = await pull({ reference: `localhost:${port}/alpine@${digests.alpine}` });
    await expectAlpine(img);
    expect(img.metadata.digest).toBe(digests.alpine);
  });

  test('umoci-built busybox OCI image', async () => {
    const img = await pull({ reference: `${open}/busybox:1` });
    expect((await fs.stat(join(img.rootDir, 'bin/busybox'))).size).toBe((await fs.stat('/bin/busybox')).size);
    expect(await fs.readlink(join(img.rootDir, 'bin/sh'))).toBe('busybox');
    expect(await fs.readFile(join(img.rootDir, 'etc/platform'), 'utf8')).toBe('amd64\n');
  });

  test('multi-arch index: resolved by platform, by tag and by digest', async () => {
    const byDefault = await pull({ reference: `${open}/busybox:multi` }); // host: linux/amd64 here
    expect(await fs.readFile(join(byDefault.rootDir, 'etc/platform'), 'utf8')).toBe(
      `${byDefault.metadata.architecture}\n`,
    );
    const arm = await pull({
      reference: `${open}/busybox:multi`,
      platform: { os: 'linux', architecture: 'arm64' },
    });
    expect(await fs.readFile(join(arm.rootDir, 'etc/platform'), 'utf8')).toBe('arm64\n');
    expect(arm.metadata.architecture).toBe('arm64');
    expect(arm.metadata.digest).not.toBe(digests.multi); // the chosen image manifest, not the index
    const amd = await pull({
      reference: `${open}/busybox@${digests.multi}`,
      platform: { os: 'linux', architecture: 'amd64' },
    });
    expect(await fs.readFile(join(amd.rootDir, 'etc/platform'), 'utf8')).toBe('amd64\n');
    await refused(
      { reference: `${open}/busybox:multi`, platform: { os: 'linux', architecture: 'riscv64' } },
      'platform',
      /no image for platform linux\/riscv64 \(it offers: linux\/amd64, linux\/arm64\/v8\)/,
    );
  });

  test('a tampered layer blob in the registry storage is refused with a digest error', async () => {
    const { stdout } = await skopeo('inspect', '--tls-verify=false', '--raw', `docker://${open}/tamper:1`);
    const layer = (JSON.parse(stdout) as { layers: { digest: string }[] }).layers[0]?.digest as string;
    await flipByte(blobPath('open', layer), 100);
    await refused(
      { reference: `${open}/tamper:1` },
      'digest-mismatch',
      new RegExp(`digest mismatch for layer 1/1 \\(${layer}\\)`),
    );
  });

  test('a tampered manifest is refused when pulled by digest', async () => {
    const digest = digests['tamper-manifest'] as string;
    const path = blobPath('open', digest);
    const text = await fs.readFile(path, 'utf8');
    await fs.writeFile(path, text.replace('"schemaVersion":2', '"schemaVersion":2 ')); // still valid JSON
    await refused(
      { reference: `${open}/tamper-manifest@${digest}` },
      'digest-mismatch',
      /digest mismatch for manifest/,
    );
  });

  test('unknown tags and repositories are clear errors', async () => {
    await refused(
      { reference: `${open}/alpine:nope` },
      'not-found',
      /manifest nope not found in 127\.0\.0\.1:\d+\/alpine: MANIFEST_UNKNOWN/,
    );
    await refused(
      { reference: `${open}/nothing/here:1` },
      'not-found',
      /not found in 127\.0\.0\.1:\d+\/nothing\/here/,
    );
    const port = await freePort();
    await refused(
      { reference: `127.0.0.1:${port}/x:1` },
      'registry',
      /cannot reach registry 127\.0\.0\.1:\d+ .*ECONNREFUSED/,
    );
  });
});

describe('registry with Bearer token auth (real docker-registry, token server in this test)', () => {
  test('credentials → token → pull', async () => {
    tokenRequests.length = 0;
    const img = await pull({
      reference: `${secured}/private/alpine:3.11`,
      auth: { username: USER, password: PASSWORD },
    });
    await expectAlpine(img);
    expect(tokenRequests).toContainEqual({ scope: ['repository:private/alpine:pull'], user: USER });
  });

  test('anonymous and wrong credentials are refused with clear auth errors', async () => {
    await refused(
      { reference: `${secured}/private/alpine:3.11` },
      'auth',
      /refused access to private\/alpine \(anonymous; credentials may be needed\)/,
    );
    await refused(
      { reference: `${secured}/private/alpine:3.11`, auth: { username: USER, password: 'wrong' } },
      'auth',
      /token server http:\/\/127\.0\.0\.1:\d+ refused the credentials of "alice" for 127\.0\.0\.1:\d+\/private\/alpine \(HTTP 401\)/,
    );
  });
});
