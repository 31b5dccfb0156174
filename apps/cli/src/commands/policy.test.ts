import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initialPolicy } from '@palisade/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../args.js';
import { parsePolicyArgs, policySummary, readPolicyFile, staleWrite } from './policy.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'palisade-cli-policy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe('policy command arguments', () => {
  it('takes the cluster as --cluster or positionally, and -f as the policy file', () => {
    expect(parsePolicyArgs(['get', '--cluster', 'edge'])).toEqual({
      action: 'get',
      cluster: 'edge',
      output: 'json',
    });
    expect(parsePolicyArgs(['get', 'edge', '-o', 'table'])).toEqual({
      action: 'get',
      cluster: 'edge',
      output: 'table',
    });
    expect(parsePolicyArgs(['set', '--cluster', 'edge', '-f', 'p.json'])).toEqual({
      action: 'set',
      cluster: 'edge',
      file: 'p.json',
      output: 'table',
    });
    expect(parsePolicyArgs(['diff', '-c', 'edge', '--file', 'p.json']).file).toBe('p.json');
  });

  it('refuses incomplete or contradictory commands with a usage error', () => {
    expect(() => parsePolicyArgs(['apply', '--cluster', 'edge'])).toThrow(/unknown command "policy apply"/);
    expect(() => parsePolicyArgs([])).toThrow(UsageError);
    expect(() => parsePolicyArgs(['get'])).toThrow(/cluster name is required/);
    expect(() => parsePolicyArgs(['get', '--cluster', 'Edge'])).toThrow(/lowercase/);
    expect(() => parsePolicyArgs(['set', '--cluster', 'edge'])).toThrow(/needs -f FILE/);
    expect(() => parsePolicyArgs(['get', 'edge', '--cluster', 'core'])).toThrow(/one cluster/);
    expect(() => parsePolicyArgs(['get', 'edge', '-f', 'x.json'])).toThrow(/does not take -f/);
    expect(() => parsePolicyArgs(['get', 'edge', '-o', 'yaml'])).toThrow(/json or table/);
    expect(() => parsePolicyArgs(['get', 'edge', '--force'])).toThrow(/Unknown option/);
  });
});

describe('policy files', () => {
  it('reads a valid policy, filling in defaults', async () => {
    const path = await file(
      'ok.json',
      JSON.stringify({
        ...initialPolicy('edge'),
        revision: 4,
        groups: [{ name: 'web', selector: { image: 'nginx:*' }, modes: { process: 'protect' } }],
      }),
    );
    const policy = await readPolicyFile(path, 'edge');
    expect(policy.revision).toBe(4);
    expect(policy.groups[0]).toMatchObject({ name: 'web', priority: 0, process: [], network: [] });
  });

  it('names the file and the location of every problem', async () => {
    const path = await file(
      'bad.json',
      JSON.stringify({
        ...initialPolicy('edge'),
        groups: [
          { name: 'web', selector: { image: 'nginx:*' }, process: [{ path: 'nginx', action: 'allow' }] },
          { name: 'web', selector: { name: 'x' } },
        ],
      }),
    );
    const err = await readPolicyFile(path, 'edge').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(/groups\.0\.process\.0\.path: "nginx" must be an absolute path/);
    expect((err as Error).message).toMatch(/groups\.1\.name: duplicate group name web/);
  });

  it('refuses unreadable files, broken JSON and another cluster’s policy', async () => {
    await expect(readPolicyFile(join(dir, 'missing.json'), 'edge')).rejects.toThrow(
      /cannot read .*missing\.json/,
    );
    await expect(readPolicyFile(await file('broken.json', '{"v": 1,'), 'edge')).rejects.toThrow(
      /broken\.json is not valid JSON/,
    );
    await expect(
      readPolicyFile(await file('core.json', JSON.stringify(initialPolicy('core'))), 'edge'),
    ).rejects.toThrow(/policy of cluster "core", not "edge"/);
  });
});

describe('policy output', () => {
  it('summarises groups with their effective modes and rule counts', () => {
    const text = policySummary({
      ...initialPolicy('edge'),
      groups: [
        {
          name: 'web',
          selector: { namespace: 'prod', labels: { app: 'web' } },
          priority: 5,
          modes: { network: 'protect' },
          process: [{ path: '/bin/sh', action: 'deny' }],
          file: [],
          network: [],
        },
      ],
    });
    const [head, header, row] = text.split('\n');
    expect(head).toBe(
      'cluster edge, revision 0; defaults: process discover, file discover, network discover',
    );
    expect(header).toMatch(/^GROUP\s+PRIORITY\s+PROCESS\s+FILE\s+NETWORK/);
    expect(row?.split(/\s{2,}/)).toEqual([
      'web',
      '5',
      '(discover)',
      '(discover)',
      'protect',
      '1/0/0',
      'namespace=prod labels=app=web',
    ]);
    expect(policySummary(initialPolicy('edge'))).toMatch(/no groups/);
  });

  it('turns a stale write into exit 3 with what to do next', () => {
    const err = staleWrite('edge', 'at revision 2, not 1') as Error & { exit: number };
    expect(err.exit).toBe(3);
    expect(err.message).toBe(
      'the policy changed since you read it (at revision 2, not 1); run "palisade policy get --cluster edge" again and reapply your edits',
    );
  });
});
