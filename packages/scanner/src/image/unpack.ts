/**
 * unpackImage: resolve an image source to a manifest + config + layers (verifying every digest), then
 * apply the layers in order into a fresh root directory inside the scan's own temporary directory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { emptyStats, LayerApplier } from './apply.js';
import { decompress } from './decompress.js';
import { digestOf, mismatch, newHash, parseDigest, verifyBytes, verifyStream } from './digest.js';
import {
  type BlobStore,
  checkLayoutFile,
  OciLayoutDir,
  openArchive,
  readBlob,
  type TarArchive,
} from './layout.js';
import {
  checkImage,
  configPlatform,
  type Descriptor,
  MAX_CONFIG_BYTES,
  MAX_MANIFEST_BYTES,
  MEDIA,
  type ParsedManifest,
  parseConfig,
  parseJson,
  parseManifest,
  selectPlatform,
} from './manifest.js';
import {
  defaultPlatform,
  formatPlatform,
  formatReference,
  parseReference,
  platformMatches,
} from './reference.js';
import { RegistryClient } from './registry.js';
import { readTar } from './tar.js';
import {
  type ImageConfig,
  ImageError,
  type ImageMetadata,
  type ImageSource,
  type LayerInfo,
  type Platform,
  type UnpackedImage,
  type UnpackOptions,
  type UnpackStats,
} from './types.js';

const GiB = 1024 ** 3;
export const DEFAULT_MAX_LAYER_BYTES = 2 * GiB;
export const DEFAULT_MAX_TOTAL_BYTES = 8 * GiB;
/** Room for the non-layer members of a compressed docker archive on top of maxTotalBytes. */
const ARCHIVE_SLACK_BYTES = 256 * 1024 * 1024;
const MAX_INDEX_DEPTH = 4;
const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

interface ResolvedLayer {
  /** Digest of the stored blob, when known up front (always, except legacy docker archives). */
  digest?: string;
  size?: number;
  mediaType?: string;
  name: string;
  /** A local file (read twice: verify, then extract) rather than a download (spooled once). */
  local: boolean;
  open(): Promise<AsyncIterable<Buffer>>;
}

interface ResolvedImage {
  reference: string;
  manifestDigest?: string;
  configDigest: string;
  config: ImageConfig;
  layers: ResolvedLayer[];
}

interface Limits {
  maxLayerBytes: number;
  maxTotalBytes: number;
}

interface Context {
  platform: Platform;
  /** The caller asked for this platform (a mismatch is then an error, not a silent pick). */
  explicitPlatform: boolean;
  limits: Limits;
  scratch: string;
  signal: AbortSignal | undefined;
}

function checkPlatform(config: ImageConfig, ctx: Context, what: string): void {
  if (!ctx.explicitPlatform) return;
  const p = configPlatform(config);
  if (!platformMatches(p, ctx.platform)) {
    throw new ImageError(
      'platform',
      `${what} is for ${formatPlatform(p)}, not the requested ${formatPlatform(ctx.platform)}`,
    );
  }
}

/**
 * Walks from a manifest or index down to one image manifest (choosing by platform), fetches and checks
 * its config. `getManifest` must return verified bytes.
 */
async function walkToImage(
  start: { bytes: Buffer; digest: string; contentType?: string },
  getManifest: (desc: Descriptor) => Promise<{ bytes: Buffer; contentType?: string }>,
  store: BlobStore,
  ctx: Context,
  what: string,
): Promise<{
  manifestDigest: string;
  manifest: Extract<ParsedManifest, { kind: 'manifest' }>;
  config: ImageConfig;
  configDigest: string;
}> {
  let digest = start.digest;
  let parsed = parseManifest(start.bytes, `${what} manifest ${digest}`, start.contentType);
  for (let depth = 0; parsed.kind === 'index'; depth++) {
    if (depth >= MAX_INDEX_DEPTH)
      throw new ImageError('invalid-manifest', `${what}: indexes nested too deeply`);
    const desc = selectPlatform(
      parsed.manifests,
      ctx.platform,
      `${what} index ${digest}`,
      ctx.explicitPlatform,
    );
    const child = await getManifest(desc);
    digest = desc.digest;
    parsed = parseManifest(child.bytes, `${what} manifest ${digest}`, child.contentType ?? desc.mediaType);
  }
  const configBytes = await readBlob(
    store,
    parsed.config,
    MAX_CONFIG_BYTES,
    `${what} config ${parsed.config.digest}`,
  );
  const config = checkImage(parsed, configBytes, `${what} manifest ${digest}`);
  checkPlatform(config, ctx, `${what} manifest ${digest}`);
  return { manifestDigest: digest, manifest: parsed, config, configDigest: parsed.config.digest };
}

