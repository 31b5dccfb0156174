'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { createContext, type ReactNode, useContext, useEffect } from 'react';
import { errorInfo } from '@/lib/errors';
import { type Me, useTRPC } from '@/lib/trpc';
import {
  AlertIcon,
  BugIcon,
  ChecklistIcon,
  GaugeIcon,
  LogIcon,
  NetworkIcon,
  PolicyIcon,
  ServerIcon,
  ShieldIcon,
  SignOutIcon,
  UsersIcon,
} from './icons';
import { ErrorState, Spinner } from './ui';

const MeContext = createContext<Me | null>(null);

/** The signed-in user; only usable inside the app shell, which renders nothing until it is known. */
export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useMe outside the signed-in shell');
  return me;
}

/**
 * What the UI offers mirrors the permission matrix in @palisade/auth. It only hides buttons the
 * user could not use; the API enforces every permission itself.
 */
export function mayManageTokens(me: Me, cluster: string): boolean {
  const inScope = me.scope.all || me.scope.clusters.includes(cluster);
  return (me.role === 'admin' || me.role === 'cluster-admin') && inScope;
}
export function mayCreateClusters(me: Me): boolean {
  return me.role === 'admin' && me.scope.all;
}
/** image.scan: admins and cluster admins, on the clusters in their scope. */
export function mayScanImages(me: Me): boolean {
  return me.role === 'admin' || me.role === 'cluster-admin';
}
/** Scans filed under no cluster (hub-wide) need image.scan over every cluster. */
export function mayScanHubWide(me: Me): boolean {
  return mayScanImages(me) && me.scope.all;
}

/** policy.write: admins and cluster admins, on the clusters in their scope (viewers may only read). */
export function mayWritePolicy(me: Me, cluster: string): boolean {
  return mayManageTokens(me, cluster);
}

interface NavItem {
  label: string;
  href?: string;
  icon: (p: { size?: number }) => ReactNode;
  match?: RegExp;
}

const NAV: { heading: string; items: NavItem[] }[] = [
  { heading: 'Overview', items: [{ label: 'Dashboard', icon: GaugeIcon }] },
  {
    heading: 'Infrastructure',
    items: [{ label: 'Clusters', href: '/clusters', icon: ServerIcon, match: /^\/(clusters|nodes)(\/|$)/ }],
  },
  {
    heading: 'Security',
    items: [
      { label: 'Security Events', icon: AlertIcon },
      {
        label: 'Vulnerabilities',
        href: '/vulnerabilities',
        icon: BugIcon,
        match: /^\/vulnerabilities(\/|$)/,
      },
      { label: 'Network', icon: NetworkIcon },
      { label: 'Policy', href: '/policy', icon: PolicyIcon, match: /^\/policy(\/|$)/ },
      { label: 'Compliance', icon: ChecklistIcon },
    ],
  },
  {
    heading: 'Administration',
    items: [
      { label: 'Access Control', icon: UsersIcon },
      { label: 'Controllers', href: '/controllers', icon: GaugeIcon },
      { label: 'Audit', icon: LogIcon },
    ],
  },
];

function Sidebar() {
  const pathname = usePathname();
  return (
    <nav className="sidebar" aria-label="Main">
      <Link href="/clusters" className="brand">
        <ShieldIcon size={22} />
        <span>Palisade</span>
      </Link>
      {NAV.map((section) => (
        <div key={section.heading} className="nav-section">
          <div className="nav-heading">{section.heading}</div>
          <ul>
            {section.items.map((item) => {
              const Icon = item.icon;
              if (!item.href) {
                return (
                  <li key={item.label}>
                    <span className="nav-item nav-disabled" aria-disabled="true" title="Not available yet">
                      <Icon size={16} />
                      <span className="nav-label">{item.label}</span>
                      <span className="nav-soon">soon</span>
                    </span>
                  </li>
                );
              }
              const active = item.match?.test(pathname) ?? pathname === item.href;
              return (
                <li key={item.label}>
                  <Link
                    href={item.href}
                    className={`nav-item${active ? ' nav-active' : ''}`}
                    aria-current={active ? 'page' : undefined}
                  >
                    <Icon size={16} />
                    <span className="nav-label">{item.label}</span>
                  </Link>
                </li>
              );
            })}
          </ul>
        </div>
      ))}
      <div className="sidebar-foot">Palisade console 0.1.0</div>
    </nav>
  );
}

/** Controller reachability at a glance; polls slowly. */
function HubStatus() {
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.system.controllers.queryOptions(), refetchInterval: 10_000, retry: false });
  if (q.isPending) return null;
  if (q.isError) {
    const { code } = errorInfo(q.error);
    if (code === 'FORBIDDEN') return null;
    return (
      <span className="hub-status hub-down" title={errorInfo(q.error).message}>
        <span className="badge-dot" /> Hub unreachable
      </span>
    );
  }
  const leader = q.data.find((c) => c.role === 'leader' || c.role === 'standalone');
  return (
    <span
      className="hub-status"
      title={q.data.map((c) => `${c.id}: ${c.role}`).join('\n')}
      data-testid="hub-status"
    >
      <span className="badge-dot" /> Hub {leader ? 'connected' : 'degraded'}
    </span>
  );
}

function TopBar({ me }: { me: Me }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const logout = useMutation(
    trpc.auth.logout.mutationOptions({
      onSettled: () => {
        queryClient.clear();
        router.replace('/login');
      },
    }),
  );
  return (
    <header className="topbar">
      <div className="topbar-left">
        <HubStatus />
      </div>
      <div className="topbar-right">
        <div className="user" data-testid="current-user">
          <span className="avatar" aria-hidden="true">
            {me.username.slice(0, 2).toUpperCase()}
          </span>
          <span className="user-name">{me.username}</span>
          <span className="role" data-testid="current-role">
            {me.role}
            {me.scope.all
              ? ''
              : ` · ${me.scope.clusters.length} cluster${me.scope.clusters.length === 1 ? '' : 's'}`}
          </span>
        </div>
        <button
          type="button"
          className="btn btn-ghost btn-small"
          onClick={() => logout.mutate()}
          disabled={logout.isPending}
          data-testid="sign-out"
        >
          <SignOutIcon size={15} />
          Sign out
        </button>
      </div>
    </header>
  );
}

/**
 * The signed-in frame. Nothing inside renders until the session is confirmed: an expired or forged
 * cookie is sent to the sign-in page without a flash of protected content.
 */
export function AppShell({ children }: { children: ReactNode }) {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const me = useQuery({ ...trpc.auth.me.queryOptions(), staleTime: 30_000 });
  const signedOut = me.isSuccess && me.data === null;

  useEffect(() => {
    if (!signedOut) return;
    const next = pathname + window.location.search;
    router.replace(`/login?next=${encodeURIComponent(next)}`);
  }, [signedOut, pathname, router]);

  if (me.isError) {
    return (
      <div className="gate">
        <div className="gate-panel">
          <ErrorState error={me.error} onRetry={() => void me.refetch()} what="your session" />
        </div>
      </div>
    );
  }
  if (me.isPending || !me.data) {
    return (
      <div className="gate" data-testid="session-check">
        <Spinner label="Checking your session" />
      </div>
    );
  }
  return (
    <MeContext.Provider value={me.data}>
      <div className="shell">
        <Sidebar />
        <div className="main">
          <TopBar me={me.data} />
          <main className="content">{children}</main>
        </div>
      </div>
    </MeContext.Provider>
  );
}
