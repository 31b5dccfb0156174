/** Public types of the image module (see README.md in this folder). */

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface RegistryAuth {
  username: string;
  password: string;
}

export type ImageSource =
  | {
      kind: 'registry';
      /** `host[:port]/repo[:tag|@digest]`; Docker Hub defaults apply (`docker.io`, `library/`, `:latest`). */
      reference: string;
      /** Talk plain HTTP to the registry (always done for localhost / 127.0.0.1 / ::1). */
      insecure?: boolean;
      auth?: RegistryAuth;
      platform?: Platform;
    }
  | { kind: 'oci-layout'; path: string; tag?: string; platform?: Platform }
  | {
      /** A `docker save` tarball (legacy manifest.json layout or OCI layout in a tar), plain or compressed. */
      kind: 'docker-archive';
      path: string;
      platform?: Platform;
    };

export interface LayerInfo {
  /** Digest of the blob as stored (for a registry / OCI layout: the compressed digest). */
  digest: string;
  size: number;
  mediaType: string;
}

export interface ImageMetadata {
  reference: string;
  /**
   * Digest of the image manifest that was used. For a legacy `docker save` archive, which holds no
   * manifest, this is the config digest (Docker's "image ID"); see `configDigest` too.
   */
  digest: string;
  configDigest: string;
  /** The parsed image config (Docker / OCI image config JSON). */
  config: ImageConfig;
  layers: LayerInfo[];
  os: string;
  architecture: string;
  variant?: string;
}

/** The parts of the image config this module reads; the rest is kept as parsed. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  rootfs?: { type?: string; diff_ids?: string[] };
  [key: string]: unknown;
}

/** Counters of one unpack, for reports and tests. */
export interface UnpackStats {
  layers: number;
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  whiteouts: number;
  opaqueDirs: number;
  /** Character / block devices and FIFOs: never created, only counted. */
  skippedDevices: number;
  /** Entries of a tar type this module does not materialise (e.g. GNU sparse, volume labels). */
  skippedOther: number;
  /** Regular files and hardlinks left out because `UnpackOptions.select` did not want them. */
  skippedUnselected: number;
  /** Sum of the uncompressed layer sizes. */
  uncompressedBytes: number;
}

export interface UnpackedImage {
  /** The image's root filesystem; a directory inside the scan's own temporary directory. */
  rootDir: string;
  metadata: ImageMetadata;
  stats: UnpackStats;
  /** False when `UnpackOptions.skipLayers` chose to skip them. */
  layersApplied: boolean;
  /** Removes the scan's temporary directory (rootDir included). Safe to call twice. */
  cleanup(): Promise<void>;
}

export interface UnpackOptions {
  /** Parent of the scan's temporary directory; default `os.tmpdir()`. */
  workDir?: string;
  /** Largest layer, compressed or uncompressed; default 2 GiB. */
  maxLayerBytes?: number;
  /** Largest sum of the uncompressed layers; default 8 GiB. */
  maxTotalBytes?: number;
  signal?: AbortSignal;
  /**
   * Which regular files to write (path relative to the root, without a leading '/'). Directories,
   * symlinks and whiteouts are always applied, so the selected files end up exactly where the full
   * image would have them; everything else is skipped, which makes scans much faster.
   */
  select?: (path: string, entry: { mode: number; size: number }) => boolean;
  /**
   * Called once the manifest and config are read and verified, before any layer is fetched. Returning
   * true skips the layers (the caller already has what it needs for this config digest, e.g. a cached
   * inventory): the result then has `layersApplied: false` and an empty root.
   */
  skipLayers?: (configDigest: string) => boolean;
}

/** Every failure of this module is an ImageError with a stable `code`. */
export type ImageErrorCode =
  | 'invalid-reference'
  | 'invalid-source'
  | 'not-found'
  | 'auth'
  | 'registry'
  | 'digest-mismatch'
  | 'size-mismatch'
  | 'too-large'
  | 'unsupported'
  | 'invalid-manifest'
  | 'platform'
  | 'malformed-tar'
  | 'truncated'
  | 'unsafe-path'
  | 'aborted';

export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
