import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { AppRouter } from '@palisade/api';
import { type ClusterPolicy, parseClusterPolicy } from '@palisade/protocol';
import { type TRPCClient, TRPCClientError } from '@trpc/client';
import { parseClusterName, table, UsageError } from '../args.js';

export const POLICY_USAGE = `  policy get --cluster C [--output json|table]            the cluster's enforcement policy (JSON you can edit)
  policy diff --cluster C -f FILE                         what applying FILE would change
  policy set --cluster C -f FILE                          validate FILE locally, then apply it; its revision must be
                                                          the current one (exit 3 when the policy changed meanwhile)`;

export interface PolicyArgs {
  action: 'get' | 'set' | 'diff';
  cluster: string;
  file?: string;
  output: 'json' | 'table';
}

/**
 * `policy` has its own options: `-f` names the policy file here, where elsewhere it is `--format`.
 * The cluster may be given as `--cluster C` or as the argument after the action.
 */
export function parsePolicyArgs(argv: string[]): PolicyArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      cluster: { type: 'string', short: 'c' },
      file: { type: 'string', short: 'f' },
      output: { type: 'string', short: 'o' },
    },
  });
  const [action, positionalCluster, extra] = positionals;
  if (action !== 'get' && action !== 'set' && action !== 'diff') {
    throw new UsageError(`unknown command "policy ${action ?? ''}": use policy get, diff or set`.trim());
  }
  if (extra !== undefined || (positionalCluster !== undefined && values.cluster !== undefined)) {
    throw new UsageError(`policy ${action} takes one cluster (--cluster C)`);
  }
  const cluster = parseClusterName(values.cluster ?? positionalCluster);
  const output = values.output ?? (action === 'get' ? 'json' : 'table');
  if (output !== 'json' && output !== 'table') throw new UsageError('--output must be json or table');
  if (action === 'get') {
    if (values.file !== undefined)
      throw new UsageError('policy get does not take -f; redirect its output instead');
    return { action, cluster, output };
  }
  if (!values.file) throw new UsageError(`policy ${action} needs -f FILE (a policy from "policy get")`);
  return { action, cluster, file: values.file, output };
}

/** Reads and validates a policy file the way the hub will, so mistakes are caught before sending. */
export async function readPolicyFile(path: string, cluster: string): Promise<ClusterPolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = parseClusterPolicy(json);
  if (!parsed.ok) throw new UsageError(`${path}: ${parsed.error}`);
  if (parsed.value.cluster !== cluster) {
    throw new UsageError(`${path} is the policy of cluster "${parsed.value.cluster}", not "${cluster}"`);
  }
  return parsed.value;
}

/** One line per group: the summary `policy get --output table` prints. */
export function policySummary(policy: ClusterPolicy): string {
  const d = policy.defaults.modes;
  const head = `cluster ${policy.cluster}, revision ${policy.revision}; defaults: process ${d.process}, file ${d.file}, network ${d.network}`;
  if (policy.groups.length === 0) return `${head}\nno groups: every container follows the defaults`;
  const rows = policy.groups.map((g) => [
    g.name,
    String(g.priority),
    g.modes.process ?? `(${d.process})`,
    g.modes.file ?? `(${d.file})`,
    g.modes.network ?? `(${d.network})`,
    `${g.process.length}/${g.file.length}/${g.network.length}`,
    Object.entries(g.selector)
      .map(([k, v]) =>
        k === 'labels'
          ? `labels=${Object.entries(v as Record<string, string>)
              .map(([lk, lv]) => `${lk}=${lv}`)
              .join(',')}`
          : `${k}=${String(v)}`,
      )
      .join(' '),
  ]);
  return `${head}\n${table(['GROUP', 'PRIORITY', 'PROCESS', 'FILE', 'NETWORK', 'RULES P/F/N', 'SELECTOR'], rows)}`;
}

/** A write based on an old revision: exit 3 (conflict) with what to do next. */
export function staleWrite(cluster: string, detail: string): Error {
  return Object.assign(
    new Error(
      `the policy changed since you read it (${detail}); run "palisade policy get --cluster ${cluster}" again and reapply your edits`,
    ),
    { exit: 3 },
  );
}

function isConflict(err: unknown): boolean {
  return err instanceof TRPCClientError && (err.data as { code?: string } | undefined)?.code === 'CONFLICT';
}

/** Runs a parsed `policy` command; `connect` signs in only after the file is known to be valid. */
export async function policyCommand(
  args: PolicyArgs,
  connect: () => Promise<TRPCClient<AppRouter>>,
): Promise<void> {
  const { cluster } = args;
  if (args.action === 'get') {
    const api = await connect();
    const policy = await api.policy.get.query({ cluster });
    console.log(args.output === 'json' ? JSON.stringify(policy, null, 2) : policySummary(policy));
    return;
  }
  const policy = await readPolicyFile(args.file ?? '', cluster);
  const api = await connect();
  const preview = await api.policy.diff.mutate({ cluster, policy });
  if (args.action === 'diff') {
    if (args.output === 'json') return void console.log(JSON.stringify(preview, null, 2));
    if (!preview.upToDate) {
      console.error(
        `note: ${args.file} is based on revision ${policy.revision}, the cluster is at ${preview.currentRevision}; "policy set" would be refused`,
      );
    }
    console.log(preview.changes.length === 0 ? 'no changes' : preview.changes.map((c) => c.text).join('\n'));
    return;
  }
  if (!preview.upToDate) {
    throw staleWrite(
      cluster,
      `${args.file} is based on revision ${policy.revision}, the cluster is at ${preview.currentRevision}`,
    );
  }
  if (preview.changes.length === 0) {
    console.error(`no changes: the policy of ${cluster} already matches ${args.file}`);
    return;
  }
  const stored = await api.policy.set.mutate({ cluster, policy }).catch((err: unknown) => {
    throw isConflict(err) ? staleWrite(cluster, (err as Error).message) : err;
  });
  if (args.output === 'json') return void console.log(JSON.stringify(stored, null, 2));
  for (const change of preview.changes) console.log(change.text);
  console.log(`policy of ${cluster} is now at revision ${stored.revision}`);
}
