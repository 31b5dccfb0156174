/**
 * Layer application: whiteouts / opaque directories across layers, and hostile layers. Every hostile
 * layer is unpacked through the public unpackImage (OCI layout source) with its workDir inside a test
 * directory that also holds an "outside" canary directory; the layers aim at that canary with `..`,
 * absolute paths, symlinks and hardlinks. After each case the canary must be untouched and, when the
 * unpack fails, the workDir must be empty again.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { safeComponents } from './apply.js';
import { ImageError, type UnpackedImage, unpackImage } from './index.js';
import { addImage, listTree, makeTar, type TarSpec } from './test-helpers.js';

let base: string; // the test's own directory: outside/, layout/, work/
let outside: string;
let work: string;
let opened: UnpackedImage[] = [];

beforeEach(async () => {
  base = await fs.realpath(await fs.mkdtemp(join(os.tmpdir(), 'palisade-apply-test-')));
  outside = join(base, 'outside');
  work = join(base, 'work');
  await fs.mkdir(outside);
  await fs.mkdir(work);
  await fs.writeFile(join(outside, 'canary'), 'canary');
});

afterEach(async () => {
  for (const img of opened) await img.cleanup();
  opened = [];
  // The canary is untouched and nothing else appeared outside the work dir.
  expect(await listTree(outside)).toEqual(['canary']);
  expect(await fs.readFile(join(outside, 'canary'), 'utf8')).toBe('canary');
  expect((await fs.stat(join(outside, 'canary'))).nlink).toBe(1);
  expect((await fs.readdir(base)).sort()).toEqual(expect.arrayContaining(['outside', 'work']));
  expect((await fs.readdir(base)).filter((n) => !['outside', 'work', 'layout'].includes(n))).toEqual([]);
  await fs.rm(base, { recursive: true, force: true });
});

let layoutCount = 0;
async function unpackLayers(
  layers: (TarSpec[] | Buffer)[],
  options: {
    maxLayerBytes?: number;
    maxTotalBytes?: number;
    select?: (path: string, entry: { mode: number; size: number }) => boolean;
  } = {},
) {
  const layout = join(base, 'layout', String(layoutCount++));
  const blobs = layers.map((l) => (Buffer.isBuffer(l) ? l : makeTar(l)));
  await addImage(
    layout,
    blobs.map((blob) => ({ blob })),
  );
  const img = await unpackImage({ kind: 'oci-layout', path: layout }, { workDir: work, ...options });
  opened.push(img);
  return img;
}

async function expectRefused(layers: (TarSpec[] | Buffer)[], code: string, message: RegExp, options = {}) {
  const before = await fs.readdir(work);
  const err = await unpackLayers(layers, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  expect((err as ImageError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
  expect(await fs.readdir(work)).toEqual(before); // the failed unpack removed its temp dir
}

async function read(root: string, rel: string): Promise<string> {
  return fs.readFile(join(root, rel), 'utf8');
}

// rootDir = <base>/work/palisade-image-XXXX/rootfs → three levels up is <base>.
const UP_TO_BASE = '../../../';

describe('safe path components', () => {
  test('leading / and ./ are dropped, .. is refused', () => {
    expect(safeComponents('/etc//passwd')).toEqual(['etc', 'passwd']);
    expect(safeComponents('./usr/./bin/')).toEqual(['usr', 'bin']);
    expect(safeComponents('./')).toEqual([]);
    expect(() => safeComponents('a/../b')).toThrow(/path traversal/);
    expect(() => safeComponents('..')).toThrow(/path traversal/);
  });
});

describe('layer application', () => {
  test('files, dirs, symlinks and hardlinks; modes without setuid/setgid', async () => {
    const img = await unpackLayers([
      [
        { name: './', type: 'dir' },
        { name: 'bin/', type: 'dir' },
        { name: 'bin/busybox', content: 'ELF', mode: 0o4755 },
        { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
        { name: 'bin/ash', type: 'hardlink', linkname: 'bin/busybox' },
        { name: 'shared/', type: 'dir', mode: 0o2775 },
        { name: 'tmp/', type: 'dir', mode: 0o1777 },
        { name: 'etc/shadow', content: 'root:*', mode: 0o640 },
        { name: 'implicit/parent/file', content: 'x' },
      ],
    ]);
    const r = img.rootDir;
    expect((await fs.stat(join(r, 'bin/busybox'))).mode & 0o7777).toBe(0o755);
    expect(await fs.readlink(join(r, 'bin/sh'))).toBe('/bin/busybox');
    const [a, b] = await Promise.all([fs.stat(join(r, 'bin/ash')), fs.stat(join(r, 'bin/busybox'))]);
    expect(a.ino).toBe(b.ino);
    expect((await fs.stat(join(r, 'shared'))).mode & 0o7777).toBe(0o775);
    expect((await fs.stat(join(r, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect((await fs.stat(join(r, 'etc/shadow'))).mode & 0o7777).toBe(0o640);
    expect(await read(r, 'implicit/parent/file')).toBe('x');
    expect(img.stats).toMatchObject({ files: 3, symlinks: 1, hardlinks: 1, layers: 1 });
  });

  test('selective unpacking keeps only wanted files, where the full image has them', async () => {
    const wanted = (path: string) => path.startsWith('var/lib/dpkg/') || path === 'etc/os-release';
    const layers: TarSpec[][] = [
      [
        { name: 'usr/', type: 'dir' },
        { name: 'usr/lib/', type: 'dir' },
        { name: 'usr/lib/os-release', content: 'ID=debian' },
        { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        { name: 'var/lib/dpkg/status', content: 'old' },
        { name: 'var/lib/dpkg/status.d/a', content: 'a' },
        { name: 'usr/share/doc/big', content: 'x'.repeat(4096) },
        { name: 'opt/', type: 'dir' },
      ],
      // An upper layer replaces status, hides status.d/a and turns a wanted path into an unwanted file.
      [
        { name: 'var/lib/dpkg/status', content: 'new' },
        { name: 'var/lib/dpkg/status.d/.wh.a' },
        { name: 'var/lib/dpkg/status.d/b', content: 'b' },
      ],
    ];
    const img = await unpackLayers(layers, { select: wanted });
    expect(await listTree(img.rootDir)).toEqual([
      'etc',
      'etc/os-release',
      'var',
      'var/lib',
      'var/lib/dpkg',
      'var/lib/dpkg/status',
      'var/lib/dpkg/status.d',
      'var/lib/dpkg/status.d/b',
    ]);
    expect(await read(img.rootDir, 'var/lib/dpkg/status')).toBe('new');
    // The os-release symlink is kept; its unwanted target is not.
    expect(await fs.readlink(join(img.rootDir, 'etc/os-release'))).toBe('../usr/lib/os-release');
    expect(img.stats.skippedUnselected).toBeGreaterThanOrEqual(2);
  });

  test('whiteouts delete lower files and directories; later layers can re-add them', async () => {
    const img = await unpackLayers([
      [
        { name: 'etc/a', content: 'a' },
        { name: 'etc/b', content: 'b' },
        { name: 'usr/lib/x', content: 'x' },
        { name: 'link', type: 'symlink', linkname: 'etc' },
      ],
      [{ name: 'etc/.wh.a' }, { name: '.wh.usr' }, { name: '.wh.link' }, { name: 'etc/.wh.missing' }],
      [{ name: 'usr/new', content: 'new' }],
    ]);
    const tree = await listTree(img.rootDir);
    expect(tree).toEqual(['etc', 'etc/b', 'usr', 'usr/new']);
    expect(img.stats.whiteouts).toBe(4);
  });

  test('an opaque directory hides lower content but keeps this layer content, in either order', async () => {
    const lower: TarSpec[] = [
      { name: 'dir/old', content: 'old' },
      { name: 'dir/sub/old2', content: 'old2' },
      { name: 'keep/me', content: 'k' },
    ];
    const markerFirst = await unpackLayers([
      lower,
      [
        { name: 'dir/.wh..wh..opq' },
        { name: 'dir/new', content: 'n' },
        { name: 'dir/sub/new2', content: 'n2' },
      ],
    ]);
    const markerLast = await unpackLayers([
      lower,
      [
        { name: 'dir/new', content: 'n' },
        { name: 'dir/sub/new2', content: 'n2' },
        { name: 'dir/.wh..wh..opq' },
      ],
    ]);
    for (const img of [markerFirst, markerLast]) {
      expect(await listTree(img.rootDir)).toEqual([
        'dir',
        'dir/new',
        'dir/sub',
        'dir/sub/new2',
        'keep',
        'keep/me',
      ]);
      expect(img.stats.opaqueDirs).toBe(1);
    }
  });

  test('a whiteout only hides lower layers, not entries of its own layer', async () => {
    const img = await unpackLayers([
      [{ name: 'd/lower', content: 'l' }],
      [
        { name: 'f', content: 'same layer' },
        { name: '.wh.f' },
        { name: 'd/upper', content: 'u' },
        { name: '.wh.d' },
      ],
    ]);
    expect(await listTree(img.rootDir)).toEqual(['d', 'd/upper', 'f']);
  });

  test('later layers replace files by directories and directories by files or symlinks', async () => {
    const img = await unpackLayers([
      [
        { name: 'x/inner', content: '1' },
        { name: 'y', content: 'file' },
        { name: 'z/inner', content: '1' },
      ],
      [
        { name: 'x', content: 'now a file' },
        { name: 'y/', type: 'dir' },
        { name: 'y/inner', content: '2' },
        { name: 'z', type: 'symlink', linkname: 'x' },
      ],
    ]);
    expect(await read(img.rootDir, 'x')).toBe('now a file');
    expect(await read(img.rootDir, 'y/inner')).toBe('2');
    expect(await fs.readlink(join(img.rootDir, 'z'))).toBe('x');
  });

  test('hardlinks replacing a file never modify the other name of a lower hardlink', async () => {
    const img = await unpackLayers([
      [
        { name: 'a', content: 'shared' },
        { name: 'b', type: 'hardlink', linkname: 'a' },
      ],
      [{ name: 'b', content: 'changed' }],
    ]);
    expect(await read(img.rootDir, 'a')).toBe('shared');
    expect(await read(img.rootDir, 'b')).toBe('changed');
  });

  test('paths through a symlink in a lower layer are resolved inside the root', async () => {
    // Debian merged-/usr: /lib -> usr/lib; a later layer writes lib/x.
    const img = await unpackLayers([
      [
        { name: 'usr/lib/', type: 'dir' },
        { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
      ],
      [{ name: 'lib/x', content: 'through the link' }],
    ]);
    expect(await read(img.rootDir, 'usr/lib/x')).toBe('through the link');
    expect((await fs.lstat(join(img.rootDir, 'lib'))).isSymbolicLink()).toBe(true);
  });
});

describe('hostile layers', () => {
  test('"../" traversal is refused', async () => {
    await expectRefused(
      [[{ name: `${UP_TO_BASE}outside/pwned`, content: 'x' }]],
      'unsafe-path',
      /path traversal/,
    );
    await expectRefused(
      [[{ name: `a/../../../../outside/pwned`, content: 'x' }]],
      'unsafe-path',
      /path traversal/,
    );
    await expectRefused(
      [[{ name: `${UP_TO_BASE}outside/pwned`, content: 'x', pax: true }]],
      'unsafe-path',
      /path traversal/,
    );
    await expectRefused(
      [[{ name: `${UP_TO_BASE}outside/pwned`, type: 'dir', gnuLongName: true }]],
      'unsafe-path',
      /path traversal/,
    );
  });

  test('absolute paths are taken relative to the root', async () => {
    const abs = join(outside, 'pwned');
    const img = await unpackLayers([[{ name: abs, content: 'inside' }]]);
    expect(await read(img.rootDir, abs.slice(1))).toBe('inside');
  });

  test('symlinks pointing outside are stored, and writing through them stays inside the root', async () => {
    const img = await unpackLayers([
      [
        { name: 'abs', type: 'symlink', linkname: outside },
        { name: 'rel', type: 'symlink', linkname: `${UP_TO_BASE}outside` },
        { name: 'abs/pwned', content: 'a' },
        { name: 'rel/pwned', content: 'r' },
        { name: 'rel/sub/deeper', content: 'd' },
      ],
    ]);
    const r = img.rootDir;
    expect(await fs.readlink(join(r, 'abs'))).toBe(outside);
    expect(await fs.readlink(join(r, 'rel'))).toBe(`${UP_TO_BASE}outside`);
    expect(await read(r, `${outside.slice(1)}/pwned`)).toBe('a'); // <root>/<outside path>/pwned
    expect(await read(r, 'outside/pwned')).toBe('r'); // ".." stops at the root
    expect(await read(r, 'outside/sub/deeper')).toBe('d');
  });

  test('a regular file replacing a symlink to outside does not write through it', async () => {
    const img = await unpackLayers([
      [{ name: 'f', type: 'symlink', linkname: join(outside, 'canary') }],
      [{ name: 'f', content: 'overwritten' }],
    ]);
    expect((await fs.lstat(join(img.rootDir, 'f'))).isFile()).toBe(true);
    expect(await read(img.rootDir, 'f')).toBe('overwritten');
  });

  test('a directory entry replacing a symlink to outside does not chmod / fill the outside directory', async () => {
    const img = await unpackLayers([
      [{ name: 'd', type: 'symlink', linkname: outside }],
      [
        { name: 'd/', type: 'dir', mode: 0o777 },
        { name: 'd/x', content: 'x' },
      ],
    ]);
    expect((await fs.lstat(join(img.rootDir, 'd'))).isDirectory()).toBe(true);
    expect((await fs.stat(outside)).mode & 0o777).not.toBe(0o777);
  });

  test('hardlinks to outside are refused', async () => {
    await expectRefused(
      [[{ name: 'h', type: 'hardlink', linkname: `${UP_TO_BASE}outside/canary` }]],
      'unsafe-path',
      /path traversal/,
    );
    // Absolute: means <root>/<path>, which does not exist in the image.
    await expectRefused(
      [[{ name: 'h', type: 'hardlink', linkname: join(outside, 'canary') }]],
      'unsafe-path',
      /does not exist in the image/,
    );
    // Through a symlink that points outside: resolved inside the root, so again not found.
    await expectRefused(
      [
        [
          { name: 's', type: 'symlink', linkname: outside },
          { name: 'h', type: 'hardlink', linkname: 's/canary' },
        ],
      ],
      'unsafe-path',
      /does not exist in the image/,
    );
    await expectRefused(
      [
        [
          { name: 'd/', type: 'dir' },
          { name: 'h', type: 'hardlink', linkname: 'd' },
        ],
      ],
      'unsafe-path',
      /directory/,
    );
  });

  test('a hardlink to a symlink that points outside links the symlink, not its target', async () => {
    const img = await unpackLayers([
      [
        { name: 'l', type: 'symlink', linkname: join(outside, 'canary') },
        { name: 'h', type: 'hardlink', linkname: 'l' },
      ],
    ]);
    expect((await fs.lstat(join(img.rootDir, 'h'))).isSymbolicLink()).toBe(true);
  });

  test('whiteouts and opaque markers behind a symlink to outside delete nothing outside', async () => {
    await unpackLayers([
      [{ name: 's', type: 'symlink', linkname: outside }],
      [{ name: 's/.wh.canary' }, { name: 's/.wh..wh..opq' }],
    ]);
    await unpackLayers([
      [{ name: 'r', type: 'symlink', linkname: `${UP_TO_BASE}outside` }],
      [{ name: 'r/.wh.canary' }],
    ]);
    await expectRefused([[{ name: '.wh...' }]], 'unsafe-path', /invalid whiteout/);
  });

  test('devices and FIFOs are skipped and counted', async () => {
    const img = await unpackLayers([
      [
        { name: 'dev/null', type: 'char' },
        { name: 'dev/sda', type: 'block' },
        { name: 'run/fifo', type: 'fifo' },
        { name: 'sparse', type: 'sparse', content: 'xx' },
      ],
    ]);
    expect(img.stats.skippedDevices).toBe(3);
    expect(img.stats.skippedOther).toBe(1);
    expect(await listTree(img.rootDir)).toEqual([]);
  });

  test('symlink loops and files used as directories are errors', async () => {
    await expectRefused(
      [
        [
          { name: 'a', type: 'symlink', linkname: 'b' },
          { name: 'b', type: 'symlink', linkname: 'a' },
          { name: 'a/x', content: 'x' },
        ],
      ],
      'unsafe-path',
      /too many levels of symbolic links/,
    );
    await expectRefused(
      [
        [
          { name: 'f', content: 'x' },
          { name: 'f/x', content: 'y' },
        ],
      ],
      'unsafe-path',
      /not a directory/,
    );
  });

  test('oversized layers are refused: by descriptor size, uncompressed size, and image total', async () => {
    const big = [{ name: 'big', content: Buffer.alloc(64 * 1024, 1) }];
    await expectRefused([big], 'too-large', /layer limit/, { maxLayerBytes: 32 * 1024 });
    // A small gzip that inflates past the limit (decompression bomb).
    const bomb = gzipSync(makeTar([{ name: 'zeros', content: Buffer.alloc(4 * 1024 * 1024) }]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expectRefused([bomb], 'too-large', /uncompressed/, { maxLayerBytes: 1024 * 1024 });
    await expectRefused([big, big], 'too-large', /image is larger/, { maxTotalBytes: 100 * 1024 });
  });

  test('truncated layers are refused (plain and gzip)', async () => {
    const tar = makeTar([{ name: 'a', content: Buffer.alloc(5000, 1) }]);
    await expectRefused([tar.subarray(0, 3000)], 'truncated', /truncated/);
    await expectRefused([tar.subarray(0, 512 + 5120)], 'truncated', /end-of-archive marker/);
    const gz = gzipSync(tar);
    await expectRefused([gz.subarray(0, gz.length - 10)], 'truncated', /gzip stream is truncated/);
  });
});
