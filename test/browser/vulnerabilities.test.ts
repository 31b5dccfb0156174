import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { appRouter, contextFor, createCallerFactory } from '@palisade/api';
import { createDbClient, type DbClient } from '@palisade/db';
import { sharedPath } from '@palisade/testdata';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openConsole, recordFailure, requireBrowserPrerequisites, signIn } from '../support/browser.js';
import { TestRegistry } from '../support/registry.js';
import { enrollTestNode, ROOT, Stack } from '../support/stack.js';
import { installVulnDb } from '../support/vulndb.js';

const ARTIFACTS = join(ROOT, 'test/artifacts/browser-vuln');
const PROD = 'vuln-prod';
const EDGE = 'vuln-edge';

const stack = new Stack({ heartbeatIntervalMs: 1000, withConsole: true });
let browser: Browser | undefined;
let page: Page;
let nc: NatsConnection | undefined;
let db: DbClient | undefined;
let admin: { username: string; password: string };

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

function poll<T>(probe: () => Promise<T> | T, timeout = 10_000) {
  return expect.poll(probe, { timeout, interval: 100 });
}

function url(path: string): string {
  return `${stack.consoleUrl}${path}`;
}

// ---------------------------------------------------------------------------------------------------
// Seed data: what the hub's scanners would have written.

type Sev = 'critical' | 'high' | 'medium' | 'low' | 'negligible' | 'unknown';

interface SeedFinding {
  id: string;
  aliases?: string[];
  pkg: string;
  version: string;
  ecosystem: string;
  purl: string;
  fixed: string | null;
  severity: Sev;
  cvss: number | null;
  vector?: string;
  source: string;
}

const AV_NET_CRIT = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H';

function apk(
  pkg: string,
  version: string,
  origin = pkg,
): Pick<SeedFinding, 'pkg' | 'version' | 'ecosystem' | 'purl'> {
  return {
    pkg,
    version,
    ecosystem: 'Alpine',
    purl: `pkg:apk/alpine/${pkg}@${version}?arch=x86_64&distro=alpine-3.11.3&upstream=${origin}`,
  };
}
function deb(pkg: string, version: string): Pick<SeedFinding, 'pkg' | 'version' | 'ecosystem' | 'purl'> {
  return {
    pkg,
    version,
    ecosystem: 'Debian',
    purl: `pkg:deb/debian/${pkg}@${encodeURIComponent(version)}?arch=amd64&distro=debian-12`,
  };
}
function pypi(pkg: string, version: string): Pick<SeedFinding, 'pkg' | 'version' | 'ecosystem' | 'purl'> {
  return { pkg, version, ecosystem: 'PyPI', purl: `pkg:pypi/${pkg}@${version}` };
}

/** alpine:3.11 (3.11.3) as its packages were matched against the Alpine secdb. */
const ALPINE_311: SeedFinding[] = [
  {
    id: 'CVE-2022-37434',
    ...apk('zlib', '1.2.11-r3'),
    fixed: null,
    severity: 'critical',
    cvss: 9.8,
    vector: AV_NET_CRIT,
    source: 'alpine-secdb',
  },
  {
    id: 'CVE-2021-36159',
    ...apk('apk-tools', '2.10.4-r3'),
    fixed: '2.10.7-r0',
    severity: 'critical',
    cvss: 9.1,
    vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H',
    source: 'alpine-secdb',
  },
  {
    id: 'CVE-2020-1967',
    ...apk('libssl1.1', '1.1.1d-r3', 'openssl'),
    fixed: '1.1.1g-r0',
    severity: 'high',
    cvss: 7.5,
    vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H',
    source: 'alpine-secdb',
  },
  {
    id: 'CVE-2020-1967',
    ...apk('libcrypto1.1', '1.1.1d-r3', 'openssl'),
    fixed: '1.1.1g-r0',
    severity: 'high',
    cvss: 7.5,
    vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H',
    source: 'alpine-secdb',
  },
  {
    id: 'CVE-2018-25032',
    ...apk('zlib', '1.2.11-r3'),
    fixed: '1.2.12-r0',
    severity: 'high',
    cvss: 7.5,
    vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H',
    source: 'alpine-secdb',
  },
  {
    id: 'CVE-2020-28928',
    ...apk('musl', '1.1.24-r0'),
    fixed: '1.1.24-r3',
    severity: 'medium',
    cvss: 5.5,
    vector: 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H',
    source: 'alpine-secdb',
  },
  {
    id: 'CVE-2021-42374',
    ...apk('busybox', '1.31.1-r9'),
    fixed: '1.31.1-r11',
    severity: 'medium',
    cvss: 5.3,
    vector: 'CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:N/A:H',
    source: 'alpine-secdb',
  },
];

