/**
 * Test helpers (used by the *.test.ts files of this folder only): a tiny tar writer able to produce
 * hostile archives, and a builder of OCI image layouts / docker save archives around such layers.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { join } from 'node:path';

export interface TarSpec {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'sparse';
  content?: string | Buffer;
  mode?: number;
  linkname?: string;
  /** Write the name / linkname through a pax extended header. */
  pax?: boolean;
  /** Write the name through a GNU long-name (L) entry. */
  gnuLongName?: boolean;
  /** Override the size field (content is written as given). */
  sizeField?: number;
}

const TYPE_FLAGS: Record<NonNullable<TarSpec['type']>, string> = {
  file: '0',
  dir: '5',
  symlink: '2',
  hardlink: '1',
  char: '3',
  block: '4',
  fifo: '6',
  sparse: 'S',
};

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, typeflag: string, size: number, mode: number, linkname: string): Buffer {
  const b = Buffer.alloc(512);
  b.write(name.slice(0, 100), 0, 'utf8');
  b.write(octal(mode, 8), 100, 'latin1');
  b.write(octal(0, 8), 108, 'latin1');
  b.write(octal(0, 8), 116, 'latin1');
  b.write(octal(size, 12), 124, 'latin1');
  b.write(octal(1_600_000_000, 12), 136, 'latin1');
  b.write('        ', 148, 'latin1');
  b.write(typeflag, 156, 'latin1');
  b.write(linkname.slice(0, 100), 157, 'utf8');
  b.write('ustar\0', 257, 'latin1');
  b.write('00', 263, 'latin1');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

function pad(data: Buffer): Buffer[] {
  const rest = (512 - (data.length % 512)) % 512;
  return rest ? [data, Buffer.alloc(rest)] : [data];
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (`${len}${body}`.length !== len) len = `${len}${body}`.length;
  return `${len}${body}`;
}

/** Builds a tar archive. `end: false` omits the end-of-archive blocks. */
export function makeTar(entries: TarSpec[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = typeof e.content === 'string' ? Buffer.from(e.content) : (e.content ?? Buffer.alloc(0));
    const linkname = e.linkname ?? '';
    if (e.pax) {
      const pax = Buffer.from(paxRecord('path', e.name) + (linkname ? paxRecord('linkpath', linkname) : ''));
      parts.push(header('PaxHeaders/x', 'x', pax.length, 0o644, ''), ...pad(pax));
    }
    if (e.gnuLongName) {
      const long = Buffer.from(`${e.name}\0`);
      parts.push(header('././@LongLink', 'L', long.length, 0o644, ''), ...pad(long));
    }
    const mode = e.mode ?? (type === 'dir' ? 0o755 : 0o644);
    const dataSize = type === 'file' || type === 'sparse' ? content.length : 0;
    parts.push(header(e.name, TYPE_FLAGS[type], e.sizeField ?? dataSize, mode, linkname));
    if (dataSize > 0) parts.push(...pad(content));
  }
  if (options.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface LayerSpec {
  /** The blob as stored (possibly compressed). */
  blob: Buffer;
  /** The uncompressed tar (for the diff_id); defaults to blob. */
  tar?: Buffer;
  mediaType?: string;
}

export interface BuiltImage {
  manifestDigest: string;
  configDigest: string;
  manifest: Buffer;
  config: Buffer;
}

/** Writes config + manifest + layer blobs into an OCI layout directory (creating it if needed). */
export async function addImage(
  dir: string,
  layers: LayerSpec[],
  options: {
    tag?: string;
    os?: string;
    architecture?: string;
    variant?: string;
    /** Corrupt things after computing digests. */
    diffIds?: string[];
    skipIndex?: boolean;
  } = {},
): Promise<BuiltImage> {
  await fs.mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await fs.writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const put = async (data: Buffer) => {
    const d = sha256(data);
    await fs.writeFile(join(dir, 'blobs', 'sha256', d.slice(7)), data);
    return d;
  };
  const layerDescs = [];
  for (const l of layers) {
    layerDescs.push({
      mediaType: l.mediaType ?? 'application/vnd.oci.image.layer.v1.tar',
      digest: await put(l.blob),
      size: l.blob.length,
    });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: options.architecture ?? 'amd64',
      os: options.os ?? 'linux',
      ...(options.variant ? { variant: options.variant } : {}),
      config: {},
      rootfs: { type: 'layers', diff_ids: options.diffIds ?? layers.map((l) => sha256(l.tar ?? l.blob)) },
    }),
  );
  const configDigest = await put(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: layerDescs,
    }),
  );
  const manifestDigest = await put(manifest);
  if (!options.skipIndex) {
    await addIndexEntry(dir, {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: manifestDigest,
      size: manifest.length,
      ...(options.tag ? { annotations: { 'org.opencontainers.image.ref.name': options.tag } } : {}),
    });
  }
  return { manifestDigest, configDigest, manifest, config };
}

export async function addIndexEntry(dir: string, descriptor: object): Promise<void> {
  const path = join(dir, 'index.json');
  const index = await fs
    .readFile(path, 'utf8')
    .then((t) => JSON.parse(t) as { manifests: object[] })
    .catch(() => ({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [] as object[],
    }));
  index.manifests.push(descriptor);
  await fs.writeFile(path, JSON.stringify(index));
}

/** Writes a blob into an OCI layout and returns its descriptor fields. */
export async function putBlob(dir: string, data: Buffer): Promise<{ digest: string; size: number }> {
  await fs.mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const digest = sha256(data);
  await fs.writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
  return { digest, size: data.length };
}

/** Lists every path under a directory (relative, sorted), without following symlinks. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const ent of await fs.readdir(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${ent.name}` : ent.name;
      out.push(p);
      if (ent.isDirectory()) await walk(p);
    }
  }
  await walk('');
  return out.sort();
}
