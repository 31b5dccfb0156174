import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObservationSpool, type SpooledObservation } from './spool.js';

describe('ObservationSpool', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'palisade-spool-'));
    path = join(dir, 'spool', 'observations.ndjson');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const event = (n: number) => ObservationSpool.make('security', { n });
  const bodies = (items: SpooledObservation[]) => items.map((i) => (i.body as { n: number }).n);

  it('replays what it kept, oldest first, then is empty', async () => {
    const spool = new ObservationSpool(path);
    for (let n = 1; n <= 3; n++) expect(await spool.append(event(n))).toBe(true);
    expect(spool.status()).toEqual({ pending: 3, dropped: 0 });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const got: SpooledObservation[] = [];
    expect(await spool.replay(async (i) => void got.push(i))).toBe(3);
    expect(bodies(got)).toEqual([1, 2, 3]);
    expect(got.every((i) => i.kind === 'security' && i.id.length > 0)).toBe(true);
    expect(spool.status().pending).toBe(0);
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
    expect(await spool.replay(async () => {})).toBe(0);
  });

  it('keeps what a failed replay did not deliver, in order, for the next one', async () => {
    const spool = new ObservationSpool(path);
    for (let n = 1; n <= 5; n++) await spool.append(event(n));
    let calls = 0;
    const sent = await spool.replay(async () => {
      if (++calls === 3) throw new Error('hub unreachable');
    });
    expect(sent).toBe(2);
    expect(spool.status().pending).toBe(3);
    // Another observation arrives meanwhile: it goes after the kept ones.
    await spool.append(event(6));
    const got: SpooledObservation[] = [];
    await spool.replay(async (i) => void got.push(i));
    expect(bodies(got)).toEqual([3, 4, 5, 6]);
  });

  it('survives a restart: a new spool on the same file finds what is pending', async () => {
    const first = new ObservationSpool(path);
    await first.append(event(1));
    await first.append(event(2));
    const second = new ObservationSpool(path);
    expect(await second.open()).toEqual({ pending: 2, dropped: 0 });
    const got: SpooledObservation[] = [];
    await second.replay(async (i) => void got.push(i));
    expect(bodies(got)).toEqual([1, 2]);
  });

  it('refuses and counts observations beyond its size bound, keeping the oldest', async () => {
    const one = `${JSON.stringify(event(1))}\n`.length;
    const spool = new ObservationSpool(path, one * 2 + 10);
    expect(await spool.append(event(1))).toBe(true);
    expect(await spool.append(event(2))).toBe(true);
    expect(await spool.append(event(3))).toBe(false);
    expect(spool.status()).toEqual({ pending: 2, dropped: 1 });
    const got: SpooledObservation[] = [];
    await spool.replay(async (i) => void got.push(i));
    expect(bodies(got)).toEqual([1, 2]);
    // Room again once delivered.
    expect(await spool.append(event(4))).toBe(true);
  });

  it('skips and reports a torn or foreign line instead of failing the replay', async () => {
    const skipped: number[] = [];
    const spool = new ObservationSpool(path, undefined, (line) => skipped.push(line));
    await spool.append(event(1));
    await appendFile(path, '{"id":"x","kind":"secur');
    await appendFile(path, '\n{"id":"y","kind":"nonsense","sentAt":"2026-11-23T00:00:00.000Z"}\n');
    await spool.append(event(2));
    const reopened = new ObservationSpool(path, undefined, (line) => skipped.push(line));
    expect((await reopened.open()).pending).toBe(2);
    const got: SpooledObservation[] = [];
    await reopened.replay(async (i) => void got.push(i));
    expect(bodies(got)).toEqual([1, 2]);
    expect(skipped).toContain(2);
    expect(skipped).toContain(3);
  });

  it('refuses an observation of an unknown kind without writing anything', async () => {
    const spool = new ObservationSpool(path);
    await expect(spool.append({ ...event(1), kind: 'bogus' as never })).rejects.toThrow();
    expect(spool.status().pending).toBe(0);
    await expect(readFile(path)).rejects.toThrow(/ENOENT/);
  });
});
