/**
 * Debian's chromium driven by playwright-core for the console's browser tests: launched with the flags
 * that work on these machines (no sandbox as root, no background networking), never a downloaded browser.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT, type Stack } from './stack.js';

export const CHROMIUM = process.env.PALISADE_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Fails with a clear message when chromium or the console build is missing. */
export function requireBrowserPrerequisites(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set PALISADE_CHROMIUM`,
    );
  }
  if (!existsSync(join(ROOT, 'apps/console/.next/BUILD_ID'))) {
    throw new Error(
      'apps/console/.next is missing: build the console first (npm run build, or npm run build -w @palisade/console)',
    );
  }
}

/** A browser with one 1440×900 page pointed at the stack's console; screenshots go to `artifacts`. */
export async function openConsole(
  stack: Stack,
  artifacts: string,
): Promise<{ browser: Browser; context: BrowserContext; page: Page }> {
  await mkdir(artifacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    baseURL: stack.consoleUrl,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { browser, context, page };
}

/**
 * Signs in through the login page, asking to land on `next` (a path with its query), and waits until
 * the console has navigated there.
 */
export async function signIn(
  page: Page,
  stack: Stack,
  credentials: { username: string; password: string },
  next: string,
): Promise<void> {
  await page.goto(`${stack.consoleUrl}/login?next=${encodeURIComponent(next)}`);
  await page.getByTestId('login-username').fill(credentials.username);
  await page.getByTestId('login-password').fill(credentials.password);
  await page.getByTestId('login-submit').click();
  const path = next.split('?')[0];
  await page.waitForURL((u) => u.pathname === path);
}

/** After a failed step: a screenshot of the page as it was, and the processes' recent output. */
export async function recordFailure(
  page: Page,
  stack: Stack,
  artifacts: string,
  testName: string,
): Promise<void> {
  const name = testName.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
  await page.screenshot({ path: join(artifacts, `FAILED-${name}.png`), fullPage: true }).catch(() => {});
  console.error(`page: ${page.url()}\n${stack.logs()}`);
}
