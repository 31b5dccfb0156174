/**
 * Hub-side scanning across real processes: the `palisade` CLI builds and installs a signed
 * vulnerability DB from the real feeds in ../shared, a scanner process loads it, a real registry
 * (docker-registry) holds the images, and scans go console API → NATS → scanner → PostgreSQL.
 * Agent-forwarded inventories travel the JetStream work queue with a real agent credential.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { appRouter, contextFor, createCallerFactory } from '@palisade/api';
import type { Principal } from '@palisade/auth';
import { createDbClient, type DbClient } from '@palisade/db';
import { encode, subjects } from '@palisade/protocol';
import { sharedPath } from '@palisade/testdata';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRegistry } from '../support/registry.js';
import { enrollTestNode, Stack, waitFor } from '../support/stack.js';
import { installVulnDb, palisade } from '../support/vulndb.js';

const stack = new Stack();
const registry = new TestRegistry();
let work = '';
let nc: NatsConnection;
let db: DbClient;

const admin: Principal = { userId: 'u-admin', username: 'root', role: 'admin', scope: { all: true } };
const edgeViewer: Principal = {
  userId: 'u-ev',
  username: 'eve',
  role: 'viewer',
  scope: { all: false, clusters: ['scan-edge'] },
};

function caller(principal: Principal) {
  return createCallerFactory(appRouter)(
    contextFor({ nats: nc, db, agentNatsUrl: stack.natsUrl, secureCookies: false }, principal, 'test'),
  );
}

/** The fixed version a DSA gives for `source` on `release`, read from the raw list (not hard-coded). */
function dsaFix(dsa: string, release: string, source: string): { version: string; cves: string[] } {
  const text = readFileSync(sharedPath('vulndata', 'debian-security-tracker', 'DSA.list'), 'utf8');
  const start = text.indexOf(`] ${dsa} `);
  if (start === -1) throw new Error(`${dsa} not in DSA.list`);
  const block = text.slice(start, text.indexOf('\n[', start + 1));
  const cves = block.match(/CVE-\d{4}-\d+/g) ?? [];
  const line = block.match(new RegExp(`\\[${release}\\] - ${source} (\\S+)`));
  if (!line?.[1]) throw new Error(`${dsa} has no ${release} fix for ${source}`);
  return { version: line[1], cves };
}

function dpkgStanza(pkg: string, source: string, version: string): string {
  return [
    `Package: ${pkg}`,
    'Status: install ok installed',
    'Architecture: amd64',
    `Source: ${source}`,
    `Version: ${version}`,
    'Description: test package',
    '',
  ].join('\n');
}

const openssl = dsaFix('DSA-5343-1', 'bullseye', 'openssl');
const expat = dsaFix('DSA-5266-1', 'bullseye', 'expat');
// One release before the DSA's fix (…+deb11u4 → …+deb11u3): a version the DSA says is vulnerable.
const vulnerableOpenssl = openssl.version.replace(/u(\d+)$/, (_, n: string) => `u${Number(n) - 1}`);
let debianRef = '';
let vulndb: ReturnType<typeof installVulnDb>;
let alpineRef = '';

beforeAll(async () => {
  await stack.start();
  await registry.start();
  work = await mkdtemp(join(tmpdir(), 'palisade-scan-sys-'));
  vulndb = installVulnDb(work);
  await stack.startScanner(vulndb.dbDir, vulndb.trustKey);
  nc = await connect({ servers: stack.natsUrl });
  db = createDbClient(stack.databaseUrl);
  alpineRef = await registry.pushDockerArchive(
    sharedPath('testdata', 'images', 'alpine-311.tar.gz'),
    'alpine:3.11',
  );
  // A small Debian 11 image built here: its dpkg database records one package below a DSA's fix and
  // one at a later DSA's fix (today's mirror carries every fix in the 2023 snapshot, so a freshly
  // bootstrapped rootfs would show none).
  debianRef = await registry.pushFiles('debian-vuln:11', {
    'etc/os-release':
      'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nNAME="Debian GNU/Linux"\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\nID=debian\n',
    'etc/debian_version': '11.6\n',
    'var/lib/dpkg/status': [
      dpkgStanza('libssl1.1', 'openssl', vulnerableOpenssl),
      dpkgStanza('libexpat1', 'expat', expat.version),
    ].join('\n'),
  });
  for (const name of ['scan-edge', 'scan-core']) await caller(admin).clusters.create({ name });
}, 240_000);

