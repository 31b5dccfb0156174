// @palisade/db: the Prisma schema and client for the hub's OBSERVED state (nodes, workloads, events,
// audit log), and its migrations. Desired state lives elsewhere.

export { createDbClient, type DbClient } from './client.js';
export type { AuditLog, Event, Finding, Node, ScanReport, Workload } from './generated/prisma/client.js';
export { Prisma, PrismaClient } from './generated/prisma/client.js';
export { type MigrateOptions, MigrationError, type MigrationErrorCode, migrate } from './migrate.js';
export { defaultDatabaseUrl } from './url.js';

/** Values of the String columns that hold an enumeration (not enforced by the database). */
export const NODE_STATUSES = ['online', 'offline'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];
export const EVENT_SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type EventSeverity = (typeof EVENT_SEVERITIES)[number];
export const AUDIT_RESULTS = ['ok', 'denied', 'error'] as const;
export type AuditResult = (typeof AUDIT_RESULTS)[number];
