/**
 * The Policy page against a real controller, console, NATS and PostgreSQL: an admin changes a group's
 * mode in the browser and applies it (a new revision in desired state), a concurrent change is shown
 * as a conflict with a reload, and invalid JSON edits are refused with the field at fault. The node
 * page shows what an agent reported; that report is written to the database directly here (the agent
 * and ingest path have their own tests).
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { appRouter, contextFor, createCallerFactory } from '@palisade/api';
import type { Principal } from '@palisade/auth';
import { createDbClient, type DbClient } from '@palisade/db';
import type { EnforcementStatus, SecurityEvent } from '@palisade/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openConsole, recordFailure, requireBrowserPrerequisites, signIn } from '../support/browser.js';
import { enrollTestNode, ROOT, Stack } from '../support/stack.js';

const ARTIFACTS = `${ROOT}/test/artifacts/browser-policy`;
const CLUSTER = `pol-${Date.now().toString(36)}`;

const stack = new Stack({ withConsole: true });
let browser: Browser | undefined;
let _context: BrowserContext;
let page: Page;
let nc: NatsConnection | undefined;
let db: DbClient | undefined;
let admin: { username: string; password: string };

/** The hub as another admin sees it: in-process calls with an injected principal. */
function hub() {
  if (!nc || !db) throw new Error('stack not started');
  const principal: Principal = {
    userId: 'u-other',
    username: 'other-admin',
    role: 'admin',
    scope: { all: true },
  };
  const deps = { nats: nc, db, agentNatsUrl: stack.natsUrl, secureCookies: false };
  return createCallerFactory(appRouter)(contextFor(deps, principal, 'test'));
}

function poll<T>(probe: () => Promise<T> | T, timeout = 10_000) {
  return expect.poll(probe, { timeout, interval: 100 });
}

beforeAll(async () => {
  requireBrowserPrerequisites();
  await stack.start();
  nc = await connect({ servers: stack.natsUrl });
  db = createDbClient(stack.databaseUrl);
  await hub().clusters.create({ name: CLUSTER });
  const initial = await hub().policy.get({ cluster: CLUSTER });
  await hub().policy.set({
    cluster: CLUSTER,
    policy: {
      ...initial,
      groups: [
        {
          name: 'web',
          selector: { image: 'docker.io/library/nginx:*' },
          process: [{ path: '/usr/sbin/nginx', action: 'allow' }],
        },
      ],
    },
  });
  admin = await stack.initialAdmin();
  ({ browser, context: _context, page } = await openConsole(stack, ARTIFACTS));
  await signIn(page, stack, admin, `/policy?cluster=${CLUSTER}`);
}, 180_000);

afterEach(async ({ task }) => {
  if (task.result?.state === 'fail' && browser) await recordFailure(page, stack, ARTIFACTS, task.name);
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  await nc?.close().catch(() => {});
  await db?.$disconnect().catch(() => {});
  await stack.stop().catch((err: Error) => console.error(`stack.stop failed: ${err.message}`));
}, 60_000);

