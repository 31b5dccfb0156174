/**
 * Local image stores: an OCI image layout directory, and a tar file (a `docker save` archive) read by
 * offset. Both hand out blobs unverified; callers verify.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { decompress, detectCompression } from './decompress.js';
import { parseDigest, verifyStream } from './digest.js';
import type { Descriptor } from './manifest.js';
import { type IndexedTarEntry, indexTarFile } from './tar.js';
import { ImageError } from './types.js';

export interface BlobStore {
  /** Describes the store in messages. */
  readonly label: string;
  /** Raw bytes of a blob (unverified). */
  blob(desc: Pick<Descriptor, 'digest'>): Promise<AsyncIterable<Buffer>>;
}

/** Reads a small blob (manifest, config) completely, verifying size and digest. */
export async function readBlob(
  store: BlobStore,
  desc: Descriptor,
  limit: number,
  what: string,
): Promise<Buffer> {
  if (desc.size > limit) {
    throw new ImageError('too-large', `${what} is ${desc.size} bytes, more than the ${limit} allowed`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of verifyStream(await store.blob(desc), desc, what)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function fileChunks(path: string, start?: number, length?: number): AsyncIterable<Buffer> {
  if (length === 0) return (async function* () {})();
  const opts = start === undefined ? {} : { start, end: start + (length as number) - 1 };
  return createReadStream(path, { ...opts, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>;
}

/** An OCI image layout directory: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`. */
export class OciLayoutDir implements BlobStore {
  constructor(readonly dir: string) {}

  get label(): string {
    return `OCI layout ${this.dir}`;
  }

  static async open(dir: string): Promise<{ store: OciLayoutDir; index: Buffer }> {
    const st = await fs.stat(dir).catch(() => null);
    if (!st?.isDirectory()) throw new ImageError('invalid-source', `OCI layout ${dir}: not a directory`);
    await checkLayoutFile(await fs.readFile(join(dir, 'oci-layout')).catch(() => null), `OCI layout ${dir}`);
    const index = await fs.readFile(join(dir, 'index.json')).catch(() => null);
    if (!index) throw new ImageError('invalid-source', `OCI layout ${dir}: index.json is missing`);
    return { store: new OciLayoutDir(dir), index };
  }

  async blob(desc: Pick<Descriptor, 'digest'>): Promise<AsyncIterable<Buffer>> {
    const { algorithm, hex } = parseDigest(desc.digest);
    const path = join(this.dir, 'blobs', algorithm, hex);
    const st = await fs.stat(path).catch(() => null);
    if (!st?.isFile()) throw new ImageError('not-found', `${this.label}: blob ${desc.digest} is missing`);
    return fileChunks(path);
  }
}

export async function checkLayoutFile(bytes: Buffer | null, label: string): Promise<void> {
  if (!bytes) throw new ImageError('invalid-source', `${label}: the oci-layout file is missing`);
  let version: unknown;
  try {
    version = (JSON.parse(bytes.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    throw new ImageError('invalid-source', `${label}: the oci-layout file is not JSON`);
  }
  if (typeof version !== 'string' || !version.startsWith('1.')) {
    throw new ImageError(
      'unsupported',
      `${label}: unsupported imageLayoutVersion ${JSON.stringify(version)}`,
    );
  }
}

/** Normalises a member name of an archive (`./a//b` → `a/b`). */
export function memberName(name: string): string {
  return name
    .split('/')
    .filter((c) => c !== '' && c !== '.')
    .join('/');
}

/** A tar file read by offset: members are looked up by name, OCI blobs by digest. */
export class TarArchive implements BlobStore {
  private constructor(
    readonly path: string,
    readonly label: string,
    private readonly members: Map<string, IndexedTarEntry>,
  ) {}

  static async open(path: string, label: string): Promise<TarArchive> {
    const handle = await fs.open(path, 'r');
    try {
      const { size } = await handle.stat();
      const entries = await indexTarFile(handle, size);
      const members = new Map<string, IndexedTarEntry>();
      for (const e of entries) if (e.type === 'file') members.set(memberName(e.name), e);
      return new TarArchive(path, label, members);
    } catch (err) {
      if (err instanceof ImageError)
        throw new ImageError(err.code, `${label}: ${err.message}`, { cause: err });
      throw err;
    } finally {
      await handle.close();
    }
  }

  has(name: string): boolean {
    return this.members.has(memberName(name));
  }

  size(name: string): number | undefined {
    return this.members.get(memberName(name))?.size;
  }

  open(name: string): AsyncIterable<Buffer> {
    const m = this.members.get(memberName(name));
    if (!m) throw new ImageError('not-found', `${this.label}: "${name}" is not in the archive`);
    return fileChunks(this.path, m.offset, m.size);
  }

  async read(name: string, limit: number): Promise<Buffer> {
    const size = this.size(name);
    if (size !== undefined && size > limit) {
      throw new ImageError(
        'too-large',
        `${this.label}: "${name}" is ${size} bytes, more than the ${limit} allowed`,
      );
    }
    const chunks: Buffer[] = [];
    for await (const c of this.open(name)) chunks.push(c);
    return Buffer.concat(chunks);
  }

  async blob(desc: Pick<Descriptor, 'digest'>): Promise<AsyncIterable<Buffer>> {
    const { algorithm, hex } = parseDigest(desc.digest);
    const name = `blobs/${algorithm}/${hex}`;
    if (!this.has(name)) throw new ImageError('not-found', `${this.label}: blob ${desc.digest} is missing`);
    return this.open(name);
  }
}

/**
 * Makes an archive randomly readable: a plain tar is used in place; a gzip / zstd one is decompressed
 * to `scratchFile` first (at most `limit` bytes).
 */
export async function openArchive(
  path: string,
  scratchFile: string,
  limit: number,
  signal?: AbortSignal,
): Promise<TarArchive> {
  const label = `docker archive ${path}`;
  const handle = await fs.open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new ImageError('invalid-source', `${label}: cannot open (${err.code ?? err.message})`);
  });
  const head = Buffer.alloc(6);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new ImageError('invalid-source', `${label}: not a file`);
    await handle.read(head, 0, 6, 0);
  } finally {
    await handle.close();
  }
  if (detectCompression(head) === 'none') return TarArchive.open(path, label);
  const { data } = await decompress(fileChunks(path), label);
  let total = 0;
  async function* limited(): AsyncGenerator<Buffer> {
    for await (const chunk of data) {
      total += chunk.length;
      if (total > limit)
        throw new ImageError('too-large', `${label}: decompresses to more than ${limit} bytes`);
      yield chunk;
    }
  }
  await pipeline(limited(), createWriteStream(scratchFile, { mode: 0o600 }), signal ? { signal } : {});
  return TarArchive.open(scratchFile, label);
}
