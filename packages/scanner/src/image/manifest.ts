/**
 * Manifests, indexes and descriptors (OCI image-spec; Docker image manifest v2 schema 2 and manifest
 * list). Parsing validates only what this module relies on.
 */
import { parseDigest } from './digest.js';
import { formatPlatform, platformMatches } from './reference.js';
import { type ImageConfig, ImageError, type Platform } from './types.js';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Accept header for manifest requests, most specific first. */
export const MANIFEST_ACCEPT = [
  MEDIA.ociIndex,
  MEDIA.ociManifest,
  MEDIA.dockerList,
  MEDIA.dockerManifest,
].join(', ');

const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);
const MANIFEST_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);
const CONFIG_TYPES = new Set<string>([MEDIA.ociConfig, MEDIA.dockerConfig]);
const LAYER_TYPES = new Set<string>([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  MEDIA.dockerLayerTar,
  MEDIA.dockerLayerGzip,
  'application/vnd.docker.image.rootfs.diff.tar.zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

/** Largest manifest / index accepted (the distribution spec lets registries cap them at 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw new ImageError('invalid-manifest', `${what}: descriptor is not an object`);
  const { mediaType, digest, size, platform, annotations, urls } = v;
  if (typeof mediaType !== 'string')
    throw new ImageError('invalid-manifest', `${what}: descriptor has no mediaType`);
  parseDigest(digest, `${what} digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new ImageError('invalid-manifest', `${what}: descriptor has no valid size`);
  }
  const d: Descriptor = { mediaType, digest: digest as string, size };
  if (isObject(platform) && typeof platform.os === 'string' && typeof platform.architecture === 'string') {
    d.platform = { os: platform.os, architecture: platform.architecture };
    if (typeof platform.variant === 'string' && platform.variant) d.platform.variant = platform.variant;
  }
  if (isObject(annotations)) {
    d.annotations = Object.fromEntries(
      Object.entries(annotations).filter(([, x]) => typeof x === 'string'),
    ) as Record<string, string>;
  }
  if (Array.isArray(urls)) d.urls = urls.filter((u): u is string => typeof u === 'string');
  return d;
}

export function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new ImageError('invalid-manifest', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Parses a manifest or an index. The kind comes from the body's `mediaType`, else from the transport's
 * content type, else from the shape (`manifests` vs `config` + `layers`).
 */
export function parseManifest(bytes: Uint8Array, what: string, contentType?: string): ParsedManifest {
  const doc = parseJson(bytes, what);
  if (!isObject(doc)) throw new ImageError('invalid-manifest', `${what} is not a JSON object`);
  if (doc.schemaVersion === 1) {
    throw new ImageError('unsupported', `${what} is a Docker schema 1 manifest, which is not supported`);
  }
  if (doc.schemaVersion !== 2) throw new ImageError('invalid-manifest', `${what}: schemaVersion is not 2`);
  const ct = contentType?.split(';')[0]?.trim();
  const mediaType =
    typeof doc.mediaType === 'string' ? doc.mediaType : ct && ct !== 'application/json' ? ct : '';
  if (mediaType === MEDIA.dockerSchema1 || mediaType === MEDIA.dockerSchema1Signed) {
    throw new ImageError('unsupported', `${what} is a Docker schema 1 manifest, which is not supported`);
  }
  const isIndex = INDEX_TYPES.has(mediaType) || (!mediaType && Array.isArray(doc.manifests));
  const isManifest = MANIFEST_TYPES.has(mediaType) || (!mediaType && isObject(doc.config));
  if (isIndex) {
    if (!Array.isArray(doc.manifests))
      throw new ImageError('invalid-manifest', `${what}: index without "manifests"`);
    return {
      kind: 'index',
      mediaType: mediaType || MEDIA.ociIndex,
      manifests: doc.manifests.map((m, i) => parseDescriptor(m, `${what} manifests[${i}]`)),
    };
  }
  if (isManifest) {
    if (!Array.isArray(doc.layers))
      throw new ImageError('invalid-manifest', `${what}: manifest without "layers"`);
    return {
      kind: 'manifest',
      mediaType: mediaType || MEDIA.ociManifest,
      config: parseDescriptor(doc.config, `${what} config`),
      layers: doc.layers.map((l, i) => parseDescriptor(l, `${what} layers[${i}]`)),
    };
  }
  throw new ImageError(
    'unsupported',
    `${what} has media type "${mediaType || 'unknown'}", which is neither an image manifest nor an index`,
  );
}

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

/**
 * Picks the manifest for a platform from an index. When the platform was not asked for explicitly
 * (`explicit` false) and the index holds exactly one real image (attestations, `unknown/unknown`, aside),
 * that image is used whatever its platform — scanning a foreign-architecture image is legitimate.
 */
export function selectPlatform(
  manifests: Descriptor[],
  wanted: Platform,
  what: string,
  explicit = true,
): Descriptor {
  const candidates = manifests.filter((m) => MANIFEST_TYPES.has(m.mediaType) || INDEX_TYPES.has(m.mediaType));
  if (candidates.length === 1 && !candidates[0]?.platform) return candidates[0] as Descriptor;
  const exact = candidates.find((m) => platformMatches(m.platform, wanted));
  if (exact) return exact;
  if (!wanted.variant) {
    const loose = candidates.find(
      (m) => m.platform?.os === wanted.os && m.platform.architecture === wanted.architecture,
    );
    if (loose) return loose;
  }
  const real = candidates.filter((m) => m.platform && formatPlatform(m.platform) !== 'unknown/unknown');
  if (!explicit && real.length === 1) return real[0] as Descriptor;
  const offered = candidates
    .map((m) => formatPlatform(m.platform))
    .filter((p) => p !== 'unknown/unknown')
    .join(', ');
  throw new ImageError(
    'platform',
    `${what} has no image for platform ${formatPlatform(wanted)} (it offers: ${offered || 'none'})`,
  );
}

/** Checks the config's media type and layer media types; returns the parsed config. */
export function checkImage(
  manifest: Extract<ParsedManifest, { kind: 'manifest' }>,
  configBytes: Uint8Array,
  what: string,
): ImageConfig {
  if (!CONFIG_TYPES.has(manifest.config.mediaType)) {
    throw new ImageError(
      'unsupported',
      `${what} is not a container image (config media type "${manifest.config.mediaType}")`,
    );
  }
  for (const layer of manifest.layers) {
    if (!LAYER_TYPES.has(layer.mediaType)) {
      throw new ImageError(
        'unsupported',
        `${what}: layer ${layer.digest} has unsupported media type "${layer.mediaType}"`,
      );
    }
  }
  return parseConfig(configBytes, what, manifest.layers.length);
}

export function parseConfig(configBytes: Uint8Array, what: string, layerCount: number): ImageConfig {
  const config = parseJson(configBytes, `${what} config`);
  if (!isObject(config)) throw new ImageError('invalid-manifest', `${what}: config is not a JSON object`);
  const diffIds = isObject(config.rootfs) ? config.rootfs.diff_ids : undefined;
  if (diffIds !== undefined) {
    if (!Array.isArray(diffIds))
      throw new ImageError('invalid-manifest', `${what}: config rootfs.diff_ids is not a list`);
    for (const [i, d] of diffIds.entries()) parseDigest(d, `${what} config diff_ids[${i}]`);
    if (diffIds.length !== layerCount) {
      throw new ImageError(
        'invalid-manifest',
        `${what}: config lists ${diffIds.length} diff_ids but the manifest has ${layerCount} layers`,
      );
    }
  }
  return config as ImageConfig;
}

export function configPlatform(config: ImageConfig): Platform {
  const p: Platform = {
    os: typeof config.os === 'string' ? config.os : '',
    architecture: typeof config.architecture === 'string' ? config.architecture : '',
  };
  if (typeof config.variant === 'string' && config.variant) p.variant = config.variant;
  return p;
}
