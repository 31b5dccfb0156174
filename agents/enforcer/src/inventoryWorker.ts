/**
 * Child process that reads one container's package databases and prints the inventory as JSON on
 * stdout: `node inventoryWorker.js <rootfs> <walk timeout ms>`. The agent runs it (inventory.ts) so
 * that parsing files a container controls happens outside the process that answers the kernel's
 * permission requests: a parser that blows up, loops or eats memory costs this process, not
 * enforcement, and the agent does not keep the analyzers or their garbage in memory.
 */
import { analyzeRootfs } from '@palisade/scanner';

const [root, timeout] = process.argv.slice(2);
if (!root || !timeout || !/^\d+$/.test(timeout)) {
  console.error('usage: inventoryWorker.js <rootfs> <walk timeout ms>');
  process.exit(2);
}
try {
  const inventory = await analyzeRootfs(root, { walkTimeoutMs: Number(timeout) });
  process.stdout.write(JSON.stringify(inventory));
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
}
