/**
 * Just enough IP address arithmetic for CIDR rules: parse, mask to a prefix, test containment and
 * print in a canonical form, so equal rules compare equal and the kernel gets masked keys.
 */

export interface IpAddress {
  family: 4 | 6;
  /** The address as an unsigned 32- or 128-bit integer. */
  value: bigint;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  let tail: bigint[] = [];
  // An embedded IPv4 address (e.g. ::ffff:10.0.0.1) stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseV4(last);
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const split = (s: string) => (s === '' ? [] : s.split(':'));
  const head = split(halves[0] ?? '');
  const rest = halves.length === 2 ? split(halves[1] ?? '') : [];
  const explicit = head.length + rest.length + tail.length;
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return undefined;
  const parseGroups = (gs: string[]) =>
    gs.map((g) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? BigInt(`0x${g}`) : undefined));
  const values = [
    ...parseGroups(head),
    ...Array<bigint>(8 - explicit).fill(0n),
    ...parseGroups(rest),
    ...tail,
  ];
  let result = 0n;
  for (const v of values) {
    if (v === undefined) return undefined;
    result = (result << 16n) | v;
  }
  return result;
}

export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const value = parseV6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseV4(text);
  return value === undefined ? undefined : { family: 4, value };
}

const bits = (family: 4 | 6) => (family === 4 ? 32n : 128n);

export function maskTo(ip: IpAddress, prefixLen: number): bigint {
  const width = bits(ip.family);
  const host = width - BigInt(prefixLen);
  return (ip.value >> host) << host;
}

/** IPv6 in RFC 5952 form: lowercase, no leading zeros, the longest run of 2+ zero groups as "::". */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((ip.value >> s) & 0xffn).toString()).join('.');
  }
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => (ip.value >> s) & 0xffffn);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0n) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0n) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export interface Cidr {
  family: 4 | 6;
  /** Network address with host bits cleared. */
  network: bigint;
  prefixLen: number;
}

/** "10.1.2.3/8" → 10.0.0.0/8; a bare address is a host route (/32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, len, extra] = text.split('/');
  if (addr === undefined || extra !== undefined) return undefined;
  const ip = parseIp(addr);
  if (!ip) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  let prefixLen = max;
  if (len !== undefined) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(len)) return undefined;
    prefixLen = Number(len);
    if (prefixLen > max) return undefined;
  }
  return { family: ip.family, network: maskTo(ip, prefixLen), prefixLen };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp({ family: c.family, value: c.network })}/${c.prefixLen}`;
}

export function cidrContains(c: Cidr, ip: IpAddress): boolean {
  return c.family === ip.family && maskTo(ip, c.prefixLen) === c.network;
}

/** True when every address of `inner` is in `outer`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    outer.prefixLen <= inner.prefixLen &&
    maskTo({ family: inner.family, value: inner.network }, outer.prefixLen) === outer.network
  );
}

/** ::ffff:a.b.c.d is how a dual-stack socket addresses an IPv4 peer; treat it as that IPv4 address. */
export function unmapV4(ip: IpAddress): IpAddress {
  if (ip.family === 6 && ip.value >> 32n === 0xffffn) return { family: 4, value: ip.value & 0xffffffffn };
  return ip;
}
