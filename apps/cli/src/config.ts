import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';

/** The CLI's saved session: which hub, and the bearer token it signed us in with. */
export const CliConfig = z.object({
  server: z.url(),
  username: z.string(),
  token: z.string(),
  expiresAt: z.iso.datetime(),
});
export type CliConfig = z.infer<typeof CliConfig>;

export function configPath(env = process.env): string {
  return (
    env.PALISADE_CONFIG ?? join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'palisade', 'config.json')
  );
}

export async function loadConfig(path = configPath()): Promise<CliConfig | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed = CliConfig.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(`${path} is not a valid Palisade CLI config; run "palisade login" again`);
  return parsed.data;
}

export async function saveConfig(config: CliConfig, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  // The token is a credential: owner-only.
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}
