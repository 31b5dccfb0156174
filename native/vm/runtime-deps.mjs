// Copies the packages native/dist imports at run time (bare specifiers that are not Node built-ins),
// and their dependencies, into a node_modules folder for the VM share. Type-only imports are erased
// by tsc, so they never show up in dist.
//   node runtime-deps.mjs <native-dir> <dest-node_modules>
import { cpSync, existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';

const [nativeDir, dest] = process.argv.slice(2);
if (!nativeDir || !dest) {
  console.error('usage: runtime-deps.mjs <native-dir> <dest-node_modules>');
  process.exit(2);
}

const builtins = new Set(builtinModules);
const specifier = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;

function packageName(spec) {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) return null;
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return builtins.has(name) ? null : name;
}

function jsFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(c|m)?js$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** The package folder as node would find it from `fromDir` (walking up node_modules folders). */
function locate(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return null;
  }
}

const wanted = new Set();
for (const file of jsFiles(join(nativeDir, 'dist'))) {
  for (const m of readFileSync(file, 'utf8').matchAll(specifier)) {
    const name = packageName(m[1]);
    if (name) wanted.add(name);
  }
}

const done = new Set();
const queue = [...wanted].map((name) => ({ name, from: nativeDir }));
while (queue.length > 0) {
  const { name, from } = queue.shift();
  if (done.has(name)) continue;
  done.add(name);
  const dir = locate(name, from);
  if (!dir) {
    console.error(`runtime-deps: ${name} (imported at run time) is not installed`);
    process.exit(1);
  }
  cpSync(dir, join(dest, name), {
    recursive: true,
    dereference: true,
    filter: (src) => !src.slice(dir.length).split('/').includes('node_modules'),
  });
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys(manifest.dependencies ?? {})) queue.push({ name: dep, from: dir });
  console.log(`runtime-deps: ${name} <- ${dir}`);
}
if (done.size === 0) console.log('runtime-deps: dist imports no packages at run time');