describe('policy page', () => {
  it('shows the cluster policy with its groups and rules', async () => {
    await poll(() => page.getByTestId('policy-revision').getAttribute('data-revision')).toBe('1');
    expect(await page.getByTestId('policy-cluster').inputValue()).toBe(CLUSTER);
    await poll(() => page.getByTestId('group-row').count()).toBe(1);
    expect(await page.getByTestId('mode-web-process').inputValue()).toBe('');
    await page.getByTestId('group-toggle-web').click();
    await poll(() => page.getByTestId('rules-web').textContent()).toContain('/usr/sbin/nginx');
    await page.screenshot({ path: `${ARTIFACTS}/01-policy.png`, fullPage: true });
  });

  it('sets a group mode, previews the change and applies it as a new revision', async () => {
    await page.getByTestId('mode-web-process').selectOption('protect');
    await poll(() => page.getByTestId('policy-diff').textContent()).toMatch(/web.*process.*protect/);
    await page.screenshot({ path: `${ARTIFACTS}/02-pending.png`, fullPage: true });
    await page.getByTestId('policy-apply').click();
    await poll(() => page.getByTestId('policy-applied').textContent()).toContain('revision 2');
    await poll(() => page.getByTestId('policy-revision').getAttribute('data-revision')).toBe('2');
    expect(await page.getByTestId('policy-pending').count()).toBe(0);
    const stored = await hub().policy.get({ cluster: CLUSTER });
    expect(stored.revision).toBe(2);
    expect(stored.groups[0]?.modes).toEqual({ process: 'protect' });
  });

  it('refuses a change based on an old revision and offers a reload', async () => {
    await page.getByTestId('mode-web-file').selectOption('monitor');
    await poll(() => page.getByTestId('policy-diff').textContent()).toMatch(/file.*monitor/);
    // Someone else changes the policy meanwhile.
    const current = await hub().policy.get({ cluster: CLUSTER });
    await hub().policy.set({
      cluster: CLUSTER,
      policy: { ...current, defaults: { modes: { ...current.defaults.modes, network: 'monitor' } } },
    });
    await page.getByTestId('policy-apply').click();
    await poll(() => page.getByTestId('policy-conflict').textContent()).toContain('changed this cluster');
    await poll(() => page.getByTestId('policy-conflict').textContent()).toContain('now at revision 3');
    await page.screenshot({ path: `${ARTIFACTS}/03-conflict.png`, fullPage: true });
    await page.getByTestId('policy-reload').click();
    await poll(() => page.getByTestId('policy-revision').getAttribute('data-revision')).toBe('3');
    expect(await page.getByTestId('policy-pending').count()).toBe(0);
    expect(await page.getByTestId('mode-web-file').inputValue()).toBe('');
    expect((await hub().policy.get({ cluster: CLUSTER })).groups[0]?.modes.file).toBeUndefined();
  });

  it('validates JSON edits on the hub and names the field at fault', async () => {
    await page.getByTestId('edit-json').click();
    const editor = page.getByTestId('policy-json');
    // The dialog fills its editor right after it opens (an effect): wait for the text, not the element.
    await poll(() => editor.inputValue()).toContain('"groups"');
    const policy = JSON.parse(await editor.inputValue());
    policy.groups[0].name = 'Not A Name';
    await editor.fill(JSON.stringify(policy, null, 2));
    await page.getByTestId('policy-json-use').click();
    await poll(() => page.getByTestId('policy-json-error').textContent()).toContain('groups.0.name');
    await page.screenshot({ path: `${ARTIFACTS}/04-json-invalid.png`, fullPage: true });
    policy.groups[0].name = 'frontend';
    await editor.fill(JSON.stringify(policy, null, 2));
    await page.getByTestId('policy-json-use').click();
    await poll(() => page.getByTestId('policy-diff').textContent()).toContain('frontend');
    await page.getByTestId('policy-discard').click();
    expect((await hub().policy.get({ cluster: CLUSTER })).groups.map((g) => g.name)).toEqual(['web']);
  });
});

