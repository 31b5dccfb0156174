import { createHash, randomUUID } from 'node:crypto';

/** RFC 9562 name-based namespace for URLs; any fixed namespace would do, this one is well known. */
const NAMESPACE_URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/** RFC 9562 version-5 (SHA-1, name-based) UUID: the same seed always gives the same UUID. */
export function uuidV5(name: string, namespace = NAMESPACE_URL): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A seeded UUID when a seed is given (reproducible output), else a random one. */
export function uuid(seed?: string): string {
  return seed === undefined ? randomUUID() : uuidV5(seed);
}

/** `YYYY-MM-DDThh:mm:ssZ`: the SPDX `created` format, also a valid JSON-schema `date-time`. */
export function utcSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Hands out SPDX element ids: `SPDXRef-` followed by letters, digits, `.` and `-` only (SPDX 2.3
 * §3.2/§7.2 idstring), every other character replaced by `-`. A clash after sanitising gets `-2`,
 * `-3`… so ids stay unique within the document.
 */
export class SpdxIdAllocator {
  private readonly used = new Set<string>();

  allocate(...parts: string[]): string {
    const body =
      parts
        .map((part) => part.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, ''))
        .filter((part) => part !== '')
        .join('-') || 'element';
    let id = `SPDXRef-${body}`;
    for (let n = 2; this.used.has(id); n++) id = `SPDXRef-${body}-${n}`;
    this.used.add(id);
    return id;
  }
}
