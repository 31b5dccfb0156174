import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Command } from '../state/commands.js';
import { CorruptLogError, LocalLog } from './localLog.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'palisade-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const actor = { userId: 'u', username: 'admin' };
const cluster = (name: string): Command => ({
  type: 'cluster.create',
  at: '2026-11-23T10:00:00.000Z',
  actor,
  name,
  description: '',
  labels: {},
});

describe('LocalLog', () => {
  it('replays acknowledged commands after a restart', async () => {
    const log = await LocalLog.open(dir);
    await Promise.all(['a', 'b', 'c'].map((n) => log.propose(cluster(n))));
    await log.close();
    const reopened = await LocalLog.open(dir);
    expect(reopened.state.listClusters().map((c) => c.name)).toEqual(['a', 'b', 'c']);
    expect(reopened.state.index).toBe(3);
    await reopened.close();
  });

  it('group-commits concurrent proposals and keeps their order', async () => {
    const log = await LocalLog.open(dir);
    const names = Array.from({ length: 50 }, (_, i) => `c${i}`);
    const results = await Promise.all(names.map((n) => log.propose(cluster(n))));
    expect(results.every((r) => r.ok)).toBe(true);
    await log.close();
    const lines = (await readFile(join(dir, 'commands.log'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l.slice(9)).c.name)).toEqual(names);
  });

  it('is readable by its owner only', async () => {
    const log = await LocalLog.open(dir);
    await log.propose(cluster('a'));
    await log.close();
    expect((await stat(join(dir, 'commands.log'))).mode & 0o777).toBe(0o600);
  });

  it('drops a torn last record and keeps everything before it', async () => {
    const log = await LocalLog.open(dir);
    await log.propose(cluster('a'));
    await log.propose(cluster('b'));
    await log.close();
    await appendFile(join(dir, 'commands.log'), '0badc0de {"i":3,"c":{"type":"clus');
    const messages: string[] = [];
    const reopened = await LocalLog.open(dir, (m) => messages.push(m));
    expect(reopened.state.listClusters().map((c) => c.name)).toEqual(['a', 'b']);
    expect(messages.join()).toMatch(/torn/);
    // The torn bytes are gone, so new records follow the good ones.
    await reopened.propose(cluster('c'));
    await reopened.close();
    const again = await LocalLog.open(dir);
    expect(again.state.listClusters().map((c) => c.name)).toEqual(['a', 'b', 'c']);
    await again.close();
  });

  it('refuses to start when a record in the middle is corrupt', async () => {
    const log = await LocalLog.open(dir);
    for (const n of ['a', 'b', 'c']) await log.propose(cluster(n));
    await log.close();
    const path = join(dir, 'commands.log');
    const content = await readFile(path, 'utf8');
    // Flip one character inside the second record's JSON: its CRC no longer matches.
    const lines = content.split('\n');
    lines[1] = (lines[1] as string).replace('"b"', '"x"');
    await writeFile(path, lines.join('\n'));
    await expect(LocalLog.open(dir)).rejects.toThrow(CorruptLogError);
    await expect(LocalLog.open(dir)).rejects.toThrow(/record 2/);
  });
});

describe('state directory lock', () => {
  it('refuses a second live holder and takes over a stale lock', async () => {
    const { lockStateDir } = await import('./stateLock.js');
    const unlock = await lockStateDir(dir);
    await writeFile(join(dir, 'controller.lock'), '1'); // pid 1 is alive: someone else holds it
    await expect(lockStateDir(dir)).rejects.toThrow(/in use by controller process 1/);
    await writeFile(join(dir, 'controller.lock'), '999999999'); // no such process: stale
    const again = await lockStateDir(dir);
    await again();
    await unlock();
  });
});
