import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ClusterName, CompactJwt, NodeId } from '@palisade/protocol';
import { z } from 'zod';

/** What enrollment leaves on disk: enough to reconnect after any restart without a new token. */
export const StoredCredential = z.object({
  cluster: ClusterName,
  nodeId: NodeId,
  credential: CompactJwt,
  heartbeatIntervalMs: z.number().int().positive(),
  enrolledAt: z.iso.datetime(),
  /** The hub's public key, for signed policies. Absent in credentials from before policies existed. */
  hubKey: z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string() }).optional(),
});
export type StoredCredential = z.infer<typeof StoredCredential>;

export function credentialPath(stateDir: string): string {
  return join(stateDir, 'credential.json');
}

export async function loadCredential(stateDir: string): Promise<StoredCredential | null> {
  const path = credentialPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not valid JSON; remove it and enroll again with a new join token`);
  }
  const parsed = StoredCredential.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `${path} is not a valid credential file; remove it and enroll again with a new join token`,
    );
  }
  return parsed.data;
}

/** Atomic and durable: write a temp file, fsync it, rename over the old one, fsync the directory. */
export async function saveCredential(stateDir: string, credential: StoredCredential): Promise<void> {
  await writeFileAtomic(credentialPath(stateDir), `${JSON.stringify(credential, null, 2)}\n`);
}

/** Writes a private (0600) file atomically and durably. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  const file = await open(tmp, 'w', 0o600);
  try {
    await file.writeFile(content);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
