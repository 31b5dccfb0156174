import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { credentialPath, loadCredential, saveCredential } from './credential.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'palisade-cred-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const credential = {
  cluster: 'local',
  nodeId: 'n-0123abcd',
  credential: 'aaa.bbb.ccc',
  heartbeatIntervalMs: 5000,
  enrolledAt: '2026-11-23T10:00:00.000Z',
};

describe('stored credential', () => {
  it('is absent before enrollment', async () => {
    expect(await loadCredential(dir)).toBeNull();
  });

  it('round-trips and is readable by the owner only', async () => {
    await saveCredential(join(dir, 'agent'), credential);
    expect(await loadCredential(join(dir, 'agent'))).toEqual(credential);
    expect((await stat(credentialPath(join(dir, 'agent')))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(credentialPath(join(dir, 'agent')), 'utf8'))).toEqual(credential);
  });

  it('refuses a damaged file with advice instead of enrolling again silently', async () => {
    await writeFile(credentialPath(dir), '{"cluster":');
    await expect(loadCredential(dir)).rejects.toThrow(/not valid JSON; remove it/);
    await writeFile(credentialPath(dir), JSON.stringify({ ...credential, nodeId: 'bad' }));
    await expect(loadCredential(dir)).rejects.toThrow(/not a valid credential file/);
  });
});
