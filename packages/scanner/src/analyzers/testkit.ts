/**
 * Helpers for the analyzer tests only (not used by the analyzers): txtar extraction, a small zip
 * writer, temporary root filesystems and tool lookup.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

/** Files of a Go txtar archive ("-- path --" sections). */
export function parseTxtar(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let cur: string | null = null;
  let lines: string[] = [];
  const flush = () => {
    if (cur !== null) out.set(cur, lines.join('\n'));
  };
  for (const line of text.split('\n')) {
    const m = /^-- (.+) --$/.exec(line);
    if (m) {
      flush();
      cur = m[1] as string;
      lines = [];
    } else if (cur !== null) lines.push(line);
  }
  flush();
  return out;
}

const created: string[] = [];

/** A new temporary directory, removed by cleanupTempDirs() (call it in afterAll). */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `palisade-${prefix}-`));
  created.push(d);
  return d;
}

export function cleanupTempDirs(): void {
  for (const d of created.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Writes files (path → contents) under a new temporary root and returns it. */
export function makeRoot(files: Record<string, string | Uint8Array>, prefix = 'rootfs'): string {
  const root = tempDir(prefix);
  for (const [rel, data] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, data);
  }
  return root;
}

export interface ZipInput {
  name: string;
  data: string | Uint8Array;
  /** Store instead of deflate. */
  store?: boolean;
}

/** A zip archive (stored or deflated entries), optionally with bytes prepended. */
export function makeZip(entries: ZipInput[], opts: { prepend?: Uint8Array } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  const pre = Buffer.from(opts.prepend ?? new Uint8Array());
  let offset = 0; // offsets exclude the prepended bytes, as with a launch script in front of a jar
  for (const e of entries) {
    const raw = Buffer.from(typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : e.data);
    const method = e.store ? 0 : 8;
    const body = method === 0 ? raw : deflateRawSync(raw);
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0);
    cen.writeUInt16LE(20, 4);
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(0x800, 8);
    cen.writeUInt16LE(method, 10);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(body.length, 20);
    cen.writeUInt32LE(raw.length, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(cen, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([pre, ...parts, cd, eocd]);
}

/** Absolute path of an executable on PATH, or null. */
export function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : null;
}

/** Like which(), but throws naming the Debian package that provides the tool. */
export function requireTool(cmd: string, aptPackage: string): string {
  const p = which(cmd);
  if (!p) throw new Error(`${cmd} not found: install it with \`apt-get install ${aptPackage}\``);
  return p;
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...opts,
  });
}
