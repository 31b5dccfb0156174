import { describe, expect, it } from 'vitest';
import { cidrContains, cidrCovers, formatCidr, formatIp, parseCidr, parseIp, unmapV4 } from './ip.js';

describe('IP parsing and formatting', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['1:2:3:4:5:6:7.8.9.10', '1:2:3:4:5:6:708:90a'],
    ['fe80::0001', 'fe80::1'],
  ])('%s → %s', (text, canonical) => {
    const ip = parseIp(text);
    expect(ip).toBeDefined();
    if (ip) expect(formatIp(ip)).toBe(canonical);
  });

  it.each([
    '256.0.0.1',
    '1.2.3',
    '01.2.3.4',
    '1.2.3.4.5',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    'g::1',
    '::1.2.3',
    ':1:2:3:4:5:6:7',
    '',
  ])('rejects %j', (text) => {
    expect(parseIp(text)).toBeUndefined();
  });

  it('masks CIDRs to their network and tests containment per family', () => {
    const c = parseCidr('10.1.2.3/8');
    expect(c && formatCidr(c)).toBe('10.0.0.0/8');
    const v6 = parseCidr('2001:db8:abcd::1/32');
    expect(v6 && formatCidr(v6)).toBe('2001:db8::/32');
    expect(parseCidr('10.0.0.1/33')).toBeUndefined();
    expect(parseCidr('10.0.0.1/08')).toBeUndefined();
    expect(parseCidr('1.2.3.4')?.prefixLen).toBe(32);
    if (!c || !v6) return;
    const inside = parseIp('10.255.0.9');
    const outside = parseIp('11.0.0.0');
    const v6Inside = parseIp('2001:db8:ffff::9');
    expect(inside && cidrContains(c, inside)).toBe(true);
    expect(outside && cidrContains(c, outside)).toBe(false);
    expect(v6Inside && cidrContains(v6, v6Inside)).toBe(true);
    expect(v6Inside && cidrContains(c, v6Inside)).toBe(false);
    const all = parseCidr('0.0.0.0/0');
    expect(all && cidrCovers(all, c)).toBe(true);
    expect(all && cidrCovers(c, all)).toBe(false);
  });

  it('reads an IPv4-mapped IPv6 address as the IPv4 address', () => {
    const mapped = parseIp('::ffff:10.0.0.7');
    expect(mapped && unmapV4(mapped)).toEqual(parseIp('10.0.0.7'));
    const plain = parseIp('::10.0.0.7');
    expect(plain && unmapV4(plain).family).toBe(6);
  });
});
