import { z } from 'zod';
import { ClusterName } from './enrollment.js';

/**
 * The wire form of an enforcement policy: groups of containers (chosen by a selector), each with a
 * mode per rule kind and its process, file and network rules. Agents resolve it against their
 * containers (see @palisade/policy); everything here is validation only.
 */

/** Discover learns and allows; Monitor alerts without blocking; Protect blocks what is not allowed. */
export const Mode = z.enum(['discover', 'monitor', 'protect']);
export type Mode = z.infer<typeof Mode>;

export const Modes = z.object({ process: Mode, file: Mode, network: Mode });
export type Modes = z.infer<typeof Modes>;

/** A group may leave a kind's mode out; it then follows the cluster's defaults. */
export const GroupModes = z.object({
  process: Mode.optional(),
  file: Mode.optional(),
  network: Mode.optional(),
});
export type GroupModes = z.infer<typeof GroupModes>;

export const MAX_GROUPS = 256;
export const MAX_PROCESS_RULES = 1024;
export const MAX_FILE_RULES = 256;
export const MAX_NETWORK_RULES = 1024;
const MAX_PATH = 1024;

/** Only `*` is special: it matches any run of characters (including none, '/' and ':'). */
const Glob = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[^\s?[\]{}]+$/, 'a pattern may only use * as wildcard and must not contain spaces');

const GROUP_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const GroupName = z
  .string()
  .regex(
    GROUP_NAME,
    'group names are 1-63 lowercase letters, digits or dashes, not starting or ending with -',
  )
  .refine((n) => n !== 'default', "'default' is reserved for containers no group selects");

/** Which containers belong to a group. Every criterion given must match (AND). */
export const GroupSelector = z
  .object({
    /** Kubernetes namespace, or the containerd namespace for plain containers; exact. */
    namespace: z.string().min(1).max(253).optional(),
    /** Container labels; each must be present with exactly this value. */
    labels: z
      .record(z.string().min(1).max(253), z.string().max(1024))
      .refine((l) => Object.keys(l).length <= 32, 'at most 32 labels')
      .optional(),
    /** Image reference, e.g. "docker.io/library/nginx:*". */
    image: Glob.optional(),
    /** Container name, e.g. "web-*". */
    name: Glob.optional(),
  })
  .strict()
  .refine(
    (s) =>
      s.namespace !== undefined ||
      s.image !== undefined ||
      s.name !== undefined ||
      (s.labels !== undefined && Object.keys(s.labels).length > 0),
    'a selector needs at least one of namespace, labels, image or name',
  );
export type GroupSelector = z.infer<typeof GroupSelector>;

/** Absolute, no "." or ".." segments, no empty segments except a single trailing "/". */
function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path (start with /)';
  if (path.includes('\0')) return 'must not contain NUL';
  const segments = path.slice(1).split('/');
  if (segments.at(-1) === '') segments.pop();
  for (const s of segments) {
    if (s === '..') return "must not contain '..'";
    if (s === '.') return "must not contain '.' segments";
    if (s === '') return "must not contain '//'";
  }
  return undefined;
}

