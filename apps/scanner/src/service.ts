import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AckPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import { verifyAgentCredential } from '@palisade/auth';
import type { DbClient } from '@palisade/db';
import {
  decode,
  encode,
  INVENTORY_CONSUMER,
  InventoryScanRequest,
  parseInventorySubject,
  RegistryScanRequest,
  SCANNER_QUEUE,
  type ScanSummary,
  subjects,
} from '@palisade/protocol';
import {
  deserializeDb,
  InventoryCache,
  matchInventory,
  scanImage,
  type VulnDb,
  type VulnDbStore,
} from '@palisade/scanner';
import type { CryptoKey } from 'jose';
import { storeReport } from './reports.js';

export type Logger = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

interface LoadedDb {
  db: VulnDb;
  sequence: number;
  builtAt: string;
  file: string;
}

/** Runs one task at a time: scans are CPU- and disk-heavy; more replicas give more throughput. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => {});
    return next;
  }
}

export class ScannerService {
  private current: LoadedDb | null = null;
  private readonly serial = new Serial();
  /** Inventories of images seen before, by config digest: rescans fetch only manifest and config. */
  private readonly inventories = new InventoryCache();
  readonly dropped = new Map<string, number>();
  scans = 0;

  constructor(
    private readonly store: VulnDbStore,
    private readonly prisma: DbClient,
    private readonly hubKey: () => Promise<CryptoKey>,
    private readonly log: Logger,
    private readonly options: { workDir?: string } = {},
  ) {}

  get db(): LoadedDb | null {
    return this.current;
  }

  /** Loads the installed DB when it changed; a DB that fails verification is refused and the old one kept. */
  async reload(): Promise<boolean> {
    const loaded = await this.store.load();
    if (!loaded) {
      if (!this.current)
        this.log('warn', 'no vulnerability DB installed yet: scans are refused until one is');
      return false;
    }
    if (this.current?.file === loaded.file) return false;
    const started = performance.now();
    const db = deserializeDb(loaded.content);
    this.current = {
      db,
      sequence: loaded.manifest.sequence,
      builtAt: String(loaded.manifest.meta.builtAt ?? loaded.manifest.createdAt),
      file: loaded.file,
    };
    this.log('info', 'vulnerability DB loaded', {
      sequence: this.current.sequence,
      builtAt: this.current.builtAt,
      loadMillis: Math.round(performance.now() - started),
    });
    return true;
  }

  private requireDb(): LoadedDb {
    if (!this.current)
      throw new Error('no vulnerability DB is installed on this scanner (palisade db import)');
    return this.current;
  }

  private drop(reason: string, fields: Record<string, unknown> = {}) {
    const n = (this.dropped.get(reason) ?? 0) + 1;
    this.dropped.set(reason, n);
    if (n <= 10 || n % 1000 === 0) this.log('warn', 'dropped message', { reason, count: n, ...fields });
  }

  async scanRegistry(request: RegistryScanRequest): Promise<ScanSummary> {
    return this.serial.run(async () => {
      const loaded = this.requireDb();
      const workDir = await mkdtemp(join(this.options.workDir ?? tmpdir(), 'palisade-scan-'));
      try {
        const result = await scanImage(
          {
            kind: 'registry',
            reference: request.reference,
            insecure: request.insecure,
            ...(request.platform ? { platform: request.platform } : {}),
          },
          { db: loaded.db, workDir, cache: this.inventories },
        );
        this.scans++;
        return storeReport(this.prisma, {
          origin: 'registry',
          cluster: request.cluster,
          imageRef: result.image.reference,
          imageDigest: result.image.digest,
          inventory: result.inventory,
          findings: result.findings,
          db: loaded,
          scanMillis: result.millis,
        });
      } finally {
        await rm(workDir, { recursive: true, force: true });
      }
    });
  }

  /** One agent-forwarded inventory: authenticated, matched and stored. */
  async scanInventory(subject: string, data: Uint8Array): Promise<'ack' | 'term' | 'retry'> {
    const where = parseInventorySubject(subject);
    if (!where) {
      this.drop('bad-subject', { subject: subject.slice(0, 200) });
      return 'term';
    }
    const decoded = decode(InventoryScanRequest, data);
    if (!decoded.ok) {
      this.drop('malformed', { subject, error: decoded.error });
      return 'term';
    }
    let claims: Awaited<ReturnType<typeof verifyAgentCredential>>;
    try {
      claims = await verifyAgentCredential(decoded.value.credential, await this.hubKey());
    } catch {
      this.drop('bad-credential', { subject });
      return 'term';
    }
    if (claims.cluster !== where.cluster || claims.sub !== where.nodeId) {
      this.drop('impersonation', { subject });
      return 'term';
    }
    if (!this.current) return 'retry'; // keep it until a DB is installed
    const loaded = this.current;
    const started = performance.now();
    const findings = matchInventory(decoded.value.inventory, loaded.db);
    try {
      await storeReport(this.prisma, {
        origin: 'agent',
        cluster: where.cluster,
        nodeId: where.nodeId,
        containerId: decoded.value.workload.containerId,
        imageRef: decoded.value.workload.image,
        imageDigest: decoded.value.workload.imageDigest ?? null,
        inventory: decoded.value.inventory,
        findings,
        db: loaded,
        scanMillis: performance.now() - started,
      });
    } catch (err) {
      this.log('error', 'could not store scan report; will retry', {
        subject,
        error: (err as Error).message,
      });
      return 'retry';
    }
    this.scans++;
    return 'ack';
  }
}

