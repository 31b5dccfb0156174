/**
 * Observations the hub must not lose (security events, learned behaviour), kept on disk while it does
 * not acknowledge them: an edge node can be cut off for hours and its violations still matter.
 *
 * One JSON line per observation, appended with fdatasync; replayed oldest first once the hub answers
 * again; what is left after a failed replay replaces the file atomically (writeFileAtomic).
 * Bounded: past `maxBytes` new observations are refused and counted (the oldest evidence is kept).
 * Lines hold no credential (the agent adds its current one when it sends); the file is 0600.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OBSERVATION_KINDS } from '@palisade/protocol';
import { z } from 'zod';
import { writeFileAtomic } from './credential.js';

export const SpooledObservation = z.object({
  /** JetStream message id: a replay of something the hub did store is dropped as a duplicate. */
  id: z.string().min(1).max(64),
  kind: z.enum(OBSERVATION_KINDS),
  sentAt: z.iso.datetime(),
  body: z.unknown(),
});
export type SpooledObservation = z.infer<typeof SpooledObservation>;

export const DEFAULT_SPOOL_MAX_BYTES = 32 * 2 ** 20;

export interface SpoolStatus {
  /** Observations waiting for the hub. */
  pending: number;
  /** Observations refused because the spool was full, since the agent started. */
  dropped: number;
}

export class ObservationSpool {
  #pending = 0;
  #bytes = 0;
  #dropped = 0;
  /** Appends and replays run one at a time, in call order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    readonly maxBytes = DEFAULT_SPOOL_MAX_BYTES,
    private readonly onSkipped: (line: number, reason: string) => void = () => {},
  ) {}

  /** A new observation to spool or send: a fresh id and the time it was made. */
  static make(kind: SpooledObservation['kind'], body: unknown): SpooledObservation {
    return { id: randomUUID(), kind, sentAt: new Date().toISOString(), body };
  }

  /** Counts what an earlier run left behind. */
  open(): Promise<SpoolStatus> {
    return this.#serial(async () => {
      const lines = await this.#read();
      this.#pending = lines.length;
      this.#bytes = await stat(this.path).then(
        (s) => s.size,
        () => 0,
      );
      return this.status();
    });
  }

  status(): SpoolStatus {
    return { pending: this.#pending, dropped: this.#dropped };
  }

  /** Keeps `item` until a replay delivers it; false when the spool is full (counted as dropped). */
  append(item: SpooledObservation): Promise<boolean> {
    return this.#serial(async () => {
      const line = `${JSON.stringify(SpooledObservation.parse(item))}\n`;
      const size = Buffer.byteLength(line);
      if (this.#bytes + size > this.maxBytes) {
        this.#dropped++;
        return false;
      }
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const file = await open(this.path, 'a', 0o600);
      try {
        await file.write(line);
        await file.datasync();
      } finally {
        await file.close();
      }
      this.#bytes += size;
      this.#pending++;
      return true;
    });
  }

  /**
   * Sends what is spooled, oldest first, until one send fails; keeps the rest. Resolves with how many
   * were sent. Lines that do not parse (a torn last line after a crash) are skipped and reported.
   */
  replay(send: (item: SpooledObservation) => Promise<void>): Promise<number> {
    return this.#serial(async () => {
      if (this.#pending === 0) return 0;
      const items = await this.#read();
      let sent = 0;
      for (const item of items) {
        try {
          await send(item);
        } catch {
          break;
        }
        sent++;
      }
      const rest = items.slice(sent);
      if (rest.length === 0) {
        await rm(this.path, { force: true });
        this.#bytes = 0;
      } else if (sent > 0) {
        const text = rest.map((i) => `${JSON.stringify(i)}\n`).join('');
        await writeFileAtomic(this.path, text);
        this.#bytes = Buffer.byteLength(text);
      }
      this.#pending = rest.length;
      return sent;
    });
  }

  async #read(): Promise<SpooledObservation[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const items: SpooledObservation[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (line === '') continue;
      let parsed: ReturnType<typeof SpooledObservation.safeParse>;
      try {
        parsed = SpooledObservation.safeParse(JSON.parse(line));
      } catch (err) {
        this.onSkipped(i + 1, (err as Error).message);
        continue;
      }
      if (parsed.success) items.push(parsed.data);
      else this.onSkipped(i + 1, parsed.error.issues[0]?.message ?? 'invalid');
    }
    return items;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}
