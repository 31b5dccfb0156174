/** The registry client's auth handshake against a scripted fetch (the real registry is in registry.integration.test.ts). */
import { describe, expect, test } from 'vitest';
import { parseReference } from './reference.js';
import { parseWwwAuthenticate, RegistryClient, registryBaseUrl } from './registry.js';

describe('WWW-Authenticate', () => {
  test('Bearer with quoted parameters (Docker Hub style)', () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/alpine:pull',
        },
      },
    ]);
  });
  test('several challenges, escapes, commas inside quotes, token values', () => {
    expect(
      parseWwwAuthenticate('Basic realm="a, \\"b\\"", Bearer realm=https://t/x , error=insufficient_scope'),
    ).toEqual([
      { scheme: 'basic', params: { realm: 'a, "b"' } },
      { scheme: 'bearer', params: { realm: 'https://t/x', error: 'insufficient_scope' } },
    ]);
    expect(parseWwwAuthenticate('')).toEqual([]);
  });
});

test('plain HTTP only for loopback or when insecure', () => {
  expect(registryBaseUrl(parseReference('127.0.0.1:5000/a'), false)).toBe('http://127.0.0.1:5000');
  expect(registryBaseUrl(parseReference('localhost:1/a'), false)).toBe('http://localhost:1');
  expect(registryBaseUrl(parseReference('[::1]:80/a'), false)).toBe('http://[::1]:80');
  expect(registryBaseUrl(parseReference('r.example:5000/a'), false)).toBe('https://r.example:5000');
  expect(registryBaseUrl(parseReference('r.example:5000/a'), true)).toBe('http://r.example:5000');
  expect(registryBaseUrl(parseReference('alpine'), false)).toBe('https://registry-1.docker.io');
});

type Handler = (url: URL, headers: Record<string, string>) => Response;
function scripted(handler: Handler) {
  const calls: { url: string; authorization?: string }[] = [];
  const fn = (async (input: string | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const headers = (init?.headers ?? {}) as Record<string, string>;
    calls.push({ url: url.href, ...(headers.authorization ? { authorization: headers.authorization } : {}) });
    return handler(url, headers);
  }) as typeof fetch;
  return { fn, calls };
}

const REALM = 'https://auth.example/token';
const challenge = () =>
  new Response('{"errors":[{"code":"UNAUTHORIZED"}]}', {
    status: 401,
    headers: {
      'www-authenticate': `Bearer realm="${REALM}",service="reg.example",scope="repository:app:pull"`,
    },
  });

describe('auth handshake', () => {
  test('Bearer: 401 → token (with Basic credentials) → retried with the token, token reused', async () => {
    const { fn, calls } = scripted((url, h) => {
      if (url.origin === 'https://auth.example') {
        expect(url.searchParams.get('service')).toBe('reg.example');
        expect(url.searchParams.getAll('scope')).toEqual(['repository:app:pull']);
        expect(h.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
        return Response.json({ token: 'T1' });
      }
      if (h.authorization !== 'Bearer T1') return challenge();
      return new Response(url.pathname.includes('/manifests/') ? '{}' : 'blob', {
        headers: { 'content-type': 'x' },
      });
    });
    const client = new RegistryClient(parseReference('reg.example/app:1'), {
      auth: { username: 'u', password: 'p' },
      fetch: fn,
    });
    const m = await client.manifest('1');
    expect(m.bytes.toString()).toBe('{}');
    const parts: Buffer[] = [];
    for await (const c of await client.blob(`sha256:${'0'.repeat(64)}`)) parts.push(c);
    expect(Buffer.concat(parts).toString()).toBe('blob');
    expect(calls.map((c) => [new URL(c.url).pathname, c.authorization?.split(' ')[0]])).toEqual([
      ['/v2/app/manifests/1', undefined],
      ['/token', 'Basic'],
      ['/v2/app/manifests/1', 'Bearer'],
      [`/v2/app/blobs/sha256:${'0'.repeat(64)}`, 'Bearer'],
    ]);
  });

  test('anonymous Bearer tokens (access_token field) work without credentials', async () => {
    const { fn } = scripted((url, h) => {
      if (url.origin === 'https://auth.example') {
        expect(h.authorization).toBeUndefined();
        return Response.json({ access_token: 'A' });
      }
      return h.authorization === 'Bearer A' ? new Response('{}') : challenge();
    });
    await expect(
      new RegistryClient(parseReference('reg.example/app'), { fetch: fn }).manifest('latest'),
    ).resolves.toBeTruthy();
  });

  test('refused credentials and refused tokens are clear auth errors', async () => {
    const denied = scripted((url) =>
      url.origin === 'https://auth.example' ? new Response('no', { status: 401 }) : challenge(),
    );
    await expect(
      new RegistryClient(parseReference('reg.example/app'), {
        auth: { username: 'u', password: 'bad' },
        fetch: denied.fn,
      }).manifest('x'),
    ).rejects.toThrow(
      /token server https:\/\/auth.example refused the credentials of "u" for reg.example\/app \(HTTP 401\)/,
    );
    const useless = scripted((url) =>
      url.origin === 'https://auth.example' ? Response.json({ token: 'T' }) : challenge(),
    );
    await expect(
      new RegistryClient(parseReference('reg.example/app'), { fetch: useless.fn }).manifest('x'),
    ).rejects.toThrow(/refused access to app \(anonymous; credentials may be needed\)/);
  });

  test('Basic challenge: needs credentials, then sends them', async () => {
    const basic = () => new Response('', { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } });
    const { fn } = scripted((_url, h) =>
      h.authorization?.startsWith('Basic ') ? new Response('{}') : basic(),
    );
    await expect(
      new RegistryClient(parseReference('reg.example/app'), { fetch: fn }).manifest('x'),
    ).rejects.toThrow(/requires credentials \(Basic auth\)/);
    await expect(
      new RegistryClient(parseReference('reg.example/app'), {
        auth: { username: 'u', password: 'p' },
        fetch: fn,
      }).manifest('x'),
    ).resolves.toBeTruthy();
  });

  test('404 and other statuses carry the registry error', async () => {
    const { fn } = scripted(() =>
      Response.json({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }, { status: 404 }),
    );
    await expect(
      new RegistryClient(parseReference('reg.example/app'), { fetch: fn }).manifest('nope'),
    ).rejects.toThrow('manifest nope not found in reg.example/app: MANIFEST_UNKNOWN: manifest unknown');
  });

  test('oversized manifests are refused', async () => {
    const { fn } = scripted(() => new Response(Buffer.alloc(5 * 1024 * 1024, 0x20)));
    await expect(
      new RegistryClient(parseReference('reg.example/app'), { fetch: fn }).manifest('x'),
    ).rejects.toThrow(/more than/);
  });
});
