import { type FileHandle, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Command } from '../state/commands.js';
import { type ApplyResult, DesiredState } from '../state/desiredState.js';
import type { CommandLog } from './commandLog.js';

export class CorruptLogError extends Error {
  override name = 'CorruptLogError';
}

/**
 * One record per line: 8 hex digits of CRC-32 over the JSON, a space, then `{"i":index,"c":command}`.
 * Text keeps the log inspectable with standard tools; the CRC catches bit rot and torn writes.
 */
function encodeRecord(index: number, command: Command): string {
  const json = JSON.stringify({ i: index, c: command });
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

interface Replayed {
  state: DesiredState;
  /** Byte length of the valid prefix; anything after it is a torn tail to cut off. */
  validBytes: number;
  tornBytes: number;
}

/** Replays a log file's content. A bad last record is a torn write and is dropped; a bad record
 * followed by good ones is corruption, and we refuse rather than silently lose acknowledged writes. */
export function replay(content: Buffer): Replayed {
  const state = new DesiredState();
  let offset = 0;
  let lineNo = 0;
  while (offset < content.length) {
    const newline = content.indexOf(0x0a, offset);
    lineNo++;
    const end = newline === -1 ? content.length : newline;
    const line = content.subarray(offset, end).toString('utf8');
    const parsed = newline === -1 ? null : parseRecord(line);
    if (!parsed || parsed.index !== state.index + 1) {
      if (newline === -1 || end + 1 >= content.length) {
        return { state, validBytes: offset, tornBytes: content.length - offset };
      }
      throw new CorruptLogError(
        `record ${lineNo} (byte ${offset}) is corrupt or out of order but later records follow; refusing to start. ` +
          'Restore the state directory from a backup (or, with replication, rejoin from a peer).',
      );
    }
    state.apply(parsed.index, parsed.command);
    offset = end + 1;
  }
  return { state, validBytes: offset, tornBytes: 0 };
}

function parseRecord(line: string): { index: number; command: Command } | null {
  if (line.length < 10 || line[8] !== ' ') return null;
  const json = line.slice(9);
  if (crc32(json) !== Number.parseInt(line.slice(0, 8), 16)) return null;
  try {
    const record = JSON.parse(json) as { i: unknown; c: unknown };
    const command = Command.safeParse(record.c);
    if (typeof record.i !== 'number' || !command.success) return null;
    return { index: record.i, command: command.data };
  } catch {
    return null;
  }
}

interface Pending {
  command: Command;
  resolve: (result: ApplyResult) => void;
  reject: (err: Error) => void;
}

/**
 * A single controller's write-ahead command log. Proposals are group-committed: all commands queued
 * while a write is in flight go out in the next write with one fdatasync, and are applied only
 * after that sync, so an acknowledged change survives a crash.
 */
export class LocalLog implements CommandLog {
  private queue: Pending[] = [];
  private flushing = false;
  private closed = false;

  private constructor(
    private readonly file: FileHandle,
    readonly state: DesiredState,
  ) {}

  static async open(dir: string, log: (msg: string) => void = () => {}): Promise<LocalLog> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, 'commands.log');
    const content = await readFile(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return Buffer.alloc(0);
      throw err;
    });
    const replayed = replay(content);
    // The log holds the signing key and password hashes: owner-only.
    const file = await open(path, 'a+', 0o600);
    if (replayed.tornBytes > 0) {
      log(`dropping a torn last record (${replayed.tornBytes} bytes) from ${path}`);
      await file.truncate(replayed.validBytes);
      await file.datasync();
    }
    return new LocalLog(file, replayed.state);
  }

  propose(command: Command): Promise<ApplyResult> {
    if (this.closed) return Promise.reject(new Error('command log is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const first = this.state.index + 1;
        const data = batch.map((p, i) => encodeRecord(first + i, p.command)).join('');
        try {
          await this.file.write(data);
          await this.file.datasync();
        } catch (err) {
          for (const p of batch) p.reject(err as Error);
          // The file may now hold a partial batch; stop accepting writes rather than diverge.
          this.closed = true;
          for (const p of this.queue.splice(0)) p.reject(err as Error);
          return;
        }
        for (const [i, p] of batch.entries()) p.resolve(this.state.apply(first + i, p.command));
      }
    } finally {
      this.flushing = false;
    }
  }

  status() {
    return { role: 'standalone' as const, term: 0, appliedIndex: this.state.index };
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await new Promise((r) => setTimeout(r, 5));
    await this.file.close();
  }
}
