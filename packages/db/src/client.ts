import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.js';
import { defaultDatabaseUrl } from './url.js';

export type DbClient = PrismaClient;

/**
 * A Prisma client over node-postgres (`@prisma/adapter-pg`). `databaseUrl` defaults to `DATABASE_URL`,
 * else postgresql://postgres@127.0.0.1:5432/palisade. Call `$disconnect()` when done.
 */
export function createDbClient(databaseUrl: string = defaultDatabaseUrl()): DbClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}
