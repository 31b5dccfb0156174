'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useMemo, useState } from 'react';
import { mayCreateClusters, useMe } from '@/components/AppShell';
import { CreateClusterDialog } from '@/components/CreateClusterDialog';
import { PlusIcon, SearchIcon } from '@/components/icons';
import {
  EmptyState,
  ErrorState,
  LabelChips,
  Loading,
  RelativeTime,
  SortHeader,
  useDebounced,
} from '@/components/ui';
import { labelPairs } from '@/lib/format';
import { type ClusterRow, useTRPC } from '@/lib/trpc';
import { useUrlState } from '@/lib/useUrlState';

const SORTS = ['name', 'labels', 'nodes', 'createdAt', 'createdBy'] as const;
type Sort = (typeof SORTS)[number];

function compare(a: ClusterRow, b: ClusterRow, sort: Sort): number {
  switch (sort) {
    case 'name':
      return a.name.localeCompare(b.name);
    case 'labels':
      return labelPairs(a.labels).join(',').localeCompare(labelPairs(b.labels).join(','));
    case 'nodes':
      return (
        a.nodesOnline + a.nodesOffline - (b.nodesOnline + b.nodesOffline) || a.nodesOnline - b.nodesOnline
      );
    case 'createdAt':
      return a.createdAt.localeCompare(b.createdAt);
    case 'createdBy':
      return a.createdBy.localeCompare(b.createdBy);
  }
}

export function ClustersView() {
  const trpc = useTRPC();
  const router = useRouter();
  const me = useMe();
  const [creating, setCreating] = useState(false);
  const [state, setState] = useUrlState({ q: '', sort: 'name', dir: 'asc' });
  const sort: Sort = (SORTS as readonly string[]).includes(state.sort) ? (state.sort as Sort) : 'name';
  const direction = state.dir === 'desc' ? 'desc' : 'asc';
  // The box filters as you type; the URL catches up once typing pauses.
  const [filter, setFilter] = useState(state.q);
  const debouncedFilter = useDebounced(filter, 300);
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a settled filter updates the URL
  useEffect(() => {
    if (debouncedFilter !== state.q) setState({ q: debouncedFilter });
  }, [debouncedFilter]);

  // The cluster list is small (one row per cluster) and comes whole; node counts refresh live.
  const clusters = useQuery({ ...trpc.clusters.list.queryOptions(), refetchInterval: 5000 });

  const rows = useMemo(() => {
    const q = filter.trim().toLowerCase();
    const filtered = (clusters.data ?? []).filter(
      (c) =>
        !q ||
        c.name.includes(q) ||
        c.description.toLowerCase().includes(q) ||
        labelPairs(c.labels).some((l) => l.toLowerCase().includes(q)),
    );
    const sorted = [...filtered].sort((a, b) => compare(a, b, sort) || a.name.localeCompare(b.name));
    return direction === 'desc' ? sorted.reverse() : sorted;
  }, [clusters.data, filter, sort, direction]);

  const onSort = (column: Sort) =>
    setState({ sort: column, dir: column === sort && direction === 'asc' ? 'desc' : 'asc' });
  const canCreate = mayCreateClusters(me);
  const total = clusters.data?.length ?? 0;

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1 className="page-title">Clusters</h1>
          <p className="page-sub">Every cluster enrolled in this hub, with the live state of its nodes.</p>
        </div>
        {canCreate && (
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => setCreating(true)}
            data-testid="create-cluster"
          >
            <PlusIcon size={15} />
            Create cluster
          </button>
        )}
      </div>

      <div className="panel">
        <div className="toolbar">
          <div className="search">
            <SearchIcon size={15} />
            <input
              type="search"
              placeholder="Filter by name, description or label"
              aria-label="Filter clusters"
              value={filter}
              onChange={(e) => setFilter(e.target.value)}
              data-testid="cluster-filter"
            />
          </div>
          <div className="toolbar-meta">
            {clusters.isSuccess &&
              (rows.length === total
                ? `${total} cluster${total === 1 ? '' : 's'}`
                : `${rows.length} of ${total} clusters`)}
          </div>
        </div>

        {clusters.isPending ? (
          <Loading label="Loading clusters…" />
        ) : clusters.isError ? (
          <ErrorState error={clusters.error} onRetry={() => void clusters.refetch()} what="clusters" />
        ) : total === 0 ? (
          <EmptyState
            title="No clusters yet"
            action={
              canCreate && (
                <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
                  <PlusIcon size={15} />
                  Create cluster
                </button>
              )
            }
          >
            {canCreate
              ? 'Create your first cluster, then run the join command on a node to enroll it.'
              : 'No cluster is visible to your role. An administrator can create one or extend your scope.'}
          </EmptyState>
        ) : rows.length === 0 ? (
          <EmptyState title="No cluster matches the filter">
            <button type="button" className="link-btn" onClick={() => setFilter('')}>
              Clear the filter
            </button>
          </EmptyState>
        ) : (
          <table className="table table-clickable" data-testid="clusters-table">
            <thead>
              <tr>
                <SortHeader label="Name" column="name" sort={sort} direction={direction} onSort={onSort} />
                <SortHeader
                  label="Labels"
                  column="labels"
                  sort={sort}
                  direction={direction}
                  onSort={onSort}
                />
                <SortHeader label="Nodes" column="nodes" sort={sort} direction={direction} onSort={onSort} />
                <SortHeader
                  label="Created"
                  column="createdAt"
                  sort={sort}
                  direction={direction}
                  onSort={onSort}
                />
                <SortHeader
                  label="Created by"
                  column="createdBy"
                  sort={sort}
                  direction={direction}
                  onSort={onSort}
                />
              </tr>
            </thead>
            <tbody>
              {rows.map((c) => (
                <tr
                  key={c.name}
                  data-testid="cluster-row"
                  data-cluster={c.name}
                  onClick={(e) => {
                    if ((e.target as HTMLElement).closest('a')) return;
                    router.push(`/clusters/${c.name}`);
                  }}
                >
                  <td>
                    <Link href={`/clusters/${c.name}`} className="cell-title">
                      {c.name}
                    </Link>
                    {c.description && <div className="cell-sub">{c.description}</div>}
                  </td>
                  <td>
                    <LabelChips labels={c.labels} max={4} />
                  </td>
                  <td className="nowrap" data-testid="cluster-node-counts">
                    <span className={`count${c.nodesOnline > 0 ? ' count-online' : ''}`}>
                      <span className="badge-dot" />
                      {c.nodesOnline} <span className="count-label">online</span>
                    </span>
                    <span className={`count${c.nodesOffline > 0 ? ' count-offline' : ''}`}>
                      <span className="badge-dot" />
                      {c.nodesOffline} <span className="count-label">offline</span>
                    </span>
                  </td>
                  <td className="nowrap">
                    <RelativeTime iso={c.createdAt} />
                  </td>
                  <td>{c.createdBy}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>

      <CreateClusterDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(cluster) => {
          setCreating(false);
          router.push(`/clusters/${cluster.name}`);
        }}
      />
    </div>
  );
}
