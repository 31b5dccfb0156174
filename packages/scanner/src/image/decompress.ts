import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { ImageError } from './types.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** Detects the compression of a blob from its first bytes (media types are not trusted for this). */
export function detectCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  // zstd skippable frame: 0x184D2A5? little-endian
  if ((head[0] ?? 0) >> 4 === 0x5 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) return 'zstd';
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) {
    throw new ImageError('unsupported', 'bzip2-compressed layers are not supported');
  }
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a) {
    throw new ImageError('unsupported', 'xz-compressed layers are not supported');
  }
  return 'none';
}

/** Reads at least `n` bytes (or all, if fewer) and returns them with a source that replays them first. */
export async function peek(
  source: AsyncIterable<Buffer>,
  n: number,
): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < n) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(chunks).subarray(0, n);
  async function* rest(): AsyncGenerator<Buffer> {
    let finished = done;
    try {
      yield* chunks;
      while (!finished) {
        const next = await iterator.next();
        if (next.done) {
          finished = true;
          break;
        }
        yield next.value;
      }
    } finally {
      if (!finished) await iterator.return?.();
    }
  }
  return { head, rest: rest() };
}

function decompressor(kind: Exclude<Compression, 'none'>): zlib.Gunzip | zlib.ZstdDecompress {
  if (kind === 'gzip') return zlib.createGunzip();
  if (typeof zlib.createZstdDecompress !== 'function') {
    throw new ImageError('unsupported', 'zstd layers need a Node.js with zlib zstd support (22.15+ / 23.8+)');
  }
  return zlib.createZstdDecompress();
}

/** Decompresses a blob according to its magic bytes (gzip, zstd or none). */
export async function decompress(
  source: AsyncIterable<Buffer>,
  what: string,
): Promise<{ compression: Compression; data: AsyncIterable<Buffer> }> {
  const { head, rest } = await peek(source, 6);
  const compression = detectCompression(head);
  if (compression === 'none') return { compression, data: rest };
  return { compression, data: inflate(rest, compression, what) };
}

async function* inflate(
  source: AsyncIterable<Buffer>,
  kind: Exclude<Compression, 'none'>,
  what: string,
): AsyncGenerator<Buffer> {
  const z = decompressor(kind);
  const input = Readable.from(source, { objectMode: false });
  const done = pipeline(input, z);
  // The pipeline's own promise reports source and zlib errors; the loop below reads the output.
  let failure: unknown;
  done.catch((err: unknown) => {
    failure = err;
  });
  try {
    for await (const chunk of z) yield chunk as Buffer;
    await done;
  } catch (err) {
    const cause = failure ?? err;
    if (cause instanceof ImageError) throw cause;
    const message = (cause as Error).message ?? String(cause);
    const code = /unexpected end of file/i.test(message) ? 'truncated' : 'malformed-tar';
    throw new ImageError(
      code,
      `${what}: ${kind} stream is ${code === 'truncated' ? 'truncated' : 'corrupt'} (${message})`,
      {
        cause,
      },
    );
  } finally {
    input.destroy();
    z.destroy();
  }
}
