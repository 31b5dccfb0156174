#!/usr/bin/env node
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import type { AppRouter } from '@palisade/api';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { parseClusterName, parseDuration, parseLabels, table, UsageError } from './args.js';
import { POLICY_USAGE, parsePolicyArgs, policyCommand } from './commands/policy.js';
import { scanImageCommand } from './commands/scan.js';
import { dbBuild, dbImport, dbRollback, dbStatus, defaultDbDir, keysGenerate } from './commands/vulndb.js';
import { configPath, loadConfig, saveConfig } from './config.js';

const USAGE = `usage: palisade <command> [options]

  login --server URL --username NAME [--password-stdin]   sign in (password from stdin, PALISADE_PASSWORD or a prompt)
  logout                                                  forget the saved session
  cluster list [--output table|json]                      clusters you can see, with node counts
  cluster create NAME [--description TEXT] [--label k=v]  create a cluster (global admins)
  cluster join-token NAME [--ttl 1h] [--quiet|--output json]
                                                          mint a single-use join token and print the join command
  node list CLUSTER [--output table|json]                 nodes of a cluster, online/offline
  controller status [--output table|json]                 each controller's role, term, applied index and dropped inputs
${POLICY_USAGE}

  scan image REF|PATH [--format table|json|sarif|spdx|cyclonedx] [--fail-on critical|high|medium|low]
             [--db-dir DIR | --db FILE] [--trust PUBLIC_JWK] [--platform linux/arm64] [--insecure]
                                                          scan an image (registry, docker-archive:FILE, oci:DIR) locally;
                                                          exit 0 below the threshold, 1 at or above it, 2 on error
  db build --vulndata DIR --key PRIVATE_JWK --out FILE [--sequence N] [--expires 30d]
                                                          build a signed vulnerability DB bundle from raw feeds
  db import FILE [--db-dir DIR] [--trust PUBLIC_JWK]      verify and install a DB bundle (the previous one is kept)
  db status [--db-dir DIR] [--trust PUBLIC_JWK] [--max-age-days 7]
                                                          what is installed; warns when it is stale
  db rollback [--db-dir DIR] [--trust PUBLIC_JWK]         go back to the previous DB
  keys generate --out DIR                                 an Ed25519 key pair for signing bundles

Exit codes: 0 ok, 1 error, 2 usage, 3 already exists (policy set: changed since you read it), 4 not signed in or not permitted
(scan image: 0 pass, 1 vulnerabilities at or above --fail-on, 2 error).
The DB directory defaults to $PALISADE_VULNDB_DIR or ~/.cache/palisade/vulndb; trusted keys to $PALISADE_VULNDB_TRUST.
The session is kept in $PALISADE_CONFIG (default ~/.config/palisade/config.json).`;

const EXIT = { error: 1, usage: 2, conflict: 3, auth: 4 } as const;

async function readPassword(fromStdin: boolean): Promise<string> {
  if (process.env.PALISADE_PASSWORD) return process.env.PALISADE_PASSWORD;
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Keep the typed password off the screen.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  process.stderr.write('Password: ');
  const password = await rl.question('');
  rl.close();
  process.stderr.write('\n');
  return password;
}

function client(server: string, token?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: new URL('/api/trpc', server).toString(),
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
}

async function signedIn() {
  const config = await loadConfig();
  if (!config)
    throw Object.assign(new Error('not signed in: run "palisade login --server URL --username NAME"'), {
      exit: EXIT.auth,
    });
  if (Date.parse(config.expiresAt) <= Date.now()) {
    throw Object.assign(new Error('your session has expired: run "palisade login" again'), {
      exit: EXIT.auth,
    });
  }
  return { config, api: client(config.server, config.token) };
}

function age(iso: string | null): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

/** Set while `scan image` runs: its errors exit 2, as CI gates expect, not the generic 1. */
let scanning = false;

