'use client';

import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { Fragment, type ReactNode, useState } from 'react';
import { ChevronRightIcon } from '@/components/icons';
import { ModeBadge } from '@/components/ModeBadge';
import { RuntimeCell } from '@/components/NodesTable';
import {
  Badge,
  EmptyState,
  ErrorState,
  LabelChips,
  Loading,
  RelativeTime,
  StatusBadge,
} from '@/components/ui';
import { absoluteTime, bytes, osLabel } from '@/lib/format';
import { type EventRow, type NodeDetail, useTRPC, type WorkloadRow } from '@/lib/trpc';

function Fact({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

function Facts({ node }: { node: NodeDetail }) {
  return (
    <dl className="facts" data-testid="node-facts">
      <Fact label="Hostname" testId="fact-hostname">
        {node.hostname}
      </Fact>
      <Fact label="Node ID" testId="fact-id">
        <span className="mono">{node.id}</span>
      </Fact>
      <Fact label="Cluster" testId="fact-cluster">
        <Link href={`/clusters/${node.cluster}`}>{node.cluster}</Link>
      </Fact>
      <Fact label="Status" testId="fact-status">
        <StatusBadge status={node.status} />{' '}
        <span className="muted">
          since <RelativeTime iso={node.statusChangedAt} />
        </span>
      </Fact>
      <Fact label="Last heartbeat" testId="fact-heartbeat">
        <RelativeTime iso={node.lastHeartbeatAt} />
      </Fact>
      <Fact label="Enrolled" testId="fact-enrolled">
        <span title={absoluteTime(node.enrolledAt)}>{absoluteTime(node.enrolledAt)}</span>
      </Fact>
      <Fact label="Operating system" testId="fact-os">
        {osLabel(node.osName, node.osVersion)}
      </Fact>
      <Fact label="Kernel" testId="fact-kernel">
        <span className="mono">{node.kernel}</span>
      </Fact>
      <Fact label="Architecture" testId="fact-arch">
        {node.arch}
      </Fact>
      <Fact label="CPUs" testId="fact-cpus">
        {node.cpus ?? '—'}
      </Fact>
      <Fact label="Memory" testId="fact-memory">
        {bytes(node.memoryBytes)}
      </Fact>
      <Fact label="Agent version" testId="fact-agent-version">
        <span className="mono">{node.agentVersion}</span>
      </Fact>
      <Fact label="Container runtime" testId="fact-runtime">
        <RuntimeCell node={node} />
        {node.runtimeSocket && <div className="cell-sub mono">{node.runtimeSocket}</div>}
        {node.runtimeError && <div className="fact-error">{node.runtimeError}</div>}
      </Fact>
    </dl>
  );
}

const BACKEND_TONE = { 'bpf-lsm': 'green', fallback: 'amber', none: 'red' } as const;
const BACKEND_TEXT = {
  'bpf-lsm': 'BPF LSM: blocks in the kernel before the action happens',
  fallback: 'Fallback: blocks after the fact where it can (weaker guarantees)',
  none: 'None: this node cannot enforce; it only reports',
} as const;

/** What the agent says it enforces: back-end, policy revision and counters. */
function Enforcement({ node }: { node: NodeDetail }) {
  const e = node.enforcement;
  if (!e) {
    // Not <EmptyState>: its test id belongs to the workloads panel below.
    return (
      <div className="empty" data-testid="enforcement-empty">
        <div className="empty-title">No enforcement report yet</div>
        <div className="empty-body">
          The agent reports its enforcement back-end and policy revision once it has loaded a policy. Agents
          older than this hub do not report it.
        </div>
      </div>
    );
  }
  const mechanisms = Object.entries(e.mechanisms)
    .map(([kind, list]) => `${kind}: ${list.length ? list.join(', ') : 'none'}`)
    .join(' · ');
  return (
    <dl className="facts" data-testid="node-enforcement">
      <Fact label="Back-end" testId="enforcement-backend">
        <span title={BACKEND_TEXT[e.backend]}>
          <Badge tone={BACKEND_TONE[e.backend]}>{e.backend}</Badge>
        </span>
        {e.reason && <div className="cell-sub">{e.reason}</div>}
      </Fact>
      <Fact label="Policy revision" testId="enforcement-revision">
        {e.policyRevision ?? <span className="muted">none loaded</span>}
      </Fact>
      <Fact label="Generation" testId="enforcement-generation">
        {e.generation}
      </Fact>
      <Fact label="Security events" testId="enforcement-events">
        {e.events}
      </Fact>
      <Fact label="Dropped events" testId="enforcement-drops">
        {e.drops > 0 ? <span className="fact-error">{e.drops} (buffers were full)</span> : 0}
      </Fact>
      {e.spool && (e.spool.pending > 0 || e.spool.dropped > 0) && (
        <Fact label="Kept for the hub" testId="enforcement-spool">
          {e.spool.pending} waiting on the node
          {e.spool.dropped > 0 && (
            <div className="fact-error">{e.spool.dropped} dropped: the spool was full</div>
          )}
          <div className="cell-sub">
            Security observations the hub has not acknowledged yet; sent when it answers.
          </div>
        </Fact>
      )}
      <Fact label="Mechanisms" testId="enforcement-mechanisms">
        <span className="small">{mechanisms || '—'}</span>
      </Fact>
      {e.lastError && (
        <Fact label="Last error" testId="enforcement-error">
          <div className="fact-error">{e.lastError}</div>
          <div className="cell-sub">The previous policy stays enforced.</div>
        </Fact>
      )}
    </dl>
  );
}

const ACTION_TONE: Record<string, 'red' | 'amber' | 'blue' | 'grey'> = {
  denied: 'red',
  alert: 'amber',
  learned: 'blue',
  dropped: 'grey',
};

/** One workload's security events, newest first, a page at a time. */
function SecurityEvents({ nodeId, containerId }: { nodeId: string; containerId: string }) {
  const trpc = useTRPC();
  const events = useInfiniteQuery(
    trpc.nodes.securityEvents.infiniteQueryOptions(
      { nodeId, containerId, limit: 25 },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  if (events.isPending) return <Loading label="Loading security events…" />;
  if (events.isError)
    return <ErrorState error={events.error} onRetry={() => void events.refetch()} what="security events" />;
  const items = events.data.pages.flatMap((p) => p.items);
  if (items.length === 0) return <p className="muted">No security events for this container.</p>;
  return (
    <div data-testid={`security-events-${containerId.slice(0, 12)}`}>
      <ul className="security-events">
        {items.map((e) => {
          const action = e.type.split('.').at(-1) ?? '';
          return (
            <li key={e.id} data-testid="security-event" data-type={e.type}>
              <RelativeTime iso={e.at} />
              <span>
                <Badge tone={ACTION_TONE[action] ?? 'grey'}>{action}</Badge>
              </span>
              <span className="small">
                <span className="mono">{e.type.split('.')[1]}</span> {e.message}
              </span>
              <span className="event-sev">{e.severity}</span>
            </li>
          );
        })}
      </ul>
      {events.hasNextPage && (
        <button
          type="button"
          className="btn btn-small"
          onClick={() => void events.fetchNextPage()}
          disabled={events.isFetchingNextPage}
        >
          {events.isFetchingNextPage ? 'Loading…' : 'Older events'}
        </button>
      )}
    </div>
  );
}

function WorkloadModes({ w }: { w: WorkloadRow }) {
  if (!w.modes) return <span className="muted">—</span>;
  const modes = w.modes;
  return (
    <span className="chips" title={w.policyWarnings.join('\n') || undefined}>
      {(['process', 'file', 'network'] as const).map((k) => (
        <span key={k} title={`${k}: ${modes[k]}`}>
          <span className="muted small">{k[0]?.toUpperCase()}</span> <ModeBadge mode={modes[k]} />
        </span>
      ))}
    </span>
  );
}

function Workloads({ node }: { node: NodeDetail }) {
  const [open, setOpen] = useState<string | null>(null);
  const trpc = useTRPC();
  const workloads = useQuery({
    ...trpc.nodes.workloads.queryOptions({ nodeId: node.id }),
    refetchInterval: 3000,
  });
  if (workloads.isPending) return <Loading label="Loading workloads…" />;
  if (workloads.isError)
    return <ErrorState error={workloads.error} onRetry={() => void workloads.refetch()} what="workloads" />;
  if (workloads.data.length === 0) {
    return node.runtimeName ? (
      <EmptyState title="No containers running">
        The agent watches {node.runtimeName}
        {node.runtimeSocket ? ` at ${node.runtimeSocket}` : ''} and reports containers as they start.
      </EmptyState>
    ) : (
      <EmptyState title="No container runtime found on this node">
        {node.runtimeError
          ? `The agent could not reach a container runtime: ${node.runtimeError}.`
          : 'The agent found no container runtime socket, so there are no workloads to report.'}{' '}
        Workloads appear here once containerd runs on the host.
      </EmptyState>
    );
  }
  return (
    <table className="table" data-testid="workloads-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Image</th>
          <th scope="col">Namespace / Pod</th>
          <th scope="col">State</th>
          <th scope="col" className="num">
            PID
          </th>
          <th scope="col">Labels</th>
          <th scope="col">Group</th>
          <th scope="col">Mode</th>
          <th
            scope="col"
            className="num"
            title="Security events of medium severity or higher in the last 24 hours"
          >
            Violations
          </th>
          <th scope="col">First seen</th>
        </tr>
      </thead>
      <tbody>
        {workloads.data.map((w) => (
          <Fragment key={w.id}>
            <tr data-testid="workload-row" data-container={w.containerId}>
              <td>
                <div className="cell-title">{w.name}</div>
                <div className="cell-sub mono" title={w.containerId}>
                  {w.containerId.slice(0, 12)}
                </div>
              </td>
              <td className="mono small break">{w.image}</td>
              <td>
                {w.k8sNamespace ? (
                  <>
                    {w.k8sNamespace} <span className="muted">/</span> {w.k8sPod ?? '—'}
                  </>
                ) : (
                  <span className="muted">{w.runtimeNamespace}</span>
                )}
              </td>
              <td>
                <Badge tone={w.state === 'running' ? 'green' : 'grey'}>{w.state}</Badge>
              </td>
              <td className="num mono">{w.pid ?? '—'}</td>
              <td>
                <LabelChips labels={w.labels} max={3} />
              </td>
              <td data-testid="workload-group">
                {w.group ? (
                  <Link href={`/policy?cluster=${encodeURIComponent(node.cluster)}`}>{w.group}</Link>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
              <td data-testid="workload-modes">
                <WorkloadModes w={w} />
              </td>
              <td className="num">
                <button
                  type="button"
                  className="link-btn violations-btn"
                  aria-expanded={open === w.id}
                  onClick={() => setOpen(open === w.id ? null : w.id)}
                  data-testid="workload-violations"
                  title="Show this container's security events"
                >
                  {w.violations > 0 ? <Badge tone="red">{w.violations}</Badge> : '0'}
                </button>
              </td>
              <td className="nowrap">
                <RelativeTime iso={w.firstSeenAt} />
              </td>
            </tr>
            {open === w.id && (
              <tr className="detail-row">
                <td colSpan={11}>
                  <SecurityEvents nodeId={node.id} containerId={w.containerId} />
                </td>
              </tr>
            )}
          </Fragment>
        ))}
      </tbody>
    </table>
  );
}

const EVENT_TONE: Record<string, 'green' | 'red' | 'blue' | 'grey' | 'amber'> = {
  'node.enrolled': 'blue',
  'node.online': 'green',
  'node.offline': 'red',
};

/** Security events are coloured by outcome: blocked, alerted, learned. */
function eventTone(type: string): string {
  if (type.startsWith('security.')) {
    const action = type.split('.').at(-1) ?? '';
    return ({ denied: 'red', alert: 'amber', learned: 'blue' } as Record<string, string>)[action] ?? 'grey';
  }
  return EVENT_TONE[type] ?? 'grey';
}

function Events({ nodeId }: { nodeId: string }) {
  const trpc = useTRPC();
  const events = useQuery({ ...trpc.nodes.events.queryOptions({ nodeId }), refetchInterval: 5000 });
  if (events.isPending) return <Loading label="Loading events…" />;
  if (events.isError)
    return <ErrorState error={events.error} onRetry={() => void events.refetch()} what="events" />;
  if (events.data.length === 0) return <EmptyState title="No events for this node yet" />;
  return (
    <ol className="events" data-testid="node-events">
      {events.data.map((e: EventRow) => (
        <li key={e.id} className="event" data-testid="node-event" data-type={e.type}>
          <span className={`event-dot event-${eventTone(e.type)}`} aria-hidden="true" />
          <div className="event-main">
            <div className="event-head">
              <span className="event-type mono">{e.type}</span>
              <span className="event-sev">{e.severity}</span>
            </div>
            <div className="event-msg">{e.message}</div>
          </div>
          <div className="event-time">
            <RelativeTime iso={e.at} />
          </div>
        </li>
      ))}
    </ol>
  );
}

export function NodeView() {
  const { nodeId } = useParams<{ nodeId: string }>();
  const trpc = useTRPC();
  const node = useQuery({ ...trpc.nodes.get.queryOptions({ nodeId }), refetchInterval: 3000 });

  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link href="/clusters">Clusters</Link>
        <ChevronRightIcon size={13} />
        {node.data ? (
          <Link href={`/clusters/${node.data.cluster}`}>{node.data.cluster}</Link>
        ) : (
          <span>…</span>
        )}
        <ChevronRightIcon size={13} />
        <span aria-current="page">{node.data?.hostname ?? nodeId}</span>
      </nav>
      {node.isPending ? (
        <Loading label="Loading node…" />
      ) : node.isError ? (
        <ErrorState error={node.error} onRetry={() => void node.refetch()} what={`node ${nodeId}`} />
      ) : (
        <>
          <div className="page-head">
            <div>
              <h1 className="page-title" data-testid="node-title">
                {node.data.hostname} <StatusBadge status={node.data.status} />
              </h1>
              <p className="page-sub">
                <span className="mono">{node.data.id}</span> ·{' '}
                {osLabel(node.data.osName, node.data.osVersion)} · {node.data.arch}
              </p>
            </div>
          </div>
          <div className="node-grid">
            <section className="panel">
              <h2 className="panel-title">Facts</h2>
              <Facts node={node.data} />
            </section>
            <section className="panel">
              <h2 className="panel-title">Recent events</h2>
              <Events nodeId={node.data.id} />
            </section>
          </div>
          <section className="panel">
            <h2 className="panel-title">Enforcement</h2>
            <Enforcement node={node.data} />
          </section>
          <section className="panel">
            <h2 className="panel-title">Workloads</h2>
            <Workloads node={node.data} />
          </section>
        </>
      )}
    </div>
  );
}