describe('node page enforcement', () => {
  it('shows the back-end, revision and counters, and each workload’s group, modes and violations', async () => {
    if (!nc || !db) throw new Error('stack not started');
    const { token } = await hub().clusters.createJoinToken({ cluster: CLUSTER });
    const { nodeId } = await enrollTestNode(nc, token, {
      hostname: 'policy-node',
      kernel: '6.12',
      os: { id: 'debian', name: 'Debian', version: '13' },
    });
    const containerId = 'c0ffee'.padEnd(64, '0');
    const enforcement: EnforcementStatus = {
      backend: 'fallback',
      reason: 'BPF LSM is not enabled in this kernel (lsm= lacks bpf)',
      mechanisms: { process: ['tp_btf-kill'], file: ['fanotify'], network: ['cgroup-connect'] },
      policyRevision: 3,
      generation: 7,
      lastError: null,
      events: 12,
      drops: 2,
      spool: { pending: 4, dropped: 1 },
      workloads: [
        {
          containerId,
          group: 'web',
          modes: { process: 'protect', file: 'discover', network: 'monitor' },
          warnings: [],
        },
      ],
    };
    await db.node.update({ where: { id: nodeId }, data: { enforcement } });
    const now = new Date();
    await db.workload.create({
      data: {
        cluster: CLUSTER,
        nodeId,
        containerId,
        name: 'web-1',
        image: 'docker.io/library/nginx:1.27',
        runtimeNamespace: 'default',
        state: 'running',
        lastSeenAt: now,
      },
    });
    const denial = (at: Date, path: string): SecurityEvent => ({
      at: at.toISOString(),
      kind: 'process',
      action: 'deny',
      mechanism: 'tp_btf-kill',
      containerId,
      containerName: 'web-1',
      group: 'web',
      pid: 4242,
      comm: 'sh',
      path,
      count: 1,
    });
    const events = [
      { at: new Date(now.getTime() - 60_000), path: '/bin/sh', severity: 'high' },
      { at: new Date(now.getTime() - 30_000), path: '/usr/bin/curl', severity: 'high' },
      // Older than a day: listed, but not counted as a recent violation.
      { at: new Date(now.getTime() - 2 * 86_400_000), path: '/bin/old', severity: 'high' },
    ];
    for (const e of events) {
      await db.event.create({
        data: {
          at: e.at,
          cluster: CLUSTER,
          nodeId,
          containerId,
          type: 'security.process.denied',
          severity: e.severity,
          message: `blocked ${e.path} in web-1`,
          data: denial(e.at, e.path),
        },
      });
    }

    await page.goto(`${stack.consoleUrl}/nodes/${nodeId}`);
    await poll(() => page.getByTestId('enforcement-backend').textContent()).toContain('fallback');
    expect(await page.getByTestId('enforcement-backend').textContent()).toContain('lsm= lacks bpf');
    expect(await page.getByTestId('enforcement-revision').textContent()).toBe('3');
    expect(await page.getByTestId('enforcement-generation').textContent()).toBe('7');
    expect(await page.getByTestId('enforcement-drops').textContent()).toContain('2');
    const spool = await page.getByTestId('enforcement-spool').textContent();
    expect(spool).toContain('4 waiting on the node');
    expect(spool).toContain('1 dropped');
    const row = page.locator(`[data-testid="workload-row"][data-container="${containerId}"]`);
    await poll(() => row.getByTestId('workload-group').textContent()).toBe('web');
    expect(await row.getByTestId('workload-modes').textContent()).toMatch(/protect.*discover.*monitor/);
    expect(await row.getByTestId('workload-violations').textContent()).toBe('2');
    await row.getByTestId('workload-violations').click();
    const list = page.getByTestId(`security-events-${containerId.slice(0, 12)}`);
    await poll(() => list.getByTestId('security-event').count()).toBe(3);
    // Newest first.
    expect(await list.getByTestId('security-event').first().textContent()).toContain('/usr/bin/curl');
    await page.screenshot({ path: `${ARTIFACTS}/05-node-enforcement.png`, fullPage: true });

    // The API pages by event time, newest first, without gaps or repeats.
    const first = await hub().nodes.securityEvents({ nodeId, containerId, limit: 2 });
    expect(first.items.map((e) => e.data)).toMatchObject([{ path: '/usr/bin/curl' }, { path: '/bin/sh' }]);
    expect(first.nextCursor).not.toBeNull();
    const second = await hub().nodes.securityEvents({
      nodeId,
      containerId,
      limit: 2,
      cursor: first.nextCursor ?? '',
    });
    expect(second.items.map((e) => e.data)).toMatchObject([{ path: '/bin/old' }]);
    expect(second.nextCursor).toBeNull();
  });
});

describe('palisade policy (CLI against the same hub)', () => {
  it('gets, diffs and sets a policy, and refuses stale or invalid files', () => {
    const login = stack.cli(
      ['login', '--server', stack.consoleUrl, '--username', admin.username, '--password-stdin'],
      admin.password,
    );
    expect(login.status, login.stderr).toBe(0);
    const got = stack.cli(['policy', 'get', '--cluster', CLUSTER]);
    expect(got.status, got.stderr).toBe(0);
    const policy = JSON.parse(got.stdout);
    expect(policy.cluster).toBe(CLUSTER);
    const file = join(stack.dir, 'policy.json');
    policy.defaults.modes.file = 'protect';
    writeFileSync(file, JSON.stringify(policy));

    const diff = stack.cli(['policy', 'diff', '--cluster', CLUSTER, '-f', file]);
    expect(diff.status, diff.stderr).toBe(0);
    expect(diff.stdout.trim()).toBe('defaults: file mode discover → protect');

    const set = stack.cli(['policy', 'set', '--cluster', CLUSTER, '-f', file]);
    expect(set.status, set.stderr).toBe(0);
    expect(set.stdout).toContain(`policy of ${CLUSTER} is now at revision ${policy.revision + 1}`);

    // The same file again is based on the revision it just replaced.
    policy.defaults.modes.network = 'protect';
    writeFileSync(file, JSON.stringify(policy));
    const stale = stack.cli(['policy', 'set', '--cluster', CLUSTER, '-f', file]);
    expect(stale.status).toBe(3);
    expect(stale.stderr).toContain('the policy changed since you read it');

    policy.groups.push({ name: 'web', selector: { name: 'x' } });
    writeFileSync(file, JSON.stringify(policy));
    const invalid = stack.cli(['policy', 'set', '--cluster', CLUSTER, '-f', file]);
    expect(invalid.status).toBe(2);
    expect(invalid.stderr).toMatch(/groups\.1\.name: duplicate group name web/);
  });
});
