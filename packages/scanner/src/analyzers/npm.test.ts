import { afterAll, describe, expect, it } from 'vitest';
import { analyzeRootfsWithWarnings } from './index.js';
import { isInstalledPackageJson, isLockfile, parseInstalledPackageJson, parsePackageLock } from './npm.js';
import { cleanupTempDirs, makeRoot } from './testkit.js';

afterAll(cleanupTempDirs);

const V1 = {
  name: 'app',
  version: '1.0.0',
  lockfileVersion: 1,
  requires: true,
  dependencies: {
    express: {
      version: '4.17.1',
      resolved: 'https://registry.npmjs.org/express/-/express-4.17.1.tgz',
      requires: { debug: '2.6.9' },
      dependencies: { debug: { version: '2.6.9' }, ms: { version: '2.0.0' } },
    },
    debug: { version: '4.3.4' },
    jest: { version: '29.0.0', dev: true },
    fsevents: { version: '2.3.2', optional: true },
    aliased: { version: 'npm:lodash@4.17.21' },
    fromgit: { version: 'github:user/repo#abcdef' },
    '@types/node': { version: '20.1.0' },
  },
};

const V3 = {
  name: 'app',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'app', version: '1.0.0', workspaces: ['packages/*'] },
    'node_modules/express': { version: '4.18.2', license: 'MIT' },
    'node_modules/express/node_modules/debug': { version: '2.6.9', license: 'MIT' },
    'node_modules/@babel/core': { version: '7.22.0', dev: true },
    'node_modules/typescript': { version: '5.2.2', devOptional: true },
    'node_modules/fsevents': { version: '2.3.3', optional: true },
    'node_modules/lib-a': { resolved: 'packages/lib-a', link: true },
    'packages/lib-a': { name: 'lib-a', version: '0.0.1' },
    'node_modules/str': { name: 'string-width', version: '4.2.3' },
    'node_modules/@scope/pkg': { version: '1.2.3', license: 'Apache-2.0' },
    'node_modules/local': { version: 'file:../local' },
  },
};

describe('package-lock.json', () => {
  it('v1: nested dependencies, dev left out, aliases resolved, git versions skipped', () => {
    expect(parsePackageLock(V1)).toEqual([
      { name: 'express', version: '4.17.1' },
      { name: 'debug', version: '2.6.9' },
      { name: 'ms', version: '2.0.0' },
      { name: 'debug', version: '4.3.4' },
      { name: 'fsevents', version: '2.3.2' },
      { name: 'lodash', version: '4.17.21' },
      { name: '@types/node', version: '20.1.0' },
    ]);
  });

  it('v3: packages map, names from the path or the name field, links/workspaces/dev skipped', () => {
    expect(parsePackageLock(V3)).toEqual([
      { name: 'express', version: '4.18.2', license: 'MIT' },
      { name: 'debug', version: '2.6.9', license: 'MIT' },
      { name: 'fsevents', version: '2.3.3' },
      { name: 'string-width', version: '4.2.3' },
      { name: '@scope/pkg', version: '1.2.3', license: 'Apache-2.0' },
    ]);
  });

  it('v2 carries both sections; packages is used', () => {
    const v2 = { lockfileVersion: 2, packages: V3.packages, dependencies: V1.dependencies };
    expect(parsePackageLock(v2)).toEqual(parsePackageLock(V3));
  });

  it('rejects non-objects and v2+ without packages', () => {
    expect(() => parsePackageLock([])).toThrow();
    expect(() => parsePackageLock({ lockfileVersion: 3 })).toThrow(/without "packages"/);
  });

  it('path predicates', () => {
    expect(isLockfile('/app/package-lock.json')).toBe(true);
    expect(isLockfile('/app/node_modules/x/package-lock.json')).toBe(false);
    expect(isInstalledPackageJson('/app/node_modules/x/package.json')).toBe(true);
    expect(isInstalledPackageJson('/app/node_modules/@s/x/package.json')).toBe(true);
    expect(isInstalledPackageJson('/app/node_modules/x/lib/package.json')).toBe(false);
    expect(isInstalledPackageJson('/app/node_modules/.bin/package.json')).toBe(false);
    expect(isInstalledPackageJson('/app/package.json')).toBe(false);
  });

  it('installed package.json', () => {
    expect(
      parseInstalledPackageJson({
        name: 'a',
        version: '1.0.0',
        licenses: [{ type: 'MIT' }, { type: 'GPL-2.0' }],
      }),
    ).toEqual({
      name: 'a',
      version: '1.0.0',
      license: 'MIT OR GPL-2.0',
    });
    expect(parseInstalledPackageJson({ name: 'a' })).toBeNull();
    expect(parseInstalledPackageJson({ type: 'module' })).toBeNull();
  });
});

describe('npm on a root filesystem', () => {
  it('merges a lockfile and node_modules, scoped purls, bad JSON is a warning', async () => {
    const root = makeRoot({
      'app/package.json': JSON.stringify({ name: 'app', version: '1.0.0' }),
      'app/package-lock.json': JSON.stringify(V3),
      'app/node_modules/express/package.json': JSON.stringify({
        name: 'express',
        version: '4.18.2',
        license: 'MIT',
      }),
      'app/node_modules/express/lib/package.json': JSON.stringify({ type: 'commonjs' }),
      'app/node_modules/@scope/pkg/package.json': JSON.stringify({ name: '@scope/pkg', version: '1.2.3' }),
      'app/node_modules/broken/package.json': '{ not json',
      'usr/local/lib/node_modules/npm/package.json': JSON.stringify({
        name: 'npm',
        version: '10.2.4',
        license: 'Artistic-2.0',
      }),
      'var/tmp/node_modules/ignored/package.json': JSON.stringify({ name: 'ignored', version: '1.0.0' }),
    });
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\/app\/node_modules\/broken\/package.json: /);
    const byName = new Map(inventory.packages.map((p) => [p.name, p]));
    expect([...byName.keys()].sort()).toEqual([
      '@scope/pkg',
      'debug',
      'express',
      'fsevents',
      'npm',
      'string-width',
    ]);
    expect(byName.get('express')).toEqual({
      name: 'express',
      version: '4.18.2',
      ecosystem: 'npm',
      purl: 'pkg:npm/express@4.18.2',
      licenses: ['MIT'],
      locations: ['/app/package-lock.json', '/app/node_modules/express/package.json'],
    });
    expect(byName.get('@scope/pkg')?.purl).toBe('pkg:npm/%40scope/pkg@1.2.3');
    expect(byName.get('npm')?.locations).toEqual(['/usr/local/lib/node_modules/npm/package.json']);
  });
});
