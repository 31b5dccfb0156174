/**
 * Language analyzers against real installed files on this machine, compared with the ecosystems'
 * own tools run on the same copies:
 *   Python — Debian's dist-packages metadata vs importlib.metadata (python3);
 *   npm    — the npm CLI's own installed tree vs `npm ls --all --parseable --long --omit=dev`;
 *   Java   — Debian's /usr/share/java jars vs Python's zipfile, plus a war built with zipfile.
 */
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeRootfsWithWarnings } from './index.js';
import { normalizePypiName } from './python.js';
import { cleanupTempDirs, requireTool, run, tempDir } from './testkit.js';

afterAll(cleanupTempDirs);

describe('Python: Debian dist-packages', () => {
  it('matches importlib.metadata over the same metadata directories', async () => {
    const python = requireTool('python3', 'python3');
    const src = '/usr/lib/python3/dist-packages';
    const metas = existsSync(src) ? readdirSync(src).filter((n) => /\.(dist-info|egg-info)$/.test(n)) : [];
    if (metas.length === 0)
      throw new Error(
        `no *.dist-info/*.egg-info in ${src}: apt-get install python3-yaml python3-cryptography`,
      );
    const root = tempDir('py');
    const dst = join(root, 'usr/lib/python3/dist-packages');
    mkdirSync(dst, { recursive: true });
    for (const n of metas) cpSync(join(src, n), join(dst, n), { recursive: true });

    const script =
      'import importlib.metadata as m, sys\n' +
      'for d in m.distributions(path=[sys.argv[1]]):\n' +
      '    print(d.metadata["Name"] + "\\t" + d.version)\n';
    const real = [
      ...new Set(
        run(python, ['-c', script, dst])
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const [name, version] = l.split('\t');
            return `${normalizePypiName(name as string)}@${version}`;
          }),
      ),
    ].sort();
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(warnings).toEqual([]);
    const ours = inventory.packages.map((p) => `${p.name}@${p.version}`).sort();
    expect(real.length).toBeGreaterThan(0);
    expect(ours).toEqual(real);
    expect(
      inventory.packages.every((p) => p.ecosystem === 'PyPI' && p.purl === `pkg:pypi/${p.name}@${p.version}`),
    ).toBe(true);
  });
});

describe('npm: the npm CLI installed tree', () => {
  it('matches npm ls --all --omit=dev over a copy under usr/lib/node_modules', async () => {
    const npm = requireTool('npm', 'npm');
    const npmDir = dirname(dirname(realpathSync(npm))); // <prefix>/lib/node_modules/npm/bin/npm-cli.js
    expect(basename(npmDir)).toBe('npm');
    const root = tempDir('npm');
    const dst = join(root, 'usr/lib/node_modules/npm');
    cpSync(npmDir, dst, { recursive: true });
    // "<path>:<name>@<version>[:flags]" per installed package, the npm package itself included.
    const real = run(npm, ['ls', '--all', '--parseable', '--long', '--omit=dev'], {
      cwd: dst,
      env: { ...process.env, NO_COLOR: '1' },
    })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(':')[1] as string);
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(warnings).toEqual([]);
    const ours = inventory.packages.flatMap((p) => p.locations.map(() => `${p.name}@${p.version}`)).sort();
    expect(real.length).toBeGreaterThan(50);
    expect(ours).toEqual([...real].sort());
  });
});

describe('Java: Debian jars', () => {
  const zipPoms =
    'import zipfile, sys, re\n' +
    'for path in sys.argv[1:]:\n' +
    '    with zipfile.ZipFile(path) as z:\n' +
    '        for n in z.namelist():\n' +
    '            if re.match(r"^META-INF/maven/[^/]+/[^/]+/pom\\.properties$", n):\n' +
    '                p = dict(l.split("=", 1) for l in z.read(n).decode().splitlines() if "=" in l and not l.startswith("#"))\n' +
    '                print(path + "\\t" + p["groupId"].strip() + ":" + p["artifactId"].strip() + "@" + p["version"].strip())\n';

  it('pom.properties coordinates equal what Python zipfile reads, nested jars in a war included', async () => {
    const python = requireTool('python3', 'python3');
    const src = '/usr/share/java';
    const jars = existsSync(src)
      ? readdirSync(src)
          .filter((n) => n.endsWith('.jar') && lstatSync(join(src, n)).isFile())
          .slice(0, 40)
      : [];
    if (jars.length === 0)
      throw new Error(`no jars in ${src}: apt-get install libcommons-io-java libguava-java`);
    const root = tempDir('java');
    const dst = join(root, 'usr/share/java');
    mkdirSync(dst, { recursive: true });
    for (const n of jars) cpSync(join(src, n), join(dst, n));
    // A war holding three of the same jars under WEB-INF/lib, written by Python's zipfile.
    const inWar = jars.slice(0, 3);
    mkdirSync(join(root, 'srv'), { recursive: true });
    run(python, [
      '-c',
      'import zipfile, sys, os\n' +
        'with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:\n' +
        '    z.writestr("WEB-INF/web.xml", "<web-app/>")\n' +
        '    for p in sys.argv[2:]: z.write(p, "WEB-INF/lib/" + os.path.basename(p))\n',
      join(root, 'srv/app.war'),
      ...inWar.map((n) => join(dst, n)),
    ]);

    const realLines = run(python, ['-c', zipPoms, ...jars.map((n) => join(dst, n))])
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [path, coord] = l.split('\t') as [string, string];
        return `${coord} /usr/share/java/${basename(path)}`;
      });
    const nested = realLines
      .filter((l) => inWar.some((n) => l.endsWith(`/${n}`)))
      .map((l) => l.replace(/ \/usr\/share\/java\//, ' /srv/app.war!/WEB-INF/lib/'));
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    const ours = inventory.packages
      .filter((p) => p.name.includes(':'))
      .flatMap((p) => p.locations.map((l) => `${p.name}@${p.version} ${l}`))
      .sort();
    expect(realLines.length).toBeGreaterThan(0);
    expect(ours).toEqual([...realLines, ...nested].sort());
    // Jars without pom.properties fall back to the manifest or are skipped, never warned about.
    expect(warnings).toEqual([]);
  });
});
