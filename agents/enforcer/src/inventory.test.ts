import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The built module: it starts the built worker (dist/inventoryWorker.js) with the agent's node flags.
import { readInventory } from '../dist/inventory.js';

describe('readInventory (in a child process)', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'palisade-inventory-'));
    await mkdir(join(root, 'etc'), { recursive: true });
    await mkdir(join(root, 'var/lib/dpkg'), { recursive: true });
    await writeFile(
      join(root, 'etc/os-release'),
      'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"\n',
    );
    await writeFile(
      join(root, 'var/lib/dpkg/status'),
      'Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n\n',
    );
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('returns the packages of a root filesystem, validated', async () => {
    const inventory = await readInventory(root);
    expect(inventory.os?.id).toBe('debian');
    expect(inventory.packages.map((p) => [p.name, p.version])).toEqual([['zlib1g', '1:1.2.13.dfsg-1']]);
  });

  it('gives up on a reader that takes too long, and says so', async () => {
    await expect(readInventory(root, { timeoutMs: 1 })).rejects.toThrow(/took longer than 1 ms/);
  });

  it('refuses an answer larger than its bound', async () => {
    await expect(readInventory(root, { maxOutputBytes: 16 })).rejects.toThrow(/more than 16 bytes/);
  });

  it('reports a reader that fails, with its reason', async () => {
    await expect(readInventory(root, { maxHeapMb: 1 })).rejects.toThrow(/package inventory of .* failed/);
  });
});