/** A Debian 12 image with a Python application, scanned from a registry outside any cluster. */
const INGEST: SeedFinding[] = [
  {
    id: 'CVE-2023-45853',
    ...deb('zlib1g', '1:1.2.13.dfsg-1'),
    fixed: null,
    severity: 'critical',
    cvss: 9.8,
    vector: AV_NET_CRIT,
    source: 'debian-dla',
  },
  {
    id: 'GHSA-cx63-2mw6-8hw5',
    aliases: ['CVE-2024-6345'],
    ...pypi('setuptools', '65.5.0'),
    fixed: '70.0.0',
    severity: 'high',
    cvss: 8.8,
    vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H',
    source: 'osv-pypi',
  },
  {
    id: 'CVE-2023-4911',
    aliases: ['DSA-5514-1'],
    ...deb('libc6', '2.36-9+deb12u1'),
    fixed: '2.36-9+deb12u3',
    severity: 'high',
    cvss: 7.8,
    vector: 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H',
    source: 'debian-dsa',
  },
  {
    id: 'PYSEC-2023-74',
    aliases: ['CVE-2023-32681', 'GHSA-j8r2-6x86-q33q'],
    ...pypi('requests', '2.28.1'),
    fixed: '2.31.0',
    severity: 'medium',
    cvss: 6.1,
    vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N',
    source: 'osv-pypi',
  },
  {
    id: 'CVE-2011-3374',
    ...deb('apt', '2.6.1'),
    fixed: null,
    severity: 'negligible',
    cvss: 3.7,
    vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:L/A:N',
    source: 'debian-dla',
  },
  {
    id: 'TEMP-0841856-B18BAF',
    ...deb('bash', '5.2.15-2+b2'),
    fixed: null,
    severity: 'unknown',
    cvss: null,
    source: 'debian-dla',
  },
];

/** The first scan of shop/web:2.0 found a musl flaw that the rebuilt image (second scan) no longer has. */
const WEB_OLD: SeedFinding[] = [
  {
    id: 'CVE-2019-14697',
    ...apk('musl', '1.1.22-r3'),
    fixed: '1.1.22-r4',
    severity: 'critical',
    cvss: 9.8,
    vector: AV_NET_CRIT,
    source: 'alpine-secdb',
  },
  ALPINE_311[2] as SeedFinding,
];
const WEB_NEW: SeedFinding[] = [ALPINE_311[2] as SeedFinding];

const MINUTE = 60_000;

async function seedReport(r: {
  origin: 'registry' | 'agent';
  cluster: string | null;
  nodeId?: string;
  containerId?: string;
  imageRef: string;
  imageDigest: string;
  os: { id: string; version: string };
  packageCount: number;
  ago: number;
  findings: SeedFinding[];
}): Promise<string> {
  if (!db) throw new Error('no database client');
  const counts = { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 };
  for (const f of r.findings) counts[f.severity]++;
  const report = await db.scanReport.create({
    data: {
      createdAt: new Date(Date.now() - r.ago),
      origin: r.origin,
      cluster: r.cluster,
      nodeId: r.nodeId ?? null,
      containerId: r.containerId ?? null,
      imageRef: r.imageRef,
      imageDigest: r.imageDigest,
      osId: r.os.id,
      osVersion: r.os.version,
      packageCount: r.packageCount,
      ...counts,
      fixable: r.findings.filter((f) => f.fixed).length,
      dbSequence: 7,
      dbBuiltAt: new Date(Date.now() - 26 * 60 * MINUTE),
      inventory: { os: { id: r.os.id, name: r.os.id, version: r.os.version }, packages: [] },
      scanMillis: r.origin === 'agent' ? 41 : 2350,
    },
  });
  await db.finding.createMany({
    data: r.findings.map((f) => ({
      reportId: report.id,
      vulnerabilityId: f.id,
      aliases: f.aliases ?? [],
      packageName: f.pkg,
      packageVersion: f.version,
      ecosystem: f.ecosystem,
      purl: f.purl,
      fixedVersion: f.fixed,
      severity: f.severity,
      cvssScore: f.cvss,
      cvssVector: f.vector ?? null,
      source: f.source,
    })),
  });
  return report.id;
}

