import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '@palisade/testdata';
import { afterAll, describe, expect, it } from 'vitest';
import { parseApkInstalled } from './apk.js';
import { analyzeRootfsWithWarnings } from './index.js';
import { cleanupTempDirs, makeRoot } from './testkit.js';

afterAll(cleanupTempDirs);

const read = (p: string) => readFileSync(sharedPath('testdata/pkgdb', p), 'utf8');
type Tuple = [name: string, version: string, arch: string, origin: string, license: string];
const tuples = (text: string): Tuple[] =>
  parseApkInstalled(text).map((r) => [r.name, r.version, r.arch ?? '', r.origin ?? '', r.license ?? '']);

/*
 * There is no apk tool on Debian. Expected values were derived by hand from the files with
 *   grep -c '^P:' FILE
 *   awk -F: '/^P:/{p=substr($0,3)} /^V:/{v=substr($0,3)} /^A:/{a=substr($0,3)} /^o:/{o=substr($0,3)}
 *            /^L:/{l=substr($0,3)} /^$/{if(p!="")print p,v,a,o,l; p=v=a=o=l=""}' FILE
 * (2026-11-23). A record counts when it has both P: and V:.
 */
describe('apk installed database, real files', () => {
  it('apk-tools query-installed.data (Alpine 3.21, 39 records)', () => {
    const t = tuples(read('apk-tools/query-installed.data'));
    expect(t).toHaveLength(39);
    expect(t[0]).toEqual(['alpine-base', '3.21.3-r0', 'x86_64', 'alpine-base', 'MIT']);
    expect(t).toContainEqual([
      'alpine-baselayout-data',
      '3.6.8-r1',
      'x86_64',
      'alpine-baselayout',
      'GPL-2.0-only',
    ]);
    expect(t.find((x) => x[0] === 'libcrypto3')?.slice(0, 4)).toEqual([
      'libcrypto3',
      '3.3.3-r0',
      'x86_64',
      'openssl',
    ]);
    expect(t.find((x) => x[0] === 'ssl_client')?.slice(0, 4)).toEqual([
      'ssl_client',
      '1.37.0-r12',
      'x86_64',
      'busybox',
    ]);
    expect(t.find((x) => x[0] === 'musl')?.[1]).toBe('1.2.5-r9');
  });

  it('trivy apk: 16 P: records, one without V: is skipped with a warning', () => {
    const warnings: string[] = [];
    const recs = parseApkInstalled(read('trivy/apk/apk'), (m) => warnings.push(m));
    expect(recs).toHaveLength(15);
    expect(warnings).toEqual(['record without V: skipped (invalidPackageWithoutAVersion)']);
    expect(recs[0]).toEqual({
      name: 'musl',
      version: '1.1.14-r10',
      arch: 'x86_64',
      origin: 'musl',
      license: 'MIT',
    });
    expect(recs[1]).toEqual({
      name: 'busybox',
      version: '1.24.2-r9',
      arch: 'x86_64',
      origin: 'busybox',
      license: 'GPL2',
    });
  });

  it('osv-scalibr files', () => {
    const t = tuples(read('osv-scalibr/apk/installed'));
    expect(t).toHaveLength(15);
    expect(t[3]).toEqual(['apk-tools', '2.14.0-r0', 'x86_64', 'apk-tools', 'GPL-2.0-only']);
    expect(tuples(read('osv-scalibr/apk/different-arch'))).toEqual([
      ['alpine-baselayout-data', '3.4.3-r1', 'noarch', 'alpine-baselayout', 'GPL-2.0-only'],
    ]);
    expect(tuples(read('osv-scalibr/apk/no-origin'))).toEqual([
      ['pkgname', '1.2.3', 'x86_64', '', 'GPL-2.0-only'],
    ]);
    expect(tuples(read('osv-scalibr/apk/empty'))).toEqual([]);
    const warnings: string[] = [];
    expect(parseApkInstalled(read('osv-scalibr/apk/invalid'), (m) => warnings.push(m))).toEqual([]);
    expect(warnings).toEqual(['2 malformed line(s) ignored']);
  });

  it('grype alpine image: os-release + db → packages with purls', async () => {
    const { inventory, warnings } = await analyzeRootfsWithWarnings(
      sharedPath('testdata/pkgdb/grype/image-alpine-match-coverage'),
    );
    expect(warnings).toEqual([]);
    expect(inventory.os?.id).toBe('alpine');
    expect(inventory.packages).toEqual([
      {
        name: 'libvncserver',
        version: '0.9.9',
        ecosystem: 'Alpine',
        sourceName: 'libvncserver',
        sourceVersion: '0.9.9',
        arch: 'x86_64',
        purl: 'pkg:apk/alpine/libvncserver@0.9.9?arch=x86_64',
        licenses: ['GPL-2.0-or-later'],
        locations: ['/lib/apk/db/installed'],
      },
      {
        name: 'ko',
        version: '0.15.1',
        ecosystem: 'Alpine',
        sourceName: 'ko',
        sourceVersion: '0.15.1',
        arch: 'x86_64',
        purl: 'pkg:apk/alpine/ko@0.15.1?arch=x86_64',
        locations: ['/lib/apk/db/installed'],
      },
      {
        name: 'npm-apk-subpackage-with-false-positive',
        version: '7.0.0',
        ecosystem: 'Alpine',
        sourceName: 'npm-apk-package-with-false-positive',
        sourceVersion: '7.0.0',
        arch: 'x86_64',
        purl: 'pkg:apk/alpine/npm-apk-subpackage-with-false-positive@7.0.0?arch=x86_64',
        locations: ['/lib/apk/db/installed'],
      },
    ]);
  });

  it('apk-tools 3 layout: /lib/apk symlinked to /usr/lib/apk is read once', async () => {
    const root = makeRoot({ 'usr/lib/apk/db/installed': read('osv-scalibr/apk/single') });
    mkdirSync(join(root, 'lib'));
    symlinkSync('../usr/lib/apk', join(root, 'lib/apk'));
    const { inventory } = await analyzeRootfsWithWarnings(root);
    expect(inventory.packages.map((p) => [p.name, p.locations])).toEqual([
      ['alpine-baselayout-data', ['/lib/apk/db/installed']],
    ]);
  });
});
