// Shared by the scripts: the compiled package (run `npm run build -w @palisade/db` first).
import { existsSync } from 'node:fs';

export async function loadDist(module) {
  const url = new URL(`../dist/${module}`, import.meta.url);
  if (!existsSync(url)) {
    console.error(
      `@palisade/db is not built (${url.pathname} missing): run \`npm run build -w @palisade/db\` first.`,
    );
    process.exit(2);
  }
  return import(url.href);
}