/** Serves registry scan requests (queue group) and consumes agent inventories until `signal` aborts. */
export async function serve(
  nc: NatsConnection,
  service: ScannerService,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  nc.subscribe(subjects.scanRequest, {
    queue: SCANNER_QUEUE,
    callback: (_err, msg) => {
      const request = decode(RegistryScanRequest, msg.data);
      if (!request.ok) {
        msg.respond(encode({ ok: false, error: { code: 'BAD_REQUEST', message: request.error } }));
        return;
      }
      service.scanRegistry(request.value).then(
        (summary) => msg.respond(encode({ ok: true, summary })),
        (err: Error) => {
          log('warn', 'scan failed', { reference: request.value.reference, error: err.message });
          msg.respond(
            encode({ ok: false, error: { code: 'SCAN_FAILED', message: err.message.slice(0, 2000) } }),
          );
        },
      );
    },
  });

  const js = jetstream(nc);
  while (!signal.aborted) {
    try {
      const jsm = await jetstreamManager(nc);
      const stream = {
        name: subjects.inventoryStream,
        subjects: [subjects.inventoryWildcard],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        max_age: nanos(7 * 24 * 3600 * 1000),
        max_bytes: 2 * 1024 * 1024 * 1024,
        max_msg_size: 8 * 1024 * 1024,
        discard: DiscardPolicy.Old,
      };
      await jsm.streams.info(stream.name).then(
        () => jsm.streams.update(stream.name, stream),
        () => jsm.streams.add(stream),
      );
      await jsm.consumers.info(stream.name, INVENTORY_CONSUMER).catch(() =>
        jsm.consumers.add(stream.name, {
          durable_name: INVENTORY_CONSUMER,
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(120_000),
          max_ack_pending: 64,
        }),
      );
      const consumer = await js.consumers.get(stream.name, INVENTORY_CONSUMER);
      const messages = await consumer.consume({ max_messages: 16 });
      signal.addEventListener('abort', () => void messages.close(), { once: true });
      for await (const m of messages) {
        const disposition = await service.scanInventory(m.subject, m.data);
        if (disposition === 'ack') m.ack();
        else if (disposition === 'term') m.term();
        else m.nak(10_000);
      }
    } catch (err) {
      if (signal.aborted) break;
      log('warn', 'inventory consumer interrupted; retrying', { error: (err as Error).message });
    }
    if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
  }
}
