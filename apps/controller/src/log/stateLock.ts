import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Makes sure only one controller process uses a state directory: two writers on one log would
 * interleave records and two ingesters would disagree about which nodes exist. A lock left by a
 * process that no longer runs (a crash, SIGKILL) is taken over.
 */
export async function lockStateDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, 'controller.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx', 0o600);
      await file.writeFile(String(process.pid));
      await file.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isSafeInteger(holder) && holder !== process.pid && alive(holder)) {
        throw new Error(`state directory ${dir} is in use by controller process ${holder}`);
      }
      await rm(path, { force: true });
    }
  }
  throw new Error(`could not lock state directory ${dir}`);
}
