/**
 * A minimal OCI distribution / Docker registry v2 client: manifests and blobs, anonymous, Basic and
 * Bearer-token auth. Every byte it returns is verified by the caller against a digest.
 */
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from './manifest.js';
import type { RegistryReference } from './reference.js';
import { ImageError, type RegistryAuth } from './types.js';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): one or more challenges, each a scheme followed by
 * comma-separated `key=value` / `key="quoted value"` parameters.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = () => {
    while (i < n && /[\s,]/.test(header[i] as string)) i++;
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    const tokenStart = i;
    while (i < n && /[^\s,=]/.test(header[i] as string)) i++;
    const token = header.slice(tokenStart, i);
    if (!token) break;
    let j = i;
    while (j < n && header[j] === ' ') j++;
    if (header[j] === '=' && current) {
      // key=value
      i = j + 1;
      while (i < n && header[i] === ' ') i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        const vs = i;
        while (i < n && header[i] !== ',') i++;
        value = header.slice(vs, i).trim();
      }
      current.params[token.toLowerCase()] = value;
    } else if (header[j] === '=' && !current) {
      break; // malformed: parameter before any scheme
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export function registryBaseUrl(ref: RegistryReference, insecure: boolean): string {
  const host = ref.apiHost.replace(/:\d+$/, '');
  const scheme = insecure || LOOPBACK.has(host.toLowerCase()) ? 'http' : 'https';
  return `${scheme}://${ref.apiHost}`;
}

function basic(auth: RegistryAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
}

/** Reads a response body, failing once it exceeds `limit` bytes. */
export async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel();
    throw new ImageError('too-large', `${what} is ${declared} bytes, more than the ${limit} allowed`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      total += chunk.byteLength;
      if (total > limit) {
        await res.body.cancel().catch(() => {});
        throw new ImageError('too-large', `${what} is more than the ${limit} bytes allowed`);
      }
      chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
  }
  return Buffer.concat(chunks);
}

async function* bodyChunks(res: Response): AsyncGenerator<Buffer> {
  if (!res.body) return;
  const reader = res.body.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        return;
      }
      yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

async function errorDetail(res: Response): Promise<string> {
  try {
    const text = (await readLimited(res, 64 * 1024, 'error body')).toString('utf8');
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const errs = doc.errors?.map((e) => [e.code, e.message].filter(Boolean).join(': ')).filter(Boolean);
    if (errs?.length) return errs.join('; ');
    return text.slice(0, 200);
  } catch {
    return '';
  }
}