afterAll(async () => {
  await nc?.close();
  await db?.$disconnect();
  await registry.stop();
  await stack.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('registry scans through the hub', () => {
  it('scans the real alpine image: exact packages, no false positives', async () => {
    const summary = await caller(admin).vulnerabilities.scanImage({
      reference: alpineRef,
      insecure: true,
      cluster: null,
    });
    expect(summary.packageCount).toBe(14);
    const { report, findings } = await caller(admin).vulnerabilities.report({ reportId: summary.reportId });
    expect(report).toMatchObject({ osId: 'alpine', osVersion: '3.11.5', origin: 'registry', cluster: null });
    expect(report.imageDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Every package of this image is at or past the last fix in the 2020 secdb snapshot.
    expect(findings).toEqual([]);
  });

  it('finds the DSA’s CVEs below the fix, with the fixed version, and nothing at a fixed version', async () => {
    const summary = await caller(admin).vulnerabilities.scanImage({
      reference: debianRef,
      insecure: true,
      cluster: 'scan-core',
    });
    expect(summary.packageCount).toBe(2);
    const { findings } = await caller(admin).vulnerabilities.report({ reportId: summary.reportId });
    const ssl = findings.filter((f) => f.packageName === 'libssl1.1');
    for (const cve of openssl.cves) {
      const finding = ssl.find((f) => f.vulnerabilityId === cve || f.aliases.includes(cve));
      expect(finding, `${cve} should be reported for libssl1.1 ${vulnerableOpenssl}`).toBeDefined();
      expect(finding?.fixedVersion).toBe(openssl.version);
    }
    // libexpat1 is at DSA-5266-1's fix: none of that DSA's CVEs (nor earlier ones) apply.
    const expatFindings = findings.filter((f) => f.packageName === 'libexpat1');
    expect(expatFindings.filter((f) => expat.cves.includes(f.vulnerabilityId))).toEqual([]);
    expect(summary.fixable).toBeGreaterThanOrEqual(openssl.cves.length);
  });

  it('aggregates per CVE within the caller’s scope', async () => {
    const cve = openssl.cves[0] as string;
    const list = await caller(admin).vulnerabilities.cves({ search: cve });
    expect(list.items.map((i) => i.id)).toContain(cve);
    const detail = await caller(admin).vulnerabilities.cve({ id: cve });
    expect(detail.affected[0]).toMatchObject({
      cluster: 'scan-core',
      packageName: 'libssl1.1',
      fixedVersion: openssl.version,
    });
    // A viewer of another cluster sees neither the cluster's findings nor hub-wide scans.
    const edge = caller(edgeViewer);
    expect((await edge.vulnerabilities.cves({})).total).toBe(0);
    expect((await edge.vulnerabilities.images({})).total).toBe(0);
    await expect(edge.vulnerabilities.cve({ id: cve })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const hubScan = (await caller(admin).vulnerabilities.images({})).items.find((i) => i.cluster === null);
    await expect(edge.vulnerabilities.report({ reportId: hubScan?.id ?? '' })).rejects.toBeInstanceOf(
      TRPCError,
    );
  });

  it('serves SPDX and CycloneDX SBOMs of a stored report', async () => {
    const report = (await caller(admin).vulnerabilities.reports({ search: 'debian-vuln' })).items[0];
    if (!report) throw new Error('no report for the debian image');
    const spdx = JSON.parse(
      (await caller(admin).vulnerabilities.sbom({ reportId: report.id, format: 'spdx' })).json,
    );
    expect(spdx.spdxVersion).toBe('SPDX-2.3');
    expect(spdx.packages.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['libssl1.1', 'libexpat1']),
    );
    const cdx = JSON.parse(
      (await caller(admin).vulnerabilities.sbom({ reportId: report.id, format: 'cyclonedx' })).json,
    );
    expect(cdx.vulnerabilities.map((v: { id: string }) => v.id)).toEqual(
      expect.arrayContaining(openssl.cves),
    );
    await expect(
      caller(edgeViewer).vulnerabilities.sbom({ reportId: report.id, format: 'spdx' }),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
  });

  it('reports a clear error for an image that does not exist, storing nothing', async () => {
    const before = (await caller(admin).vulnerabilities.reports({})).total;
    await expect(
      caller(admin).vulnerabilities.scanImage({
        reference: `${registry.host}/nothing:here`,
        insecure: true,
        cluster: null,
      }),
    ).rejects.toThrow(/scan failed/);
    expect((await caller(admin).vulnerabilities.reports({})).total).toBe(before);
  });
});

describe('agent-forwarded inventories', () => {
  async function enroll(cluster: string) {
    const { token } = await caller(admin).clusters.createJoinToken({ cluster });
    return enrollTestNode(nc, token, { hostname: `${cluster}-n1` });
  }
  const inventory = () => ({
    os: {
      id: 'debian',
      versionId: '11',
      name: 'Debian GNU/Linux 11 (bullseye)',
      family: 'debian',
      codename: 'bullseye',
    },
    packages: [
      {
        name: 'libssl1.1',
        version: vulnerableOpenssl,
        ecosystem: 'Debian',
        sourceName: 'openssl',
        arch: 'amd64',
        purl: `pkg:deb/debian/libssl1.1@${vulnerableOpenssl}?arch=amd64&distro=debian-11`,
        locations: ['/var/lib/dpkg/status'],
      },
    ],
  });

  it('scans an inventory sent with a real agent credential, filed under its cluster and node', async () => {
    const agent = await enroll('scan-edge');
    const js = jetstream(nc);
    await js.publish(
      subjects.inventory(agent.cluster, agent.nodeId),
      encode({
        v: 1,
        credential: agent.credential,
        sentAt: new Date().toISOString(),
        workload: { containerId: 'c0ffee', image: 'shop/api:1.0' },
        inventory: inventory(),
      }),
    );
    const report = await waitFor(
      'the agent inventory to be scanned',
      async () =>
        (await caller(admin).vulnerabilities.reports({ origin: 'agent', cluster: 'scan-edge' })).items[0],
    );
    expect(report).toMatchObject({
      nodeId: agent.nodeId,
      containerId: 'c0ffee',
      imageRef: 'shop/api:1.0',
      cluster: 'scan-edge',
    });
    expect(report.critical + report.high + report.medium + report.low + report.unknown).toBeGreaterThan(0);
    // The edge viewer sees its own cluster's workload findings now.
    expect((await caller(edgeViewer).vulnerabilities.images({})).items.map((i) => i.containerId)).toEqual([
      'c0ffee',
    ]);
  });

  it('drops an inventory whose credential belongs to another cluster or node', async () => {
    const other = await enroll('scan-core');
    const victim = await enroll('scan-edge');
    const js = jetstream(nc);
    const before = (await caller(admin).vulnerabilities.reports({ origin: 'agent' })).total;
    await js.publish(
      subjects.inventory(victim.cluster, victim.nodeId),
      encode({
        v: 1,
        credential: other.credential,
        sentAt: new Date().toISOString(),
        workload: { containerId: 'evil', image: 'x' },
        inventory: inventory(),
      }),
    );
    await js.publish(subjects.inventory(victim.cluster, victim.nodeId), new TextEncoder().encode('{"v":1'));
    const scanner = (stack as unknown as { processes: { name: string; output: string }[] }).processes.find(
      (p) => p.name === 'scanner',
    );
    await waitFor(
      'the scanner to drop both',
      async () =>
        /"reason":"impersonation"/.test(scanner?.output ?? '') &&
        /"reason":"malformed"/.test(scanner?.output ?? ''),
    );
    expect((await caller(admin).vulnerabilities.reports({ origin: 'agent' })).total).toBe(before);
  });
});

describe('palisade scan image as a CI gate', () => {
  const dbArgs = () => ['--db-dir', vulndb.dbDir, '--trust', vulndb.trustKey];

  it('passes a clean image and prints the table', () => {
    const result = palisade([
      'scan',
      'image',
      sharedPath('testdata', 'images', 'alpine-311.tar.gz'),
      ...dbArgs(),
      '--fail-on',
      'low',
    ]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Alpine Linux \(alpine 3\.11\.5\), 14 packages/);
  });

  it('fails at the threshold, agreeing with the findings it reports', () => {
    const json = palisade(['scan', 'image', debianRef, '--insecure', ...dbArgs(), '--format', 'json']);
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as {
      vulnerabilities: { severity: string; vulnerabilityId: string }[];
    };
    expect(report.vulnerabilities.map((v) => v.vulnerabilityId)).toEqual(
      expect.arrayContaining(openssl.cves),
    );
    const order = ['critical', 'high', 'medium', 'low'];
    for (const gate of order) {
      const expected = report.vulnerabilities.some((v) =>
        v.severity === 'unknown'
          ? gate === 'low'
          : order.indexOf(v.severity) !== -1 && order.indexOf(v.severity) <= order.indexOf(gate),
      );
      const run = palisade(['scan', 'image', debianRef, '--insecure', ...dbArgs(), '--fail-on', gate]);
      expect(run.status, `--fail-on ${gate}: ${run.stderr}`).toBe(expected ? 1 : 0);
    }
  });

  it('writes SARIF, SPDX and CycloneDX documents', () => {
    const sarif = JSON.parse(
      palisade(['scan', 'image', debianRef, '--insecure', ...dbArgs(), '--format', 'sarif']).stdout,
    );
    expect(sarif.runs[0].results.length).toBeGreaterThanOrEqual(openssl.cves.length);
    const spdx = JSON.parse(
      palisade(['scan', 'image', debianRef, '--insecure', ...dbArgs(), '--format', 'spdx']).stdout,
    );
    expect(spdx.spdxVersion).toBe('SPDX-2.3');
    expect(spdx.packages.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['libssl1.1', 'libexpat1']),
    );
    const cdx = JSON.parse(
      palisade(['scan', 'image', debianRef, '--insecure', ...dbArgs(), '--format', 'cyclonedx']).stdout,
    );
    expect(cdx).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6' });
    expect(cdx.vulnerabilities.map((v: { id: string }) => v.id)).toEqual(
      expect.arrayContaining(openssl.cves),
    );
  });

  it('exits 2 with a clear message on errors: missing image, tampered DB, bad usage', async () => {
    const missing = palisade(['scan', 'image', '/nonexistent/image.tar', ...dbArgs()]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/palisade: .*image\.tar/);
    const tampered = join(work, 'tampered.bundle');
    const bytes = Buffer.from(readFileSync(vulndb.bundle));
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] as number) ^ 0xff;
    writeFileSync(tampered, bytes);
    const bad = palisade([
      'scan',
      'image',
      debianRef,
      '--insecure',
      '--db',
      tampered,
      '--trust',
      vulndb.trustKey,
    ]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/does not match its signed hash/);
    const usage = palisade(['scan', 'image', debianRef, ...dbArgs(), '--fail-on', 'severe']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--fail-on must be one of/);
  });
});
