#!/usr/bin/env node
// npm run bench:scanner — scan time and peak memory for the real alpine image and a ~100-package
// Debian image (built with mmdebstrap, cached), cold (a fresh process: verify + load the DB, then scan)
// and warm (DB already loaded); DB load time; inventories matched per second.
// Prints figures, then one JSON line. No peer scanner can be installed offline here, so there is no ratio.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = resolve(here, '../../..');
const cacheDir = join(process.env.PALISADE_HOME ?? join(root, '.palisade'), 'bench-cache');
mkdirSync(cacheDir, { recursive: true });

const { generateSigningJwks, importSigningKeyPair } = await import('@palisade/auth');
const { createBundle, verifyBundle } = await import('@palisade/bundle');
const scanner = await import('@palisade/scanner');
const { sharedPath } = await import('@palisade/testdata');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** A real Debian bookworm minbase rootfs as an OCI layout (built once, ~20-40 s, then cached). */
function debianImage() {
  const layout = join(cacheDir, 'debian-bookworm-oci');
  if (existsSync(join(layout, 'index.json'))) return layout;
  const work = join(cacheDir, 'debian-build');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  console.log('building a Debian bookworm minbase image with mmdebstrap (cached afterwards)...');
  execFileSync('mmdebstrap', ['--quiet', '--variant=minbase', 'bookworm', join(work, 'rootfs.tar')], {
    stdio: 'inherit',
  });
  execFileSync('umoci', ['init', '--layout', join(work, 'oci')]);
  execFileSync('umoci', ['new', '--image', `${join(work, 'oci')}:latest`]);
  execFileSync('umoci', ['unpack', '--image', `${join(work, 'oci')}:latest`, join(work, 'bundle')]);
  execFileSync('tar', ['-xf', join(work, 'rootfs.tar'), '-C', join(work, 'bundle', 'rootfs')]);
  execFileSync('umoci', ['repack', '--image', `${join(work, 'oci')}:latest`, join(work, 'bundle')]);
  rmSync(layout, { recursive: true, force: true });
  execFileSync('mv', [join(work, 'oci'), layout]);
  rmSync(work, { recursive: true, force: true });
  return layout;
}

// --- child mode: one cold scan in a fresh process ---------------------------------------------
if (process.argv[2] === '--cold') {
  const [, , , bundlePath, publicJwkJson, sourceJson] = process.argv;
  const t0 = performance.now();
  const { content } = await verifyBundle(readFileSync(bundlePath), {
    trustedKeys: [JSON.parse(publicJwkJson)],
    expectKind: 'vulndb',
  });
  const db = scanner.deserializeDb(content);
  const t1 = performance.now();
  const result = await scanner.scanImage(JSON.parse(sourceJson), { db });
  const t2 = performance.now();
  process.stdout.write(
    JSON.stringify({
      loadMs: t1 - t0,
      scanMs: t2 - t1,
      totalMs: t2 - t0,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      packages: result.inventory.packages.length,
    }),
  );
  process.exit(0);
}

// --- parent -----------------------------------------------------------------------------------
const tBuild = performance.now();
const built = await scanner.buildDb(sharedPath('vulndata'));
const serialized = scanner.serializeDb(built);
const buildMs = performance.now() - tBuild;
const { privateJwk, publicJwk } = await generateSigningJwks();
const keys = await importSigningKeyPair(privateJwk);
const bundlePath = join(cacheDir, 'vulndb.bundle');
writeFileSync(
  bundlePath,
  await createBundle(keys.privateKey, {
    kind: 'vulndb',
    issuer: 'bench',
    sequence: 1,
    content: serialized,
    gzip: false,
  }),
);

const loadTimes = [];
let db;
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  const { content } = await verifyBundle(readFileSync(bundlePath), {
    trustedKeys: [publicJwk],
    expectKind: 'vulndb',
  });
  db = scanner.deserializeDb(content);
  loadTimes.push(performance.now() - t);
}

const images = {
  alpine: { kind: 'docker-archive', path: sharedPath('testdata', 'images', 'alpine-311.tar.gz') },
  debian: { kind: 'oci-layout', path: debianImage() },
};

const results = {};
for (const [name, source] of Object.entries(images)) {
  const cold = [];
  for (let i = 0; i < 3; i++) {
    const child = spawnSync(
      process.execPath,
      [
        fileURLToPath(import.meta.url),
        '--cold',
        bundlePath,
        JSON.stringify(publicJwk),
        JSON.stringify(source),
      ],
      {
        encoding: 'utf8',
      },
    );
    if (child.status !== 0) throw new Error(`cold scan failed: ${child.stderr}`);
    cold.push(JSON.parse(child.stdout));
  }
  // Uncached: DB loaded, but every layer fetched, verified and (selectively) unpacked again.
  const uncached = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await scanner.scanImage(source, { db });
    uncached.push(performance.now() - t);
  }
  // Warm: what a running scanner does on a rescan (DB loaded, inventory cached by config digest;
  // the manifest and config are still read and verified, and matching runs against the current DB).
  const cache = new scanner.InventoryCache();
  await scanner.scanImage(source, { db, cache });
  const warm = [];
  let packages = 0;
  let findings = 0;
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    const r = await scanner.scanImage(source, { db, cache });
    warm.push(performance.now() - t);
    packages = r.inventory.packages.length;
    findings = r.findings.length;
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }
  results[name] = {
    packages,
    findings,
    coldMs: round(median(cold.map((c) => c.totalMs))),
    coldPeakRssMb: round(Math.max(...cold.map((c) => c.maxRssMb))),
    uncachedMs: round(median(uncached)),
    warmMs: round(median(warm)),
    warmP90Ms: round([...warm].sort((a, b) => a - b)[Math.floor(warm.length * 0.9)]),
    warmRssGrowthMb: round((rssPeak - rssBefore) / 1048576),
  };
  console.log(
    `${name}: ${packages} packages, ${findings} findings | cold ${results[name].coldMs} ms (peak RSS ${results[name].coldPeakRssMb} MB) | uncached ${results[name].uncachedMs} ms | warm median ${results[name].warmMs} ms, p90 ${results[name].warmP90Ms} ms`,
  );
}

// Matching alone: the Debian inventory against the loaded DB, for ~2 s.
const inventory = (await scanner.scanImage(images.debian, { db })).inventory;
let matched = 0;
const tMatch = performance.now();
while (performance.now() - tMatch < 2000) {
  scanner.matchInventory(inventory, db);
  matched++;
}
const inventoriesPerSecond = round(matched / ((performance.now() - tMatch) / 1000));

const figures = {
  dbBuildMs: round(buildMs),
  dbBytes: serialized.length,
  dbLoadMs: round(median(loadTimes)),
  alpine: results.alpine,
  debian: results.debian,
  inventoriesMatchedPerSecond: inventoriesPerSecond,
  inventoryPackages: inventory.packages.length,
  targetWarm100PkgMs: 200,
  warm100PkgWithinTarget: results.debian.warmMs < 200,
};
console.log(
  `vulnerability DB: built in ${figures.dbBuildMs} ms, ${figures.dbBytes} bytes, verified + loaded in ${figures.dbLoadMs} ms (median of 5)`,
);
console.log(`matching: ${inventoriesPerSecond} inventories/s (${inventory.packages.length} packages each)`);
console.log(
  `target: warm scan of a ~100-package image < 200 ms → ${figures.warm100PkgWithinTarget ? 'met' : 'NOT met'} (${results.debian.warmMs} ms)`,
);
console.log(JSON.stringify(figures));
