import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDigest } from './digest.js';
import { ImageError, type ImageSource, type Platform } from './types.js';

/** A parsed registry reference, normalised the way Docker does it. */
export interface RegistryReference {
  /** Registry host as written (`docker.io` for Docker Hub), with port if any. */
  registry: string;
  /** Host the API is reached at (`registry-1.docker.io` for Docker Hub). */
  apiHost: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';
const HOST_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST_RE = new RegExp(
  `^(?:${HOST_COMPONENT}(?:\\.${HOST_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`,
);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/** Parses `host[:port]/repo[:tag][@digest]`; Docker Hub defaults apply (docker.io, library/, latest). */
export function parseReference(input: string): RegistryReference {
  const bad = (why: string) =>
    new ImageError('invalid-reference', `invalid image reference "${input}": ${why}`);
  let rest = input.trim();
  if (rest === '') throw bad('empty');
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw bad(`"${digest}" is not a sha256/sha512 digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  }
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      registry = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!HOST_RE.test(registry)) throw bad(`"${registry}" is not a valid registry host`);
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (path === '' || !path.split('/').every((c) => PATH_COMPONENT_RE.test(c))) {
    throw bad(`"${path}" is not a valid repository name (lowercase letters, digits, separators)`);
  }
  if (registry.length + 1 + path.length > 255) throw bad('name longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  const ref: RegistryReference = {
    registry,
    apiHost: registry === DOCKER_HUB ? DOCKER_HUB_API : registry,
    repository: path,
  };
  if (tag) ref.tag = tag;
  if (digest) ref.digest = digest;
  return ref;
}

export function formatReference(ref: RegistryReference): string {
  const name = `${ref.registry}/${ref.repository}`;
  if (ref.digest) return `${name}${ref.tag ? `:${ref.tag}` : ''}@${ref.digest}`;
  return `${name}:${ref.tag ?? 'latest'}`;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Parses the CLI form of an image source:
 * - `oci:<dir>[:tag]` — an OCI image layout directory;
 * - `docker-archive:<file>` — a `docker save` tarball;
 * - `docker://<reference>` or `registry:<reference>` — a registry reference, explicitly;
 * - a path ending in `.tar`, `.tar.gz`, `.tgz`, `.tar.zst` — a docker archive;
 * - an existing directory holding an `oci-layout` file — an OCI layout;
 * - anything else — a registry reference (`host[:port]/repo[:tag|@digest]`).
 */
export function parseImageSource(arg: string): ImageSource {
  const input = arg.trim();
  if (input === '') throw new ImageError('invalid-source', 'empty image source');
  if (input.startsWith('oci:')) {
    const rest = input.slice(4);
    if (rest === '') throw new ImageError('invalid-source', `"${arg}": missing the OCI layout directory`);
    // The whole rest names a directory → no tag; otherwise the tag follows the last colon.
    if (isDirectory(rest)) return { kind: 'oci-layout', path: rest };
    const colon = rest.lastIndexOf(':');
    if (colon > 0 && colon > rest.lastIndexOf('/')) {
      const tag = rest.slice(colon + 1);
      if (tag === '') return { kind: 'oci-layout', path: rest.slice(0, colon) };
      return { kind: 'oci-layout', path: rest.slice(0, colon), tag };
    }
    return { kind: 'oci-layout', path: rest };
  }
  if (input.startsWith('docker-archive:')) {
    const path = input.slice('docker-archive:'.length);
    if (path === '') throw new ImageError('invalid-source', `"${arg}": missing the archive path`);
    return { kind: 'docker-archive', path };
  }
  for (const prefix of ['docker://', 'registry:']) {
    if (input.startsWith(prefix)) {
      const reference = input.slice(prefix.length);
      parseReference(reference);
      return { kind: 'registry', reference };
    }
  }
  if (/\.(tar|tar\.gz|tgz|tar\.zst)$/i.test(input)) return { kind: 'docker-archive', path: input };
  if (isDirectory(input)) {
    if (existsSync(join(input, 'oci-layout'))) return { kind: 'oci-layout', path: input };
    throw new ImageError(
      'invalid-source',
      `"${arg}" is a directory without an oci-layout file; only OCI image layout directories can be scanned`,
    );
  }
  try {
    parseReference(input);
  } catch (err) {
    throw new ImageError(
      'invalid-source',
      `"${arg}" is not an image source: not oci:<dir>, docker-archive:<file>, a .tar/.tar.gz file, ` +
        `an OCI layout directory, nor a registry reference (${(err as Error).message})`,
    );
  }
  return { kind: 'registry', reference: input };
}

/** Maps Node's `process.arch` to the OCI / Go architecture name. */
export function ociArchitecture(nodeArch: string = process.arch): string {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'ppc64':
      return 'ppc64le'; // Node only supports little-endian ppc64
    case 'mipsel':
      return 'mipsle';
    case 'loong64':
      return 'loong64';
    default:
      return nodeArch; // arm, arm64, riscv64, s390x, mips
  }
}

export function defaultPlatform(): Platform {
  const architecture = ociArchitecture();
  return architecture === 'arm'
    ? { os: 'linux', architecture, variant: 'v7' }
    : { os: 'linux', architecture };
}

/** The variant an architecture has when none is written (arm64 → v8, arm → v7). */
function normalVariant(architecture: string, variant: string | undefined): string {
  if (variant) return variant;
  if (architecture === 'arm64') return 'v8';
  if (architecture === 'arm') return 'v7';
  return '';
}

export function platformMatches(candidate: Partial<Platform> | undefined, wanted: Platform): boolean {
  if (!candidate || candidate.os !== wanted.os || candidate.architecture !== wanted.architecture)
    return false;
  return (
    normalVariant(wanted.architecture, candidate.variant) ===
    normalVariant(wanted.architecture, wanted.variant)
  );
}

export function formatPlatform(p: Partial<Platform> | undefined): string {
  if (!p) return 'unknown';
  return [p.os ?? '?', p.architecture ?? '?', p.variant].filter(Boolean).join('/');
}
