import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '@palisade/testdata';
import { afterAll, describe, expect, it } from 'vitest';
import { detectOs } from './index.js';
import { parseOsRelease, parseRedhatRelease } from './os.js';
import { cleanupTempDirs, makeRoot } from './testkit.js';

afterAll(cleanupTempDirs);

describe('detectOs on real os-release files', () => {
  const grype = (image: string) => sharedPath('testdata/pkgdb/grype', `image-${image}-match-coverage`);
  it('alpine', async () => {
    expect(await detectOs(grype('alpine'))).toEqual({
      id: 'alpine',
      versionId: '3.12.0',
      name: 'Alpine Linux',
      family: 'alpine',
    });
  });
  it('centos 8 (quoted values, ID_LIKE)', async () => {
    expect(await detectOs(grype('centos'))).toEqual({
      id: 'centos',
      versionId: '8',
      name: 'CentOS Linux',
      family: 'redhat',
    });
  });
  it('debian 8 from usr/lib/os-release, codename from VERSION', async () => {
    expect(await detectOs(grype('debian'))).toEqual({
      id: 'debian',
      versionId: '8',
      name: 'Debian GNU/Linux',
      family: 'debian',
      codename: 'jessie',
    });
  });
  it('sles and gentoo are of unknown family', async () => {
    expect(await detectOs(grype('sles'))).toMatchObject({ id: 'sles', versionId: '12.5', family: 'unknown' });
    expect(await detectOs(grype('portage'))).toMatchObject({
      id: 'gentoo',
      versionId: '2.8',
      family: 'unknown',
    });
  });
});

describe('detectOs fallbacks', () => {
  it('etc/os-release wins over usr/lib/os-release', async () => {
    const root = makeRoot({
      'etc/os-release': 'ID=rocky\nVERSION_ID="9.3"\n',
      'usr/lib/os-release': 'ID=debian\n',
    });
    expect(await detectOs(root)).toMatchObject({ id: 'rocky', versionId: '9.3', family: 'redhat' });
  });
  it('follows an absolute os-release symlink inside the root, never outside', async () => {
    const root = makeRoot({ 'usr/lib/os-release': 'ID=almalinux\nVERSION_ID=9.2\nNAME="AlmaLinux"\n' });
    mkdirSync(join(root, 'etc'));
    symlinkSync('/usr/lib/os-release', join(root, 'etc/os-release'));
    expect(await detectOs(root)).toMatchObject({ id: 'almalinux', family: 'redhat' });

    // A link that climbs out of the root resolves to <root>/etc/os-release-real, which is absent,
    // so the host's /etc/os-release is not read and detection falls through to nothing.
    const climbing = makeRoot({ 'x/y': '' });
    mkdirSync(join(climbing, 'etc'));
    symlinkSync('../../../../../../../../etc/os-release', join(climbing, 'etc/os-release'));
    expect(await detectOs(climbing)).toBeNull();
  });
  it('alpine-release, debian_version, redhat-release', async () => {
    expect(await detectOs(makeRoot({ 'etc/alpine-release': '3.11.5\n' }))).toEqual({
      id: 'alpine',
      versionId: '3.11.5',
      name: 'Alpine Linux',
      family: 'alpine',
    });
    expect(await detectOs(makeRoot({ 'etc/debian_version': '12.4\n' }))).toMatchObject({
      id: 'debian',
      versionId: '12',
    });
    expect(
      await detectOs(makeRoot({ 'etc/centos-release': 'CentOS Linux release 7.9.2009 (Core)\n' })),
    ).toEqual({
      id: 'centos',
      versionId: '7',
      name: 'CentOS Linux',
      family: 'redhat',
      codename: 'Core',
    });
    expect(
      await detectOs(
        makeRoot({ 'etc/redhat-release': 'Red Hat Enterprise Linux Server release 7.9 (Maipo)\n' }),
      ),
    ).toMatchObject({ id: 'rhel', versionId: '7.9', family: 'redhat' });
    expect(await detectOs(makeRoot({ 'etc/hostname': 'x' }))).toBeNull();
  });
  it('debian sid: os-release without VERSION_ID takes debian_version', async () => {
    const root = makeRoot({
      'etc/os-release':
        'PRETTY_NAME="Debian GNU/Linux trixie/sid"\nNAME="Debian GNU/Linux"\nVERSION_CODENAME=trixie\nID=debian\n',
      'etc/debian_version': 'trixie/sid\n',
    });
    expect(await detectOs(root)).toEqual({
      id: 'debian',
      versionId: 'trixie/sid',
      name: 'Debian GNU/Linux',
      family: 'debian',
      codename: 'trixie',
    });
  });
  it('derivatives map by ID_LIKE', async () => {
    expect(
      await detectOs(
        makeRoot({ 'etc/os-release': 'ID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_ID=21\n' }),
      ),
    ).toMatchObject({
      family: 'debian',
    });
    expect(
      await detectOs(makeRoot({ 'etc/os-release': 'ID="ol"\nID_LIKE="fedora"\nVERSION_ID="8.9"\n' })),
    ).toMatchObject({
      family: 'redhat',
    });
    expect(await detectOs(makeRoot({ 'etc/os-release': 'ID=amzn\nVERSION_ID="2023"\n' }))).toMatchObject({
      family: 'redhat',
    });
  });
});

describe('parsers', () => {
  it('os-release quoting and escapes', () => {
    expect(parseOsRelease('# c\nA="x \\"y\\""\nB=\'z\'\nC=plain\nbad line\n')).toEqual({
      A: 'x "y"',
      B: 'z',
      C: 'plain',
    });
  });
  it('redhat-release variants', () => {
    expect(parseRedhatRelease('Rocky Linux release 8.8 (Green Obsidian)')).toMatchObject({
      id: 'rocky',
      versionId: '8.8',
    });
    expect(parseRedhatRelease('Fedora release 38 (Thirty Eight)')).toMatchObject({
      id: 'fedora',
      versionId: '38',
    });
    expect(parseRedhatRelease('something else')).toBeNull();
  });
});
