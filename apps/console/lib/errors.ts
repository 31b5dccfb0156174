import { TRPCClientError } from '@trpc/client';

export type ApiErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'BAD_REQUEST'
  | 'TOO_MANY_REQUESTS'
  | 'SERVICE_UNAVAILABLE'
  | 'NETWORK'
  | 'UNKNOWN';

export interface ApiIssue {
  /** The input field the issue is about ('' for the whole input). */
  field: string;
  message: string;
}

export interface ApiErrorInfo {
  code: ApiErrorCode;
  message: string;
  /** Validation issues, when the server rejected the input (BAD_REQUEST from input parsing). */
  issues: ApiIssue[];
}

const KNOWN = new Set<string>([
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'BAD_REQUEST',
  'TOO_MANY_REQUESTS',
  'SERVICE_UNAVAILABLE',
]);

interface RawIssue {
  path?: unknown;
  message?: unknown;
  /** Nested issues: zod reports a bad record key as one `invalid_key` issue wrapping the real one. */
  issues?: unknown;
}

function flattenIssues(raw: unknown, prefix: string[]): ApiIssue[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((item: unknown): ApiIssue[] => {
    if (Array.isArray(item)) return flattenIssues(item, prefix);
    if (typeof item !== 'object' || item === null) return [];
    const { path, message, issues } = item as RawIssue;
    const full = [...prefix, ...(Array.isArray(path) ? path.map(String) : [])];
    const nested = flattenIssues(issues, full);
    if (nested.length > 0) return nested;
    return typeof message === 'string' ? [{ field: full.join('.'), message }] : [];
  });
}

/** Input validation errors carry zod's issue list as a JSON message; turn it into field messages. */
function parseIssues(message: string): ApiIssue[] {
  if (!message.startsWith('[')) return [];
  try {
    return flattenIssues(JSON.parse(message), []);
  } catch {
    return [];
  }
}

/** What the UI needs to know about a failed call: a code to branch on and a message to show. */
export function errorInfo(error: unknown): ApiErrorInfo {
  if (error instanceof TRPCClientError) {
    const data = error.data as { code?: string; httpStatus?: number } | undefined;
    const raw = data?.code;
    if (!raw) {
      // No tRPC envelope: the request never reached the API (offline, proxy error, server down).
      return { code: 'NETWORK', message: 'the console server cannot be reached', issues: [] };
    }
    const code = (KNOWN.has(raw) ? raw : 'UNKNOWN') as ApiErrorCode;
    const issues = parseIssues(error.message);
    const message = issues.length
      ? issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; ')
      : error.message;
    return { code, message, issues };
  }
  if (error instanceof Error) return { code: 'UNKNOWN', message: error.message, issues: [] };
  return { code: 'UNKNOWN', message: String(error), issues: [] };
}

/** Errors that retrying will not fix. */
export function isPermanent(error: unknown): boolean {
  const { code } = errorInfo(error);
  return code !== 'SERVICE_UNAVAILABLE' && code !== 'NETWORK' && code !== 'UNKNOWN';
}