export interface RegistryClientOptions {
  insecure?: boolean;
  auth?: RegistryAuth;
  signal?: AbortSignal;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export class RegistryClient {
  readonly base: string;
  private authorization: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(
    readonly ref: RegistryReference,
    private readonly options: RegistryClientOptions = {},
  ) {
    this.base = `${registryBaseUrl(ref, options.insecure ?? false)}/v2/${ref.repository}`;
    this.fetchFn = options.fetch ?? fetch;
  }

  private get name(): string {
    return `${this.ref.registry}/${this.ref.repository}`;
  }

  private async send(url: string, accept?: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (accept) headers.accept = accept;
    if (this.authorization) headers.authorization = this.authorization;
    try {
      return await this.fetchFn(url, { headers, redirect: 'follow', signal: this.options.signal ?? null });
    } catch (err) {
      if (this.options.signal?.aborted) throw new ImageError('aborted', 'image pull aborted', { cause: err });
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ImageError(
        'registry',
        `cannot reach registry ${this.ref.registry} (${url}): ${cause?.code ?? cause?.message ?? (err as Error).message}`,
        { cause: err },
      );
    }
  }

  /** GET with one authentication round when the registry answers 401. */
  async get(url: string, accept?: string): Promise<Response> {
    let res = await this.send(url, accept);
    if (res.status !== 401) return res;
    const header = res.headers.get('www-authenticate') ?? '';
    await res.body?.cancel().catch(() => {});
    await this.authenticate(parseWwwAuthenticate(header), header);
    res = await this.send(url, accept);
    if (res.status === 401) {
      await res.body?.cancel().catch(() => {});
      throw new ImageError(
        'auth',
        `registry ${this.ref.registry} refused access to ${this.ref.repository}` +
          (this.options.auth ? ' with the given credentials' : ' (anonymous; credentials may be needed)'),
      );
    }
    return res;
  }

  private async authenticate(challenges: Challenge[], header: string): Promise<void> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      this.authorization = `Bearer ${await this.fetchToken(bearer)}`;
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (!this.options.auth) {
        throw new ImageError(
          'auth',
          `registry ${this.ref.registry} requires credentials (Basic auth) for ${this.name}`,
        );
      }
      this.authorization = basic(this.options.auth);
      return;
    }
    throw new ImageError(
      'auth',
      `registry ${this.ref.registry} answered 401 with an unsupported challenge "${header.slice(0, 200)}"`,
    );
  }

  private async fetchToken(challenge: Challenge): Promise<string> {
    const { realm, service, scope } = challenge.params;
    if (!realm) throw new ImageError('auth', `registry ${this.ref.registry}: Bearer challenge without realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new ImageError('auth', `registry ${this.ref.registry}: invalid token realm "${realm}"`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ImageError('auth', `registry ${this.ref.registry}: token realm "${realm}" is not http(s)`);
    }
    if (service) url.searchParams.set('service', service);
    for (const s of (scope ?? `repository:${this.ref.repository}:pull`).split(' ').filter(Boolean)) {
      url.searchParams.append('scope', s);
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.auth) headers.authorization = basic(this.options.auth);
    let res: Response;
    try {
      res = await this.fetchFn(url, { headers, signal: this.options.signal ?? null });
    } catch (err) {
      if (this.options.signal?.aborted) throw new ImageError('aborted', 'image pull aborted', { cause: err });
      throw new ImageError('auth', `cannot reach token server ${url.origin}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {});
      throw new ImageError(
        'auth',
        `token server ${url.origin} refused ${this.options.auth ? `the credentials of "${this.options.auth.username}"` : 'anonymous access'} ` +
          `for ${this.name} (HTTP ${res.status})`,
      );
    }
    if (!res.ok) {
      throw new ImageError(
        'auth',
        `token server ${url.origin} answered HTTP ${res.status}: ${await errorDetail(res)}`,
      );
    }
    const body = await readLimited(res, 1024 * 1024, 'token response');
    let doc: { token?: unknown; access_token?: unknown };
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      throw new ImageError('auth', `token server ${url.origin} returned no JSON`);
    }
    const token = typeof doc.token === 'string' && doc.token ? doc.token : doc.access_token;
    if (typeof token !== 'string' || !token)
      throw new ImageError('auth', `token server ${url.origin} returned no token`);
    return token;
  }

  private async fail(res: Response, what: string): Promise<never> {
    const detail = await errorDetail(res);
    const suffix = detail ? `: ${detail}` : '';
    if (res.status === 404) throw new ImageError('not-found', `${what} not found in ${this.name}${suffix}`);
    if (res.status === 403) throw new ImageError('auth', `access to ${what} in ${this.name} denied${suffix}`);
    throw new ImageError(
      'registry',
      `registry ${this.ref.registry} answered HTTP ${res.status} for ${what}${suffix}`,
    );
  }

  /** Fetches a manifest by tag or digest; returns its bytes unverified, plus transport headers. */
  async manifest(reference: string): Promise<{ bytes: Buffer; contentType: string; headerDigest?: string }> {
    const res = await this.get(`${this.base}/manifests/${reference}`, MANIFEST_ACCEPT);
    if (!res.ok) return this.fail(res, `manifest ${reference}`);
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `manifest ${reference}`);
    const out: { bytes: Buffer; contentType: string; headerDigest?: string } = {
      bytes,
      contentType: res.headers.get('content-type') ?? '',
    };
    const headerDigest = res.headers.get('docker-content-digest');
    if (headerDigest) out.headerDigest = headerDigest;
    return out;
  }

  /** Streams a blob, unverified. */
  async blob(digest: string): Promise<AsyncIterable<Buffer>> {
    const res = await this.get(`${this.base}/blobs/${digest}`);
    if (!res.ok) return this.fail(res, `blob ${digest}`);
    return bodyChunks(res);
  }
}
