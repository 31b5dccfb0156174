/**
 * The Controllers page against three real Raft-replicated controller processes: every replica with
 * its role, term and lag; after the leader is SIGKILLed the page shows the new leader in a later term.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openConsole, recordFailure, requireBrowserPrerequisites, signIn } from '../support/browser.js';
import { ROOT, Stack } from '../support/stack.js';

const ARTIFACTS = join(ROOT, 'test/artifacts/browser-controllers');
const stack = new Stack({ raftReplicas: 3, withConsole: true });
let browser: Browser | undefined;
let page: Page;

function poll<T>(probe: () => Promise<T> | T, timeout = 15_000) {
  return expect.poll(probe, { timeout, interval: 100 });
}

beforeAll(async () => {
  requireBrowserPrerequisites();
  await stack.start();
  const admin = await stack.initialAdmin();
  ({ browser, page } = await openConsole(stack, ARTIFACTS));
  await signIn(page, stack, admin, '/controllers');
}, 180_000);

afterEach(async ({ task }) => {
  if (task.result?.state === 'fail' && browser) await recordFailure(page, stack, ARTIFACTS, task.name);
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  await stack.stop().catch((err: Error) => console.error(`stack.stop failed: ${err.message}`));
}, 60_000);

async function rows() {
  return page.getByTestId('controller-row').evaluateAll((trs) =>
    trs.map((tr) => ({
      role: tr.getAttribute('data-role'),
      id: tr.querySelector('.cell-title')?.textContent ?? '',
      term: Number(tr.querySelector('[data-testid="controller-term"]')?.textContent),
      lag: tr.querySelector('[data-testid="controller-lag"]')?.textContent ?? '',
    })),
  );
}

describe('Controllers page', () => {
  let firstLeader = '';
  let firstTerm = 0;

  it('lists every replica with one leader, the term, and each follower lag', async () => {
    await poll(async () => (await rows()).filter((r) => r.role !== 'not-answering').length).toBe(3);
    await poll(async () => (await rows()).filter((r) => r.role === 'leader').length).toBe(1);
    const all = await rows();
    const leader = all.find((r) => r.role === 'leader');
    firstLeader = leader?.id ?? '';
    firstTerm = leader?.term ?? 0;
    expect(firstTerm).toBeGreaterThan(0);
    expect(all.filter((r) => r.role === 'follower')).toHaveLength(2);
    // Followers show a numeric lag reported by the leader; the leader itself lags by 0.
    for (const r of all) expect(r.lag).toMatch(/^\d+$/);
    await poll(() => page.getByTestId('controllers-leader').textContent()).toBe(firstLeader);
    await poll(() => page.getByTestId('controllers-summary').textContent()).toContain('3 of 3 answering');
    await page.screenshot({ path: join(ARTIFACTS, '01-controllers.png'), fullPage: true });
  });

  it('shows the new leader in a later term after the leader is SIGKILLed', async () => {
    const raftId = Number(firstLeader.replace('replica-', ''));
    await stack.replicas.get(raftId)?.kill('SIGKILL');
    await poll(async () => {
      const leader = (await rows()).find((r) => r.role === 'leader');
      return leader && leader.id !== firstLeader && leader.term > firstTerm;
    }, 20_000).toBe(true);
    await poll(() => page.getByTestId('controllers-summary').textContent()).toContain('2 of 3 answering');
    // The killed replica stays on the page, marked as not answering, with the lag the leader sees.
    await poll(async () => (await rows()).filter((r) => r.role === 'not-answering').length).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '02-controllers-after-failover.png'), fullPage: true });
  });
});