async function run(argv: string[]): Promise<void> {
  if (argv[0] === 'policy' && !argv.includes('--help') && !argv.includes('-h')) {
    // Usage mistakes and invalid policy files are reported before (and without) a session.
    return policyCommand(parsePolicyArgs(argv.slice(1)), async () => (await signedIn()).api);
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      server: { type: 'string' },
      username: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      description: { type: 'string' },
      label: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      output: { type: 'string', short: 'o' },
      format: { type: 'string', short: 'f' },
      'fail-on': { type: 'string' },
      'db-dir': { type: 'string' },
      db: { type: 'string' },
      trust: { type: 'string', multiple: true },
      platform: { type: 'string' },
      insecure: { type: 'boolean' },
      vulndata: { type: 'string' },
      key: { type: 'string' },
      out: { type: 'string' },
      sequence: { type: 'string' },
      expires: { type: 'string' },
      'max-age-days': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') throw new UsageError('--output must be table or json');

  switch (`${command} ${sub ?? ''}`.trim()) {
    case 'login': {
      if (!values.server || !values.username) throw new UsageError('login needs --server and --username');
      const server = new URL(values.server).toString();
      const password = await readPassword(values['password-stdin'] ?? false);
      const result = await client(server).auth.login.mutate({
        username: values.username,
        password,
        bearer: true,
      });
      if (!result.token) throw new Error('the server did not return a token');
      await saveConfig({
        server,
        username: result.user.username,
        token: result.token,
        expiresAt: result.expiresAt,
      });
      console.error(
        `signed in to ${server} as ${result.user.username} (${result.user.role}); session saved in ${configPath()}`,
      );
      return;
    }
    case 'logout': {
      const config = await loadConfig();
      if (config) await saveConfig({ ...config, token: '', expiresAt: new Date(0).toISOString() });
      console.error('signed out');
      return;
    }
    case 'cluster list': {
      const { api } = await signedIn();
      const clusters = await api.clusters.list.query();
      if (output === 'json') return void console.log(JSON.stringify(clusters, null, 2));
      if (clusters.length === 0)
        return void console.log('no clusters yet: create one with "palisade cluster create NAME"');
      console.log(
        table(
          ['NAME', 'NODES ONLINE', 'OFFLINE', 'LABELS', 'CREATED'],
          clusters.map((c) => [
            c.name,
            String(c.nodesOnline),
            String(c.nodesOffline),
            Object.entries(c.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',') || '-',
            c.createdAt,
          ]),
        ),
      );
      return;
    }
    case 'cluster create': {
      const name = parseClusterName(arg);
      const labels = parseLabels(values.label ?? []);
      const { api } = await signedIn();
      const cluster = await api.clusters.create.mutate({
        name,
        description: values.description ?? '',
        labels,
      });
      if (output === 'json') return void console.log(JSON.stringify(cluster, null, 2));
      console.log(`cluster ${cluster.name} created; next: palisade cluster join-token ${cluster.name}`);
      return;
    }
    case 'cluster join-token': {
      const cluster = parseClusterName(arg);
      const ttlSeconds = values.ttl ? parseDuration(values.ttl) : undefined;
      const { api } = await signedIn();
      const result = await api.clusters.createJoinToken.mutate({
        cluster,
        ...(ttlSeconds ? { ttlSeconds } : {}),
      });
      if (values.quiet) return void console.log(result.token);
      if (output === 'json') return void console.log(JSON.stringify(result, null, 2));
      console.log(`Join token for cluster ${cluster} (single use, expires ${result.view.expiresAt}).`);
      console.log('Run this on the node to enroll:\n');
      console.log(`  ${result.joinCommand}\n`);
      return;
    }
    case 'node list': {
      const cluster = parseClusterName(arg);
      const { api } = await signedIn();
      const nodes = await api.nodes.list.query({ cluster, limit: 500 });
      if (output === 'json') return void console.log(JSON.stringify(nodes.items, null, 2));
      if (nodes.total === 0)
        return void console.log(`no nodes in ${cluster} yet: run "palisade cluster join-token ${cluster}"`);
      console.log(
        table(
          ['NODE', 'HOSTNAME', 'STATUS', 'LAST HEARTBEAT', 'OS', 'KERNEL', 'WORKLOADS'],
          nodes.items.map((n) => [
            n.id,
            n.hostname,
            n.status,
            age(n.lastHeartbeatAt),
            n.osName,
            n.kernel,
            String(n.workloads),
          ]),
        ),
      );
      return;
    }
    case 'controller status': {
      const { api } = await signedIn();
      const controllers = await api.system.controllers.query();
      if (output === 'json') return void console.log(JSON.stringify(controllers, null, 2));
      console.log(
        table(
          ['ID', 'RAFT', 'ROLE', 'TERM', 'APPLIED', 'LAG', 'STARTED', 'OBSERVATIONS', 'DROPPED'],
          controllers.map((c) => [
            c.id,
            c.raftId ? String(c.raftId) : '-',
            c.role,
            String(c.term),
            String(c.appliedIndex),
            // A follower's lag as its leader reports it.
            (() => {
              if (!c.raftId) return '-';
              const leader = controllers.find((l) => l.role === 'leader');
              const lag = leader?.followers?.[String(c.raftId)]?.lag;
              return c.role === 'leader' ? '0' : lag === undefined ? '?' : String(lag);
            })(),
            age(c.startedAt),
            String(c.observationsAccepted),
            Object.entries(c.dropped)
              .map(([reason, n]) => `${reason}=${n}`)
              .join(',') || '0',
          ]),
        ),
      );
      return;
    }
    case 'scan image': {
      scanning = true;
      process.exitCode = await scanImageCommand(arg, {
        format: values.format,
        failOn: values['fail-on'],
        dbDir: values['db-dir'] ?? defaultDbDir(),
        dbFile: values.db,
        trust: values.trust,
        platform: values.platform,
        insecure: values.insecure,
      });
      return;
    }
    case 'db build':
      return dbBuild({
        vulndata: values.vulndata,
        key: values.key,
        out: values.out,
        sequence: values.sequence,
        expires: values.expires,
      });
    case 'db import':
      return dbImport(arg, values['db-dir'] ?? defaultDbDir(), values.trust);
    case 'db rollback':
      return dbRollback(values['db-dir'] ?? defaultDbDir(), values.trust);
    case 'db status': {
      const maxAge = Number(values['max-age-days'] ?? 7);
      if (!Number.isFinite(maxAge) || maxAge <= 0)
        throw new UsageError('--max-age-days must be a positive number');
      const status = await dbStatus(values['db-dir'] ?? defaultDbDir(), values.trust, maxAge);
      if (output === 'json') return void console.log(JSON.stringify(status, null, 2));
      if (!status.installed) return void console.log(`no vulnerability DB installed in ${status.dir}`);
      console.log(
        table(
          ['SEQUENCE', 'BUILT', 'AGE (DAYS)', 'STALE', 'FILE', 'PREVIOUS'],
          [
            [
              String(status.sequence),
              status.builtAt,
              String(status.ageDays),
              status.stale ? 'yes' : 'no',
              status.file,
              status.previous ?? '-',
            ],
          ],
        ),
      );
      return;
    }
    case 'keys generate':
      return keysGenerate(values.out);
    default:
      throw new UsageError(`unknown command "${positionals.join(' ')}"`);
  }
}

run(process.argv.slice(2)).catch((err: unknown) => {
  if (
    err instanceof UsageError ||
    ((err as Error).name === 'TypeError' && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
  ) {
    console.error(`palisade: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(EXIT.usage);
  }
  if (err instanceof TRPCClientError) {
    const code = (err.data as { code?: string } | undefined)?.code;
    console.error(`palisade: ${err.message}`);
    if (code === 'CONFLICT') process.exit(EXIT.conflict);
    if (code === 'UNAUTHORIZED' || code === 'FORBIDDEN') process.exit(EXIT.auth);
    process.exit(EXIT.error);
  }
  console.error(`palisade: ${(err as Error).message}`);
  process.exit(scanning ? 2 : ((err as { exit?: number }).exit ?? EXIT.error));
});