const reports: Record<string, string> = {};
const nodeOf: Record<string, string> = {};
const CONTAINER: Record<string, string> = {
  [PROD]: 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2',
  [EDGE]: 'f0e1d2c3b4a5968778695a4b3c2d1e0f0e1d2c3b4a5968778695a4b3c2d1e0f',
};

async function enroll(cluster: string, token: string): Promise<string> {
  if (!nc) throw new Error('no NATS connection');
  const enrolled = await enrollTestNode(nc, token, {
    hostname: `${cluster}-worker-1`,
    kernel: '6.1.0-18-amd64',
    os: { id: 'debian', name: 'Debian GNU/Linux 12 (bookworm)', version: '12' },
    agentVersion: '0.1.0',
  });
  return enrolled.nodeId;
}

async function seed(): Promise<void> {
  if (!nc || !db) throw new Error('stack not started');
  const caller = createCallerFactory(appRouter)(
    contextFor(
      { nats: nc, db, agentNatsUrl: stack.natsUrl, secureCookies: false },
      { userId: 'u-seed', username: 'seed', role: 'admin', scope: { all: true } },
    ),
  );
  for (const cluster of [PROD, EDGE]) {
    await caller.clusters.create({ name: cluster });
    const { token } = await caller.clusters.createJoinToken({ cluster });
    const nodeId = await enroll(cluster, token);
    nodeOf[cluster] = nodeId;
    const containerId = CONTAINER[cluster] as string;
    // The workload the agent reported (observed state): gives the agent scan its name.
    await db.workload.create({
      data: {
        cluster,
        nodeId,
        containerId,
        name: cluster === PROD ? 'payments-api' : 'edge-proxy',
        image: 'docker.io/library/alpine:3.11',
        runtimeNamespace: 'k8s.io',
        state: 'running',
        lastSeenAt: new Date(),
      },
    });
    reports[`alpine-${cluster}`] = await seedReport({
      origin: 'agent',
      cluster,
      nodeId,
      containerId,
      imageRef: 'docker.io/library/alpine:3.11',
      imageDigest: 'sha256:9a839e63dad54c3a6d1834e29692c8492d93f90c59c978c1ed79109ea4fb9a54',
      os: { id: 'alpine', version: '3.11.3' },
      packageCount: 14,
      ago: (cluster === PROD ? 10 : 12) * MINUTE,
      findings: ALPINE_311,
    });
  }
  reports['web-old'] = await seedReport({
    origin: 'registry',
    cluster: PROD,
    imageRef: 'registry.example.com/shop/web:2.0',
    imageDigest: 'sha256:1f6ad4e1b0f8e7b6a9c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1',
    os: { id: 'alpine', version: '3.10.2' },
    packageCount: 22,
    ago: 3 * 24 * 60 * MINUTE,
    findings: WEB_OLD,
  });
  reports['web-new'] = await seedReport({
    origin: 'registry',
    cluster: PROD,
    imageRef: 'registry.example.com/shop/web:2.0',
    imageDigest: 'sha256:7c2e9a1b3d5f7e9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a',
    os: { id: 'alpine', version: '3.11.3' },
    packageCount: 21,
    ago: 60 * MINUTE,
    findings: WEB_NEW,
  });
  reports.ingest = await seedReport({
    origin: 'registry',
    cluster: null,
    imageRef: 'registry.example.com/data/ingest:2.1',
    imageDigest: 'sha256:c0ffee00d15ea5e0ddba11deadbeef0123456789abcdef0123456789abcdef01',
    os: { id: 'debian', version: '12' },
    packageCount: 187,
    ago: 30 * MINUTE,
    findings: INGEST,
  });
}

