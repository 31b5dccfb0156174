/**
 * Image sources and layer application for the scanner: registry (v2 / OCI distribution), OCI image
 * layout directories and `docker save` archives, unpacked into a temporary root filesystem.
 */

export type { RegistryReference } from './reference.js';
export { defaultPlatform, formatReference, parseImageSource, parseReference } from './reference.js';
export {
  type ImageConfig,
  ImageError,
  type ImageErrorCode,
  type ImageMetadata,
  type ImageSource,
  type LayerInfo,
  type Platform,
  type RegistryAuth,
  type UnpackedImage,
  type UnpackOptions,
  type UnpackStats,
} from './types.js';
export { DEFAULT_MAX_LAYER_BYTES, DEFAULT_MAX_TOTAL_BYTES, unpackImage } from './unpack.js';
