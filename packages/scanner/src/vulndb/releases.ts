import type { OsInfo } from '@palisade/protocol';

/**
 * Debian code names → the release number os-release reports as VERSION_ID
 * (major only since 4.0 "etch"; 3.0/3.1 and older had a minor part).
 */
export const DEBIAN_RELEASES: Readonly<Record<string, string>> = {
  buzz: '1.1',
  rex: '1.2',
  bo: '1.3',
  hamm: '2.0',
  slink: '2.1',
  potato: '2.2',
  woody: '3.0',
  sarge: '3.1',
  etch: '4',
  lenny: '5',
  squeeze: '6',
  wheezy: '7',
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
};

/** Debian release number for a code name ('bullseye' → '11'); undefined for unknown names (sid, testing). */
export function debianReleaseNumber(codename: string): string | undefined {
  return DEBIAN_RELEASES[codename.toLowerCase()];
}

/** 'v3.11' / '3.11' / '3.11.5' → '3.11'; '' when it does not look like an Alpine release. */
export function alpineRelease(version: string): string {
  const m = /^v?(\d+)\.(\d+)/.exec(version.trim());
  return m ? `${m[1]}.${m[2]}` : version.trim() === 'edge' ? 'edge' : '';
}

/** The DB release key for an image's OS, or undefined when the OS has no distro feed here. */
export function osReleaseKey(
  os: OsInfo | null,
): { ecosystem: 'Debian' | 'Alpine'; release: string } | undefined {
  if (!os) return undefined;
  const id = os.id.toLowerCase();
  if (id === 'debian') {
    const v = os.versionId.trim();
    // VERSION_ID is the major number ('12'); point releases ('12.5') and old 3.x releases are handled too.
    const major = /^(\d+)(?:\.(\d+))?/.exec(v);
    if (major) {
      const num = Number(major[1]) >= 4 ? (major[1] as string) : `${major[1]}.${major[2] ?? '0'}`;
      return { ecosystem: 'Debian', release: num };
    }
    const byName = os.codename ? debianReleaseNumber(os.codename) : undefined;
    return byName ? { ecosystem: 'Debian', release: byName } : undefined;
  }
  if (id === 'alpine') {
    const r = alpineRelease(os.versionId);
    return r ? { ecosystem: 'Alpine', release: r } : undefined;
  }
  return undefined;
}
