/**
 * Real Go binaries built by the Go toolchain (apt `golang-go`), offline: dependencies come from a
 * file:// GOPROXY written here (module zips made with the test zip writer), with one module replaced
 * by another module and one by a local directory. Expectations come from `go version -m`.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileSource } from './fsroot.js';
import { readGoBuildInfoStrings } from './golang.js';
import { analyzeRootfsWithWarnings } from './index.js';
import { cleanupTempDirs, makeZip, requireTool, run, tempDir } from './testkit.js';

afterAll(cleanupTempDirs);

let work: string;
let root: string;
let goVersion: string;
let env: NodeJS.ProcessEnv;

function write(path: string, text: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** One module version in the file proxy: list, .info, .mod and .zip ("<module>@<version>/" prefix). */
function publish(
  proxy: string,
  modPath: string,
  version: string,
  declaredPath: string,
  pkgName: string,
): void {
  const dir = join(proxy, modPath, '@v');
  const gomod = `module ${declaredPath}\n\ngo 1.17\n`;
  write(join(dir, 'list'), `${version}\n`);
  write(join(dir, `${version}.info`), JSON.stringify({ Version: version, Time: '2023-01-01T00:00:00Z' }));
  write(join(dir, `${version}.mod`), gomod);
  const prefix = `${modPath}@${version}/`;
  write(
    join(dir, `${version}.zip`),
    makeZip([
      { name: `${prefix}go.mod`, data: gomod },
      {
        name: `${prefix}${pkgName}.go`,
        data: `package ${pkgName}\n\nfunc Name() string { return "${modPath}" }\n`,
      },
    ]),
  );
}

beforeAll(() => {
  requireTool('go', 'golang-go');
  work = tempDir('go-it');
  const proxy = join(work, 'proxy');
  publish(proxy, 'example.com/dep', 'v1.2.3', 'example.com/dep', 'dep');
  publish(proxy, 'example.com/other', 'v0.1.0', 'example.com/other', 'other');
  // A fork published under its own path that still declares the original module path.
  publish(proxy, 'example.com/fork', 'v0.2.0', 'example.com/other', 'other');
  const app = join(work, 'app');
  write(join(app, 'local/go.mod'), 'module example.com/local\n\ngo 1.17\n');
  write(join(app, 'local/local.go'), 'package local\n\nfunc Name() string { return "local" }\n');
  write(
    join(app, 'go.mod'),
    [
      'module example.com/app',
      '',
      'go 1.17',
      '',
      'require (',
      '\texample.com/dep v1.2.3',
      '\texample.com/local v1.0.0',
      '\texample.com/other v0.1.0',
      ')',
      '',
      'replace example.com/other => example.com/fork v0.2.0',
      '',
      'replace example.com/local => ./local',
      '',
    ].join('\n'),
  );
  write(
    join(app, 'main.go'),
    [
      'package main',
      '',
      'import (',
      '\t"fmt"',
      '',
      '\t"example.com/dep"',
      '\t"example.com/local"',
      '\t"example.com/other"',
      ')',
      '',
      'func main() { fmt.Println(dep.Name(), local.Name(), other.Name()) }',
      '',
    ].join('\n'),
  );
  env = {
    ...process.env,
    GOPROXY: `file://${proxy}`,
    GOSUMDB: 'off',
    GOFLAGS: '-mod=mod',
    GOPATH: join(work, 'gopath'),
    GOCACHE: join(work, 'gocache'),
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    HOME: work,
  };
  root = join(work, 'rootfs');
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  run('go', ['build', '-trimpath', '-o', join(root, 'usr/local/bin/app'), '.'], { cwd: app, env });
  // Stripped of symbols and DWARF: build info must survive.
  mkdirSync(join(root, 'app'), { recursive: true });
  run('go', ['build', '-ldflags=-s -w', '-o', join(root, 'app/server'), '.'], { cwd: app, env });
  goVersion = run('go', ['env', 'GOVERSION'], { env }).trim();
}, 300_000);

/** `go version -m` lines of kind path/mod/dep/=> (tab-separated fields, leading tab removed). */
function goVersionM(bin: string): { version: string; lines: string[] } {
  const out = run('go', ['version', '-m', bin], { env }).split('\n');
  const version = (out[0] as string).slice(bin.length + 2).trim();
  const lines = out
    .slice(1)
    .map((l) => l.replace(/^\t/, ''))
    .filter((l) => /^(path|mod|dep|=>)\t/.test(l));
  return { version, lines };
}

describe('Go binaries built by the Go toolchain', () => {
  it('raw build info equals go version -m', () => {
    for (const bin of ['usr/local/bin/app', 'app/server']) {
      const path = join(root, bin);
      const src = openFileSource(path);
      const bi = readGoBuildInfoStrings(src);
      src.close();
      const real = goVersionM(path);
      expect(bi?.version).toBe(real.version);
      expect(bi?.version).toBe(goVersion);
      const ours = (bi?.modinfo ?? '')
        .split('\n')
        .filter((l) => /^(path|mod|dep|=>)\t/.test(l))
        .map((l) => l.replace(/\t+$/, ''));
      expect(ours).toEqual(real.lines.map((l) => l.replace(/\t+$/, '')));
      expect(real.lines.length).toBe(7); // path, mod, 3 deps, 2 replacements
    }
  });

  it('analyzeRootfs lists the modules (replacements applied) and stdlib', async () => {
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(warnings).toEqual([]);
    const std = `v${goVersion.replace(/^go/, '')}`;
    expect(inventory.packages.map((p) => `${p.name}@${p.version} ${p.locations.join(',')}`).sort()).toEqual(
      [
        'example.com/dep@v1.2.3',
        'example.com/fork@v0.2.0',
        'example.com/local@v1.0.0',
        `stdlib@${std.split('.').length === 2 ? `${std}.0` : std}`,
      ]
        .map((s) => `${s} /app/server,/usr/local/bin/app`)
        .sort(),
    );
    expect(inventory.packages.find((p) => p.name === 'example.com/fork')?.purl).toBe(
      'pkg:golang/example.com/fork@v0.2.0',
    );
  });

  it('a Debian-built Go binary without module info (containerd ctr, if installed) yields stdlib only', async () => {
    if (!existsSync('/usr/bin/ctr')) return; // apt `containerd`; optional
    const r = tempDir('go-ctr');
    mkdirSync(join(r, 'usr/bin'), { recursive: true });
    copyFileSync('/usr/bin/ctr', join(r, 'usr/bin/ctr'));
    chmodSync(join(r, 'usr/bin/ctr'), 0o755);
    const real = goVersionM('/usr/bin/ctr');
    const { inventory } = await analyzeRootfsWithWarnings(r);
    expect(real.lines.filter((l) => l.startsWith('dep\t'))).toEqual([]);
    expect(inventory.packages.map((p) => `${p.name}@${p.version}`)).toEqual([
      `stdlib@v${real.version.replace(/^go/, '')}`,
    ]);
  });
});
