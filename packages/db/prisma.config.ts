// For the Prisma CLI (`prisma generate`, and `prisma migrate status|deploy` where the native schema
// engine can be downloaded). On this project's offline machines use the package scripts instead:
// `npm run build|migrate|migrate:new|migrate:check -w @palisade/db` (see README.md).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/palisade' },
});
