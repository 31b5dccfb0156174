import type { NextConfig } from 'next';

// Telemetry stays off: builds and servers run with NEXT_TELEMETRY_DISABLED=1 (see README).
process.env.NEXT_TELEMETRY_DISABLED ??= '1';

const nextConfig: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // Loaded with Node's own import at run time instead of being bundled: Prisma's client and its
  // driver adapter, node-postgres, and the NATS client all rely on Node-specific module behaviour.
  serverExternalPackages: [
    '@palisade/db',
    '@prisma/client',
    '@prisma/adapter-pg',
    'pg',
    '@nats-io/transport-node',
    '@nats-io/nats-core',
    '@nats-io/nkeys',
    '@nats-io/nuid',
    '@nats-io/jetstream',
  ],
};

export default nextConfig;
