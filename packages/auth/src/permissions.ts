import type { Role, Scope } from '@palisade/protocol';

/**
 * The permission registry. `global` permissions act on the hub as a whole and need a role whose scope
 * is all clusters; `cluster` permissions act on one cluster and need that cluster in scope.
 */
export const PERMISSIONS = {
  'cluster.read': { target: 'cluster', roles: ['admin', 'cluster-admin', 'viewer'] },
  'cluster.create': { target: 'global', roles: ['admin'] },
  'cluster.token.create': { target: 'cluster', roles: ['admin', 'cluster-admin'] },
  'cluster.token.read': { target: 'cluster', roles: ['admin', 'cluster-admin'] },
  'cluster.token.revoke': { target: 'cluster', roles: ['admin', 'cluster-admin'] },
  'node.read': { target: 'cluster', roles: ['admin', 'cluster-admin', 'viewer'] },
  'controller.read': { target: 'global', roles: ['admin', 'cluster-admin', 'viewer'] },
  'vulnerability.read': { target: 'cluster', roles: ['admin', 'cluster-admin', 'viewer'] },
  'image.scan': { target: 'cluster', roles: ['admin', 'cluster-admin'] },
  'policy.read': { target: 'cluster', roles: ['admin', 'cluster-admin', 'viewer'] },
  'policy.write': { target: 'cluster', roles: ['admin', 'cluster-admin'] },
} as const satisfies Record<string, { target: 'global' | 'cluster'; roles: readonly Role[] }>;

export type Permission = keyof typeof PERMISSIONS;

export interface Principal {
  userId: string;
  username: string;
  role: Role;
  scope: Scope;
}

export function inScope(scope: Scope, cluster: string): boolean {
  return scope.all || scope.clusters.includes(cluster);
}

/**
 * Deny by default: the role must be listed for the permission, and the scope must cover the target
 * (every cluster for a global permission, the named cluster for a cluster permission).
 */
export function can(principal: Principal, permission: Permission, cluster?: string): boolean {
  const rule = PERMISSIONS[permission];
  if (!rule) return false;
  if (!(rule.roles as readonly Role[]).includes(principal.role)) return false;
  if (rule.target === 'global') return principal.scope.all;
  // 'controller.read' aside, cluster permissions must name their cluster; no cluster means no access.
  if (cluster === undefined) return false;
  return inScope(principal.scope, cluster);
}

/**
 * For objects that belong either to one cluster or to the hub as a whole (`null`, e.g. an image scanned
 * from a registry outside any cluster): hub-wide objects need the role and an all-clusters scope.
 */
export function canOn(principal: Principal, permission: Permission, cluster: string | null): boolean {
  if (cluster !== null) return can(principal, permission, cluster);
  const rule = PERMISSIONS[permission];
  return !!rule && (rule.roles as readonly Role[]).includes(principal.role) && principal.scope.all;
}

/** Keeps only the items whose cluster the principal may read with `permission`. */
export function filterByScope<T>(
  principal: Principal,
  permission: Permission,
  items: readonly T[],
  clusterOf: (item: T) => string,
): T[] {
  return items.filter((item) => can(principal, permission, clusterOf(item)));
}