function checkedPath(extra: (p: string) => string | undefined) {
  return z
    .string()
    .min(1)
    .max(MAX_PATH)
    .superRefine((p, ctx) => {
      const problem = pathProblem(p) ?? extra(p);
      if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)} ${problem}` });
    });
}

/** A binary, by its path inside the container. */
export const ExecutablePath = checkedPath((p) => {
  if (p.endsWith('/')) return 'names a directory; process rules name executables';
  if (p.includes('*')) return 'must not contain *; process rules name one executable';
  return undefined;
});

/**
 * A file, or with a trailing "/" a directory's direct children, or with a trailing "*" the children
 * of a directory whose name starts with what precedes the "*" (e.g. /etc/sudoers*).
 */
export const ProtectedPath = checkedPath((p) => {
  const star = p.indexOf('*');
  if (star !== -1 && star !== p.length - 1) return 'may only have * at the end';
  if (p.endsWith('/*')) return "ends in '/*'; write the directory with a trailing '/' instead";
  if (p === '/') return 'is the root directory; name a file or directory';
  return undefined;
});

export const ProcessRule = z.object({ path: ExecutablePath, action: z.enum(['allow', 'deny']) }).strict();
export type ProcessRule = z.infer<typeof ProcessRule>;

/** "deny" protects a path from writes; "allow" removes a default protected path for the group. */
export const FileRule = z
  .object({ path: ProtectedPath, access: z.literal('write'), action: z.enum(['allow', 'deny']) })
  .strict();
export type FileRule = z.infer<typeof FileRule>;

// Integer check by refine, not .int(): .int() fails as a type mismatch, which hides the message
// behind the enclosing unions.
export const Port = z
  .number()
  .min(1, 'ports are 1-65535')
  .max(65535, 'ports are 1-65535')
  .refine(Number.isInteger, 'ports are integers');
export const PortRange = z
  .object({ from: Port, to: Port })
  .strict()
  .refine((r) => r.from <= r.to, 'a port range needs from <= to');
export type PortRange = z.infer<typeof PortRange>;

export const NetworkTarget = z.union([z.literal('any'), z.cidrv4(), z.cidrv6()], {
  error: 'must be "any" or a CIDR such as 10.0.0.0/8 or 2001:db8::/32',
});

export const NetworkRule = z
  .object({
    to: NetworkTarget,
    ports: z
      .union(
        [
          z.literal('any'),
          z
            .array(z.union([Port, PortRange]))
            .min(1)
            .max(64),
        ],
        {
          error: 'ports must be "any" or a list of ports (1-65535) and {from, to} ranges',
        },
      )
      .default('any'),
    protocol: z.enum(['tcp', 'udp', 'any']).default('any'),
    action: z.literal('allow'),
  })
  .strict();
export type NetworkRule = z.infer<typeof NetworkRule>;
export type NetworkRuleInput = z.input<typeof NetworkRule>;

/** The same path may not be both allowed and denied within one group's rule list. */
function noConflicts(rules: Array<{ path: string; action: string }>, ctx: z.RefinementCtx, kind: string) {
  const seen = new Map<string, string>();
  rules.forEach((r, i) => {
    const before = seen.get(r.path);
    if (before !== undefined && before !== r.action) {
      ctx.addIssue({
        code: 'custom',
        path: [kind, i, 'action'],
        message: `${r.path} is both allowed and denied`,
      });
    }
    seen.set(r.path, r.action);
  });
}

export const Group = z
  .object({
    name: GroupName,
    selector: GroupSelector,
    /** Higher wins when several groups select a container; ties go to the first name in sort order. */
    priority: z.number().int().min(-1000).max(1000).default(0),
    modes: GroupModes.default({}),
    process: z.array(ProcessRule).max(MAX_PROCESS_RULES).default([]),
    file: z.array(FileRule).max(MAX_FILE_RULES).default([]),
    network: z.array(NetworkRule).max(MAX_NETWORK_RULES).default([]),
  })
  .strict()
  .superRefine((g, ctx) => {
    noConflicts(g.process, ctx, 'process');
    noConflicts(g.file, ctx, 'file');
  });
export type Group = z.infer<typeof Group>;
export type GroupInput = z.input<typeof Group>;

export const ClusterPolicy = z
  .object({
    v: z.literal(1),
    cluster: ClusterName,
    /** Bumped on every change; agents ignore a revision older than the one they enforce. */
    revision: z.number().int().nonnegative(),
    defaults: z.object({ modes: Modes }).strict(),
    groups: z.array(Group).max(MAX_GROUPS),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.groups.forEach((g, i) => {
      if (seen.has(g.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['groups', i, 'name'],
          message: `duplicate group name ${g.name}`,
        });
      }
      seen.add(g.name);
    });
  });
export type ClusterPolicy = z.infer<typeof ClusterPolicy>;
export type ClusterPolicyInput = z.input<typeof ClusterPolicy>;

const learnedCommon = {
  group: z.union([GroupName, z.literal('default')]),
  count: z.number().int().positive(),
  firstSeen: z.iso.datetime({ offset: true }),
  lastSeen: z.iso.datetime({ offset: true }),
};

/** What an agent saw a group do in Discover mode, summarised; the controller turns it into rules. */
export const LearnedBehaviour = z
  .discriminatedUnion('kind', [
    z.object({ ...learnedCommon, kind: z.literal('process'), path: ExecutablePath }).strict(),
    z.object({ ...learnedCommon, kind: z.literal('file'), path: ProtectedPath }).strict(),
    z
      .object({
        ...learnedCommon,
        kind: z.literal('network'),
        network: z
          .object({
            to: z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' }),
            port: Port,
            protocol: z.enum(['tcp', 'udp']),
          })
          .strict(),
      })
      .strict(),
  ])
  .refine((b) => Date.parse(b.firstSeen) <= Date.parse(b.lastSeen), {
    message: 'firstSeen is after lastSeen',
    path: ['lastSeen'],
  });
export type LearnedBehaviour = z.infer<typeof LearnedBehaviour>;

export type PolicyParse<T> = { ok: true; value: T } | { ok: false; error: string };

/** Validates a policy and returns every problem with its location, e.g. "groups.1.name: duplicate ...". */
export function parseClusterPolicy(input: unknown): PolicyParse<ClusterPolicy> {
  const parsed = ClusterPolicy.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = parsed.error.issues
    .slice(0, 20)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
  return { ok: false, error: `invalid policy: ${issues}` };
}

/**
 * What the leader publishes for agents: the policy of one cluster, signed by the hub as a compact JWS
 * (EdDSA, typ `palisade-policy+jws`). Agents verify the signature before parsing this payload.
 */
export const PolicyEnvelope = z
  .object({
    v: z.literal(1),
    cluster: ClusterName,
    revision: z.number().int().nonnegative(),
    issuedAt: z.iso.datetime({ offset: true }),
    policy: ClusterPolicy,
  })
  .strict()
  .refine((e) => e.policy.cluster === e.cluster && e.policy.revision === e.revision, {
    message: 'envelope cluster/revision differ from the policy inside',
  });
export type PolicyEnvelope = z.infer<typeof PolicyEnvelope>;

/** The policy a cluster enforces before anyone writes one: Discover everywhere, no groups. */
export function initialPolicy(cluster: string): ClusterPolicy {
  return {
    v: 1,
    cluster,
    revision: 0,
    defaults: { modes: { process: 'discover', file: 'discover', network: 'discover' } },
    groups: [],
  };
}
