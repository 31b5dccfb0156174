/**
 * A real OCI registry for tests (Debian's docker-registry, distribution 2.8) on a free loopback port,
 * plus helpers to build small images with umoci and push them with skopeo.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, ManagedProcess, waitFor } from './stack.js';

const exec = promisify(execFile);

async function need(tool: string, aptPackage: string): Promise<void> {
  try {
    await exec('sh', ['-c', `command -v ${tool}`]);
  } catch {
    throw new Error(
      `${tool} is missing: install the Debian package ${aptPackage} (scripts/lib/setup.sh does)`,
    );
  }
}

export class TestRegistry {
  dir = '';
  port = 0;
  process?: ManagedProcess;

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await need('docker-registry', 'docker-registry');
    await need('skopeo', 'skopeo');
    await need('umoci', 'umoci');
    this.dir = await mkdtemp(join(tmpdir(), 'palisade-registry-'));
    this.port = await freePort();
    const config = join(this.dir, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log: { level: error }',
        `storage: { filesystem: { rootdirectory: ${join(this.dir, 'data')} }, delete: { enabled: true } }`,
        `http: { addr: 127.0.0.1:${this.port} }`,
        '',
      ].join('\n'),
    );
    const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = new ManagedProcess('registry', child);
    await waitFor('the registry to answer /v2/', async () => {
      if (!this.process?.running) throw new Error(`registry exited:\n${this.process?.output}`);
      return (await fetch(`http://${this.host}/v2/`).catch(() => null))?.ok ?? false;
    });
    return this;
  }

  /** Pushes a `docker save` archive (gzipped or not) as `<name>:<tag>`. */
  async pushDockerArchive(archive: string, name: string): Promise<string> {
    let path = archive;
    if (archive.endsWith('.gz')) {
      // skopeo 1.9 reads only uncompressed docker-archive files.
      path = join(this.dir, `${name.replace(/[/:]/g, '_')}.tar`);
      await exec('sh', ['-c', 'gunzip -c "$1" > "$2"', 'sh', archive, path]);
    }
    const ref = `${this.host}/${name}`;
    await exec('skopeo', [
      'copy',
      '--quiet',
      `docker-archive:${path}`,
      `docker://${ref}`,
      '--dest-tls-verify=false',
    ]);
    return ref;
  }

  /** Builds a one-layer OCI image holding `files` (path → content) with umoci and pushes it. */
  async pushFiles(name: string, files: Record<string, string>): Promise<string> {
    const work = await mkdtemp(join(this.dir, 'image-'));
    const layout = join(work, 'layout');
    await exec('umoci', ['init', '--layout', layout]);
    await exec('umoci', ['new', '--image', `${layout}:latest`]);
    const bundle = join(work, 'bundle');
    await exec('umoci', ['unpack', '--image', `${layout}:latest`, bundle]);
    for (const [path, content] of Object.entries(files)) {
      const target = join(bundle, 'rootfs', path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
    }
    await exec('umoci', ['repack', '--image', `${layout}:latest`, bundle]);
    const ref = `${this.host}/${name}`;
    await exec('skopeo', [
      'copy',
      '--quiet',
      `oci:${layout}:latest`,
      `docker://${ref}`,
      '--dest-tls-verify=false',
    ]);
    await rm(work, { recursive: true, force: true });
    return ref;
  }

  async stop(): Promise<void> {
    await this.process?.kill('SIGTERM', 5000);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
