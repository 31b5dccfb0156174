/**
 * Package URL (purl) formatting. Percent-encodes everything except unreserved characters and ':'
 * (the purl spec says the colon is never encoded), so '@' in an npm scope becomes %40 and '+' %2B.
 */

function enc(s: string): string {
  let out = '';
  for (const ch of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(ch);
    if (/[A-Za-z0-9.\-_~:]/.test(c)) out += c;
    else out += `%${ch.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function purl(
  type: string,
  namespace: string | undefined,
  name: string,
  version: string | undefined,
  qualifiers?: Record<string, string | undefined>,
): string {
  let s = `pkg:${type}/`;
  if (namespace) s += `${namespace.split('/').map(enc).join('/')}/`;
  s += enc(name);
  if (version) s += `@${enc(version)}`;
  const q = Object.entries(qualifiers ?? {})
    .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '')
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k.toLowerCase()}=${enc(v)}`);
  if (q.length > 0) s += `?${q.join('&')}`;
  return s;
}
