/**
 * An agent reads the packages of a container running in a real containerd and forwards them; a hub
 * scanner matches them and stores a report for that workload. Needs root (private containerd).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { appRouter, contextFor, createCallerFactory } from '@palisade/api';
import { createDbClient, type DbClient } from '@palisade/db';
import { sharedPath } from '@palisade/testdata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, NOT_ROOT_MESSAGE, PrivateContainerd } from '../support/containerd.js';
import { Stack, waitFor } from '../support/stack.js';
import { installVulnDb } from '../support/vulndb.js';

const exec = promisify(execFile);

if (!isRoot) {
  console.warn(`test/system/agent-scan.test.ts: ${NOT_ROOT_MESSAGE}`);
  describe('agent-forwarded scans', () => {
    it.skip(NOT_ROOT_MESSAGE, () => {});
  });
} else {
  describe('agent-forwarded scans', () => {
    const stack = new Stack({ heartbeatIntervalMs: 1000 });
    const containerd = new PrivateContainerd();
    let work = '';
    let nc: NatsConnection;
    let db: DbClient;
    const admin = () =>
      createCallerFactory(appRouter)(
        contextFor(
          { nats: nc, db, agentNatsUrl: stack.natsUrl, secureCookies: false },
          { userId: 'u-admin', username: 'root', role: 'admin', scope: { all: true } },
          'test',
        ),
      );

    beforeAll(async () => {
      await stack.start();
      work = await mkdtemp(join(tmpdir(), 'palisade-agent-scan-'));
      const vulndb = installVulnDb(work);
      await stack.startScanner(vulndb.dbDir, vulndb.trustKey);
      await containerd.start();
      // The real alpine 3.11 `docker save` archive, imported as it is.
      const archive = join(work, 'alpine.tar');
      await exec('sh', [
        '-c',
        'gunzip -c "$1" > "$2"',
        'sh',
        sharedPath('testdata', 'images', 'alpine-311.tar.gz'),
        archive,
      ]);
      await containerd.ctr('default', 'image', 'import', archive);
      await containerd.run('default', 'alpine-app', ['sleep', '300'], {}, 'docker.io/library/alpine:3.11');
      nc = await connect({ servers: stack.natsUrl });
      db = createDbClient(stack.databaseUrl);
    }, 180_000);

    afterAll(async () => {
      await nc?.close();
      await db?.$disconnect();
      try {
        await stack.stop();
      } finally {
        await containerd.stop();
        if (work) await rm(work, { recursive: true, force: true });
      }
    });

    it('scans a running container’s packages without the DB on the node', async () => {
      await admin().clusters.create({ name: 'edge-scan' });
      const { token } = await admin().clusters.createJoinToken({ cluster: 'edge-scan' });
      const agent = stack.agent('agent', {
        stateDir: join(work, 'agent'),
        cluster: 'edge-scan',
        joinToken: token,
        hostname: 'edge-scan-1',
        containerdSocket: containerd.socket,
      });
      await agent.waitForOutput(/forwarded a container inventory/, 60_000);
      const report = await waitFor('the workload’s report', async () =>
        (await admin().vulnerabilities.images({ cluster: 'edge-scan' })).items.find(
          (i) => i.containerId === 'alpine-app',
        ),
      );
      expect(report).toMatchObject({
        origin: 'agent',
        imageRef: 'docker.io/library/alpine:3.11',
        packageCount: 14,
      });
      expect(report.workloadName).toBe('alpine-app');
      const full = await admin().vulnerabilities.report({ reportId: report.id });
      expect(full.report).toMatchObject({ osId: 'alpine', osVersion: '3.11.5' });
      // Forwarded once per container: no second report while it keeps running.
      await new Promise((r) => setTimeout(r, 2500));
      expect((await admin().vulnerabilities.reports({ origin: 'agent', cluster: 'edge-scan' })).total).toBe(
        1,
      );
    });
  });
}
