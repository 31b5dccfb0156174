/**
 * A real Debian 12 root filesystem built by mmdebstrap (apt `mmdebstrap`; needs root or user
 * namespaces and Debian's mirror), checked against dpkg-query run on the same database.
 */

import { PackageInventory } from '@palisade/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeRootfsWithWarnings, detectOs } from './index.js';
import { cleanupTempDirs, requireTool, run, tempDir } from './testkit.js';

let root: string;

beforeAll(() => {
  requireTool('mmdebstrap', 'mmdebstrap');
  requireTool('dpkg-query', 'dpkg');
  root = tempDir('debian');
  run('mmdebstrap', ['--variant=minbase', '--quiet', 'bookworm', root]);
}, 600_000);

afterAll(cleanupTempDirs);

const dpkgQuery = (format: string) =>
  run('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-W', '-f', format])
    .split('\n')
    .filter(Boolean)
    .sort();

describe('mmdebstrap --variant=minbase bookworm', () => {
  it('OS is Debian 12 (bookworm)', async () => {
    expect(await detectOs(root)).toEqual({
      id: 'debian',
      versionId: '12',
      name: 'Debian GNU/Linux',
      family: 'debian',
      codename: 'bookworm',
    });
  });

  it('packages equal dpkg-query -W exactly (name, version, arch, source)', async () => {
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(warnings).toEqual([]);
    expect(PackageInventory.parse(inventory)).toEqual(inventory);
    expect(new Set(inventory.packages.map((p) => p.ecosystem))).toEqual(new Set(['Debian']));

    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${Field} format, not a template
    const real = dpkgQuery('${Package} ${Version}\\n');
    const ours = inventory.packages.map((p) => `${p.name} ${p.version}`).sort();
    expect(real.length).toBeGreaterThan(80); // minbase is ~90 packages
    expect(ours).toEqual(real);

    const realFull = dpkgQuery(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${Field} format, not a template
      '${Package}|${Version}|${Architecture}|${source:Package}|${source:Version}\\n',
    );
    const oursFull = inventory.packages
      .map((p) => `${p.name}|${p.version}|${p.arch}|${p.sourceName}|${p.sourceVersion}`)
      .sort();
    expect(oursFull).toEqual(realFull);

    const libc = inventory.packages.find((p) => p.name === 'libc6');
    expect(libc?.purl).toBe(
      `pkg:deb/debian/libc6@${libc?.version.replace(/\+/g, '%2B')}?arch=${libc?.arch}&distro=debian-12`,
    );
    expect(libc?.locations).toEqual(['/var/lib/dpkg/status']);
  });
});
