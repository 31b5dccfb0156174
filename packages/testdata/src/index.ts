import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The one way tests reach the shared real data (see SOURCES.md there). It lives beside the
 * repository as `../shared`; `PALISADE_SHARED` overrides that. The data is never copied into the repo.
 */
export function sharedRoot(): string {
  if (process.env.PALISADE_SHARED) return resolve(process.env.PALISADE_SHARED);
  // dist/index.js → packages/testdata → packages → repo → ../shared
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  return resolve(repo, '../shared');
}

/** Absolute path of a file or folder in the shared data; throws a clear error when it is missing. */
export function sharedPath(...segments: string[]): string {
  const root = sharedRoot();
  const path = join(root, ...segments);
  if (!existsSync(path)) {
    throw new Error(
      `shared test data not found: ${path}\n` +
        `The tests read real data from the "shared" folder beside the repository (${root}). ` +
        'Check it out there, or point PALISADE_SHARED at it.',
    );
  }
  return path;
}
