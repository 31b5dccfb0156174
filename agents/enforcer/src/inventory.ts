/**
 * A running container's package inventory, read in a separate process (inventoryWorker.ts) with a
 * memory cap and a deadline, and validated before the agent uses it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PackageInventory } from '@palisade/protocol';
import { AGENT_NODE_FLAGS } from './nodeFlags.js';

export interface InventoryLimits {
  /** Time for the whole read, process start included (default 60 s). */
  timeoutMs?: number;
  /** The worker's V8 heap limit in MB (default 256). */
  maxHeapMb?: number;
  /** Largest inventory accepted, in bytes of JSON (default 32 MiB). */
  maxOutputBytes?: number;
}

const WORKER = fileURLToPath(new URL('./inventoryWorker.js', import.meta.url));

export function readInventory(root: string, limits: InventoryLimits = {}): Promise<PackageInventory> {
  const timeoutMs = limits.timeoutMs ?? 60_000;
  const maxOutputBytes = limits.maxOutputBytes ?? 32 * 2 ** 20;
  // The file walk stops a little before the deadline so that the worker can still answer.
  const walkTimeoutMs = Math.max(1000, Math.floor(timeoutMs / 2));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...AGENT_NODE_FLAGS,
        `--max-old-space-size=${limits.maxHeapMb ?? 256}`,
        WORKER,
        root,
        String(walkTimeoutMs),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let failure: string | undefined;
    const fail = (why: string) => {
      failure ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => fail(`took longer than ${timeoutMs} ms`), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxOutputBytes) fail(`printed more than ${maxOutputBytes} bytes`);
      else out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < 4096) err += chunk.toString('utf8');
    });
    child.on('error', (e) => fail(e.message));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const detail = err.trim().split('\n').slice(-3).join('; ');
      if (failure) return reject(new Error(`package inventory of ${root}: ${failure}`));
      if (code !== 0)
        return reject(
          new Error(
            `package inventory of ${root} failed (${signal ?? `exit ${code}`})${detail ? `: ${detail}` : ''}`,
          ),
        );
      let json: unknown;
      try {
        json = JSON.parse(Buffer.concat(out).toString('utf8'));
      } catch {
        return reject(new Error(`package inventory of ${root}: the reader printed no JSON`));
      }
      const parsed = PackageInventory.safeParse(json);
      if (!parsed.success)
        return reject(
          new Error(
            `package inventory of ${root} is not valid: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
          ),
        );
      resolve(parsed.data);
    });
  });
}
