import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeInfo } from '@palisade/protocol';
import { describe, expect, it } from 'vitest';
import { collectNodeInfo, parseOsRelease, scanRuntime } from './nodeInfo.js';

describe('parseOsRelease', () => {
  it('reads quoted and unquoted values and ignores comments', () => {
    const release = parseOsRelease(
      '# comment\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\nPRETTY_NAME=\'A \\"B\\"\'\n',
    );
    expect(release).toEqual({
      NAME: 'Debian GNU/Linux',
      VERSION_ID: '12',
      ID: 'debian',
      PRETTY_NAME: 'A "B"',
    });
  });
});

describe('node inventory', () => {
  it('reports no runtime and no workloads when there is no containerd socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'palisade-noruntime-'));
    try {
      expect(await scanRuntime(join(dir, 'containerd.sock'))).toEqual({ runtime: null, workloads: [] });
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('collects node facts that satisfy the wire schema', async () => {
    const info = await collectNodeInfo(null, 'edge-7');
    expect(info.hostname).toBe('edge-7');
    expect(NodeInfo.safeParse(info).success).toBe(true);
    expect(info.kernel.length).toBeGreaterThan(0);
  });
});
