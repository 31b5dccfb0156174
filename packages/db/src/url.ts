/** Used when neither an explicit URL nor `DATABASE_URL` is given. */
export const FALLBACK_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/palisade';

/** `DATABASE_URL` from the environment, else the local development database. */
export function defaultDatabaseUrl(): string {
  const fromEnv = process.env.DATABASE_URL;
  return fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv.trim() : FALLBACK_DATABASE_URL;
}

/** The database name of a `postgresql://` URL (the path without its leading slash). */
export function databaseName(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (name === '') throw new Error(`database URL has no database name: ${redactUrl(databaseUrl)}`);
  return name;
}

/** The same server and credentials, another database. */
export function withDatabase(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/** The URL without its password, for messages. */
export function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '<invalid database URL>';
  }
}

/** A PostgreSQL identifier, double-quoted. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
