import type { z } from 'zod';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Largest message body we accept; NATS' own default max_payload is 1 MiB. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Parses a wire message against its schema. Never throws: a malformed message becomes an error the
 * caller logs and counts, so one bad peer cannot crash a process.
 */
export function decode<S extends z.ZodType>(schema: S, data: Uint8Array): Decoded<z.infer<S>> {
  if (data.byteLength > MAX_MESSAGE_BYTES) {
    return { ok: false, error: `message is ${data.byteLength} bytes, limit is ${MAX_MESSAGE_BYTES}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch (err) {
    return { ok: false, error: `not valid UTF-8 JSON: ${(err as Error).message}` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    return { ok: false, error: `schema mismatch: ${issues}` };
  }
  return { ok: true, value: parsed.data };
}
