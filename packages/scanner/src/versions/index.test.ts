import type { Ecosystem } from '@palisade/protocol';
import { describe, expect, it } from 'vitest';
import { compareVersions, InvalidVersionError, isValidVersion, satisfies } from './index.js';

describe('compareVersions / isValidVersion: ecosystem dispatch', () => {
  // One pair per ecosystem that only its own scheme orders this way.
  const cases: [Ecosystem, string, string][] = [
    ['Debian', '1.0~rc1-1', '1.0-1'], // ~ before the end (dpkg)
    ['Alpine', '1.0_rc1-r0', '1.0-r0'], // _rc pre-release (apk)
    ['Red Hat', '1.0^git1-1.el9', '1.0.1-1.el9'], // ^ after the end, before more (rpm)
    ['npm', '1.0.0-rc.1', '1.0.0'],
    ['Go', 'v1.2.3-0.20210101000000-abcdefabcdef', 'v1.2.3'], // a pseudo-version before its base
    ['crates.io', '0.9.0', '0.10.0'],
    ['PyPI', '1.0.dev0', '1.0a1'],
    ['Maven', '1.0-SNAPSHOT', '1.0'],
  ];
  for (const [eco, older, newer] of cases) {
    it(`${eco}: ${older} < ${newer}`, () => {
      expect(compareVersions(eco, older, newer)).toBe(-1);
      expect(compareVersions(eco, newer, older)).toBe(1);
      expect(compareVersions(eco, newer, newer)).toBe(0);
      expect(isValidVersion(eco, older)).toBe(true);
      expect(isValidVersion(eco, newer)).toBe(true);
    });
  }

  it('throws InvalidVersionError naming the ecosystem where the scheme has invalid versions', () => {
    for (const eco of ['npm', 'Go', 'crates.io'] as const) {
      expect(() => compareVersions(eco, '1.2', '1.2.0')).toThrow(InvalidVersionError);
      expect(() => compareVersions(eco, '1.2', '1.2.0')).toThrow(`invalid ${eco} (SemVer 2.0) version "1.2"`);
      expect(isValidVersion(eco, '1.2')).toBe(false);
    }
    let error: unknown;
    try {
      compareVersions('PyPI', '1.0', 'not-a-version');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidVersionError);
    expect(error).toMatchObject({ ecosystem: 'PyPI', scheme: 'PEP 440', input: 'not-a-version' });
    expect(isValidVersion('PyPI', 'not-a-version')).toBe(false);
  });

  it('is lenient for Debian, Alpine, Red Hat and Maven, as their tools are', () => {
    for (const eco of ['Debian', 'Alpine', 'Red Hat', 'Maven'] as const) {
      expect(() => compareVersions(eco, 'not a version!', '1.0')).not.toThrow();
    }
    expect(isValidVersion('Debian', 'a:1')).toBe(false);
    expect(isValidVersion('Alpine', '1.0bc')).toBe(false);
  });

  it('re-exports satisfies for npm ranges and Cargo requirements', () => {
    expect(satisfies('1.4.0', '>= 1.2, < 1.5', { syntax: 'cargo' })).toBe(true);
    expect(satisfies('0.4.0', '^0.3', { syntax: 'cargo' })).toBe(false);
    expect(satisfies('1.2.3', '1.x || >=2.5.0')).toBe(true);
  });
});
