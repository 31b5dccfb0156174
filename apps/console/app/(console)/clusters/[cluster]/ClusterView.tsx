'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { useState } from 'react';
import { AddNodeDialog } from '@/components/AddNodeDialog';
import { mayManageTokens, useMe } from '@/components/AppShell';
import { ChevronRightIcon, PlusIcon } from '@/components/icons';
import { NodesTable } from '@/components/NodesTable';
import { TokensTable } from '@/components/TokensTable';
import { ErrorState, LabelChips, Loading, RelativeTime } from '@/components/ui';
import { absoluteTime } from '@/lib/format';
import { useTRPC } from '@/lib/trpc';
import { useUrlState } from '@/lib/useUrlState';

export function ClusterView() {
  const params = useParams<{ cluster: string }>();
  const name = decodeURIComponent(params.cluster);
  const trpc = useTRPC();
  const me = useMe();
  const [adding, setAdding] = useState(false);
  const [state, setState] = useUrlState({ tab: 'nodes' });
  const tab = state.tab === 'tokens' ? 'tokens' : 'nodes';
  const cluster = useQuery({ ...trpc.clusters.get.queryOptions({ cluster: name }), refetchInterval: 2500 });
  const canManage = mayManageTokens(me, name);

  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link href="/clusters">Clusters</Link>
        <ChevronRightIcon size={13} />
        <span aria-current="page">{name}</span>
      </nav>

      {cluster.isPending ? (
        <Loading label="Loading cluster…" />
      ) : cluster.isError ? (
        <ErrorState error={cluster.error} onRetry={() => void cluster.refetch()} what={`cluster ${name}`} />
      ) : (
        <>
          <div className="page-head">
            <div>
              <h1 className="page-title" data-testid="cluster-title">
                {cluster.data.name}
              </h1>
              {cluster.data.description && <p className="page-sub">{cluster.data.description}</p>}
              <div className="head-labels">
                <LabelChips labels={cluster.data.labels} />
              </div>
            </div>
            {canManage && (
              <button
                type="button"
                className="btn btn-primary"
                onClick={() => setAdding(true)}
                data-testid="add-node"
              >
                <PlusIcon size={15} />
                Add node
              </button>
            )}
          </div>

          <div className="stats" data-testid="cluster-stats">
            <div className="stat">
              <div className="stat-label">Nodes online</div>
              <div
                className={`stat-value${cluster.data.nodesOnline > 0 ? ' stat-green' : ''}`}
                data-testid="stat-online"
              >
                {cluster.data.nodesOnline}
              </div>
            </div>
            <div className="stat">
              <div className="stat-label">Nodes offline</div>
              <div
                className={`stat-value${cluster.data.nodesOffline > 0 ? ' stat-red' : ''}`}
                data-testid="stat-offline"
              >
                {cluster.data.nodesOffline}
              </div>
            </div>
            <div className="stat">
              <div className="stat-label">Running workloads</div>
              <div className="stat-value" data-testid="stat-workloads">
                {cluster.data.workloads}
              </div>
            </div>
            <div className="stat">
              <div className="stat-label">Created</div>
              <div className="stat-text" title={absoluteTime(cluster.data.createdAt)}>
                <RelativeTime iso={cluster.data.createdAt} />{' '}
                <span className="muted">by {cluster.data.createdBy}</span>
              </div>
            </div>
          </div>

          <div className="panel">
            <div className="tabs" role="tablist" aria-label="Cluster sections">
              <button
                type="button"
                role="tab"
                aria-selected={tab === 'nodes'}
                className={tab === 'nodes' ? 'tab active' : 'tab'}
                onClick={() => setState({ tab: 'nodes' })}
                data-testid="tab-nodes"
              >
                Nodes{' '}
                <span className="tab-count">{cluster.data.nodesOnline + cluster.data.nodesOffline}</span>
              </button>
              <button
                type="button"
                role="tab"
                aria-selected={tab === 'tokens'}
                className={tab === 'tokens' ? 'tab active' : 'tab'}
                onClick={() => setState({ tab: 'tokens' })}
                data-testid="tab-tokens"
              >
                Join tokens
              </button>
            </div>
            <div role="tabpanel">
              {tab === 'nodes' ? (
                <NodesTable cluster={name} onAddNode={canManage ? () => setAdding(true) : undefined} />
              ) : (
                <TokensTable cluster={name} canManage={canManage} />
              )}
            </div>
          </div>

          <AddNodeDialog cluster={name} open={adding} onClose={() => setAdding(false)} />
        </>
      )}
    </div>
  );
}
