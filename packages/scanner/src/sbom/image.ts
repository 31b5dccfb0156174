import type { ImageRef } from './types.js';

/** An image reference split into its parts, Docker-style defaults applied. */
export interface ParsedReference {
  /** Registry host (with port), `docker.io` when none is named. */
  registry: string;
  /** Repository path, `library/` added for official Docker Hub images. */
  repository: string;
  tag?: string;
  digest?: string;
}

/**
 * Splits `[registry/]path[:tag][@digest]`. The first path component is a registry when it contains
 * `.` or `:` or is `localhost` (the Docker convention); otherwise the image is on Docker Hub.
 */
export function parseReference(reference: string): ParsedReference {
  let rest = reference.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  let registry = 'docker.io';
  let repository = rest;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first === 'index.docker.io' ? 'docker.io' : first;
    repository = rest.slice(slash + 1);
  }
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Percent-encoding as the purl spec wants it for qualifier values (`/` and `:` stay readable). */
function encodeQualifier(value: string): string {
  return encodeURIComponent(value).replace(/%2F/gi, '/').replace(/%3A/gi, ':');
}

/**
 * The image's package URL (purl `oci` type): no namespace, the last repository segment lowercased as
 * the name, the manifest digest as the version, and `arch`, `repository_url`, `tag` qualifiers
 * (sorted by key, as the canonical form requires).
 */
export function imagePurl(image: ImageRef): string {
  const ref = parseReference(image.reference);
  const name = (ref.repository.split('/').pop() ?? ref.repository).toLowerCase();
  const digest = image.digest || ref.digest;
  const qualifiers: [string, string][] = [];
  if (image.architecture) qualifiers.push(['arch', image.architecture]);
  qualifiers.push(['repository_url', `${ref.registry}/${ref.repository}`]);
  if (ref.tag) qualifiers.push(['tag', ref.tag]);
  const query = qualifiers.map(([key, value]) => `${key}=${encodeQualifier(value)}`).join('&');
  return `pkg:oci/${encodeURIComponent(name)}${digest ? `@${encodeURIComponent(digest)}` : ''}?${query}`;
}

/** The image's display name: the reference without tag or digest, as the user wrote it. */
export function imageName(image: ImageRef): string {
  const ref = image.reference.trim();
  const withoutDigest = ref.includes('@') ? ref.slice(0, ref.indexOf('@')) : ref;
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}