function ociLayers(
  store: BlobStore,
  manifest: Extract<ParsedManifest, { kind: 'manifest' }>,
  local: boolean,
): ResolvedLayer[] {
  return manifest.layers.map((l) => ({
    local,
    digest: l.digest,
    size: l.size,
    mediaType: l.mediaType,
    name: l.digest,
    open: () => store.blob(l),
  }));
}

async function resolveRegistry(
  source: Extract<ImageSource, { kind: 'registry' }>,
  ctx: Context,
): Promise<ResolvedImage> {
  const ref = parseReference(source.reference);
  const client = new RegistryClient(ref, {
    insecure: source.insecure ?? false,
    ...(source.auth ? { auth: source.auth } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const what = formatReference(ref);
  const root = await client.manifest(ref.digest ?? (ref.tag as string));
  let rootDigest: string;
  if (ref.digest) {
    verifyBytes(root.bytes, ref.digest, `manifest ${ref.digest} of ${what}`);
    rootDigest = ref.digest;
  } else {
    rootDigest = digestOf(root.bytes);
    const stated = root.headerDigest;
    if (stated?.startsWith('sha256:') && stated !== rootDigest) {
      throw mismatch(`manifest ${ref.tag} of ${what} (Docker-Content-Digest header)`, stated, rootDigest);
    }
  }
  const store: BlobStore = { label: what, blob: (d) => client.blob(d.digest) };
  const image = await walkToImage(
    { bytes: root.bytes, digest: rootDigest, contentType: root.contentType },
    async (desc) => {
      const m = await client.manifest(desc.digest);
      if (m.bytes.length !== desc.size) {
        throw new ImageError(
          'size-mismatch',
          `manifest ${desc.digest} of ${what} is ${m.bytes.length} bytes, its index says ${desc.size}`,
        );
      }
      verifyBytes(m.bytes, desc.digest, `manifest ${desc.digest} of ${what}`);
      return { bytes: m.bytes, contentType: m.contentType };
    },
    store,
    ctx,
    what,
  );
  return {
    reference: what,
    manifestDigest: image.manifestDigest,
    configDigest: image.configDigest,
    config: image.config,
    layers: ociLayers(store, image.manifest, false),
  };
}

/** Chooses the image of an OCI layout's index.json, by tag, then by platform. */
function selectFromLayoutIndex(
  indexBytes: Buffer,
  tag: string | undefined,
  ctx: Context,
  label: string,
): Descriptor {
  const index = parseManifest(indexBytes, `${label} index.json`, MEDIA.ociIndex);
  if (index.kind !== 'index')
    throw new ImageError('invalid-manifest', `${label}: index.json is not an image index`);
  const tags = [...new Set(index.manifests.map((m) => m.annotations?.[REF_NAME]).filter(Boolean))];
  let candidates = index.manifests;
  if (tag !== undefined) {
    candidates = candidates.filter((m) => m.annotations?.[REF_NAME] === tag);
    if (candidates.length === 0) {
      throw new ImageError(
        'not-found',
        `${label}: no image tagged "${tag}" (tags: ${tags.join(', ') || 'none'})`,
      );
    }
  }
  if (candidates.length === 0) throw new ImageError('not-found', `${label}: index.json lists no image`);
  if (candidates.length === 1) return candidates[0] as Descriptor;
  if (candidates.every((m) => m.platform))
    return selectPlatform(candidates, ctx.platform, `${label} index.json`, ctx.explicitPlatform);
  if (tag === undefined) {
    const latest = candidates.filter((m) => m.annotations?.[REF_NAME] === 'latest');
    if (latest.length === 1) return latest[0] as Descriptor;
  }
  throw new ImageError(
    'invalid-source',
    `${label} holds several images; choose one by tag (tags: ${tags.join(', ') || 'none'})`,
  );
}

async function resolveLayout(
  store: BlobStore,
  indexBytes: Buffer,
  tag: string | undefined,
  ctx: Context,
  label: string,
): Promise<{ image: Awaited<ReturnType<typeof walkToImage>>; top: Descriptor }> {
  const top = selectFromLayoutIndex(indexBytes, tag, ctx, label);
  const getManifest = async (desc: Descriptor) => ({
    bytes: await readBlob(store, desc, MAX_MANIFEST_BYTES, `${label} manifest ${desc.digest}`),
    contentType: desc.mediaType,
  });
  const first = await getManifest(top);
  const image = await walkToImage({ ...first, digest: top.digest }, getManifest, store, ctx, label);
  return { image, top };
}

async function resolveOciLayout(
  source: Extract<ImageSource, { kind: 'oci-layout' }>,
  ctx: Context,
): Promise<ResolvedImage> {
  const { store, index } = await OciLayoutDir.open(source.path);
  const { image, top } = await resolveLayout(store, index, source.tag, ctx, store.label);
  const tag = source.tag ?? top.annotations?.[REF_NAME];
  return {
    reference: `oci:${source.path}${tag ? `:${tag}` : ''}`,
    manifestDigest: image.manifestDigest,
    configDigest: image.configDigest,
    config: image.config,
    layers: ociLayers(store, image.manifest, true),
  };
}

interface LegacyEntry {
  Config: string;
  Layers: string[];
  RepoTags: string[];
}

function parseLegacyManifest(bytes: Buffer, label: string): LegacyEntry[] {
  const doc = parseJson(bytes, `${label} manifest.json`);
  if (!Array.isArray(doc) || doc.length === 0) {
    throw new ImageError('invalid-manifest', `${label}: manifest.json is not a non-empty list`);
  }
  return doc.map((e: unknown, i) => {
    const o = e as Record<string, unknown> | null;
    if (
      !o ||
      typeof o.Config !== 'string' ||
      !Array.isArray(o.Layers) ||
      !o.Layers.every((l): l is string => typeof l === 'string')
    ) {
      throw new ImageError('invalid-manifest', `${label}: manifest.json entry ${i} lacks Config / Layers`);
    }
    const tags = Array.isArray(o.RepoTags)
      ? o.RepoTags.filter((t): t is string => typeof t === 'string')
      : [];
    return { Config: o.Config, Layers: o.Layers as string[], RepoTags: tags };
  });
}

/** The digest a member name carries (`blobs/sha256/<hex>`, `<hex>.json`), if any. */
function digestFromName(name: string): string | undefined {
  const m = /(?:^|\/)(?:blobs\/sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(name);
  return m ? `sha256:${m[1]}` : undefined;
}

async function resolveDockerArchive(
  source: Extract<ImageSource, { kind: 'docker-archive' }>,
  ctx: Context,
): Promise<ResolvedImage> {
  const archive: TarArchive = await openArchive(
    source.path,
    join(ctx.scratch, 'archive.tar'),
    ctx.limits.maxTotalBytes + ARCHIVE_SLACK_BYTES,
    ctx.signal,
  );
  const label = archive.label;
  const legacy = archive.has('manifest.json')
    ? parseLegacyManifest(await archive.read('manifest.json', MAX_MANIFEST_BYTES), label)
    : undefined;

  if (archive.has('oci-layout') && archive.has('index.json')) {
    // Docker 25+ `docker save`: an OCI image layout inside the tar (manifest.json kept for compatibility).
    await checkLayoutFile(await archive.read('oci-layout', 4096), label);
    const index = await archive.read('index.json', MAX_MANIFEST_BYTES);
    const { image, top } = await resolveLayout(archive, index, undefined, ctx, label);
    const name = top.annotations?.[CONTAINERD_NAME] ?? legacy?.find((e) => e.RepoTags.length)?.RepoTags[0];
    return {
      reference: name ?? `docker-archive:${source.path}`,
      manifestDigest: image.manifestDigest,
      configDigest: image.configDigest,
      config: image.config,
      layers: ociLayers(archive, image.manifest, true),
    };
  }
  if (!legacy) {
    throw new ImageError(
      'invalid-source',
      `${label} is not a docker save archive (no manifest.json, no OCI index.json)`,
    );
  }

  // Legacy `docker save`: manifest.json → Config (named by its digest) + Layers (uncompressed tars whose
  // digests are the config's diff_ids).
  const load = async (entry: LegacyEntry) => {
    const bytes = await archive.read(entry.Config, MAX_CONFIG_BYTES);
    const named = digestFromName(entry.Config);
    if (named) verifyBytes(bytes, named, `${label} config ${entry.Config}`);
    return {
      bytes,
      digest: named ?? digestOf(bytes),
      config: parseConfig(bytes, `${label} ${entry.Config}`, entry.Layers.length),
    };
  };
  let chosen = legacy[0] as LegacyEntry;
  let loaded = await load(chosen);
  if (ctx.explicitPlatform && legacy.length > 1) {
    for (const entry of legacy) {
      const l = entry === chosen ? loaded : await load(entry);
      if (platformMatches(configPlatform(l.config), ctx.platform)) {
        chosen = entry;
        loaded = l;
        break;
      }
    }
  }
  checkPlatform(loaded.config, ctx, label);
  return {
    reference: chosen.RepoTags[0] ?? `docker-archive:${source.path}`,
    configDigest: loaded.digest,
    config: loaded.config,
    layers: chosen.Layers.map((name) => {
      if (!archive.has(name))
        throw new ImageError('not-found', `${label}: layer "${name}" is not in the archive`);
      const digest = digestFromName(name);
      const size = archive.size(name) as number;
      return {
        name,
        size,
        local: true,
        ...(digest && name.startsWith('blobs/') ? { digest } : {}),
        open: async () => archive.open(name),
      };
    }),
  };
}

/** Hashes and sizes a stream whose digest is not known in advance. */
async function* measure(
  source: AsyncIterable<Buffer>,
  out: { digest?: string; size: number },
): AsyncGenerator<Buffer> {
  const hash = newHash('sha256');
  for await (const chunk of source) {
    out.size += chunk.length;
    hash.update(chunk);
    yield chunk;
  }
  out.digest = `sha256:${hash.digest('hex')}`;
}

/** Counts uncompressed bytes against the limits and checks the diff_id at the end. */
async function* countAndCheck(
  source: AsyncIterable<Buffer>,
  diffId: string | undefined,
  limits: Limits,
  stats: UnpackStats,
  label: string,
): AsyncGenerator<Buffer> {
  const hash = diffId ? newHash(parseDigest(diffId, `${label} diff_id`).algorithm) : undefined;
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    stats.uncompressedBytes += chunk.length;
    if (size > limits.maxLayerBytes) {
      throw new ImageError(
        'too-large',
        `${label} is larger than the ${limits.maxLayerBytes}-byte layer limit (uncompressed)`,
      );
    }
    if (stats.uncompressedBytes > limits.maxTotalBytes) {
      throw new ImageError(
        'too-large',
        `the image is larger than the ${limits.maxTotalBytes}-byte limit (uncompressed)`,
      );
    }
    hash?.update(chunk);
    yield chunk;
  }
  if (diffId && hash) {
    const actual = `${parseDigest(diffId).algorithm}:${hash.digest('hex')}`;
    if (actual !== diffId) throw mismatch(`${label} (uncompressed, config diff_id)`, diffId, actual);
  }
}

const MEDIA_BY_COMPRESSION = {
  none: MEDIA.dockerLayerTar,
  gzip: MEDIA.dockerLayerGzip,
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

/**
 * Applies one layer. The blob is verified BEFORE its tar is parsed, so that the tar reader never sees
 * bytes that do not match the manifest: a local blob is hashed in a first pass; a remote one is
 * downloaded (verified) into the scratch directory first. Legacy docker-archive layers, which carry no
 * blob digest, are checked against their diff_id in the first pass instead. The extraction pass
 * verifies again (a local file could change in between) and checks the diff_id.
 */
async function applyLayer(
  layer: ResolvedLayer,
  index: number,
  label: string,
  diffId: string | undefined,
  applier: LayerApplier,
  ctx: Context,
): Promise<LayerInfo> {
  const { maxLayerBytes } = ctx.limits;
  if (layer.size !== undefined && layer.size > maxLayerBytes) {
    throw new ImageError(
      'too-large',
      `${label} is ${layer.size} bytes, more than the ${maxLayerBytes}-byte layer limit`,
    );
  }
  let open = layer.open;
  let spooled: string | undefined;
  const measured: { digest?: string; size: number } = { size: 0 };
  try {
    if (layer.digest) {
      const expected = { digest: layer.digest, size: layer.size };
      if (layer.local) {
        for await (const _ of verifyStream(await layer.open(), expected, label)) {
          // first pass: hash only
        }
      } else {
        const path = join(ctx.scratch, `layer-${index}`);
        spooled = path;
        await pipeline(
          verifyStream(await layer.open(), expected, label),
          createWriteStream(path, { mode: 0o600 }),
          {
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          },
        );
        open = async () => createReadStream(path, { highWaterMark: 256 * 1024 });
      }
    } else {
      const { data } = await decompress(measure(await layer.open(), measured), label);
      const scratchStats = { ...applier.stats };
      for await (const _ of countAndCheck(data, diffId, ctx.limits, scratchStats, label)) {
        // first pass: hash only
      }
    }

    const raw = await open();
    const checked = layer.digest
      ? verifyStream(raw, { digest: layer.digest, size: layer.size }, label)
      : measure(raw, { size: 0 });
    const { compression, data } = await decompress(checked, label);
    await applier.apply(
      readTar(countAndCheck(data, diffId, ctx.limits, applier.stats, label)),
      label,
      ctx.signal,
    );
    return {
      digest: layer.digest ?? (measured.digest as string),
      size: layer.size ?? measured.size,
      mediaType: layer.mediaType ?? MEDIA_BY_COMPRESSION[compression],
    };
  } catch (err) {
    if (err instanceof ImageError && !err.message.includes(label)) {
      throw new ImageError(err.code, `${label}: ${err.message}`, { cause: err });
    }
    throw err;
  } finally {
    if (spooled) await fs.rm(spooled, { force: true });
  }
}

async function resolve(source: ImageSource, ctx: Context): Promise<ResolvedImage> {
  switch (source.kind) {
    case 'registry':
      return resolveRegistry(source, ctx);
    case 'oci-layout':
      return resolveOciLayout(source, ctx);
    case 'docker-archive':
      return resolveDockerArchive(source, ctx);
    default:
      throw new ImageError(
        'invalid-source',
        `unknown image source kind ${(source as { kind: string }).kind}`,
      );
  }
}

/** Pulls / reads an image and unpacks its filesystem; see README.md in this folder. */
export async function unpackImage(source: ImageSource, options: UnpackOptions = {}): Promise<UnpackedImage> {
  const limits: Limits = {
    maxLayerBytes: options.maxLayerBytes ?? DEFAULT_MAX_LAYER_BYTES,
    maxTotalBytes: options.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES,
  };
  const parent = options.workDir ?? os.tmpdir();
  await fs.mkdir(parent, { recursive: true });
  const scanDir = await fs.realpath(await fs.mkdtemp(join(parent, 'palisade-image-')));
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await fs.rm(scanDir, { recursive: true, force: true });
  };
  try {
    const rootDir = join(scanDir, 'rootfs');
    const scratch = join(scanDir, 'scratch');
    await fs.mkdir(rootDir, { mode: 0o755 });
    await fs.mkdir(scratch, { mode: 0o700 });
    const ctx: Context = {
      platform: source.platform ?? defaultPlatform(),
      explicitPlatform: source.platform !== undefined,
      limits,
      scratch,
      signal: options.signal,
    };
    options.signal?.throwIfAborted();
    const image = await resolve(source, ctx);
    const diffIds = image.config.rootfs?.diff_ids;
    const stats = emptyStats();
    const applier = new LayerApplier(rootDir, stats, options.select);
    const layers: LayerInfo[] = [];
    const skip = options.skipLayers?.(image.configDigest) ?? false;
    if (skip) {
      for (const l of image.layers)
        layers.push({ digest: l.digest ?? '', size: l.size ?? 0, mediaType: l.mediaType ?? '' });
    }
    for (const [i, layer] of (skip ? [] : image.layers).entries()) {
      if (options.signal?.aborted)
        throw new ImageError('aborted', 'unpack aborted', { cause: options.signal.reason });
      const label = `layer ${i + 1}/${image.layers.length} (${layer.digest ?? layer.name})`;
      layers.push(await applyLayer(layer, i, label, diffIds?.[i], applier, ctx));
    }
    await fs.rm(scratch, { recursive: true, force: true });
    const platform = configPlatform(image.config);
    const metadata: ImageMetadata = {
      reference: image.reference,
      digest: image.manifestDigest ?? image.configDigest,
      configDigest: image.configDigest,
      config: image.config,
      layers,
      os: platform.os,
      architecture: platform.architecture,
    };
    if (platform.variant) metadata.variant = platform.variant;
    return { rootDir, metadata, stats, cleanup, layersApplied: !skip };
  } catch (err) {
    await cleanup();
    if (options.signal?.aborted && !(err instanceof ImageError && err.code === 'aborted')) {
      throw new ImageError('aborted', 'unpack aborted', { cause: err });
    }
    throw err;
  }
}