async function cveIds(): Promise<string[]> {
  return page
    .locator('[data-testid="cve-row"]')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-cve') ?? ''));
}

// ---------------------------------------------------------------------------------------------------

beforeAll(async () => {
  requireBrowserPrerequisites();
  await stack.start();
  admin = await stack.initialAdmin();
  nc = await connect({ servers: stack.natsUrl });
  db = createDbClient(stack.databaseUrl);
  ({ browser, page } = await openConsole(stack, ARTIFACTS));
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

describe('vulnerabilities in a browser (seeded scan reports)', () => {
  it('says what to do next while nothing has been scanned', async () => {
    await signIn(page, stack, admin, '/vulnerabilities');
    await poll(() => page.getByTestId('empty-state').textContent()).toContain(
      'No scans yet — scan an image, or enroll a node with running containers: its agent forwards package inventories',
    );
    // The nav entry is live and marked as the current section.
    await poll(() => page.locator('nav.sidebar a[aria-current="page"]').textContent()).toContain(
      'Vulnerabilities',
    );
    await shot('01-empty');
  });

  it('explains inline that no scanner answered', async () => {
    await page.getByTestId('scan-image').click();
    const dialog = page.getByTestId('scan-image-dialog');
    await dialog.getByTestId('scan-reference').fill('127.0.0.1:5000/alpine:3.11');
    await dialog.getByTestId('scan-insecure').check();
    // Hub-wide is the default for an administrator with every cluster in scope.
    expect(await dialog.getByTestId('scan-cluster').inputValue()).toBe('');
    await dialog.getByTestId('scan-submit').click();
    await poll(() => dialog.getByTestId('scan-error').textContent()).toContain('No scanner answered');
    await shot('02-scan-no-scanner');
    await page.keyboard.press('Escape');
    await poll(() => dialog.isVisible()).toBe(false);
  });

  it('lists CVEs across clusters from the current reports, worst first', async () => {
    await seed();
    await page.goto(url('/vulnerabilities'));
    await poll(() => page.getByTestId('cves-total').textContent()).toBe('12 vulnerabilities');
    const ids = await cveIds();
    // Severity order (then CVSS, then ID); CVE-2019-14697 was only in the superseded shop/web report.
    expect(ids).toEqual([
      'CVE-2022-37434',
      'CVE-2023-45853',
      'CVE-2021-36159',
      'GHSA-cx63-2mw6-8hw5',
      'CVE-2023-4911',
      'CVE-2018-25032',
      'CVE-2020-1967',
      'PYSEC-2023-74',
      'CVE-2020-28928',
      'CVE-2021-42374',
      'CVE-2011-3374',
      'TEMP-0841856-B18BAF',
    ]);
    expect(ids).not.toContain('CVE-2019-14697');

    const openssl = page.locator('[data-testid="cve-row"][data-cve="CVE-2020-1967"]');
    expect(await openssl.getByTestId('severity').textContent()).toBe('High');
    expect(await openssl.getByTestId('cve-cvss').textContent()).toBe('7.5');
    expect(await openssl.getByTestId('cve-fixable').textContent()).toBe('Fixable');
    expect(await openssl.getByTestId('cve-images').textContent()).toBe('2');
    expect(await openssl.getByTestId('cve-workloads').textContent()).toBe('2');
    expect(await openssl.getByTestId('cve-packages').textContent()).toBe('libcrypto1.1libssl1.1');
    expect(await openssl.getByTestId('cve-clusters').textContent()).toBe(`${EDGE}${PROD}`);
    const ingest = page.locator('[data-testid="cve-row"][data-cve="CVE-2023-45853"]');
    expect(await ingest.getByTestId('cve-clusters').textContent()).toBe('hub-wide');
    expect(await ingest.getByTestId('cve-fixable').textContent()).toBe('No fix');
    await shot('03-cves');

    // Sorted by the server: most images first, then by identifier.
    await page.getByTestId('sort-images').click();
    await poll(() => cveIds().then((l) => l[0])).toBe('CVE-2020-1967');
    expect(new URL(page.url()).searchParams.get('sort')).toBe('images');
    await page.getByTestId('sort-id').click();
    await poll(() => cveIds().then((l) => l[0])).toBe('CVE-2011-3374');
    await page.getByTestId('sort-severity').click();
    await poll(() => cveIds().then((l) => l[0])).toBe('CVE-2022-37434');
  });

  it('filters CVEs on the server by severity, fix, cluster and search', async () => {
    await page.getByTestId('severity-filter-critical').click();
    await poll(() => cveIds()).toEqual(['CVE-2022-37434', 'CVE-2023-45853', 'CVE-2021-36159']);
    expect(new URL(page.url()).searchParams.get('sev')).toBe('critical');
    await shot('04-cves-critical');

    await page.getByTestId('fixable-filter-no').click();
    await poll(() => cveIds()).toEqual(['CVE-2022-37434', 'CVE-2023-45853']);
    await page.getByTestId('severity-filter-all').click();
    await poll(() => cveIds()).toEqual([
      'CVE-2022-37434',
      'CVE-2023-45853',
      'CVE-2011-3374',
      'TEMP-0841856-B18BAF',
    ]);
    await page.getByTestId('fixable-filter-all').click();

    // One cluster: the edge node only runs alpine:3.11; hub-wide scans are left out.
    await page.getByTestId('cluster-filter').selectOption(EDGE);
    await poll(() => page.getByTestId('cves-total').textContent()).toBe('6 vulnerabilities');
    expect(await cveIds()).not.toContain('CVE-2023-45853');
    expect(new URL(page.url()).searchParams.get('cluster')).toBe(EDGE);
    await page.getByTestId('cluster-filter').selectOption('');

    // Search by (part of) an ID, and by package name; debounced, then kept in the URL.
    await page.getByTestId('cve-search').fill('36159');
    await poll(() => cveIds()).toEqual(['CVE-2021-36159']);
    await poll(() => new URL(page.url()).searchParams.get('q')).toBe('36159');
    await shot('05-cves-search');
    await page.getByTestId('cve-search').fill('requests');
    await poll(() => cveIds()).toEqual(['PYSEC-2023-74']);
    await page.getByTestId('cve-search').fill('no-such-thing');
    await poll(() => page.getByTestId('empty-state').textContent()).toContain('No vulnerability matches');
    await page.getByTestId('clear-filters').click();
    await poll(() => page.getByTestId('cves-total').textContent()).toBe('12 vulnerabilities');
  });

  it('shows a CVE with every affected image and workload, across clusters', async () => {
    await page.locator('[data-testid="cve-row"][data-cve="CVE-2021-36159"]').getByTestId('cve-link').click();
    await page.waitForURL((u) => u.pathname === '/vulnerabilities/cve/CVE-2021-36159');
    await poll(() => page.getByTestId('cve-title').textContent()).toBe('CVE-2021-36159');
    await poll(() => page.getByTestId('cve-severity').textContent()).toBe('Critical');
    expect(await page.getByTestId('cve-cvss').textContent()).toContain('9.1');
    expect(await page.getByTestId('cve-cvss').textContent()).toContain(
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H',
    );
    expect(await page.getByTestId('cve-sources').textContent()).toBe('alpine-secdb');
    expect(await page.getByTestId('advisory-link').first().getAttribute('href')).toBe(
      'https://nvd.nist.gov/vuln/detail/CVE-2021-36159',
    );
    expect(await page.getByTestId('stat-clusters').textContent()).toBe('2');
    expect(await page.getByTestId('stat-images').textContent()).toBe('1');
    expect(await page.getByTestId('stat-workloads').textContent()).toBe('2');
    expect(await page.getByTestId('stat-fixed').textContent()).toBe('2.10.7-r0');

    const rows = page.getByTestId('affected-row');
    await poll(() => rows.count()).toBe(2);
    const prod = page.locator(`[data-testid="affected-row"][data-cluster="${PROD}"]`);
    expect(await prod.getByTestId('affected-workload').textContent()).toContain('payments-api');
    expect(await prod.getByTestId('affected-workload').locator('a').getAttribute('href')).toBe(
      `/nodes/${nodeOf[PROD]}`,
    );
    expect(await prod.getAttribute('data-report-id')).toBe(reports[`alpine-${PROD}`]);
    const edge = page.locator(`[data-testid="affected-row"][data-cluster="${EDGE}"]`);
    expect(await edge.getByTestId('affected-workload').textContent()).toContain('edge-proxy');
    await shot('06-cve-detail');

    // An OSV identifier links to osv.dev, its aliases are listed.
    await page.goto(url('/vulnerabilities/cve/PYSEC-2023-74'));
    await poll(() => page.getByTestId('cve-aliases').textContent()).toContain('CVE-2023-32681');
    const hrefs = await page
      .getByTestId('advisory-link')
      .evaluateAll((a) => a.map((x) => x.getAttribute('href')));
    expect(hrefs).toContain('https://osv.dev/vulnerability/PYSEC-2023-74');
    expect(hrefs).toContain('https://nvd.nist.gov/vuln/detail/CVE-2023-32681');
    expect(await page.getByTestId('affected-cluster').textContent()).toBe('hub-wide');
    expect(await page.getByTestId('affected-workload').textContent()).toBe('registry scan');
    await shot('07-cve-osv');

    // A CVE only found in a superseded report is not current anywhere.
    await page.goto(url('/vulnerabilities/cve/CVE-2019-14697'));
    await poll(() => page.getByTestId('not-found').textContent()).toContain(
      'is not found in any scan you can see',
    );
  });

  it('lists only the current report of each image and workload', async () => {
    await page.goto(url('/vulnerabilities?tab=images'));
    const rows = page.getByTestId('image-row');
    await poll(() => rows.count()).toBe(4);
    const web = page.locator('[data-testid="image-row"][data-image="registry.example.com/shop/web:2.0"]');
    expect(await web.count()).toBe(1);
    expect(await web.getAttribute('data-report-id')).toBe(reports['web-new']);
    expect(await web.getByTestId('image-workload').textContent()).toBe('registry scan');
    expect(await web.getByTestId('count-critical').getAttribute('data-count')).toBe('0');
    expect(await web.getByTestId('count-high').getAttribute('data-count')).toBe('1');

    const alpineProd = page.locator(
      `[data-testid="image-row"][data-report-id="${reports[`alpine-${PROD}`]}"]`,
    );
    expect(await alpineProd.getByTestId('image-workload').textContent()).toContain('payments-api');
    expect(await alpineProd.getByTestId('image-cluster').textContent()).toBe(PROD);
    expect(await alpineProd.getByTestId('count-critical').getAttribute('data-count')).toBe('2');
    expect(await alpineProd.getByTestId('count-high').getAttribute('data-count')).toBe('3');
    expect(await alpineProd.getByTestId('count-medium').getAttribute('data-count')).toBe('2');
    expect(await alpineProd.getByTestId('image-fixable').textContent()).toBe('6');
    const ingest = page.locator(`[data-testid="image-row"][data-report-id="${reports.ingest}"]`);
    expect(await ingest.getByTestId('image-cluster').textContent()).toBe('hub-wide');
    await shot('08-images');

    await page.getByTestId('image-search').fill('shop');
    await poll(() => rows.count()).toBe(1);
    await page.getByTestId('image-search').fill('');
    await poll(() => rows.count()).toBe(4);

    // Every scan, newest first, with its origin; the superseded one included.
    await page.getByTestId('tab-scans').click();
    const scans = page.getByTestId('scan-row');
    await poll(() => scans.count()).toBe(5);
    const order = await scans.evaluateAll((r) => r.map((x) => x.getAttribute('data-report-id')));
    expect(order).toEqual([
      reports[`alpine-${PROD}`],
      reports[`alpine-${EDGE}`],
      reports.ingest,
      reports['web-new'],
      reports['web-old'],
    ]);
    await page.getByTestId('origin-filter-agent').click();
    await poll(() => scans.count()).toBe(2);
    expect(new URL(page.url()).searchParams.get('tab')).toBe('scans');
    await page.getByTestId('origin-filter-all').click();
    await poll(() => scans.count()).toBe(5);
    await shot('09-scans');
  });

  it('shows a report with its findings, filtered in the page', async () => {
    await page.locator(`[data-testid="scan-row"][data-report-id="${reports.ingest}"]`).click();
    await page.waitForURL((u) => u.pathname === `/vulnerabilities/reports/${reports.ingest}`);
    await poll(() => page.getByTestId('report-title').textContent()).toBe(
      'registry.example.com/data/ingest:2.1',
    );
    expect(await page.getByTestId('report-os').textContent()).toBe('debian 12');
    expect(await page.getByTestId('report-db').textContent()).toContain('#7');
    expect(await page.getByTestId('report-packages').textContent()).toBe('187');
    expect(await page.getByTestId('report-cluster').textContent()).toBe('hub-wide');
    expect(await page.getByTestId('report-count-critical').textContent()).toContain('1');
    expect(await page.getByTestId('report-count-fixable').textContent()).toContain('3');

    const rows = page.getByTestId('finding-row');
    await poll(() => rows.count()).toBe(6);
    // Most severe first; unfixed findings say so.
    const first = await rows.first().getAttribute('data-vuln');
    expect(first).toBe('CVE-2023-45853');
    expect(await rows.first().getByTestId('finding-fixed').textContent()).toBe('unfixed');
    await shot('10-report');

    await page.getByTestId('finding-severity-high').click();
    await poll(() => rows.count()).toBe(2);
    await page.getByTestId('finding-severity-all').click();
    await page.getByTestId('finding-search').fill('requests');
    await poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-vuln')).toBe('PYSEC-2023-74');
    await shot('11-report-search');
    await rows.first().getByTestId('finding-link').click();
    await page.waitForURL((u) => u.pathname === '/vulnerabilities/cve/PYSEC-2023-74');
    await poll(() => page.getByTestId('cve-title').textContent()).toBe('PYSEC-2023-74');
  });

  it('says when a report does not exist instead of spinning', async () => {
    await page.goto(url('/vulnerabilities/reports/00000000-0000-4000-8000-000000000000'));
    await poll(() => page.getByTestId('not-found').textContent()).toContain('does not exist');
    await page.goto(url('/vulnerabilities/reports/not-a-report'));
    await poll(() => page.getByTestId('not-found').textContent()).toContain('is not a scan report ID');
    await shot('12-report-not-found');
  });
});

/**
 * The whole path with the real scanner: a vulnerability DB built from the real feeds in the shared
 * vulndata by `palisade db build`, signed and installed with `palisade db import`; the
 * `palisade-scanner` process on the stack's NATS and database; a local docker-registry holding the
 * real alpine 3.11 image (pushed with skopeo from its `docker save` archive). The scan is started from
 * the console's "Scan image" dialog.
 */
describe('vulnerabilities in a browser (real scanner, local registry)', () => {
  const registry = new TestRegistry();
  let registryHost = '';

  beforeAll(async () => {
    const { dbDir, trustKey } = installVulnDb(join(stack.dir, 'vulndb'));
    await registry.start();
    registryHost = registry.host;
    await registry.pushDockerArchive(sharedPath('testdata', 'images', 'alpine-311.tar.gz'), 'alpine:3.11');
    // Ready only once the installed DB is loaded.
    await stack.startScanner(dbDir, trustKey);
  }, 240_000);

  afterAll(async () => {
    await registry.stop().catch(() => {});
  });

  it('shows why a scan failed, inline', async () => {
    await page.goto(url(`/vulnerabilities?cluster=${PROD}`));
    await page.getByTestId('scan-image').click();
    const dialog = page.getByTestId('scan-image-dialog');
    // The page's cluster filter is the dialog's default.
    await poll(() => dialog.getByTestId('scan-cluster').inputValue()).toBe(PROD);
    await dialog.getByTestId('scan-reference').fill(`${registryHost}/alpine:no-such-tag`);
    await dialog.getByTestId('scan-insecure').check();
    await dialog.getByTestId('scan-submit').click();
    await poll(() => dialog.getByTestId('scan-error').textContent(), 60_000).toMatch(/scan failed/i);
    await shot('13-scan-failed');
  });

  it('scans an image from the registry through the dialog and opens its report', async () => {
    const dialog = page.getByTestId('scan-image-dialog');
    const reference = `${registryHost}/alpine:3.11`;
    await dialog.getByTestId('scan-reference').fill(reference);
    await dialog.getByTestId('scan-submit').click();
    // Progress while the scanner pulls and matches (may be too quick to see on a fast machine).
    const summary = dialog.getByTestId('scan-summary');
    await poll(
      async () => (await summary.isVisible()) || (await dialog.getByTestId('scan-progress').isVisible()),
    ).toBe(true);
    await summary.waitFor({ timeout: 120_000 });
    const reportId = (await summary.getAttribute('data-report-id')) ?? '';
    expect(reportId).toMatch(/^[0-9a-f-]{36}$/);
    const packages = Number(await dialog.getByTestId('scan-packages').textContent());
    expect(packages).toBeGreaterThan(5); // alpine 3.11's apk database lists 14 packages
    const counts: Record<string, number> = {};
    for (const s of ['critical', 'high', 'medium', 'low', 'negligible', 'unknown']) {
      counts[s] = Number(
        await dialog.getByTestId(`scan-count-${s}`).locator('.sev-cell-value').textContent(),
      );
    }
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    await shot('14-scan-summary');

    await dialog.getByTestId('scan-report-link').click();
    await page.waitForURL((u) => u.pathname === `/vulnerabilities/reports/${reportId}`);
    await poll(() => page.getByTestId('report-title').textContent()).toContain(`${registryHost}/alpine`);
    await poll(() => page.getByTestId('report-os').textContent()).toMatch(/^alpine 3\.11/);
    expect(await page.getByTestId('report-cluster').textContent()).toBe(PROD);
    expect(await page.getByTestId('report-packages').textContent()).toBe(String(packages));
    expect(await page.getByTestId('report-digest').textContent()).toMatch(/^sha256:[0-9a-f]{64}$/);
    if (total > 0) {
      await poll(() => page.getByTestId('finding-row').count()).toBe(total);
    } else {
      await poll(() => page.getByTestId('empty-state').textContent()).toContain('No known vulnerabilities');
    }
    await shot('15-scanned-report');

    // Both SBOMs download as files generated from the stored inventory.
    for (const [button, check] of [
      [
        'sbom-spdx',
        (doc: { spdxVersion?: string; packages?: unknown[] }) =>
          doc.spdxVersion === 'SPDX-2.3' && (doc.packages?.length ?? 0) > packages,
      ],
      [
        'sbom-cyclonedx',
        (doc: { bomFormat?: string; components?: unknown[] }) =>
          doc.bomFormat === 'CycloneDX' && (doc.components?.length ?? 0) >= packages,
      ],
    ] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(button).click()]);
      const path = await download.path();
      const doc = JSON.parse(await readFile(path, 'utf8'));
      expect(check(doc), `${button}: ${download.suggestedFilename()}`).toBe(true);
      expect(download.suggestedFilename()).toContain(reportId);
    }

    // The new report is the current one for that image in the cluster.
    await page.goto(url(`/vulnerabilities?tab=images&cluster=${PROD}`));
    const row = page.locator(`[data-testid="image-row"][data-report-id="${reportId}"]`);
    await poll(() => row.count()).toBe(1);
    expect(await row.getByTestId('image-workload').textContent()).toBe('registry scan');
    await shot('16-images-after-scan');
  });
});
