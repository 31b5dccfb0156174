'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import type { ReactNode } from 'react';
import { ChevronRightIcon } from '@/components/icons';
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
import { type EventRow, type NodeDetail, useTRPC } from '@/lib/trpc';

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

function Workloads({ node }: { node: NodeDetail }) {
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
          <th scope="col">First seen</th>
        </tr>
      </thead>
      <tbody>
        {workloads.data.map((w) => (
          <tr key={w.id} data-testid="workload-row">
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
            <td className="nowrap">
              <RelativeTime iso={w.firstSeenAt} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const EVENT_TONE: Record<string, 'green' | 'red' | 'blue' | 'grey'> = {
  'node.enrolled': 'blue',
  'node.online': 'green',
  'node.offline': 'red',
};

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
          <span className={`event-dot event-${EVENT_TONE[e.type] ?? 'grey'}`} aria-hidden="true" />
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
            <h2 className="panel-title">Workloads</h2>
            <Workloads node={node.data} />
          </section>
        </>
      )}
    </div>
  );
}
